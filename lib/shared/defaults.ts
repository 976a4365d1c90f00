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
  /** Fetch the rest of the object in the background once the faults' GETs
   *  have cost half what that would (POLICY.fill.startAt); 'off'
   *  never, 'eager' at the first fault. */
  fill: 'auto',
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

/** Internal tunables of the fetch policy (not options), with the figures
 *  that chose them. Fault worker (readahead, the model, the fill) and the
 *  caller's thread (the plan, `s3mmap stat`). */
export const POLICY = {
  readahead: {
    /** Close steps (faults on the next chunk, or the one after) that confirm
     *  a stream. Random faults on a 16 MiB mapping under a 2 MiB budget
     *  (a model of the resident set, 175,000 faults): with one step, as
     *  before, a random reader passed as a stream whenever it landed next to
     *  one of the 8 remembered faults; with two in a row, 1.3% of faults still
     *  confirmed one and readahead added 4.9% chunks per fault (evictions per
     *  read 1.06x those of readahead 0, measured); with three, 0.2% and 0.85%.
     *  A real stream pays two round trips more than with one step. */
    confirmSteps: 3,
    /** A step of at most this many chunks is close (a reader skipping a
     *  little, or copying a range from its end down). */
    closeStep: 2,
    /** The smallest window of a confirmed stream, in chunks. */
    initialWindow: 4,
    /** A confirmed stream's window is what it has read so far (at least
     *  initialWindow, at most the readahead option): every wait on the
     *  network doubles what the reader has in hand, and a bounded reader is
     *  overshot by at most what it read. On s3-standard a window growing x4 a
     *  fault fetched 1.5x an 18.8 MiB range; half of what was read kept the
     *  overshoot near 1.2x but took 31 round trips instead of 8. */
    windowPerRead: 1,
    /** Streams (and strides) remembered at once: a reader per thread, a merge of sorted runs. */
    maxStreams: 8,
    /** Touches at equal steps that make a stride (3 equal steps): among 8
     *  remembered random faults, three in arithmetic progression with a new one
     *  come about once in a thousand faults of a 256-chunk object. */
    strideTouches: 4,
    /** Readahead markers held per mapping (each one chunk of memory): a
     *  window has one per connection, and a reader two windows in flight. */
    maxMarkers: 32,
  },
  /** The network model's seeds and smoothing (lib/worker/network-model.ts). */
  network: {
    /** First-byte time before any GET is seen: mountpoint-s3's CI measures
     *  15.9 ms on S3 Standard. */
    firstByteMs: 16,
    /** One connection's bandwidth before any GET is seen: AWS's guidance,
     *  85-90 MB/s per connection. */
    bytesPerSec: 85_000_000,
    /** What every connection together carries at most, whatever their
     *  number: through a proxy pacing 85 MB/s per connection this machine
     *  class reached 426 MB/s with 8 and 456 with 16 (its two CPUs cap it).
     *  Without it the model priced a 64 MiB fill at 69 ms where the parallel
     *  download took 367 ms, and filled after 7 faults instead of about 20. */
    aggregateBytesPerSec: 450_000_000,
    /** Weight of each new GET in the moving averages: about the last ten GETs count. */
    smoothing: 0.2,
    /** Arrow's read coalescing caps a merged range near 9x first byte x
     *  bandwidth: there a GET spends 90% of its time carrying bytes. */
    pieceFirstBytes: 9,
  },
  fill: {
    /** The fill starts once the faults' waits have cost this share of its
     *  price. Faults go first, so a reader that goes on pays the share plus
     *  the fill: 1.5x the better choice in hindsight, where classic ski
     *  rental (1.0) pays 2x; one that stops below the share of the crossover
     *  never fills, one that stops above it pays the object in bytes. Not
     *  lower, because a fill does slow the faults beside it: on s3-standard
     *  (64 MiB, two runs each) 1.0 / 0.5 / 0.25 gave 1,000 random reads
     *  0.44x / 0.57x / 0.57x the download, a scan 0.49x / 0.60x / 0.62x,
     *  100 records 0.42x / 0.49x / 0.75x, but 4 strided reads 1.28x /
     *  1.33x / 1.08x a ranged GET each (with 40-150x the bytes at 0.25), and
     *  10 records on loopback 0.65x / 0.78x / 0.24x. */
    startAt: 0.5,
    /** Share of the memory the machine has free (os.freemem, and the cgroup's
     *  memory.max less memory.current) a fill may take: the rest stays for
     *  everyone else. */
    freeShare: 0.5,
  },
  install: {
    /** A run's chunks are installed as its GET's bytes come in, this many at
     *  a time (and at once for a chunk a fault waits on): one UFFDIO_COPY and
     *  one wake per 1 MiB rather than per 64 KiB chunk, and a reader behind
     *  the bytes is 1 MiB behind at most, about 12 ms of one S3 connection. */
    earlyBatch: 16,
  },
  /** The smallest GET a load() of a long range is split into: a first byte
   *  costs the same for any size, so smaller pieces cost more than they save. */
  loadMinPiece: 1024 * 1024,
  /** drain(): how long no thread may fault before the region can go, and the
   *  most those waits may add up to. */
  drainQuietMs: 100,
  drainQuietMaxMs: 2000,
  /** Fetch buffers kept for reuse, shared by every mapping of the worker. */
  bufferPoolBytes: 128 * 1024 * 1024,
} as const;

export type RetryPolicy = { -readonly [K in keyof typeof DEFAULTS.retry]: number };
