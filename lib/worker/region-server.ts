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
import type { BufferPool, RunBuffer } from './buffer-pool.js';
import { ChunkCache } from './chunk-cache.js';
import { ChunkGeometry } from './chunk-geometry.js';
import { CachedRun } from './cached-run.js';
import type { ObjectCache } from './disk-cache.js';
import { FaultIntake } from './fault-intake.js';
import { FetchScheduler } from './fetch-scheduler.js';
import { Installer, type CopyOutcome } from './installer.js';
import { Readahead } from './readahead.js';
import { ResidentSet } from './residency.js';

/** Read once: the page size never changes. */
const pageSize = native.probe(false).pageSize;

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
  private readonly disk: ObjectCache | null;
  private readonly readahead: Readahead | null;
  private readonly scheduler: FetchScheduler;
  private readonly poisoned = new Set<number>();
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
    this.installer = new Installer(region.fd, region.address, pageSize, serve.label, () => this.stopped);
    this.resident = new ResidentSet(this.geometry, new Uint8Array(init.residency), serve.residentBudget, (o, l) => this.installer.drop(o, l));
    this.cache = serve.cacheSize >= serve.chunkSize ? new ChunkCache(serve.cacheSize, this.geometry) : null;
    this.disk = init.disk;
    this.readahead = serve.readahead > serve.chunkSize ? new Readahead(this.geometry.chunks, Math.floor(serve.readahead / serve.chunkSize)) : null;
    this.scheduler = new FetchScheduler(
      { concurrency: serve.concurrency, maxRunChunks: Math.max(1, Math.floor(serve.fetchSize / serve.chunkSize)) },
      (first, count) => this.readRun(first, count),
    );
  }

  start(): void {
    this.watchHandle = native.watch(this.fd, () => this.onReadable());
  }

  /** Serves every fault already waiting, and any that arrive meanwhile, then
   *  resolves: close() unmaps only after this, so a thread blocked in a fault
   *  when close() is called gets its bytes instead of SIGSEGV. Disk cache
   *  writes in flight end first too. */
  async drain(): Promise<void> {
    this.draining = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending.values()]);
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
    this.disk?.close();
    // Fetches never started must still settle, or drain() and load() wait forever.
    this.scheduler.stop(new S3MmapError('ERR_CLOSED', `s3mmap: ${this.label} is closed`));
    void Promise.resolve(this.source.close()).catch(() => {});
  }

  /** Makes [offset, offset+length) resident; rejects if any of it cannot be read. */
  async load(offset: number, length: number): Promise<void> {
    const [first, last] = this.geometry.span(offset, length);
    const work: Promise<void>[] = [];
    this.scheduler.hold();
    for (let c = first; c <= last; c++) if (!this.resident.has(c)) work.push(this.ensure(c, true));
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
    if (this.readahead && !this.draining) {
      const [from, to] = this.readahead.onFault(chunk);
      for (let c = from; c < to; c++) this.prefetchChunk(c);
    }
  }

  private prefetchChunk(c: number): void {
    if (this.draining || !this.geometry.contains(c) || this.resident.has(c) || this.pending.has(c) || this.poisoned.has(c)) return;
    this.stats.add(Counter.prefetchedChunks);
    this.ensure(c, false).catch(() => {});
  }

  private ensure(chunk: number, urgent: boolean): Promise<void> {
    const existing = this.pending.get(chunk);
    if (existing) {
      if (urgent) this.scheduler.promote(chunk);
      return existing;
    }
    const p = this.fill(chunk, urgent).finally(() => this.pending.delete(chunk));
    this.pending.set(chunk, p);
    return p;
  }

  private async fill(chunk: number, urgent: boolean): Promise<void> {
    try {
      const cached = this.cache?.get(chunk);
      if (cached) {
        this.stats.add(Counter.cacheHits);
        await this.install(chunk, 1, cached);
      } else {
        await this.scheduler.request(chunk, urgent);
      }
    } catch (err) {
      // A run read through the disk cache installs chunk by chunk: one that made it in is not failed.
      if (this.stopped || this.resident.has(chunk)) return;
      this.fail(chunk, err as Error);
      throw err;
    }
  }

  /** One read from the source for chunks [first, first+count), then their install. */
  private async readRun(first: number, count: number): Promise<void> {
    const start = this.geometry.start(first);
    const length = this.geometry.bytes(first, count);
    const installBytes = this.geometry.installBytes(first, count);
    this.stats.add(Counter.inflight);
    // A source holding the bytes in memory lends them: installed straight from there, nothing to copy or cache.
    const lent = this.source.borrow?.(start, installBytes);
    const run = lent ? null : this.pool.acquire(installBytes);
    try {
      if (run && this.disk) {
        run.buf.fill(0, length);
        await this.readThroughDisk(first, length, run);
        return;
      }
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
      await this.install(first, count, lent ? Buffer.from(lent.buffer, lent.byteOffset, lent.byteLength) : run!.buf);
    } finally {
      run?.unref();
      this.stats.add(Counter.inflight, -1);
    }
  }

  /** readRun() with the disk cache: blocks on disk are read back, the rest
   *  fetched, chunks installed as their bytes come in (cached-run.ts). */
  private async readThroughDisk(first: number, length: number, run: RunBuffer): Promise<void> {
    const { chunkSize } = this.geometry;
    const fetched = await new CachedRun(this.disk!, this.geometry.start(first), length, run.buf, chunkSize, {
      fetch: async (offset, bytes, at) => {
        await this.source.read(offset, bytes, run.buf.subarray(at), this.abort.signal);
        this.stats.add(Counter.fetches);
        this.stats.add(Counter.bytesFetched, bytes);
      },
      install: async (i, n) => {
        if (this.stopped) return;
        const c = first + i;
        if (this.cache) this.cache.putRun(c, n, run, first);
        await this.install(c, n, run.buf.subarray(i * chunkSize, i * chunkSize + this.geometry.installBytes(c, n)));
      },
      retain: () => {
        run.ref();
        return () => run.unref();
      },
      stats: this.stats,
      signal: this.abort.signal,
    }).run();
    this.stats.add(Counter.chunksFetched, fetched);
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
