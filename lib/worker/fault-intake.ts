// Reads one mapping's fault messages off its uffd in batches (rule 4: one
// message per faulting page and thread) and turns them into the set of chunks
// touched; remembers when each fault arrived so that its service time reaches
// the latency histogram when the chunk is installed or poisoned. Fault worker
// thread, called from the uffd's poll callback: never blocks (rule 2).
import { performance } from 'node:perf_hooks';
import { S3MmapError } from '../shared/errors.js';
import { native } from '../shared/native.js';
import { Counter, type StatsWriter } from '../shared/stats.js';
import type { ChunkGeometry } from './chunk-geometry.js';

const FAULT_BATCH = 512;

export class FaultIntake {
  private readonly batch = new Float64Array(FAULT_BATCH);
  /** Arrival times of the faults waiting on each chunk. */
  private readonly waiting = new Map<number, number[]>();

  constructor(
    private readonly fd: number,
    private readonly base: number,
    private readonly geometry: ChunkGeometry,
    private readonly stats: StatsWriter,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Every fault message waiting now, as the chunks they touch. */
  read(): Set<number> {
    const now = performance.now();
    const touched = new Set<number>();
    for (;;) {
      const n = native.readFaults(this.fd, this.batch);
      if (n < 0) {
        // The faults already read are still returned: their threads are parked.
        this.onError(new S3MmapError('EIO', `s3mmap: reading fault messages failed (errno ${-n})`));
        break;
      }
      for (let i = 0; i < n; i++) {
        const chunk = this.geometry.chunkOf(this.batch[i] - this.base);
        if (!this.geometry.contains(chunk)) continue;
        let times = this.waiting.get(chunk);
        if (!times) this.waiting.set(chunk, (times = []));
        times.push(now);
        touched.add(chunk);
      }
      this.stats.add(Counter.faults, n);
      if (n < FAULT_BATCH) break;
    }
    return touched;
  }

  /** The chunks threads wait on now. */
  waitingChunks(): IterableIterator<number> {
    return this.waiting.keys();
  }

  /** True while a thread waits on the chunk. */
  isWaiting(chunk: number): boolean {
    return this.waiting.has(chunk);
  }

  /** The chunk's faults are answered (installed or poisoned): record their service times. */
  settle(chunk: number): void {
    const times = this.waiting.get(chunk);
    if (!times) return;
    this.waiting.delete(chunk);
    const now = performance.now();
    for (const t of times) this.stats.latency((now - t) * 1000);
  }
}
