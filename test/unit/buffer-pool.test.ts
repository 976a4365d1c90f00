// Unit tests of lib/worker/buffer-pool.ts: buffers are reused by size class
// (powers of two from 64 KiB), each run a view of exactly its size; the pool
// keeps at most maxBytes; and a RunBuffer returns to the pool when its last
// reference goes. Vitest 'unit' project, test-file thread.
import { describe, expect, it } from 'vitest';
import { BufferPool, sizeClass, type RunBuffer } from '../../lib/worker/buffer-pool.js';

const K64 = 64 * 1024;
const MiB = 1024 * 1024;
/** The two runs read into the same pooled memory. */
const same = (a: RunBuffer, b: RunBuffer) => a.buf.buffer === b.buf.buffer;

describe('BufferPool', () => {
  it('hands out a view of the size asked for, on the same memory again once it is released', () => {
    const pool = new BufferPool(16 * MiB);
    const a = pool.acquire(K64);
    expect(a.buf.length).toBe(K64);
    a.unref();
    const b = pool.acquire(K64);
    expect(same(b, a)).toBe(true);
    const c = pool.acquire(K64);
    expect(same(c, a)).toBe(false); // the one free buffer is taken
    expect(Buffer.isBuffer(c.buf)).toBe(true);
    expect(c.buf.length).toBe(K64);
  });

  it('runs of different sizes in one power of two share buffers: a readahead piece of 121 chunks reuses one of 126', () => {
    expect([1, 4096, K64, K64 + 1, 121 * K64, 126 * K64, 128 * K64, 129 * K64].map(sizeClass)).toEqual([K64, K64, K64, 2 * K64, 8 * MiB, 8 * MiB, 8 * MiB, 16 * MiB]);
    const pool = new BufferPool(64 * MiB);
    const a = pool.acquire(126 * K64);
    a.unref();
    const b = pool.acquire(121 * K64);
    expect(same(b, a)).toBe(true);
    expect(b.buf.length).toBe(121 * K64);
    expect(b.buf.byteOffset).toBe(0);
    b.unref();
    expect(same(pool.acquire(129 * K64), a)).toBe(false);
    expect(same(pool.acquire(128 * K64), a)).toBe(true);
  });

  it('a run buffer goes back only when its last reference is dropped', () => {
    const pool = new BufferPool(16 * MiB);
    const run = pool.acquire(K64);
    run.ref();
    run.ref();
    run.unref();
    run.unref();
    expect(same(pool.acquire(K64), run)).toBe(false);
    run.unref();
    expect(same(pool.acquire(K64), run)).toBe(true);
  });

  it('keeps at most maxBytes of free buffers, counted by their whole size: the rest are left to the GC', () => {
    const pool = new BufferPool(2 * K64);
    const runs = [pool.acquire(4096), pool.acquire(4096), pool.acquire(4096)];
    for (const r of runs) r.unref();
    const again = [pool.acquire(4096), pool.acquire(4096), pool.acquire(4096)];
    expect(same(again[0], runs[1])).toBe(true); // last in, first out
    expect(same(again[1], runs[0])).toBe(true);
    expect(runs.some((r) => same(r, again[2]))).toBe(false);
  });

  it('a buffer taken from the pool frees its room: the pool refills to maxBytes, no further', () => {
    const pool = new BufferPool(K64);
    const a = pool.acquire(K64);
    a.unref(); // pooled: 64 KiB of 64 KiB
    const b = pool.acquire(K64); // a again: the pool is empty
    expect(same(b, a)).toBe(true);
    const c = pool.acquire(K64);
    b.unref(); // fits again
    c.unref(); // would be 128 KiB: dropped
    expect(same(pool.acquire(K64), b)).toBe(true);
    expect(same(pool.acquire(K64), c)).toBe(false);
  });

  it('a buffer larger than the whole pool is never kept', () => {
    const pool = new BufferPool(K64);
    const big = pool.acquire(2 * K64);
    big.unref();
    expect(same(pool.acquire(2 * K64), big)).toBe(false);
  });
});
