// Per-mapping counters in a SharedArrayBuffer: the fault worker writes them as
// it serves, the main thread reads them synchronously in mapping.stats()
// without a round trip (it may be the thread a fault is blocking, but not
// while it reads stats). Fault latency is a log-scale histogram (8 buckets per
// doubling, so a percentile is within 9% of the true value).
import type { FetchPlan } from './plan.js';
import type { Backing } from './protocol.js';

export const Counter = {
  faults: 0,
  chunksFetched: 1,
  bytesFetched: 2,
  residentPeak: 3,
  cacheHits: 4,
  installs: 5,
  residentBytes: 6,
  errors: 7,
  inflight: 8,
  copyRetries: 9,
  evictions: 10,
  prefetchedChunks: 11,
  fetches: 12,
  markerHits: 13,
  diskCacheHits: 14,
  diskCacheBytes: 15,
  diskCacheWrites: 16,
  diskCacheDropped: 17,
  diskCacheWaits: 18,
  diskCacheBypassed: 19,
  modelFirstByteUs: 20,
  modelBytesPerSec: 21,
  modelSamples: 22,
  modelGapBytes: 23,
  modelPieceBytes: 24,
  fillWhy: 25,
  fillAtFault: 26,
  fillAtMs: 27,
  fillRentUs: 28,
  fillBuyUs: 29,
  fillChunks: 30,
  sharedHits: 31,
  sharedWaits: 32,
  sharedEvictions: 33,
  sharedFallbacks: 34,
  installsOffLoop: 35,
} as const;
/** Why a fill did or did not start, as the fault worker records it (lib/worker/fill.ts); FILL_WHY names each code. */
export const FillWhy = { none: 0, pays: 1, eager: 2, off: 3, noRoom: 4, shared: 5 } as const;
const FILL_WHY = ['none', 'pays', 'eager', 'off', 'no room', 'shared'] as const;
const COUNTERS = Object.keys(Counter).length;
const BUCKETS_PER_DOUBLING = 8;
const BUCKETS = 40 * BUCKETS_PER_DOUBLING;

export interface MappingStats {
  /** Page faults served (one per faulting page and thread). */
  faults: number;
  /** Reads issued to the source that succeeded (S3: ranged GETs); one may carry several chunks. Disk cache reads are not fetches. */
  fetches: number;
  /** Chunks read from the source. */
  chunksFetched: number;
  bytesFetched: number;
  /** Chunks installed from the chunk cache (in memory) without a fetch. */
  cacheHits: number;
  /** Readahead markers reached: chunks fetched ahead but held back so that the
   *  reader's touch tells the readahead where it is; served from memory. */
  markerHits: number;
  /** Disk cache blocks (64 KiB of the object) read back instead of fetched. */
  diskCacheHits: number;
  /** Bytes of the mapping read from the disk cache. */
  diskCacheBytes: number;
  /** Blocks this mapping wrote to the disk cache. */
  diskCacheWrites: number;
  /** Entries found torn, truncated, corrupted or misplaced: dropped, fetched again. */
  diskCacheDropped: number;
  /** Blocks another process was fetching when this mapping wanted them: waited for, not fetched twice. */
  diskCacheWaits: number;
  /** 1 when the mapping asked for the disk cache but runs without it: its
   *  filesystem had no room for the object's files even after the least
   *  recently used entries were deleted. 0 otherwise. */
  diskCacheBypassed: number;
  /** Shared region: chunks this mapping wanted that another process had installed already (no fetch, no copy). */
  sharedHits: number;
  /** Shared region: chunks another process was fetching when this mapping wanted them: waited for, not fetched twice. */
  sharedWaits: number;
  /** Shared region: chunks punched out of shared memory (for every process) to keep under the cap, or when it was full. */
  sharedEvictions: number;
  /** Shared region: chunks put in this process's private memory because the tmpfs was full and nothing could be freed. */
  sharedFallbacks: number;
  /** The region's pages are shared with every process of the user that maps this object version. */
  shared: boolean;
  /** Why the region is private, when it is (shared: false, no room, another user's directory...); null when shared. */
  sharedNote: string | null;
  /** Chunks installed with UFFDIO_COPY. */
  installs: number;
  /** Of those, chunks the addon's I/O pool copied in (no thread waited on them: the fill's, readahead's). */
  installsOffLoop: number;
  /** Bytes of the mapping currently backed by memory. */
  residentBytes: number;
  /** The most bytes ever backed by memory at once: a high-water mark kept by
   *  the fault worker at every install, so no overshoot between two reads of
   *  stats() goes unseen. */
  residentPeak: number;
  /** Chunks prefetched by readahead or prefetch()/load() before a fault. */
  prefetchedChunks: number;
  /** Chunks dropped to keep within the resident budget. */
  evictions: number;
  /** Reads that failed for good (the range was poisoned). */
  errors: number;
  /** Fetches in flight now. */
  inflight: number;
  /** UFFDIO_COPY calls answered EAGAIN (the address space was changing: a
   *  fork, an mremap) and tried again. */
  copyRetries: number;
  /** Fault service time percentiles in microseconds (0 with no faults). */
  faultLatencyP50Us: number;
  faultLatencyP99Us: number;
  /** The network model this mapping reads and feeds (one per endpoint in
   *  the fault worker), and the sizes it gives now. */
  model: {
    firstByteMs: number;
    /** One connection's bandwidth. */
    bytesPerSec: number;
    /** GETs learned from; 0: the seeds. */
    samples: number;
    /** A hole this small is fetched rather than paying another first byte. */
    gapBytes: number;
    /** The largest GET of a readahead window or a fill. */
    pieceBytes: number;
  };
  /** The background fill: whether, when and why it started. */
  fill: {
    started: boolean;
    /** 'pays' (the faults' waits reached half its price), 'eager', 'off', 'no room' (it paid but would not fit), 'shared' (it would pay, but another process maps the same shared pages: not yet), 'none' (not yet). */
    why: (typeof FILL_WHY)[number];
    /** Faults served when it started; -1 if it did not. */
    atFault: number;
    /** ms after the first fault it started; -1 if it did not. */
    atMs: number;
    /** What the faults' waits had cost, by the model, when it was last weighed. */
    rentMs: number;
    /** What fetching the rest with every connection would cost, by the model. */
    buyMs: number;
    /** Chunks queued by the fill. */
    chunks: number;
  };
  size: number;
  chunkSize: number;
  /** The plan the fault worker serves this mapping by, in chunks (lib/shared/plan.ts). */
  plan?: FetchPlan;
}

export function createStatsBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer((COUNTERS + BUCKETS) * 8);
}

/** Worker side. Single writer, so plain stores are enough. */
export class StatsWriter {
  readonly counters: Float64Array;
  private readonly hist: Float64Array;
  constructor(sab: SharedArrayBuffer) {
    this.counters = new Float64Array(sab, 0, COUNTERS);
    this.hist = new Float64Array(sab, COUNTERS * 8, BUCKETS);
  }
  add(c: number, n = 1): void {
    this.counters[c] += n;
  }
  set(c: number, v: number): void {
    this.counters[c] = v;
  }
  latency(us: number): void {
    const b = Math.min(BUCKETS - 1, Math.max(0, Math.floor(Math.log2(Math.max(us, 1)) * BUCKETS_PER_DOUBLING)));
    this.hist[b]++;
  }
}

function percentile(hist: Float64Array, total: number, p: number): number {
  if (total === 0) return 0;
  const want = Math.ceil(total * p);
  let seen = 0;
  for (let b = 0; b < hist.length; b++) {
    seen += hist[b];
    if (seen >= want) return Math.round(2 ** ((b + 0.5) / BUCKETS_PER_DOUBLING));
  }
  return 0;
}

function started(why: number): boolean {
  return why === FillWhy.pays || why === FillWhy.eager;
}

export function readStats(sab: SharedArrayBuffer, size: number, chunkSize: number, backing: Backing = { shared: false, note: null }): MappingStats {
  const c = new Float64Array(sab, 0, COUNTERS);
  const hist = new Float64Array(sab, COUNTERS * 8, BUCKETS);
  let total = 0;
  for (let b = 0; b < BUCKETS; b++) total += hist[b];
  return {
    faults: c[Counter.faults],
    fetches: c[Counter.fetches],
    chunksFetched: c[Counter.chunksFetched],
    bytesFetched: c[Counter.bytesFetched],
    cacheHits: c[Counter.cacheHits],
    markerHits: c[Counter.markerHits],
    diskCacheHits: c[Counter.diskCacheHits],
    diskCacheBytes: c[Counter.diskCacheBytes],
    diskCacheWrites: c[Counter.diskCacheWrites],
    diskCacheDropped: c[Counter.diskCacheDropped],
    diskCacheWaits: c[Counter.diskCacheWaits],
    diskCacheBypassed: c[Counter.diskCacheBypassed],
    sharedHits: c[Counter.sharedHits],
    sharedWaits: c[Counter.sharedWaits],
    sharedEvictions: c[Counter.sharedEvictions],
    sharedFallbacks: c[Counter.sharedFallbacks],
    shared: backing.shared,
    sharedNote: backing.note,
    installs: c[Counter.installs],
    installsOffLoop: c[Counter.installsOffLoop],
    residentBytes: c[Counter.residentBytes],
    residentPeak: c[Counter.residentPeak],
    prefetchedChunks: c[Counter.prefetchedChunks],
    evictions: c[Counter.evictions],
    errors: c[Counter.errors],
    inflight: c[Counter.inflight],
    copyRetries: c[Counter.copyRetries],
    faultLatencyP50Us: percentile(hist, total, 0.5),
    faultLatencyP99Us: percentile(hist, total, 0.99),
    model: {
      firstByteMs: c[Counter.modelFirstByteUs] / 1000,
      bytesPerSec: c[Counter.modelBytesPerSec],
      samples: c[Counter.modelSamples],
      gapBytes: c[Counter.modelGapBytes],
      pieceBytes: c[Counter.modelPieceBytes],
    },
    fill: {
      started: started(c[Counter.fillWhy]),
      why: FILL_WHY[c[Counter.fillWhy]] ?? 'none',
      atFault: started(c[Counter.fillWhy]) ? c[Counter.fillAtFault] : -1,
      atMs: started(c[Counter.fillWhy]) ? c[Counter.fillAtMs] : -1,
      rentMs: c[Counter.fillRentUs] / 1000,
      buyMs: c[Counter.fillBuyUs] / 1000,
      chunks: c[Counter.fillChunks],
    },
    size,
    chunkSize,
  };
}
