// The one table of defaults: every tunable of a mapping and of the S3 source,
// with the figure that chose it. Read on the caller's thread (option
// resolution, the CLI's help and `stat`) and in the fault worker (the S3
// source's retry policy), so it holds plain values only.

export const DEFAULTS = {
  /** Install unit. 64 KiB: a sparse reader pays one small GET per fault, and
   *  a fault costs ~60-70 µs of uffd round trip, so 4 KiB installs cap near 60 MB/s. */
  chunkSize: 64 * 1024,
  /** Largest single GET (AWS: 8-16 MB ranged GETs carry a connection's bandwidth). */
  fetchSize: 8 * 1024 * 1024,
  /** Fetched chunks kept in the worker to reinstall evicted pages without a GET. */
  cacheSize: 64 * 1024 * 1024,
  /** Largest readahead window of a confirmed sequential stream. On S3 a GET of
   *  8 MiB takes ~16 ms + 99 ms, so ~450 MB/s needs ~50 MB in flight and the
   *  window must hold that plus what waits to be read; 32 MiB held a scan near
   *  a third of a parallel download. A window grows with what its stream has
   *  read, so a short read never reaches it. */
  readahead: 128 * 1024 * 1024,
  /** GETs in flight per mapping (and sockets per endpoint): AWS's guidance is
   *  one request per 85-90 MB/s wanted, about 15 for 10 Gb/s. */
  concurrency: 16,
  /** Most bytes installed at once; 0: no cap. */
  residentBudget: 0,
  /** The disk cache, off unless a directory is given (cacheDir, --cache,
   *  S3MMAP_CACHE_DIR); see lib/worker/disk-cache.ts. */
  diskCache: {
    /** Bytes the directory may hold, entries and headers (cacheDirSize, --cache-size-on-disk, S3MMAP_CACHE_SIZE). */
    size: 4 * 1024 * 1024 * 1024,
    /** A cleanup pass deletes least recently used entries down to this share of the cap. */
    lowWater: 0.9,
    /** An entry read again is stamped as used (atime) at most this often. */
    touchAfterSec: 60,
    /** Longest wait for a block another process is fetching; then fetch it here too. */
    lockWaitMs: 10_000,
    /** A process's first mapping sweeps the directory (crashed writers' files) if no pass ran for this long. */
    sweepAfterMs: 3_600_000,
  },
  /** Region when neither options, environment nor profile name one. */
  region: 'us-east-1',
  retry: {
    /** Attempts per read, the first included. */
    attempts: 6,
    /** First backoff; doubles per attempt with full jitter, capped at maxDelayMs. */
    baseDelayMs: 100,
    maxDelayMs: 10_000,
    /** One request's limit, headers and body. */
    requestTimeoutMs: 10_000,
    /** One read's limit across its retries: then the range is poisoned (rule 8). */
    deadlineMs: 60_000,
    /** TCP and TLS connect, per request. */
    connectTimeoutMs: 3000,
    /** open(): credentials, DNS, HEAD and its retries. */
    openTimeoutMs: 15_000,
  },
} as const;

export type RetryPolicy = { -readonly [K in keyof typeof DEFAULTS.retry]: number };
