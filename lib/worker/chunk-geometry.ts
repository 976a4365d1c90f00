// Chunk arithmetic of one mapping: which chunk holds a byte, where a chunk or
// a run of chunks starts, how many object bytes it holds and how many bytes it
// installs (whole pages). Pure; used by the fault worker. Offsets are plain
// numbers: exact up to 2^53, far past S3's largest object (5 TiB = 2^42.2).

export class ChunkGeometry {
  /** Chunks in the object; the last may be short. */
  readonly chunks: number;

  constructor(
    readonly size: number,
    readonly chunkSize: number,
    readonly pageSize: number,
  ) {
    this.chunks = Math.ceil(size / chunkSize);
  }

  /** The chunk that holds byte `offset` of the object (or of the region, for a fault address minus the base). */
  chunkOf(offset: number): number {
    return Math.floor(offset / this.chunkSize);
  }

  start(chunk: number): number {
    return chunk * this.chunkSize;
  }

  /** Object bytes in `count` chunks from `first`: short at the object's end. */
  bytes(first: number, count = 1): number {
    const start = first * this.chunkSize;
    return Math.max(0, Math.min(this.size - start, count * this.chunkSize));
  }

  /** Bytes `count` chunks from `first` install: their object bytes rounded up to whole pages. */
  installBytes(first: number, count = 1): number {
    return Math.ceil(this.bytes(first, count) / this.pageSize) * this.pageSize;
  }

  /** [first, last] chunks covering [offset, offset+length) clipped to the
   *  object; last < first when nothing is covered. */
  span(offset: number, length: number): [first: number, last: number] {
    const end = Math.min(this.size, offset + length);
    if (length <= 0 || end <= offset) return [0, -1];
    return [this.chunkOf(offset), this.chunkOf(end - 1)];
  }

  contains(chunk: number): boolean {
    return chunk >= 0 && chunk < this.chunks;
  }
}
