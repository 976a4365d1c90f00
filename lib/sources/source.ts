// The Source contract: where a mapping's bytes come from. Sources are built in
// the fault worker from a serializable SourceSpec (design rule 12); nothing
// here runs on the main thread except the type definitions.

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
   *  here, because read() runs while pool threads may be parked in faults. */
  open(signal?: AbortSignal): Promise<SourceInfo>;
  /** Fill `into[0..length)` with bytes [offset, offset+length) of the pinned
   *  version, or reject. Must not touch mapped memory, must not use the libuv
   *  pool. `into.length >= length`. */
  read(offset: number, length: number, into: Uint8Array, signal: AbortSignal): Promise<void>;
  /** Optional, for sources that hold the bytes in memory: a view of exactly
   *  [offset, offset+length), or undefined when the range is not all there
   *  (e.g. it runs past the end). The fault worker installs from it directly. */
  borrow?(offset: number, length: number): Uint8Array | undefined;
  /** Release sockets, files. */
  close(): Promise<void> | void;
}

export interface S3ClientOptions {
  /** e.g. http://127.0.0.1:9000; default from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
  endpoint?: string;
  region?: string;
  profile?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style addressing (MinIO). Defaults to true when an endpoint is set. */
  forcePathStyle?: boolean;
  /** PEM file of the CAs to trust for an https endpoint, instead of Node's
   *  built-in roots (as AWS_CA_BUNDLE does for the AWS CLI); default
   *  $AWS_CA_BUNDLE. NODE_EXTRA_CA_CERTS, which adds to the roots, works too. */
  caBundle?: string;
}

export interface RetryOptions {
  /** Attempts per read, including the first. */
  attempts?: number;
  /** First backoff in ms; doubles with full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-request timeout (headers and body), ms. */
  requestTimeoutMs?: number;
  /** Total time one read may take across retries, ms. */
  deadlineMs?: number;
  /** TCP/TLS connect timeout per request, ms (S3: default 3000). */
  connectTimeoutMs?: number;
  /** Total time open() may take: credentials, DNS, HEAD and its retries, ms (S3: default 15000). */
  openTimeoutMs?: number;
}

export type SourceSpec =
  | { kind: 'memory'; data: SharedArrayBuffer; length?: number; version?: string }
  | { kind: 'file'; path: string }
  | { kind: 's3'; bucket: string; key: string; client?: S3ClientOptions; retry?: RetryOptions; concurrency?: number }
  /** A module whose default export is `(options) => Source`, loaded in the worker. */
  | { kind: 'module'; path: string; options?: unknown };
