// Serves one mapping, mechanism only: faults in (fault-intake), single
// flight per chunk, the chunk cache, fetches scheduled and coalesced
// (fetch-scheduler) and read from the source, installs (installer) under the
// resident budget (residency), and poison for what cannot be read; its
// pages private memory or a shared pages file (shared-gate.ts). What to
// fetch beyond a fault (readahead, the fill) is the fetch policy's
// (fetch-policy.ts). Fault worker thread only: it never touches mapped memory
// (rule 1), only its own buffers, whose addresses it hands to the kernel.
// DESIGN.md tells the life of a mapping around it.
import { setMaxListeners } from 'node:events';
import { S3MmapError } from '../shared/errors.js';
import { native, type RegionInfo } from '../shared/native.js';
import type { ReadaheadMode, ServeOptions } from '../shared/protocol.js';
import { Counter, StatsWriter } from '../shared/stats.js';
import type { Source } from '../sources/source.js';
import type { BufferPool } from './buffer-pool.js';
import { ChunkCache } from './chunk-cache.js';
import { ChunkFlight } from './chunk-flight.js';
import { ChunkGeometry } from './chunk-geometry.js';
import type { ObjectCache } from './disk-cache.js';
import { FaultIntake } from './fault-intake.js';
import { FetchScheduler } from './fetch-scheduler.js';
import { Installer } from './installer.js';
import { Placement } from './placement.js';
import { drainFaults } from './drain.js';
import { FetchPolicy } from './fetch-policy.js';
import { Markers } from './markers.js';
import { PoisonList } from './poison.js';
import { ResidentSet } from './residency.js';
import { RunReader } from './run-reader.js';
import type { SharedFile } from './backing.js';
import { SharedGate } from './shared-gate.js';

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
  private readonly shared: SharedGate | null;
  /** Another process maps the same shared pages (asked by the fill's decision). */
  private readonly othersMapping = (): boolean => this.shared?.othersMapping() ?? false;
  private readonly reader: RunReader;
  private readonly placement: Placement;
  private readonly policy: FetchPolicy;
  private readonly scheduler: FetchScheduler;
  private readonly poisoned: PoisonList;
  private readonly markers = new Markers();
  private readonly flight: ChunkFlight;
  /** One abort signal for every read in flight of this mapping. */
  private readonly abort = new AbortController();
  private watchHandle: object | null = null;
  private stopped = false;
  private draining = false;
  /** The fill's place: the next chunk it looks at, chunks it has yet to look at, chunks per GET. */
  private filling: { next: number; left: number; piece: number } | null = null;

  constructor(init: RegionServerInit) {
    const { region, serve } = init;
    this.fd = region.fd;
    this.label = serve.label;
    this.source = init.source;
    setMaxListeners(0, this.abort.signal);
    this.geometry = new ChunkGeometry(init.size, serve.chunkSize, pageSize);
    this.stats = new StatsWriter(init.stats);
    this.intake = new FaultIntake(region.fd, region.address, this.geometry, this.stats, (err) => init.onError(err, 0, 0), (tid) => this.resident.faulted(tid));
    // Shared pages are freed for everyone by punching a hole; MADV_DONTNEED would only drop this process's page tables.
    const dropPages = (o: number, l: number) => void (this.shared?.punch(this.geometry.chunkOf(o)) || this.installer.drop(o, l));
    this.resident = new ResidentSet(this.geometry, new Uint8Array(init.residency), serve.residentBudget, dropPages, (tid) => this.intake.isParked(tid));
    this.shared = init.shared && new SharedGate({
      file: init.shared, length: region.length, geometry: this.geometry, resident: this.resident, stats: this.stats,
      stopped: () => this.stopped, diskBeneath: !!init.disk, adopt: (c) => this.placement.adopt(c),
    });
    this.installer = new Installer(region.fd, region.address, pageSize, serve.label, () => this.stopped, () => this.stats.add(Counter.copyRetries), this.shared);
    this.poisoned = new PoisonList(this.geometry, this.installer, this.stats, serve.label, (c) => this.intake.settle(c), init.onError);
    this.cache = serve.cacheSize >= serve.chunkSize ? new ChunkCache(serve.cacheSize, this.geometry) : null;
    this.disk = init.disk;
    this.placement = new Placement({
      geometry: this.geometry, installer: this.installer, resident: this.resident, poisoned: this.poisoned,
      intake: this.intake, markers: this.markers, stats: this.stats, stopped: () => this.stopped, shared: this.shared,
    });
    this.policy = new FetchPolicy(serve.plan, this.geometry.chunks, this.stats);
    this.reader = new RunReader({
      source: init.source, pool: init.pool, geometry: this.geometry, stats: this.stats, cache: this.cache, disk: this.disk,
      signal: this.abort.signal, stopped: () => this.stopped, timer: this.policy,
    });
    this.flight = new ChunkFlight({
      placement: this.placement, markers: this.markers, cache: this.cache, reader: this.reader,
      resident: this.resident, poisoned: this.poisoned, stats: this.stats, stopped: () => this.stopped,
      ownGetBehindFill: !this.disk, shared: this.shared,
      chunkSize: this.geometry.chunkSize, waited: (c) => this.intake.isWaiting(c),
    });
    const { concurrency, fetchChunks: maxRunChunks } = serve.plan;
    // A run ends: the fill queues its next chunks before the connection is given again.
    this.scheduler = new FetchScheduler({ concurrency, maxRunChunks }, (first, count, urgent, fill) =>
      this.flight.readRun(first, count, urgent, fill).finally(() => this.fillMore()),
    );
    this.flight.attach(this.scheduler);
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
    await drainFaults({ waitingChunks: () => this.intake.waitingChunks(), pending: (c) => this.flight.get(c), stats: this.stats });
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
    this.resident.close();
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
    // A bounded range is spread over every connection.
    const piece = this.policy.loadPiece(last - first + 1);
    this.scheduler.hold();
    for (let c = first; c <= last; c++) if (!this.installedHere(c)) work.push(this.flight.ensure(c, true, piece));
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
      // Shared: pages another process installed go too, for everyone.
      if (!this.flight.has(c) && (this.resident.has(c) || !this.shared?.punch(c))) this.resident.drop(c);
    }
    this.stats.set(Counter.residentBytes, this.resident.bytes);
  }

  setReadahead(mode: ReadaheadMode): void {
    this.policy.setMode(mode);
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
      this.resident.keep(chunk, this.intake.settle(chunk));
      this.installer.wake(this.geometry.start(chunk), this.geometry.installBytes(chunk));
      return;
    }
    const waits = !this.markers.has(chunk) && !this.cache?.has(chunk);
    this.flight.ensure(chunk, true).catch(() => {});
    if (this.draining) return;
    const plan = this.policy.onFault(chunk, waits, {
      missingBytes: this.geometry.size - this.resident.bytes - this.flight.size * this.geometry.chunkSize,
      residentBytes: this.resident.bytes,
      sharedWithOthers: this.othersMapping,
    });
    if (!plan) return;
    for (const m of plan.markers) this.markers.plan(m);
    for (const [from, to] of plan.pieces) for (let c = from; c < to; c++) this.prefetchChunk(c, to - from);
    if (plan.fill) {
      this.filling = { next: chunk, left: this.geometry.chunks, piece: plan.fillPiece };
      this.fillMore();
    }
  }

  /** Queues the fill's next chunks not installed nor on their way, behind
   *  faults and readahead: what its lanes take in one round, so a reader's
   *  chunk behind it is never queued far back (and a shared region holds few
   *  fetch locks at once). The fill goes up from the fault that started it
   *  and then from the start: a reader going forward meets its bytes first. */
  private fillMore(): void {
    const f = this.filling;
    if (!f || this.draining || this.stopped) return;
    const want = this.scheduler.fillLanes * f.piece;
    const { chunks } = this.geometry;
    this.scheduler.hold();
    try {
      while (f.left > 0 && this.scheduler.fillWaiting < want) {
        const c = f.next;
        f.next = (c + 1) % chunks;
        f.left--;
        if (this.prefetchChunk(c, f.piece, true)) this.stats.add(Counter.fillChunks);
      }
    } finally {
      this.scheduler.release();
    }
    if (f.left === 0) this.filling = null;
  }

  /** `piece`: most chunks one GET of this prefetch carries. */
  private prefetchChunk(c: number, piece?: number, fill = false): boolean {
    if (this.draining || !this.geometry.contains(c) || this.resident.has(c) || this.flight.has(c) || this.poisoned.has(c) || this.markers.has(c)) return false;
    // Another process installed it: a fill or readahead never fetches it again.
    if (this.shared?.present(c)) return false;
    this.stats.add(Counter.prefetchedChunks);
    this.flight.ensure(c, false, piece, fill).catch(() => {});
    return true;
  }

  /** Installed and still there (shared pages another process punched out are not). */
  private installedHere(chunk: number): boolean {
    return this.shared ? this.shared.installedHere(chunk) : this.resident.has(chunk);
  }
}
