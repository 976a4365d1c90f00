// Which chunks of one mapping are installed, in install order, and the
// resident budget over them. Fault worker thread. The residency bytes live in
// a SharedArrayBuffer that the caller's thread reads for isResident() and
// kernelView(), so a chunk's bit is cleared before its pages go.
//
// What a budget guarantees: every thread makes progress under any budget the
// options accept (one chunk or more), and installed bytes stay within it
// unless the threads holding it all need more at once. The last two chunks a
// thread waited for are kept for it (an access across a chunk boundary needs
// both) until it faults on another one, or PROTECT_MS pass without it
// faulting; other installs evict around them, or wait while one of those
// threads is still running (it will read and move on). Only when every
// thread holding kept chunks is itself parked in a fault, so that waiting
// would be forever, does an install go over the budget: by at most two
// chunks per faulting thread. Without this, two threads under a one-chunk
// budget evicted each other's chunk before either had read it, forever, and
// one thread reading across a chunk boundary evicted its own.
import type { ChunkGeometry } from './chunk-geometry.js';

/** How long a chunk installed for a thread is kept if that thread never
 *  faults again. Only a thread that stops touching the mapping makes others
 *  wait this long; one that goes on faulting frees its older chunk at once. */
const PROTECT_MS = 250;
/** Chunks kept per thread: an access across a chunk boundary needs two. */
const KEPT_PER_THREAD = 2;

interface Protection {
  /** Threads that waited on the chunk and have not moved on since. */
  threads: Set<number>;
  since: number;
}

export class ResidentSet {
  /** Installed chunks → bytes installed, oldest first (Map keeps insertion order). */
  private readonly chunks = new Map<number, number>();
  private total = 0;
  /** Bytes of installs under way: counted against the budget before they land. */
  private reserved = 0;
  private peak = 0;
  /** Installed chunks that waiting threads have not read yet: not eviction victims. */
  private readonly kept = new Map<number, Protection>();
  /** Each thread's kept chunks, oldest first. */
  private readonly byThread = new Map<number, number[]>();
  /** Installs waiting for room (room()). */
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly geometry: ChunkGeometry,
    /** One byte per chunk, 1 while installed; shared with the caller's thread. */
    private readonly bits: Uint8Array,
    /** Most bytes installed at once; 0: no cap. */
    private readonly budget: number,
    /** Drops a range's pages (MADV_DONTNEED): the next touch faults again. */
    private readonly dropPages: (offset: number, length: number) => void,
    /** True while thread `tid` is parked in a fault of this mapping. */
    private readonly parked: (tid: number) => boolean = () => false,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get bytes(): number {
    return this.total;
  }

  /** A resident budget is set. */
  get bounded(): boolean {
    return this.budget > 0;
  }

  /** The most bytes ever installed at once. */
  get highWater(): number {
    return this.peak;
  }

  has(chunk: number): boolean {
    return this.chunks.has(chunk);
  }

  /** The chunk is installed: its bytes move from reserved to resident. `waiters`:
   *  the threads that waited on it, for whom it is kept until they move on. */
  add(chunk: number, waiters: readonly number[] = []): void {
    const bytes = this.geometry.installBytes(chunk);
    this.reserved = Math.max(0, this.reserved - bytes);
    if (!this.chunks.has(chunk)) {
      this.chunks.set(chunk, bytes);
      this.bits[chunk] = 1;
      this.total += bytes;
      if (this.total > this.peak) this.peak = this.total;
    }
    this.keep(chunk, waiters);
    // An install waiting for room (reserve()) may now evict this chunk.
    this.changed();
  }

  /** Threads woke on an installed chunk: keep it until they have read it. */
  keep(chunk: number, waiters: readonly number[]): void {
    if (this.budget <= 0 || waiters.length === 0 || !this.chunks.has(chunk)) return;
    let p = this.kept.get(chunk);
    if (!p) this.kept.set(chunk, (p = { threads: new Set(), since: 0 }));
    p.since = this.now();
    for (const t of waiters) {
      p.threads.add(t);
      let mine = this.byThread.get(t);
      if (!mine) this.byThread.set(t, (mine = []));
      if (!mine.includes(chunk)) mine.push(chunk);
      while (mine.length > KEPT_PER_THREAD) this.release(t, mine.shift()!);
    }
  }

  /** Thread `tid` faulted: it is done with all but the last chunk it waited
   *  on (tid 0: the kernel does not name threads; any fault then counts).
   *  A thread that parks may also let a waiting install go (reserve()). */
  faulted(tid: number): void {
    const mine = this.byThread.get(tid);
    while (mine && mine.length > KEPT_PER_THREAD - 1) this.release(tid, mine.shift()!);
    this.changed();
  }

  drop(chunk: number): void {
    const bytes = this.chunks.get(chunk);
    if (bytes === undefined) return;
    // Clear the bit first: a thread that reads it and then the pages must
    // see "not resident" before the pages go.
    this.bits[chunk] = 0;
    this.dropPages(this.geometry.start(chunk), bytes);
    this.chunks.delete(chunk);
    this.unkeep(chunk);
    this.total -= bytes;
    this.changed();
  }

  /** Resolves when room may have been made: a kept chunk was read (its
   *  thread faulted again) or expired, a thread parked, or a chunk or a
   *  reservation went. Then reserve(incoming, true) again. */
  room(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.armExpiry();
    });
  }

  /** The chunk's pages went without this process (another process punched
   *  them out of shared memory): forgotten, nothing dropped. */
  forget(chunk: number): void {
    const bytes = this.chunks.get(chunk);
    if (bytes === undefined) return;
    this.bits[chunk] = 0;
    this.chunks.delete(chunk);
    this.unkeep(chunk);
    this.total -= bytes;
    this.changed();
  }

  /** Makes room for an install of `incoming` bytes: drops the oldest chunks
   *  not kept for a thread until it fits the budget with every other install
   *  under way, and counts it as under way until its chunks are add()ed or it
   *  is cancel()led. Done before a copy, so the cap holds at every instant
   *  even while a copy waits (EAGAIN). Returns how many went, or null when
   *  the install must wait for room(): only kept chunks stand in the way and
   *  a thread they are kept for still runs, or an earlier install waits
   *  (`queued`: this one was waiting already). */
  reserve(incoming: number, queued = false): number | null {
    if (this.budget <= 0) {
      this.reserved += incoming;
      return 0;
    }
    if (!queued && this.waiters.length > 0) return null;
    this.expire();
    this.reserved += incoming;
    let evicted = 0;
    for (const [old] of this.chunks) {
      if (this.total + this.reserved <= this.budget) break;
      if (this.kept.has(old)) continue;
      this.drop(old);
      evicted++;
    }
    if (this.total + this.reserved <= this.budget || incoming > this.budget) return evicted;
    // Other installs under way hold the room: they finish their copies
    // whatever any thread does, and their add() or cancel() wakes room().
    if (this.reserved > incoming) {
      this.reserved -= incoming;
      return null;
    }
    for (const p of this.kept.values()) {
      for (const t of p.threads) {
        if (!this.parked(t)) {
          this.reserved -= incoming;
          return null;
        }
      }
    }
    // Every thread holding the rest is parked in a fault: waiting would be forever.
    return evicted;
  }

  /** An install that reserve()d `bytes` gave up before its chunks were add()ed. */
  cancel(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
    this.changed();
  }

  /** The mapping stops: whoever waits for room goes on (and finds it stopped). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.kept.clear();
    this.byThread.clear();
    this.changed();
  }

  /** Thread `tid` no longer needs `chunk`. */
  private release(tid: number, chunk: number): void {
    const p = this.kept.get(chunk);
    if (!p) return;
    p.threads.delete(tid);
    if (p.threads.size === 0) this.kept.delete(chunk);
  }

  /** Nobody keeps `chunk` any more (it was dropped, or expired). */
  private unkeep(chunk: number): void {
    const p = this.kept.get(chunk);
    if (!p) return;
    this.kept.delete(chunk);
    for (const t of p.threads) {
      const mine = this.byThread.get(t);
      if (!mine) continue;
      const i = mine.indexOf(chunk);
      if (i >= 0) mine.splice(i, 1);
      if (mine.length === 0) this.byThread.delete(t);
    }
  }

  private changed(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Kept chunks whose threads went quiet are kept no longer. */
  private expire(): void {
    const cutoff = this.now() - PROTECT_MS;
    for (const [chunk, p] of this.kept) if (p.since <= cutoff) this.unkeep(chunk);
  }

  private armExpiry(): void {
    if (this.timer || this.kept.size === 0) return;
    let oldest = Infinity;
    for (const p of this.kept.values()) oldest = Math.min(oldest, p.since);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expire();
      this.changed();
    }, Math.max(0, oldest + PROTECT_MS - this.now()) + 1);
    this.timer.unref();
  }
}
