// Reads one run of chunks for a region server and hands its bytes over to be
// installed: lent by a source that holds them in memory, read through the
// disk cache (cached-run.ts: blocks on disk read back, the rest fetched,
// chunks handed over as their bytes come in), or fetched straight into a
// pooled buffer (chunks handed over as the GET's bytes come in, run-front.ts).
// Counts what was fetched and keeps fetched chunks in the
// memory cache. Fault worker thread; its buffers are its own (rule 1).
import { Counter, type StatsWriter } from '../shared/stats.js';
import type { Source } from '../sources/source.js';
import type { BufferPool, RunBuffer } from './buffer-pool.js';
import { CachedRun } from './cached-run.js';
import type { ChunkCache } from './chunk-cache.js';
import type { ChunkGeometry } from './chunk-geometry.js';
import type { ObjectCache } from './disk-cache.js';
import type { GetTimer } from './fetch-policy.js';
import type { RunFront } from './run-front.js';

/** Chunks [chunk, chunk+count) are in `data` (whole pages): install them. */
export type Deliver = (chunk: number, count: number, data: Buffer) => Promise<void>;

export interface RunReaderParts {
  source: Source;
  pool: BufferPool;
  geometry: ChunkGeometry;
  stats: StatsWriter;
  /** The memory cache of fetched chunks, or null. */
  cache: ChunkCache | null;
  /** The disk cache's view of this object, or null. */
  disk: ObjectCache | null;
  /** Aborts every read of the mapping (stop()). */
  signal: AbortSignal;
  stopped: () => boolean;
  /** Times each GET for the network model (fetch-policy.ts). */
  timer: GetTimer;
}

export class RunReader {
  constructor(private readonly p: RunReaderParts) {}

  /** `front`: where a run fetched straight reports its bytes as they come in
   *  (its chunks are installed then); without it, the run is installed whole. */
  async read(first: number, count: number, deliver: Deliver, front?: RunFront): Promise<void> {
    const { source, geometry } = this.p;
    const start = geometry.start(first);
    const length = geometry.bytes(first, count);
    const installBytes = geometry.installBytes(first, count);
    const lent = source.borrow?.(start, installBytes);
    if (lent) {
      this.counted(1, count, length);
      if (!this.p.stopped()) await deliver(first, count, Buffer.from(lent.buffer, lent.byteOffset, lent.byteLength));
      return;
    }
    const run = this.p.pool.acquire(installBytes);
    try {
      // The last chunk installs whole pages; the tail past the object's end is zero and no view exposes it.
      if (this.p.disk) return await this.throughDisk(first, length, run, deliver);
      front?.start(run.buf, deliver);
      const progress = front && ((bytes: number) => front.progress(bytes));
      await this.timed(start, length, () => source.read(start, length, run.buf, this.p.signal, progress));
      run.buf.fill(0, length);
      this.counted(1, count, length);
      if (this.p.stopped()) return;
      this.p.cache?.putRun(first, count, run);
      await (front ? front.finish(run.buf) : deliver(first, count, run.buf));
    } finally {
      // Installs handed over early read the buffer until they are done.
      await front?.settled().catch(() => {});
      run.unref();
    }
  }

  private async throughDisk(first: number, length: number, run: RunBuffer, deliver: Deliver): Promise<void> {
    const { geometry, stats, source } = this.p;
    const { chunkSize } = geometry;
    run.buf.fill(0, length);
    const fetched = await new CachedRun(this.p.disk!, geometry.start(first), length, run.buf, chunkSize, {
      fetch: async (offset, bytes, at) => {
        await this.timed(offset, bytes, () => source.read(offset, bytes, run.buf.subarray(at), this.p.signal));
        this.counted(1, 0, bytes);
      },
      install: async (i, n) => {
        if (this.p.stopped()) return;
        const c = first + i;
        this.p.cache?.putRun(c, n, run, first);
        await deliver(c, n, run.buf.subarray(i * chunkSize, i * chunkSize + geometry.installBytes(c, n)));
      },
      retain: () => {
        run.ref();
        return () => run.unref();
      },
      stats,
      signal: this.p.signal,
    }).run();
    stats.add(Counter.chunksFetched, fetched);
  }

  /** Reads bytes [offset, offset+length), timed for the network model
   *  unless the source holds them all in memory (the open's first chunk). */
  private async timed(offset: number, length: number, read: () => Promise<void>): Promise<void> {
    const bytes = length - (this.p.source.held?.(offset, length) ?? 0);
    if (bytes <= 0) return read();
    const get = this.p.timer.begin();
    let done = 0;
    try {
      await read();
      done = bytes;
    } finally {
      this.p.timer.end(get, done);
    }
  }

  private counted(fetches: number, chunks: number, bytes: number): void {
    this.p.stats.add(Counter.fetches, fetches);
    this.p.stats.add(Counter.chunksFetched, chunks);
    this.p.stats.add(Counter.bytesFetched, bytes);
  }
}
