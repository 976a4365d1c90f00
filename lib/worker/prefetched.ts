// A mapping's source with the bytes its open() already fetched: the S3
// open's first GET carries the object's first chunk along with the pin, and
// the first read that wants any of those bytes copies them from here instead
// of asking for them again (the rest of that read, if any, goes to the
// source). Served once, then let go: a chunk read again later comes from the
// chunk cache or the disk cache, or is fetched. Every path of a run (plain,
// through the disk cache) reads through this, so nothing else needs to know.
// Fault worker thread.
import type { CacheIdentity, Source, SourceInfo } from '../sources/source.js';

export class PrefetchedSource implements Source {
  constructor(
    private readonly inner: Source,
    /** Bytes [0, kept.length) of the pinned version. */
    private kept: Uint8Array | undefined,
  ) {}

  open(signal?: AbortSignal, prefetch?: number): Promise<SourceInfo> {
    return this.inner.open(signal, prefetch);
  }

  async read(offset: number, length: number, into: Uint8Array, signal: AbortSignal, progress?: (bytes: number) => void): Promise<void> {
    const kept = this.kept;
    const n = this.held(offset, length);
    if (!kept || n === 0) return this.inner.read(offset, length, into, signal, progress);
    this.kept = undefined;
    into.set(kept.subarray(offset, offset + n));
    progress?.(n);
    if (n < length) await this.inner.read(offset + n, length - n, into.subarray(n), signal, progress && ((b) => progress(n + b)));
  }

  held(offset: number, length: number): number {
    if (!this.kept || offset >= this.kept.length) return 0;
    return Math.min(length, this.kept.length - offset);
  }

  borrow(offset: number, length: number): Uint8Array | undefined {
    return this.inner.borrow?.(offset, length);
  }

  cacheIdentity(): CacheIdentity | undefined {
    return this.inner.cacheIdentity?.();
  }

  close(): Promise<void> | void {
    this.kept = undefined;
    return this.inner.close();
  }
}
