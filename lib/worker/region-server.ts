// The fault loop of one mapping: reads fault messages from its uffd, turns the
// pages into chunks, keeps one fetch in flight per chunk, installs a whole
// chunk with one UFFDIO_COPY, and poisons what cannot be fetched. Fault worker
// thread only: it never touches mapped memory (design rule 1), only its own
// chunk buffers, whose addresses it hands to the kernel.
import { setMaxListeners } from 'node:events';
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { BufferPool, RunBuffer } from './buffer-pool.js';
import { S3MmapError } from '../shared/errors.js';
import { Errno, native, type RegionInfo } from '../shared/native.js';
import { Readahead } from './readahead.js';
import type { Source } from '../sources/source.js';
import { Counter, StatsWriter } from '../shared/stats.js';

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
  /** What to call the object in messages (s3://b/k, a path). */
  label: string;
}

interface CachedChunk {
  run: RunBuffer;
  data: Buffer;
}

interface QueuedFetch {
  chunk: number;
  urgent: boolean;
  /** Started (alone or with a run): skipped wherever else it is still queued. */
  taken: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const FAULT_BATCH = 512;
const MAX_EAGAIN = 10_000;
const pageSize = native.pageSize;

/** FIFO with O(1) take from the front; entries taken elsewhere are skipped. */
class FetchQueue {
  private items: QueuedFetch[] = [];
  private head = 0;
  push(e: QueuedFetch): void {
    this.items.push(e);
  }
  shift(): QueuedFetch | undefined {
    while (this.head < this.items.length) {
      const e = this.items[this.head++];
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (!e.taken) return e;
    }
    this.clear();
    return undefined;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class RegionServer {
  private readonly fd: number;
  private readonly base: number;
  private readonly chunks: number;
  private readonly stats: StatsWriter;
  /** Chunks cut from fetch buffers, which return to the pool when evicted. */
  private readonly cache: LRUCache<number, CachedChunk> | null;
  private readonly readahead: Readahead | null;
  /** Installed chunks in install order: the oldest is evicted first. */
  private readonly resident = new Map<number, number>();
  private residentBytes = 0;
  private readonly poisoned = new Set<number>();
  /** Single flight: a chunk being fetched and installed has one promise. */
  private readonly pending = new Map<number, Promise<void>>();
  /** Fault arrival times by chunk, for the latency histogram. */
  private readonly waiting = new Map<number, number[]>();
  private readonly urgentQueue = new FetchQueue();
  private readonly backgroundQueue = new FetchQueue();
  private readonly queued = new Map<number, QueuedFetch>();
  private active = 0;
  /** While > 0, queued fetches wait so that neighbours can join one run. */
  private batching = 0;
  private readonly abort = new AbortController();
  private readonly faultBatch = new Float64Array(FAULT_BATCH);
  private watchHandle: object | null = null;
  private stopped = false;
  private draining = false;

  constructor(
    readonly region: RegionInfo,
    private readonly size: number,
    private readonly source: Source,
    private readonly opts: ServeOptions,
    private readonly pool: BufferPool,
    statsBuffer: SharedArrayBuffer,
    private readonly residency: Uint8Array,
    private readonly onError: (err: Error, offset: number, length: number) => void,
  ) {
    this.fd = region.fd;
    this.base = region.address;
    // One abort signal for every read in flight of this mapping.
    setMaxListeners(0, this.abort.signal);
    this.chunks = Math.ceil(size / opts.chunkSize);
    this.stats = new StatsWriter(statsBuffer);
    this.cache =
      opts.cacheSize >= opts.chunkSize
        ? new LRUCache<number, CachedChunk>({
            maxSize: opts.cacheSize,
            sizeCalculation: (c) => c.data.length,
            dispose: (c) => c.run.unref(),
          })
        : null;
    this.readahead = opts.readahead > opts.chunkSize ? new Readahead(this.chunks, Math.floor(opts.readahead / opts.chunkSize)) : null;
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
      const faulted = [...this.waiting.keys()].flatMap((c) => this.pending.get(c) ?? []);
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
    this.urgentQueue.clear();
    this.backgroundQueue.clear();
    // Fetches never started must still settle, or drain() and load() wait forever.
    const closed = new S3MmapError('ERR_CLOSED', `s3mmap: ${this.opts.label} is closed`);
    for (const e of this.queued.values()) e.reject(closed);
    this.queued.clear();
    void Promise.resolve(this.source.close()).catch(() => {});
  }

  private onReadable(): void {
    if (this.stopped) return;
    const now = performance.now();
    const touched = new Set<number>();
    for (;;) {
      const n = native.readFaults(this.fd, this.faultBatch);
      if (n < 0) {
        // Still serve the faults already read below: their threads are parked.
        this.onError(new S3MmapError('EIO', `s3mmap: reading fault messages failed (errno ${-n})`), 0, 0);
        break;
      }
      for (let i = 0; i < n; i++) {
        const chunk = Math.floor((this.faultBatch[i] - this.base) / this.opts.chunkSize);
        if (chunk < 0 || chunk >= this.chunks) continue;
        let times = this.waiting.get(chunk);
        if (!times) this.waiting.set(chunk, (times = []));
        times.push(now);
        touched.add(chunk);
      }
      this.stats.add(Counter.faults, n);
      if (n < FAULT_BATCH) break;
    }
    this.batching++;
    try {
      this.serveTouched(touched);
    } finally {
      this.batching--;
    }
    this.pump();
  }

  private serveTouched(touched: Set<number>): void {
    for (const chunk of touched) {
      if (this.resident.has(chunk)) {
        // Installed while this message sat in the queue: the thread may
        // still be asleep on it.
        this.settleWaiters(chunk);
        this.wakeChunk(chunk);
        continue;
      }
      this.ensure(chunk, true).catch(() => {});
      if (this.readahead && !this.draining) {
        const [from, to] = this.readahead.onFault(chunk);
        for (let c = from; c < to; c++) this.prefetchChunk(c);
      }
    }
  }

  /** Makes [offset, offset+length) resident; rejects if any of it cannot be read. */
  async load(offset: number, length: number): Promise<void> {
    const [first, last] = this.chunkSpan(offset, length);
    const work: Promise<void>[] = [];
    this.batching++;
    for (let c = first; c <= last; c++) if (!this.resident.has(c)) work.push(this.ensure(c, true));
    this.batching--;
    this.pump();
    await Promise.all(work);
  }

  /** Starts fetching a range in the background; faults on it will find it ready. */
  prefetch(offset: number, length: number): void {
    const [first, last] = this.chunkSpan(offset, length);
    this.batching++;
    for (let c = first; c <= last; c++) this.prefetchChunk(c);
    this.batching--;
    this.pump();
  }

  /** Drops installed pages of a range (they fault again on the next touch). */
  evict(offset: number, length: number): void {
    const [first, last] = this.chunkSpan(offset, length);
    for (let c = first; c <= last; c++) if (this.resident.has(c) && !this.pending.has(c)) this.dropChunk(c);
  }

  setReadahead(mode: 'sequential' | 'random' | 'normal'): void {
    this.readahead?.setMode(mode);
  }

  private chunkSpan(offset: number, length: number): [number, number] {
    if (length <= 0 || this.size === 0) return [0, -1];
    const end = Math.min(this.size, offset + length);
    return [Math.floor(offset / this.opts.chunkSize), Math.floor((end - 1) / this.opts.chunkSize)];
  }

  private prefetchChunk(c: number): void {
    if (this.draining || c < 0 || c >= this.chunks || this.resident.has(c) || this.pending.has(c) || this.poisoned.has(c)) return;
    this.stats.add(Counter.prefetchedChunks);
    this.ensure(c, false).catch(() => {});
  }

  private ensure(chunk: number, urgent: boolean): Promise<void> {
    const existing = this.pending.get(chunk);
    if (existing) {
      if (urgent) this.promote(chunk);
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
        if (!this.stopped) await this.install(chunk, 1, cached.data);
      } else {
        await this.fetch(chunk, urgent);
      }
    } catch (err) {
      if (this.stopped) return;
      this.fail(chunk, err as Error);
      throw err;
    }
  }

  private bounds(chunk: number): [start: number, length: number, installLength: number] {
    const start = chunk * this.opts.chunkSize;
    const length = Math.min(this.opts.chunkSize, this.size - start);
    return [start, length, Math.ceil(length / pageSize) * pageSize];
  }

  /** Page-rounded bytes a chunk installs; no tuple, for the per-chunk loops. */
  private installLength(chunk: number): number {
    const length = Math.min(this.opts.chunkSize, this.size - chunk * this.opts.chunkSize);
    return Math.ceil(length / pageSize) * pageSize;
  }

  /** Resolves once the chunk is fetched (with whatever run it joins) and installed. */
  private fetch(chunk: number, urgent: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: QueuedFetch = { chunk, urgent, taken: false, resolve, reject };
      this.queued.set(chunk, entry);
      (urgent ? this.urgentQueue : this.backgroundQueue).push(entry);
      if (this.batching === 0) this.pump();
    });
  }

  private promote(chunk: number): void {
    const entry = this.queued.get(chunk);
    if (!entry || entry.urgent) return;
    entry.urgent = true;
    this.urgentQueue.push(entry);
  }

  private pump(): void {
    while (!this.stopped && this.active < this.opts.concurrency) {
      const first = this.urgentQueue.shift() ?? this.backgroundQueue.shift();
      if (!first) return;
      first.taken = true;
      this.queued.delete(first.chunk);
      // Queued neighbours ride along in the same GET, up to fetchSize: the
      // install unit stays small for sparse reads, requests stay large for
      // streams.
      const run = [first];
      let bytes = this.installLength(first.chunk);
      for (let c = first.chunk + 1; bytes + this.opts.chunkSize <= this.opts.fetchSize; c++) {
        const next = this.queued.get(c);
        // A fault's own fetch stays small: background neighbours would make
        // the faulting thread wait for all of them.
        if (!next || next.urgent !== first.urgent) break;
        next.taken = true;
        this.queued.delete(c);
        run.push(next);
        bytes += this.installLength(c);
      }
      this.startRun(run, bytes);
    }
  }

  private startRun(run: QueuedFetch[], installBytes: number): void {
    this.active++;
    this.stats.add(Counter.inflight);
    const start = run[0].chunk * this.opts.chunkSize;
    const length = Math.min(this.size - start, run.length * this.opts.chunkSize);
    // A source holding the bytes in memory lends them: installed straight
    // from there, nothing to copy or cache.
    const lent = this.source.borrow?.(start, installBytes);
    const runBuf = lent ? null : this.pool.acquire(installBytes);
    const read = lent
      ? Promise.resolve()
      : this.source.read(start, length, runBuf!.buf, this.abort.signal).then(() => {
          // Page-rounded so the last chunk installs whole pages; the tail
          // past the object's end is zero and no view exposes it.
          runBuf!.buf.fill(0, length);
        });
    read
      .then(async () => {
        this.stats.add(Counter.fetches);
        this.stats.add(Counter.chunksFetched, run.length);
        this.stats.add(Counter.bytesFetched, length);
        const data = lent ? Buffer.from(lent.buffer, lent.byteOffset, lent.byteLength) : runBuf!.buf;
        if (runBuf && this.cache && !this.stopped) {
          for (let i = 0; i < run.length; i++) {
            const end = Math.min(installBytes, (i + 1) * this.opts.chunkSize);
            runBuf.ref();
            this.cache.set(run[i].chunk, { run: runBuf, data: data.subarray(i * this.opts.chunkSize, end) });
          }
        }
        if (!this.stopped) await this.install(run[0].chunk, run.length, data);
      })
      .then(
        () => run.forEach((e) => e.resolve()),
        (err) => run.forEach((e) => e.reject(err)),
      )
      .finally(() => {
        runBuf?.unref();
        this.active--;
        this.stats.add(Counter.inflight, -1);
        this.pump();
      });
  }

  /** Installs `count` chunks from `first` held contiguously in `data`: copies
   *  without waking, records residency, then one UFFDIO_WAKE for the run. */
  private async install(first: number, count: number, data: Buffer): Promise<void> {
    const start = first * this.opts.chunkSize;
    const installLength = data.length;
    for (let c = first; c < first + count; c++) {
      if (!this.poisoned.has(c)) continue;
      // A load() retried a chunk that failed before: clear its poison markers
      // so the copy can install pages there.
      const [cStart, , cLength] = this.bounds(c);
      native.drop(this.base + cStart, cLength);
      this.poisoned.delete(c);
    }
    this.makeRoom(installLength);
    let done = 0;
    let eagain = 0;
    while (done < installLength) {
      if (this.stopped) return;
      // DONTWAKE: a woken thread must find stats and residency already
      // updated; one UFFDIO_WAKE below covers the run.
      const r = native.copy(this.fd, this.base + start + done, data, done, installLength - done, true);
      if (r > 0) {
        done += r;
      } else if (r === -Errno.EEXIST) {
        // Already there (installed by an earlier copy): success; the wake
        // below covers it so that no thread sleeps on it.
        done += pageSize;
      } else if (r === -Errno.EAGAIN) {
        // The address space is changing (fork, mremap): try again shortly.
        if (++eagain > MAX_EAGAIN) throw this.fatal(first, 'EAGAIN');
        await yieldToLoop();
      } else if (r === -Errno.ENOENT || r === -Errno.ESRCH) {
        return; // region unmapped or process exiting: nobody waits any more
      } else {
        throw this.fatal(first, `errno ${-r}`);
      }
    }
    this.stats.add(Counter.installs, count);
    for (let c = first; c < first + count; c++) {
      this.markResident(c, this.installLength(c));
      this.settleWaiters(c);
    }
    native.wake(this.fd, this.base + start, installLength);
  }

  private fatal(chunk: number, what: string): Error {
    return new S3MmapError('EIO', `s3mmap: UFFDIO_COPY at chunk ${chunk} of ${this.opts.label} failed (${what})`);
  }

  /** Drops the oldest installed chunks until `incoming` more bytes fit the
   *  budget: done before a copy, so the cap holds at every instant. */
  private makeRoom(incoming: number): void {
    if (this.opts.residentBudget <= 0) return;
    for (const [old] of this.resident) {
      if (this.residentBytes + incoming <= this.opts.residentBudget) return;
      this.dropChunk(old);
      this.stats.add(Counter.evictions);
    }
  }

  private markResident(chunk: number, bytes: number): void {
    this.resident.set(chunk, bytes);
    this.residency[chunk] = 1;
    this.residentBytes += bytes;
    this.stats.set(Counter.residentBytes, this.residentBytes);
  }

  private dropChunk(chunk: number): void {
    const bytes = this.resident.get(chunk);
    if (bytes === undefined) return;
    const [start] = this.bounds(chunk);
    // Clear residency first: a thread that reads the bit and then the pages
    // must see "not resident" before the pages go.
    this.residency[chunk] = 0;
    native.drop(this.base + start, bytes);
    this.resident.delete(chunk);
    this.residentBytes -= bytes;
    this.stats.set(Counter.residentBytes, this.residentBytes);
  }

  private wakeChunk(chunk: number): void {
    const [start, , installLength] = this.bounds(chunk);
    native.wake(this.fd, this.base + start, installLength);
  }

  /** Rule 8: a chunk that cannot be fetched raises SIGBUS on touch, never zeros, never a hang. */
  private fail(chunk: number, err: Error): void {
    const [start, length, installLength] = this.bounds(chunk);
    this.poisoned.add(chunk);
    this.stats.add(Counter.errors);
    // Said before the poison wakes anyone: the SIGBUS that follows may end the
    // process before any other output gets out.
    writeSync(
      2,
      `s3mmap: bytes ${start}-${start + length - 1} of ${this.opts.label} could not be read (${(err as { code?: string }).code ?? err.message}); touching them raises SIGBUS, use mapping.load() to handle the error\n`,
    );
    this.settleWaiters(chunk);
    const r = native.poison(this.fd, this.base + start, installLength, false);
    if (r < 0 && r !== -Errno.EEXIST) native.wake(this.fd, this.base + start, installLength);
    this.onError(err, start, length);
  }

  private settleWaiters(chunk: number): void {
    const times = this.waiting.get(chunk);
    if (!times) return;
    this.waiting.delete(chunk);
    const now = performance.now();
    for (const t of times) this.stats.latency((now - t) * 1000);
  }
}
