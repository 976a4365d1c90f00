// close()'s drain of one mapping: serve every fault already waiting, and any
// that arrive meanwhile, until no thread has faulted for a while, so a thread
// blocked in a read when close() is called gets its bytes instead of SIGSEGV
// or EFAULT. Fault worker thread.
import { setTimeout as sleep } from 'node:timers/promises';
import { POLICY } from '../shared/defaults.js';
import { Counter, type StatsWriter } from '../shared/stats.js';

export interface Drainable {
  /** Chunks some thread is parked on now. */
  waitingChunks(): Iterable<number>;
  /** The fetch of a chunk in flight, if any. */
  pending(chunk: number): Promise<void> | undefined;
  stats: StatsWriter;
}

export async function drainFaults(d: Drainable): Promise<void> {
  // Only faulting threads wait here: queued prefetches and load()s end with stop().
  let quietLeft = POLICY.drainQuietMaxMs;
  for (;;) {
    const faulted = [...d.waitingChunks()].flatMap((c) => d.pending(c) ?? []);
    if (faulted.length === 0) return;
    await Promise.allSettled(faulted);
    // A woken thread still has to copy: a write(2) from the Buffer on a pool
    // thread goes on through the rest of its range, faulting on the next
    // chunk. Nothing tells when it is done, so the region stays served until
    // no thread has faulted for a while (threads reading through attach()
    // views keep faulting, and keep the region mapped anyway).
    let seen;
    do {
      seen = d.stats.counters[Counter.faults];
      await sleep(POLICY.drainQuietMs);
      quietLeft -= POLICY.drainQuietMs;
    } while (seen !== d.stats.counters[Counter.faults] && quietLeft > 0);
    // The waits are bounded in all: a reader that keeps faulting past them
    // finds the region gone (EFAULT, SIGSEGV), as after any close().
    if (quietLeft <= 0) return;
  }
}
