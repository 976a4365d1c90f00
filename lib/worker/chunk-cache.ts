// Fetched chunks kept in the fault worker (lru-cache, bounded in bytes) so
// that a chunk evicted from the region is reinstalled without a GET. Entries
// are slices of pooled fetch buffers: a buffer goes back to the pool when
// its install and its last cached slice are done with it. Fault worker thread.
import { LRUCache } from 'lru-cache';
import type { RunBuffer } from './buffer-pool.js';
import type { ChunkGeometry } from './chunk-geometry.js';

interface Entry {
  run: RunBuffer;
  data: Buffer;
}

export class ChunkCache {
  private readonly lru: LRUCache<number, Entry>;

  constructor(
    maxBytes: number,
    private readonly geometry: ChunkGeometry,
  ) {
    this.lru = new LRUCache<number, Entry>({
      maxSize: maxBytes,
      sizeCalculation: (e) => e.data.length,
      dispose: (e) => e.run.unref(),
    });
  }

  /** The chunk's install bytes (whole pages), or undefined. */
  get(chunk: number): Buffer | undefined {
    return this.lru.get(chunk)?.data;
  }

  /** Held here, without counting as a use. */
  has(chunk: number): boolean {
    return this.lru.has(chunk);
  }

  /** Keeps chunks [first, first+count) of a run read into `run.buf`, whose
   *  first chunk is `runFirst` (default: `first`, at the buffer's start). */
  putRun(first: number, count: number, run: RunBuffer, runFirst = first): void {
    const { chunkSize } = this.geometry;
    for (let i = 0; i < count; i++) {
      run.ref();
      const from = (first - runFirst + i) * chunkSize;
      this.lru.set(first + i, { run, data: run.buf.subarray(from, from + this.geometry.installBytes(first + i)) });
    }
  }

  clear(): void {
    this.lru.clear();
  }
}
