// Serves one mapping: faults in (fault-intake), single flight per chunk, the
// chunk cache, fetches scheduled and coalesced (fetch-scheduler) and read from
// the source, installs (installer) under the resident budget (residency),
// readahead, and poison for what cannot be read. Fault worker thread only: it
// never touches mapped memory (rule 1), only its own buffers, whose addresses
// it hands to the kernel. DESIGN.md tells the life of a mapping around it.
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3MmapError } from '../shared/errors.js';
import { native, type RegionInfo } from '../shared/native.js';
import type { ReadaheadMode, ServeOptions } from '../shared/protocol.js';
import { Counter, StatsWriter } from '../shared/stats.js';
import type { Source } from '../sources/source.js';
import type { BufferPool } from './buffer-pool.js';
import { ChunkCache } from './chunk-cache.js';
import { ChunkGeometry } from './chunk-geometry.js';
import type { ObjectCache } from './disk-cache.js';
import { FaultIntake } from './fault-intake.js';
import { FetchScheduler } from './fetch-scheduler.js';
import { Installer, type CopyOutcome } from './installer.js';
import { Readahead } from './readahead.js';
import { Markers } from './markers.js';
import { PoisonList } from './poison.js';
import { ResidentSet } from './residency.js';
import { RunReader } from './run-reader.js';
import type { SharedFile } from './backing.js';
import { SharedPages } from './shared-pages.js';

/** The smallest GET a load() of a long range is split into. */
const LOAD_MIN_PIECE = 1024 * 1024;
/** drain(): how long no thread may fault before the region can go, and the
 *  most those waits may add up to (threads reading through attach() views
 *  keep faulting, and keep the region mapped anyway). */
const DRAIN_QUIET_MS = 100;
const DRAIN_QUIET_MAX_MS = 2000;

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
  /** The disk cache's view of this object, or null. */
  disk: ObjectCache | null;
  /** The shared pages file the region maps (lib/worker/backing.ts), or null: private memory. */
  shared: SharedFile | null;
}

export class RegionServer {
  private readonly fd: number;
  private readonly label: string;
  private readonly source: Source;
  private readonly geometry: ChunkGeometry;
  private readonly stats: StatsWriter;
  private readonly intake: FaultIntake;
  private readonly installer: Installer;
  private readonly resident: ResidentSet;
  private readonly cache: ChunkCache | null;
  private readonly disk: ObjectCache | null;
  private readonly shared: SharedPages | null;
  /** Shared region: chunks made private memory of this process when the tmpfs was full. */
  private readonly privateChunks = new Set<number>();
  private readonly reader: RunReader;
  private readonly readahead: Readahead | null;
  private readonly scheduler: FetchScheduler;
  private readonly concurrency: number;
  /** LOAD_MIN_PIECE in chunks. */
  private readonly loadMinPiece: number;
  private readonly poisoned: PoisonList;
  private readonly markers = new Markers();
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
    setMaxListeners(0, this.abort.signal);
    this.geometry = new ChunkGeometry(init.size, serve.chunkSize, pageSize);
    this.stats = new StatsWriter(init.stats);
    this.intake = new FaultIntake(region.fd, region.address, this.geometry, this.stats, (err) => init.onError(err, 0, 0));
    const file = init.shared;
    this.shared = file
      ? new SharedPages(file.fd, file.path, file.dir, file.cap, region.length, this.geometry, (n) => this.stats.add(Counter.sharedEvictions, n))
      : null;
    this.installer = new Installer(
      region.fd, region.address, pageSize, serve.label, () => this.stopped, () => this.stats.add(Counter.copyRetries),
      this.shared ? { makeRoom: (bytes) => this.shared!.makeRoom(bytes), patched: (o, l) => this.patchedPrivate(o, l) } : null,
    );
    this.poisoned = new PoisonList(this.geometry, this.installer, this.stats, serve.label, (c) => this.intake.settle(c), init.onError);
    // Shared pages are freed for everyone by punching a hole; MADV_DONTNEED would only drop this process's page tables.
    const dropPages = (o: number, l: number) => {
      const c = this.geometry.chunkOf(o);
      if (this.sharedChunk(c)) this.shared!.punch(c);
      else this.installer.drop(o, l);
    };
    this.resident = new ResidentSet(this.geometry, new Uint8Array(init.residency), serve.residentBudget, dropPages);
    this.cache = serve.cacheSize >= serve.chunkSize ? new ChunkCache(serve.cacheSize, this.geometry) : null;
    this.disk = init.disk;
    this.reader = new RunReader({
      source: init.source, pool: init.pool, geometry: this.geometry, stats: this.stats, cache: this.cache, disk: this.disk,
      signal: this.abort.signal, stopped: () => this.stopped,
    });
    const maxRunChunks = Math.max(1, Math.floor(serve.fetchSize / serve.chunkSize));
    this.concurrency = serve.concurrency;
    this.loadMinPiece = Math.max(1, Math.floor(LOAD_MIN_PIECE / serve.chunkSize));
    this.readahead = Readahead.forMapping(this.geometry.chunks, serve);
    this.scheduler = new FetchScheduler({ concurrency: serve.concurrency, maxRunChunks }, (first, count, urgent) => this.readRun(first, count, urgent));
  }

  start(): void {
    this.watchHandle = native.watch(this.fd, () => this.onReadable());
  }

  /** Serves every fault already waiting, and any that arrive meanwhile, then
   *  resolves: close() unmaps only after this, so a thread blocked in a fault
   *  when close() is called gets its bytes instead of SIGSEGV or EFAULT. */
  async drain(): Promise<void> {
    this.draining = true;
    // Fault messages queued but not yet polled are waiting faults too.
    this.onReadable();
    // Only faulting threads wait here: queued prefetches and load()s end with stop().
    let quietLeft = DRAIN_QUIET_MAX_MS;
    for (;;) {
      const faulted = [...this.intake.waitingChunks()].flatMap((c) => this.pending.get(c) ?? []);
      if (faulted.length === 0) break;
      await Promise.allSettled(faulted);
      // A woken thread still has to copy: a write(2) from the Buffer on a pool
      // thread goes on through the rest of its range, faulting on the next
      // chunk. Nothing tells when it is done, so the region stays served until
      // no thread has faulted for a while.
      let seen;
      do {
        seen = this.stats.counters[Counter.faults];
        await sleep(DRAIN_QUIET_MS);
        quietLeft -= DRAIN_QUIET_MS;
      } while (seen !== this.stats.counters[Counter.faults] && quietLeft > 0);
    }
    // Disk cache writes in flight end before the region goes.
    await this.disk?.flush();
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
    this.disk?.close();
    // Fetches never started must still settle, or drain() and load() wait forever.
    this.scheduler.stop(new S3MmapError('ERR_CLOSED', `s3mmap: ${this.label} is closed`));
    void Promise.resolve(this.source.close()).catch(() => {});
  }

  /** The region is unmapped (after stop()): the shared pages file is let go. */
  closeShared(): void {
    this.shared?.close();
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
    for (let c = first; c <= last; c++) if (!this.installedHere(c)) work.push(this.ensure(c, true, piece));
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
    for (let c = first; c <= last; c++) {
      if (this.pending.has(c)) continue;
      // Shared: pages another process installed go too, for everyone.
      if (this.sharedChunk(c) && !this.resident.has(c)) this.shared!.punch(c);
      else this.resident.drop(c);
    }
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
    if (this.installedHere(chunk)) {
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
      for (let c = plan.frontier; c < plan.to; c += plan.piece) this.markers.plan(c);
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
    if (this.sharedChunk(c) && this.shared!.present(c)) return;
    this.stats.add(Counter.prefetchedChunks);
    this.ensure(c, false, piece).catch(() => {});
  }

  private ensure(chunk: number, urgent: boolean, piece?: number): Promise<void> {
    // A marker is installed the moment a fault or load() wants it, even while
    // the run that brought it is still going (a run through the disk cache
    // may wait on other processes): that run's promise would not install it.
    const held = urgent ? this.markers.take(chunk) : undefined;
    if (held) {
      this.stats.add(Counter.markerHits);
      return this.install(chunk, 1, held).catch((err) => this.failed(chunk, err));
    }
    const existing = this.pending.get(chunk);
    if (existing) {
      if (urgent) this.scheduler.promote(chunk);
      return existing;
    }
    const p = this.fill(chunk, urgent, piece).finally(() => {
      this.pending.delete(chunk);
      // A candidate that was carried inside another run is no marker.
      this.markers.settled(chunk);
      // Markers included: a marker that kept its lock until this process's
      // reader came would hold up another process's reader, which may hold
      // up this one (another process may fetch a marker's chunk again).
      this.shared?.release(chunk);
    });
    this.pending.set(chunk, p);
    return p;
  }

  private async fill(chunk: number, urgent: boolean, piece?: number): Promise<void> {
    try {
      if (this.sharedChunk(chunk)) {
        // Decided in this turn when no other process holds the chunk: the
        // request below must reach the scheduler inside the caller's hold()
        // to share a GET with its neighbours.
        const turn = this.sharedTurn(chunk, urgent);
        if (turn === 'found' || (turn === 'busy' && !urgent)) return;
        // With a disk cache its block locks already wait for the other
        // process's fetch (and read what it wrote): waiting here first would
        // wait twice as long for a holder that is stuck.
        if (turn === 'busy' && !this.disk && !(await this.awaitShared(chunk))) return;
      }
      const cached = this.cache?.get(chunk);
      if (cached) {
        this.stats.add(Counter.cacheHits);
        await this.install(chunk, 1, cached);
      } else {
        await this.scheduler.request(chunk, urgent, piece);
      }
    } catch (err) {
      this.failed(chunk, err);
    }
  }

  /** Shared region, synchronously: 'fetch' (this process holds the chunk's
   *  fetch lock and the pages are missing), 'found' (another process
   *  installed it: it is only woken here), or 'busy' (another process is
   *  fetching it: a fault waits for it, a prefetch leaves it). */
  private sharedTurn(chunk: number, urgent: boolean): 'fetch' | 'found' | 'busy' {
    const shared = this.shared!;
    if (shared.claim(chunk) === 'busy') {
      if (urgent) this.stats.add(Counter.sharedWaits);
      return 'busy';
    }
    if (!shared.present(chunk)) return 'fetch';
    shared.release(chunk);
    this.foundShared(chunk);
    return 'found';
  }

  /** A fault on a chunk another process is fetching: true when this process
   *  is to fetch it after all (the other let go without installing it, or
   *  took too long: a copy that finds the pages is EEXIST, success). */
  private async awaitShared(chunk: number): Promise<boolean> {
    const mine = await this.shared!.awaitTurn(chunk, () => this.stopped);
    if (this.stopped) return false;
    if (!mine || !this.shared!.present(chunk)) return true;
    this.shared!.release(chunk);
    this.foundShared(chunk);
    return false;
  }

  /** Another process installed the chunk: recorded and woken, nothing copied. */
  private foundShared(chunk: number): void {
    this.stats.add(Counter.sharedHits);
    this.resident.reserve(this.geometry.installBytes(chunk));
    this.resident.add(chunk);
    this.intake.settle(chunk);
    this.stats.set(Counter.residentBytes, this.resident.bytes);
    this.installer.wake(this.geometry.start(chunk), this.geometry.installBytes(chunk));
  }

  /** Installed by this process and still there: shared pages another process
   *  punched out are forgotten here, so their fault is served again. */
  private installedHere(chunk: number): boolean {
    if (!this.resident.has(chunk)) return false;
    if (!this.sharedChunk(chunk) || this.shared!.present(chunk)) return true;
    this.resident.forget(chunk);
    this.stats.set(Counter.residentBytes, this.resident.bytes);
    return false;
  }

  /** The chunk's pages are the shared file's (not made private when it was full). */
  private sharedChunk(chunk: number): boolean {
    return this.shared !== null && !this.privateChunks.has(chunk);
  }

  private patchedPrivate(offset: number, length: number): void {
    const [first, last] = this.geometry.span(offset, length);
    for (let c = first; c <= last; c++) this.privateChunks.add(c);
    this.stats.add(Counter.sharedFallbacks, last - first + 1);
  }

  private failed(chunk: number, err: unknown): void {
    // A run read through the disk cache installs chunk by chunk: one that made it in is not failed.
    if (this.stopped || this.resident.has(chunk)) return;
    this.poisoned.fail(chunk, err as Error);
    throw err;
  }

  /** One run of chunks read (run-reader.ts) and installed, its first chunk
   *  held back when it is a readahead marker. */
  private async readRun(first: number, count: number, urgent: boolean): Promise<void> {
    this.stats.add(Counter.inflight);
    try {
      await this.reader.read(first, count, async (chunk, n, data) => {
        // A marker is not installed, and its lock is let go when its run
        // ends: another process reading the same version would fetch it
        // again. So markers are held only while no other mapping shares the pages.
        const { held, overflow } = urgent || this.shared?.othersMapping() ? { held: 0 } : this.markers.hold(chunk, n, this.geometry.installBytes(chunk), data, this.intake.isWaiting(chunk));
        if (overflow) this.install(overflow[0], 1, overflow[1]).catch(() => {});
        if (held < n) await this.install(chunk + held, n - held, data.subarray(held * this.geometry.chunkSize));
      });
    } finally {
      this.stats.add(Counter.inflight, -1);
    }
  }

  /** Installs `count` chunks from `first` held contiguously in `data`: copies
   *  without waking, records residency, then one UFFDIO_WAKE for the run. */
  private async install(first: number, count: number, data: Buffer): Promise<void> {
    if (this.stopped) return;
    const start = this.geometry.start(first);
    // A load() retrying a chunk that failed before: its poison markers go, so the copy can install pages there.
    this.poisoned.clear(first, count);
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
        if (this.sharedChunk(first)) this.shared!.installed(first, count, data.length);
      });
    } finally {
      if (outcome !== 'installed') this.resident.cancel(data.length);
    }
    if (outcome === 'installed') this.installer.wake(start, data.length);
  }
}
