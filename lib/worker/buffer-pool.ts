// Reusable fetch buffers for the fault worker. A fresh 1 MiB Buffer costs
// ~0.8 ms here (the kernel faults in and zeroes 256 pages, then unmaps them on
// free) against ~0.1 ms to refill a used one, and every fetch needs one. Fault
// worker thread only.

/** A fetch buffer shared by the chunk-cache entries cut from it; it goes back
 *  to the pool when the install and the last entry are done with it. */
export class RunBuffer {
  refs = 1;
  constructor(
    readonly buf: Buffer,
    private readonly pool: BufferPool,
  ) {}
  ref(): void {
    this.refs++;
  }
  unref(): void {
    if (--this.refs === 0) this.pool.release(this.buf);
  }
}

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private pooled = 0;

  constructor(private readonly maxBytes: number) {}

  acquire(size: number): RunBuffer {
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) this.pooled -= size;
    return new RunBuffer(reused ?? Buffer.allocUnsafeSlow(size), this);
  }

  release(buf: Buffer): void {
    if (this.pooled + buf.length > this.maxBytes) return; // let GC have it
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.pooled += buf.length;
  }
}
