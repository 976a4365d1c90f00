// Single flight for one mapping's chunks: a chunk being fetched and
// installed has one promise however many faults, load()s and prefetches want
// it; it comes from a held readahead marker, the chunk cache, or a run the
// fetch scheduler starts and the run reader reads. A fault on a chunk whose
// bytes a run in flight already has is installed from them at once; one
// further inside a fill's large GET gets a GET of its own, served first. A
// chunk that cannot be read is poisoned. In a shared region a chunk goes
// through the shared gate first (shared-gate.ts): one that another process
// installed or is fetching is not fetched here, whoever asks (a fault,
// load(), readahead, the fill). Fault worker thread.
import { Counter, type StatsWriter } from '../shared/stats.js';
import type { ChunkCache } from './chunk-cache.js';
import type { FetchScheduler } from './fetch-scheduler.js';
import type { Markers } from './markers.js';
import type { Placement } from './placement.js';
import type { PoisonList } from './poison.js';
import type { ResidentSet } from './residency.js';
import { RunFront } from './run-front.js';
import type { RunReader } from './run-reader.js';
import type { SharedGate } from './shared-gate.js';

export interface FlightParts {
  placement: Placement;
  markers: Markers;
  cache: ChunkCache | null;
  reader: RunReader;
  resident: ResidentSet;
  poisoned: PoisonList;
  stats: StatsWriter;
  stopped: () => boolean;
  /** A fault on a chunk inside a fill run in flight gets a GET of its own;
   *  false with a disk cache (it fetches each block once, across processes). */
  ownGetBehindFill: boolean;
  /** The shared region's gate, or null: private memory. */
  shared: SharedGate | null;
  /** Chunk size, and whether a fault waits on a chunk now (runs install early for it). */
  chunkSize: number;
  waited: (chunk: number) => boolean;
}

export class ChunkFlight {
  private readonly pending = new Map<number, Promise<void>>();
  /** Chunks carried by fill runs in flight. */
  private readonly filling = new Set<number>();
  /** Chunks of runs of two or more in flight: how far each run's bytes are. */
  private readonly fronts = new Map<number, RunFront>();
  /** A fault's own GET of a chunk inside a fill run, joined by later faults on it. */
  private readonly ownGets = new Map<number, Promise<void>>();
  private scheduler!: FetchScheduler;

  constructor(private readonly p: FlightParts) {}

  /** The scheduler whose runs this reads (it is built with readRun as its starter). */
  attach(scheduler: FetchScheduler): void {
    this.scheduler = scheduler;
  }

  has(chunk: number): boolean {
    return this.pending.has(chunk);
  }

  get(chunk: number): Promise<void> | undefined {
    return this.pending.get(chunk);
  }

  get size(): number {
    return this.pending.size;
  }

  /** The chunk, fetched and installed once. `urgent`: a fault or load() waits
   *  on it; `piece`: most chunks the GET it starts carries; `fill`: queued by the fill. */
  ensure(chunk: number, urgent: boolean, piece?: number, fill = false): Promise<void> {
    const { markers, placement, stats } = this.p;
    // A marker is installed the moment a fault or load() wants it, even while
    // the run that brought it is still going (a run through the disk cache
    // may wait on other processes): that run's promise would not install it.
    const held = urgent ? markers.take(chunk) : undefined;
    if (held) {
      stats.add(Counter.markerHits);
      return placement.install(chunk, 1, held).catch((err) => this.failed(chunk, err));
    }
    const existing = this.pending.get(chunk);
    const front = urgent ? this.fronts.get(chunk) : undefined;
    if (existing && front?.has(chunk)) return front.flush(chunk).catch((err) => this.failed(chunk, err));
    if (existing && urgent && this.p.ownGetBehindFill && this.filling.has(chunk)) {
      // Behind a fill's large GET: a GET of its own is served first (the
      // second install of the same pages is EEXIST, harmless; the chunk is
      // fetched twice). Pricing which lands first by the model waited 1.7 s
      // on a loaded machine, where the fill ran at a fifth of the model's speed.
      let own = this.ownGets.get(chunk);
      if (!own) {
        own = this.scheduler
          .request(chunk, true, 1)
          .catch((err) => this.failed(chunk, err))
          .finally(() => this.ownGets.delete(chunk));
        this.ownGets.set(chunk, own);
      }
      return own;
    }
    if (existing) {
      if (urgent) this.scheduler.promote(chunk);
      return existing;
    }
    const p = this.fetch(chunk, urgent, piece, fill).finally(() => {
      this.pending.delete(chunk);
      // A candidate that was carried inside another run is no marker.
      markers.settled(chunk);
      this.p.shared?.release(chunk);
    });
    this.pending.set(chunk, p);
    return p;
  }

  /** One run of chunks read (run-reader.ts) and placed (placement.ts). */
  async readRun(first: number, count: number, urgent: boolean, fill: boolean): Promise<void> {
    const { stats, reader, placement } = this.p;
    stats.add(Counter.inflight);
    const front = count > 1 ? new RunFront(first, count, this.p.chunkSize, this.p.waited) : undefined;
    for (let c = first; c < first + count; c++) {
      if (fill) this.filling.add(c);
      if (front) this.fronts.set(c, front);
    }
    try {
      await reader.read(first, count, (chunk, n, data) => placement.deliver(chunk, n, data, urgent), front);
    } finally {
      stats.add(Counter.inflight, -1);
      for (let c = first; c < first + count; c++) {
        if (fill) this.filling.delete(c);
        if (front) this.fronts.delete(c);
      }
    }
  }

  private async fetch(chunk: number, urgent: boolean, piece?: number, fill = false): Promise<void> {
    try {
      // Synchronous when this process is to fetch: the request below must
      // reach the scheduler in the caller's turn (inside its hold()).
      const turn = this.p.shared?.enter(chunk, urgent) ?? true;
      if (turn !== true && !(await turn)) return;
      const cached = this.p.cache?.get(chunk);
      if (cached) {
        this.p.stats.add(Counter.cacheHits);
        await this.p.placement.install(chunk, 1, cached);
      } else {
        await this.scheduler.request(chunk, urgent, piece, fill);
      }
    } catch (err) {
      this.failed(chunk, err);
    }
  }

  private failed(chunk: number, err: unknown): void {
    // A run read through the disk cache installs chunk by chunk: one that made it in is not failed.
    if (this.p.stopped() || this.p.resident.has(chunk)) return;
    this.p.poisoned.fail(chunk, err as Error);
    throw err;
  }
}
