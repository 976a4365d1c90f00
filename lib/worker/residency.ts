// Which chunks of one mapping are installed, in install order, and the
// resident budget over them. Fault worker thread. The residency bytes live in
// a SharedArrayBuffer that the caller's thread reads for isResident() and
// kernelView(), so a chunk's bit is cleared before its pages go.
import type { ChunkGeometry } from './chunk-geometry.js';

export class ResidentSet {
  /** Installed chunks → bytes installed, oldest first (Map keeps insertion order). */
  private readonly chunks = new Map<number, number>();
  private total = 0;
  /** Bytes of installs under way: counted against the budget before they land. */
  private reserved = 0;
  private peak = 0;

  constructor(
    private readonly geometry: ChunkGeometry,
    /** One byte per chunk, 1 while installed; shared with the caller's thread. */
    private readonly bits: Uint8Array,
    /** Most bytes installed at once; 0: no cap. */
    private readonly budget: number,
    /** Drops a range's pages (MADV_DONTNEED): the next touch faults again. */
    private readonly dropPages: (offset: number, length: number) => void,
  ) {}

  get bytes(): number {
    return this.total;
  }

  /** The most bytes ever installed at once. */
  get highWater(): number {
    return this.peak;
  }

  has(chunk: number): boolean {
    return this.chunks.has(chunk);
  }

  /** The chunk is installed: its bytes move from reserved to resident. */
  add(chunk: number): void {
    const bytes = this.geometry.installBytes(chunk);
    this.reserved = Math.max(0, this.reserved - bytes);
    if (this.chunks.has(chunk)) return;
    this.chunks.set(chunk, bytes);
    this.bits[chunk] = 1;
    this.total += bytes;
    if (this.total > this.peak) this.peak = this.total;
  }

  drop(chunk: number): void {
    const bytes = this.chunks.get(chunk);
    if (bytes === undefined) return;
    // Clear the bit first: a thread that reads it and then the pages must
    // see "not resident" before the pages go.
    this.bits[chunk] = 0;
    this.dropPages(this.geometry.start(chunk), bytes);
    this.chunks.delete(chunk);
    this.total -= bytes;
  }

  /** The chunk's pages went without this process (another process punched
   *  them out of shared memory): forgotten, nothing dropped. */
  forget(chunk: number): void {
    const bytes = this.chunks.get(chunk);
    if (bytes === undefined) return;
    this.bits[chunk] = 0;
    this.chunks.delete(chunk);
    this.total -= bytes;
  }

  /** Makes room for an install of `incoming` bytes: drops the oldest chunks
   *  until it fits the budget with every other install under way, and counts
   *  it as under way until its chunks are add()ed or it is cancel()led. Done before a copy, so the cap holds at
   *  every instant even while a copy waits (EAGAIN). Returns how many went. */
  reserve(incoming: number): number {
    this.reserved += incoming;
    if (this.budget <= 0) return 0;
    let evicted = 0;
    for (const [old] of this.chunks) {
      if (this.total + this.reserved <= this.budget) break;
      this.drop(old);
      evicted++;
    }
    return evicted;
  }

  /** An install that reserve()d `bytes` gave up before its chunks were add()ed. */
  cancel(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
  }
}
