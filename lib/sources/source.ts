// The Source contract: where a mapping's bytes come from, and the
// serializable SourceSpec a source is built from inside the fault worker
// (rule 12 in DESIGN.md). Types only: the caller's thread builds specs, the
// fault worker builds and runs sources.
import type { RetryOptions, S3ClientOptions } from '../s3/options.js';
import type { CacheIdentity } from '../shared/cache-layout.js';

export type { CacheIdentity, RetryOptions, S3ClientOptions };

/** What a source reports when opened: pinned for the life of the mapping. */
export interface SourceInfo {
  /** Object size in bytes. */
  size: number;
  /** Version tag the source pins (S3: ETag). Reads must fail if it changes. */
  version: string;
  /** Optional extra facts (S3: lastModified, contentType). */
  meta?: Record<string, string | number>;
}

export interface Source {
  /** Learn size and version. Called once, before any read. May use the libuv
   *  pool (DNS, credential files); everything read() needs must be resolved
   *  here, because read() runs while pool threads may be parked in faults.
   *  `prefetch`: bytes from the object's start the mapping wants first; a
   *  source that fetches them along with the pin (S3: the first GET) keeps
   *  them for takePrefetched(). */
  open(signal?: AbortSignal, prefetch?: number): Promise<SourceInfo>;
  /** Optional, after open(): bytes [0, n) of the pinned version that open()
   *  fetched, handed over once (undefined after, or when it fetched none). */
  takePrefetched?(): Uint8Array | undefined;
  /** Fill `into[0..length)` with bytes [offset, offset+length) of the pinned
   *  version, or reject. Must not touch mapped memory, must not use the libuv
   *  pool. `into.length >= length`. `progress`, if the source can: called
   *  with n as bytes `into[0..n)` are in place (a retry may start n again
   *  from 0: the same bytes again); the caller may install them at once. */
  read(offset: number, length: number, into: Uint8Array, signal: AbortSignal, progress?: (bytes: number) => void): Promise<void>;
  /** Optional, for sources that hold the bytes in memory: a view of exactly
   *  [offset, offset+length), or undefined when the range is not all there
   *  (e.g. it runs past the end). The fault worker installs from it directly. */
  borrow?(offset: number, length: number): Uint8Array | undefined;
  /** Bytes of [offset, offset+length) that a read() would copy from memory
   *  rather than fetch (the open's first chunk): not timed for the network model. */
  held?(offset: number, length: number): number;
  /** Optional, after open(): what names the pinned bytes for the disk cache
   *  (endpoint, bucket, key, version). A source without it is never cached on disk. */
  cacheIdentity?(): CacheIdentity | undefined;
  /** Release sockets, files. */
  close(): Promise<void> | void;
}

export type SourceSpec =
  | { kind: 'memory'; data: SharedArrayBuffer; length?: number; version?: string }
  | { kind: 'file'; path: string }
  | { kind: 's3'; bucket: string; key: string; client?: S3ClientOptions; retry?: RetryOptions; concurrency?: number }
  /** A module whose default export is `(options) => Source`, loaded in the worker. */
  | { kind: 'module'; path: string; options?: unknown };
