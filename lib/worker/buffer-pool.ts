// Reusable fetch buffers for the fault worker. A fresh 1 MiB Buffer costs
// ~0.8 ms here (the kernel faults in and zeroes 256 pages, then unmaps them on
// free) against ~0.1 ms to refill a used one, and every fetch needs one.
// Buffers come in power-of-two sizes, each run's a view of the first bytes
// of one: runs are of every size (a readahead piece is a share of a window,
// the last one of an object is short), and pooled by exact size, 244 of the
// 250 runs of a 1 GiB scan found no buffer of theirs and faulted in 900 MB
// afresh. Fault worker thread only.

/** A fetch buffer shared by the chunk-cache entries cut from it; it goes back
 *  to the pool when the install and the last entry are done with it. */
export class RunBuffer {
  refs = 1;
  /** The run's bytes: the first `size` bytes of the pooled buffer. */
  readonly buf: Buffer;
  constructor(
    private readonly whole: Buffer,
    size: number,
    private readonly pool: BufferPool,
  ) {
    this.buf = whole.subarray(0, size);
  }
  ref(): void {
    this.refs++;
  }
  unref(): void {
    if (--this.refs === 0) this.pool.release(this.whole);
  }
}

/** The smallest pooled size: one 64 KiB chunk. */
const MIN_CLASS = 64 * 1024;

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private pooled = 0;

  constructor(private readonly maxBytes: number) {}

  acquire(size: number): RunBuffer {
    const cls = sizeClass(size);
    const reused = this.free.get(cls)?.pop();
    if (reused) this.pooled -= cls;
    return new RunBuffer(reused ?? Buffer.allocUnsafeSlow(cls), size, this);
  }

  release(buf: Buffer): void {
    if (this.pooled + buf.length > this.maxBytes) return; // let GC have it
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.pooled += buf.length;
  }
}

/** The power of two at or above `size` (MIN_CLASS at least). */
export function sizeClass(size: number): number {
  return Math.max(MIN_CLASS, 2 ** Math.ceil(Math.log2(Math.max(1, size))));
}
