// Messages between the caller's thread (lib/api/worker-client.ts) and the
// fault worker (lib/worker/main.ts), and the options that travel with them.
// Both threads; everything here must survive structured clone.
import type { SerializedError } from './errors.js';
import type { UffdOpenMode } from './native.js';
import type { SourceInfo, SourceSpec } from '../sources/source.js';
import type { FetchPlan, FillMode } from './plan.js';

/** How a mapping's readahead treats faults (mapping.advise()). */
export type ReadaheadMode = 'sequential' | 'random' | 'normal';

/** A mapping's resolved options, as the fault worker serves them. */
export interface ServeOptions {
  chunkSize: number;
  /** Bytes of fetched chunks kept in the worker to reinstall without a fetch. */
  cacheSize: number;
  /** Fetches in flight at once for this mapping. */
  concurrency: number;
  /** Largest single read: queued neighbouring chunks are fetched together up to it. */
  fetchSize: number;
  /** Largest readahead window in bytes; 0 disables readahead. */
  readahead: number;
  /** Most bytes installed at once; older chunks are dropped past it. 0: no cap. */
  residentBudget: number;
  /** When to fetch the rest of the object in the background. */
  fill: FillMode;
  /** The options above in chunk units: what the fault worker serves by. */
  plan: FetchPlan;
  /** What to call the object in messages (s3://b/k, a path). */
  label: string;
  /** The disk cache shared by every process of the user, or null (off, or a
   *  source whose bytes have no cache identity). `dir` is checked already. */
  diskCache: DiskCacheOptions | null;
  /** Pages shared by every process of the user that maps the same object
   *  version, or null (off, or unavailable: `sharedNote` says why). */
  shared: SharedMemoryOptions | null;
  /** Why the region is private when `shared` is null. */
  sharedNote: string | null;
}

export interface SharedMemoryOptions {
  /** Absolute path of the user's shared memory directory, checked private. */
  dir: string;
  /** Bytes all shared pages of the user may hold there. */
  cap: number;
}

/** Where a mapping's pages live, as chosen at map time (lib/worker/backing.ts). */
export interface Backing {
  shared: boolean;
  /** Why it is private, when it is; null when shared. */
  note: string | null;
}

export interface DiskCacheOptions {
  /** Absolute path of the cache directory, checked private to this user. */
  dir: string;
  /** Bytes it may hold. */
  maxBytes: number;
}

export interface MapRequest {
  type: 'map';
  spec: SourceSpec;
  serve: ServeOptions;
  userModeOnly: boolean;
}

export interface MapReply {
  info: SourceInfo;
  /** null for an empty object: nothing to map. */
  region: { id: bigint; mode: UffdOpenMode; features: number; length: number } | null;
  stats: SharedArrayBuffer;
  /** One byte per chunk, 1 while installed. */
  residency: SharedArrayBuffer;
  backing: Backing;
}

export type RangeOp = 'load' | 'prefetch' | 'evict';

export type WorkerRequest =
  | MapRequest
  | { type: RangeOp; id: bigint; offset: number; length: number }
  | { type: 'advise'; id: bigint; mode: ReadaheadMode }
  | { type: 'drain'; id: bigint }
  | { type: 'close'; id: bigint };

export type ToWorker = WorkerRequest & { req: number };

export type FromWorker =
  | { type: 'reply'; req: number; ok: true; value?: unknown }
  | { type: 'reply'; req: number; ok: false; error: SerializedError }
  | { type: 'fault-error'; id: bigint; error: SerializedError; offset: number; length: number };
