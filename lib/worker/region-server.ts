// Serves one mapping: faults in (fault-intake), single flight per chunk, the
// chunk cache, fetches scheduled and coalesced (fetch-scheduler) and read from
// the source, installs (installer) under the resident budget (residency),
// readahead, and poison for what cannot be read. Fault worker thread only: it
// never touches mapped memory (rule 1), only its own buffers, whose addresses
// it hands to the kernel. DESIGN.md tells the life of a mapping around it.
import { setMaxListeners } from 'node:events';
import { writeSync } from 'node:fs';
import { S3MmapError } from '../shared/errors.js';
import { native, type RegionInfo } from '../shared/native.js';
import type { ReadaheadMode, ServeOptions } from '../shared/protocol.js';
import { Counter, StatsWriter } from '../shared/stats.js';
import type { Source } from '../sources/source.js';
import type { BufferPool } from './buffer-pool.js';
import { ChunkCache } from './chunk-cache.js';
import { ChunkGeometry } from './chunk-geometry.js';
import { FaultIntake } from './fault-intake.js';
import { FetchScheduler } from './fetch-scheduler.js';
import { Installer, type CopyOutcome } from './installer.js';
import { Readahead } from './readahead.js';
import { ResidentSet } from './residency.js';

/** A confirmed stream that jumps forward at most this far (and within its window) stays a stream. */
const READAHEAD_MAX_SKIP = 16 * 1024 * 1024;

/** Readahead markers held back per mapping, at most (each one chunk of
 *  memory): a window has 8 pieces, and one reader two windows in flight at most. */
const MAX_MARKERS = 32;

/** The smallest GET a load() of a long range is split into. */
const LOAD_MIN_PIECE = 1024 * 1024;

/** Read once: the page size never changes. */
const pageSize = native.pageSize;

export interface RegionServerInit {
  region: RegionInfo;
  size: number;
  source: Source;
  serve: ServeOptions;
  /** Fetch buffers, shared by every mapping of the worker. */
  pool: BufferPool;
  stats: SharedArrayBuffer;
  /** One byte per chunk, read by the caller's thread. */
  residency: SharedArrayBuffer;
  /** A range was poisoned: report it to the caller's thread. */
  onError: (err: Error, offset: number, length: number) => void;
}

export class RegionServer {
  private readonly fd: number;
  private readonly label: string;
  private readonly source: Source;
  private readonly pool: BufferPool;
  private readonly onError: RegionServerInit['onError'];
  private readonly geometry: ChunkGeometry;
  private readonly stats: StatsWriter;
  private readonly intake: FaultIntake;
  private readonly installer: Installer;
  private readonly resident: ResidentSet;
  private readonly cache: ChunkCache | null;
  private readonly readahead: Readahead | null;
  private readonly scheduler: FetchScheduler;
  private readonly concurrency: number;
  /** LOAD_MIN_PIECE in chunks. */
  private readonly loadMinPiece: number;
  private readonly poisoned = new Set<number>();
  /** Readahead markers: the first chunk of each readahead piece is fetched
   *  but held back here instead of installed, so that the reader faults when
   *  it gets there (served from memory at once) and the readahead learns
   *  where the reader is: a reader slower than the network, which never
   *  faults on pages installed ahead of it, is topped up before it runs out. */
  private readonly markers = new Map<number, Buffer>();
  /** First chunks of readahead pieces not fetched yet. */
  private readonly markerCandidates = new Set<number>();
  /** Single flight: a chunk being fetched and installed has one promise. */
  private readonly pending = new Map<number, Promise<void>>();
  /** One abort signal for every read in flight of this mapping. */
  private readonly abort = new AbortController();
  private watchHandle: object | null = null;
  private stopped = false;
  private draining = false;

  constructor(init: RegionServerInit) {
    const { region, serve } = init;
    this.fd = region.fd;
    this.label = serve.label;
    this.source = init.source;
    this.pool = init.pool;
    this.onError = init.onError;
    setMaxListeners(0, this.abort.signal);
    this.geometry = new ChunkGeometry(init.size, serve.chunkSize, pageSize);
    this.stats = new StatsWriter(init.stats);
    this.intake = new FaultIntake(region.fd, region.address, this.geometry, this.stats, (err) => this.onError(err, 0, 0));
    this.installer = new Installer(region.fd, region.address, pageSize, serve.label, () => this.stopped, () => this.stats.add(Counter.copyRetries));
    this.resident = new ResidentSet(this.geometry, new Uint8Array(init.residency), serve.residentBudget, (o, l) => this.installer.drop(o, l));
    this.cache = serve.cacheSize >= serve.chunkSize ? new ChunkCache(serve.cacheSize, this.geometry) : null;
    const maxRunChunks = Math.max(1, Math.floor(serve.fetchSize / serve.chunkSize));
    this.concurrency = serve.concurrency;
    this.loadMinPiece = Math.max(1, Math.floor(LOAD_MIN_PIECE / serve.chunkSize));
    this.readahead = serve.readahead > serve.chunkSize
      ? new Readahead({
          chunks: this.geometry.chunks,
          maxWindow: Math.floor(serve.readahead / serve.chunkSize),
          maxPiece: maxRunChunks,
          maxSkip: Math.max(1, Math.floor(READAHEAD_MAX_SKIP / serve.chunkSize)),
        })
      : null;
    this.scheduler = new FetchScheduler({ concurrency: serve.concurrency, maxRunChunks }, (first, count, urgent) => this.readRun(first, count, urgent));
  }

  start(): void {
    this.watchHandle = native.watch(this.fd, () => this.onReadable());
  }

  /** Serves every fault already waiting, and any that arrive meanwhile, then
   *  resolves: close() unmaps only after this, so a thread blocked in a fault
   *  when close() is called gets its bytes instead of SIGSEGV. */
  async drain(): Promise<void> {
    this.draining = true;
    // Fault messages queued but not yet polled are waiting faults too.
    this.onReadable();
    // Only faulting threads wait here: queued prefetches and load()s end with stop().
    for (;;) {
      const faulted = [...this.intake.waitingChunks()].flatMap((c) => this.pending.get(c) ?? []);
      if (faulted.length === 0) return;
      await Promise.allSettled(faulted);
    }
  }

  /** Stops serving: no more installs or fetches. The caller then destroys the region. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    if (this.watchHandle) native.unwatch(this.watchHandle);
    this.watchHandle = null;
    this.cache?.clear();
    this.markers.clear();
    // Fetches never started must still settle, or drain() and load() wait forever.
    this.scheduler.stop(new S3MmapError('ERR_CLOSED', `s3mmap: ${this.label} is closed`));
    void Promise.resolve(this.source.close()).catch(() => {});
  }

  /** Makes [offset, offset+length) resident; rejects if any of it cannot be read. */
  async load(offset: number, length: number): Promise<void> {
    const [first, last] = this.geometry.span(offset, length);
    const work: Promise<void>[] = [];
    // A bounded range is spread over every connection: pieces of about
    // 1/concurrency of it (a first byte costs the same for any size), but
    // not below LOAD_MIN_PIECE, where requests would cost more than they save.
    const n = last - first + 1;
    const piece = Math.max(Math.min(n, this.loadMinPiece), Math.ceil(n / this.concurrency));
    this.scheduler.hold();
    for (let c = first; c <= last; c++) if (!this.resident.has(c)) work.push(this.ensure(c, true, piece));
    this.scheduler.release();
    await Promise.all(work);
  }

  /** Starts fetching a range in the background; faults on it will find it ready. */
  prefetch(offset: number, length: number): void {
    const [first, last] = this.geometry.span(offset, length);
    this.scheduler.hold();
    for (let c = first; c <= last; c++) this.prefetchChunk(c);
    this.scheduler.release();
  }

  /** Drops installed pages of a range (they fault again on the next touch). */
  evict(offset: number, length: number): void {
    const [first, last] = this.geometry.span(offset, length);
    for (let c = first; c <= last; c++) if (!this.pending.has(c)) this.resident.drop(c);
    this.stats.set(Counter.residentBytes, this.resident.bytes);
  }

  setReadahead(mode: ReadaheadMode): void {
    this.readahead?.setMode(mode);
  }

  private onReadable(): void {
    if (this.stopped) return;
    const touched = this.intake.read();
    // Queue the whole batch before any fetch starts, so neighbours share a GET.
    this.scheduler.hold();
    try {
      for (const chunk of touched) this.serveFault(chunk);
    } finally {
      this.scheduler.release();
    }
  }

  private serveFault(chunk: number): void {
    if (this.resident.has(chunk)) {
      // Installed while this message sat in the queue: the thread may still be asleep on it.
      this.intake.settle(chunk);
      this.installer.wake(this.geometry.start(chunk), this.geometry.installBytes(chunk));
      return;
    }
    this.ensure(chunk, true).catch(() => {});
    const plan = this.draining ? null : this.readahead?.onFault(chunk);
    if (!plan) return;
    if (!plan.down) {
      // Every new piece starts with a marker: the reader faults once a piece,
      // and each of those faults tops the window up by about a piece.
      for (let c = plan.frontier; c < plan.to; c += plan.piece) this.markerCandidates.add(c);
      for (let c = plan.from; c < plan.to; c++) this.prefetchChunk(c, plan.piece);
      return;
    }
    // Below a reader moving down: the nearest piece first, each queued upwards so that it is one GET.
    for (let top = plan.to; top > plan.from; top -= plan.piece) {
      for (let c = Math.max(plan.from, top - plan.piece); c < top; c++) this.prefetchChunk(c, plan.piece);
    }
  }

  /** `piece`: most chunks one GET of this prefetch carries. */
  private prefetchChunk(c: number, piece?: number): void {
    if (this.draining || !this.geometry.contains(c) || this.resident.has(c) || this.pending.has(c) || this.poisoned.has(c) || this.markers.has(c)) return;
    this.stats.add(Counter.prefetchedChunks);
    this.ensure(c, false, piece).catch(() => {});
  }

  private ensure(chunk: number, urgent: boolean, piece?: number): Promise<void> {
    const existing = this.pending.get(chunk);
    if (existing) {
      if (urgent) this.scheduler.promote(chunk);
      return existing;
    }
    const p = this.fill(chunk, urgent, piece).finally(() => {
      this.pending.delete(chunk);
      // A candidate that was carried inside another run is no marker.
      this.markerCandidates.delete(chunk);
    });
    this.pending.set(chunk, p);
    return p;
  }

  private async fill(chunk: number, urgent: boolean, piece?: number): Promise<void> {
    try {
      const held = this.markers.get(chunk);
      if (held) {
        this.markers.delete(chunk);
        this.stats.add(Counter.markerHits);
        return await this.install(chunk, 1, held);
      }
      const cached = this.cache?.get(chunk);
      if (cached) {
        this.stats.add(Counter.cacheHits);
        await this.install(chunk, 1, cached);
      } else {
        await this.scheduler.request(chunk, urgent, piece);
      }
    } catch (err) {
      if (this.stopped) return;
      this.fail(chunk, err as Error);
      throw err;
    }
  }

  /** One read from the source for chunks [first, first+count), then their install. */
  private async readRun(first: number, count: number, urgent: boolean): Promise<void> {
    const start = this.geometry.start(first);
    const length = this.geometry.bytes(first, count);
    const installBytes = this.geometry.installBytes(first, count);
    this.stats.add(Counter.inflight);
    // A source holding the bytes in memory lends them: installed straight from there, nothing to copy or cache.
    const lent = this.source.borrow?.(start, installBytes);
    const run = lent ? null : this.pool.acquire(installBytes);
    try {
      if (run) {
        await this.source.read(start, length, run.buf, this.abort.signal);
        // The last chunk installs whole pages; the tail past the object's end is zero and no view exposes it.
        run.buf.fill(0, length);
      }
      this.stats.add(Counter.fetches);
      this.stats.add(Counter.chunksFetched, count);
      this.stats.add(Counter.bytesFetched, length);
      if (this.stopped) return;
      if (run && this.cache) this.cache.putRun(first, count, run);
      const data = lent ? Buffer.from(lent.buffer, lent.byteOffset, lent.byteLength) : run!.buf;
      const held = this.holdMarker(first, count, urgent, data);
      if (held < count) await this.install(first + held, count - held, data.subarray(held * this.geometry.chunkSize));
    } finally {
      run?.unref();
      this.stats.add(Counter.inflight, -1);
    }
  }

  /** Keeps the run's first chunk back as a readahead marker when it is one
   *  and nobody waits on it yet; returns how many chunks were held (0 or 1). */
  private holdMarker(first: number, count: number, urgent: boolean, data: Buffer): number {
    if (!this.markerCandidates.delete(first) || urgent || count < 2 || this.intake.isWaiting(first)) return 0;
    this.markers.set(first, Buffer.from(data.subarray(0, this.geometry.installBytes(first))));
    if (this.markers.size > MAX_MARKERS) {
      // A reader that stopped leaves its markers behind: the oldest is installed, as any fetched chunk.
      const [oldest, bytes] = this.markers.entries().next().value as [number, Buffer];
      this.markers.delete(oldest);
      this.install(oldest, 1, bytes).catch(() => {});
    }
    return 1;
  }

  /** Installs `count` chunks from `first` held contiguously in `data`: copies
   *  without waking, records residency, then one UFFDIO_WAKE for the run. */
  private async install(first: number, count: number, data: Buffer): Promise<void> {
    if (this.stopped) return;
    const start = this.geometry.start(first);
    for (let c = first; c < first + count; c++) {
      if (!this.poisoned.has(c)) continue;
      // A load() retried a chunk that failed before: clear its poison markers so the copy can install pages there.
      this.installer.drop(this.geometry.start(c), this.geometry.installBytes(c));
      this.poisoned.delete(c);
    }
    const evicted = this.resident.reserve(data.length);
    if (evicted) this.stats.add(Counter.evictions, evicted);
    let outcome: CopyOutcome = 'gone';
    try {
      outcome = await this.installer.copy(start, data, () => {
        this.stats.add(Counter.installs, count);
        for (let c = first; c < first + count; c++) {
          this.resident.add(c);
          this.intake.settle(c);
        }
        this.stats.set(Counter.residentBytes, this.resident.bytes);
        this.stats.set(Counter.residentPeak, this.resident.highWater);
      });
    } finally {
      if (outcome !== 'installed') this.resident.cancel(data.length);
    }
    if (outcome === 'installed') this.installer.wake(start, data.length);
  }

  /** Rule 8: a chunk that cannot be fetched raises SIGBUS on touch, never zeros, never a hang. */
  private fail(chunk: number, err: Error): void {
    const start = this.geometry.start(chunk);
    const length = this.geometry.bytes(chunk);
    this.poisoned.add(chunk);
    this.stats.add(Counter.errors);
    // Said before the poison wakes anyone: the SIGBUS that follows may end the
    // process before any other output gets out.
    writeSync(
      2,
      `s3mmap: bytes ${start}-${start + length - 1} of ${this.label} could not be read (${(err as { code?: string }).code ?? err.message}); touching them raises SIGBUS, use mapping.load() to handle the error\n`,
    );
    this.intake.settle(chunk);
    this.installer.poison(start, this.geometry.installBytes(chunk));
    this.onError(err, start, length);
  }
}
