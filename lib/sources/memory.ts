// A source over bytes already in memory, shared with the fault worker through
// a SharedArrayBuffer. Fault worker thread. Used by tests and as the ceiling
// in the benchmark: it costs one memcpy per chunk.
import type { Source, SourceInfo } from './source.js';

export class MemorySource implements Source {
  private readonly bytes: Uint8Array;
  constructor(
    data: SharedArrayBuffer,
    length: number | undefined,
    private readonly version = 'memory',
  ) {
    this.bytes = new Uint8Array(data, 0, length ?? data.byteLength);
  }
  async open(): Promise<SourceInfo> {
    return { size: this.bytes.length, version: this.version };
  }
  async read(offset: number, length: number, into: Uint8Array): Promise<void> {
    into.set(this.bytes.subarray(offset, offset + length));
  }
  borrow(offset: number, length: number): Uint8Array | undefined {
    return offset + length <= this.bytes.length ? this.bytes.subarray(offset, offset + length) : undefined;
  }
  close(): void {}
}
