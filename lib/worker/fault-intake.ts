// Reads one mapping's fault messages off its uffd in batches (rule 4: one
// message per faulting page and thread) and turns them into the set of chunks
// touched; remembers when each fault arrived, and which thread faulted, so
// that its service time reaches the latency histogram when the chunk is
// installed or poisoned and the installed chunk can be kept for that thread
// (residency.ts). Fault worker thread, called from the uffd's poll callback:
// never blocks (rule 2).
import { performance } from 'node:perf_hooks';
import { S3MmapError } from '../shared/errors.js';
import { native } from '../shared/native.js';
import { Counter, type StatsWriter } from '../shared/stats.js';
import type { ChunkGeometry } from './chunk-geometry.js';

const FAULT_BATCH = 512;

interface Waiting {
  /** Arrival times of the faults. */
  times: number[];
  /** Their threads (0 when the kernel does not say). */
  threads: number[];
}


/** What settle() returns for a chunk no thread waits on (most readahead and fill chunks). */
const NO_THREADS: readonly number[] = [];
export class FaultIntake {
  private readonly batch = new Float64Array(FAULT_BATCH);
  private readonly tids = new Uint32Array(FAULT_BATCH);
  /** The faults waiting on each chunk. */
  private readonly waiting = new Map<number, Waiting>();
  /** Threads parked in a fault not yet answered → how many of its faults. */
  private readonly parked = new Map<number, number>();

  constructor(
    private readonly fd: number,
    private readonly base: number,
    private readonly geometry: ChunkGeometry,
    private readonly stats: StatsWriter,
    private readonly onError: (err: Error) => void,
    /** A thread faulted: it is done with whatever was installed for it before. */
    private readonly onThreadFault: (tid: number) => void = () => {},
  ) {}

  /** Every fault message waiting now, as the chunks they touch. */
  read(): Set<number> {
    const now = performance.now();
    const touched = new Set<number>();
    for (;;) {
      const n = native.readFaults(this.fd, this.batch, this.tids);
      if (n < 0) {
        // The faults already read are still returned: their threads are parked.
        this.onError(new S3MmapError('EIO', `s3mmap: reading fault messages failed (errno ${-n})`));
        break;
      }
      for (let i = 0; i < n; i++) {
        const tid = this.tids[i];
        this.onThreadFault(tid);
        const chunk = this.geometry.chunkOf(this.batch[i] - this.base);
        if (!this.geometry.contains(chunk)) continue;
        let w = this.waiting.get(chunk);
        if (!w) this.waiting.set(chunk, (w = { times: [], threads: [] }));
        w.times.push(now);
        w.threads.push(tid);
        this.parked.set(tid, (this.parked.get(tid) ?? 0) + 1);
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

  /** The chunk's faults are answered (installed or poisoned): record their
   *  service times. Returns the threads that waited (empty if none). */
  settle(chunk: number): readonly number[] {
    const w = this.waiting.get(chunk);
    if (!w) return NO_THREADS;
    this.waiting.delete(chunk);
    const now = performance.now();
    for (const t of w.times) this.stats.latency((now - t) * 1000);
    for (const tid of w.threads) {
      const n = (this.parked.get(tid) ?? 1) - 1;
      if (n > 0) this.parked.set(tid, n);
      else this.parked.delete(tid);
    }
    return w.threads;
  }

  /** True while thread `tid` waits on a fault of this mapping. */
  isParked(tid: number): boolean {
    return this.parked.has(tid);
  }
}
