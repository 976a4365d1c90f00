// Unit tests of lib/worker/buffer-pool.ts: buffers are reused by size, the
// pool keeps at most maxBytes, and a RunBuffer returns to the pool when its
// last reference goes. Vitest 'unit' project, test-file thread.
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../lib/worker/buffer-pool.js';

describe('BufferPool', () => {
  it('hands out a buffer of the size asked for, and the same buffer again once it is released', () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.acquire(4096);
    expect(a.buf.length).toBe(4096);
    a.unref();
    const b = pool.acquire(4096);
    expect(b.buf).toBe(a.buf);
    const c = pool.acquire(4096);
    expect(c.buf).not.toBe(a.buf); // the one free buffer is taken
    expect(Buffer.isBuffer(c.buf)).toBe(true);
    expect(c.buf.length).toBe(4096);
    const d = pool.acquire(8192);
    expect(d.buf.length).toBe(8192);
  });

  it('reuses only buffers of the same size', () => {
    const pool = new BufferPool(1 << 20);
    const small = pool.acquire(4096);
    small.unref();
    expect(pool.acquire(8192).buf).not.toBe(small.buf);
    expect(pool.acquire(4096).buf).toBe(small.buf);
  });

  it('a run buffer goes back only when its last reference is dropped', () => {
    const pool = new BufferPool(1 << 20);
    const run = pool.acquire(4096);
    run.ref();
    run.ref();
    run.unref();
    run.unref();
    expect(pool.acquire(4096).buf).not.toBe(run.buf);
    run.unref();
    expect(pool.acquire(4096).buf).toBe(run.buf);
  });

  it('keeps at most maxBytes of free buffers: the rest are left to the GC', () => {
    const pool = new BufferPool(2 * 4096);
    const runs = [pool.acquire(4096), pool.acquire(4096), pool.acquire(4096)];
    for (const r of runs) r.unref();
    const again = [pool.acquire(4096), pool.acquire(4096), pool.acquire(4096)];
    expect(again[0].buf).toBe(runs[1].buf); // last in, first out
    expect(again[1].buf).toBe(runs[0].buf);
    expect(runs.map((r) => r.buf)).not.toContain(again[2].buf);
  });

  it('a buffer taken from the pool frees its room: the pool refills to maxBytes, no further', () => {
    const pool = new BufferPool(4096);
    const a = pool.acquire(4096);
    a.unref(); // pooled: 4096 of 4096
    const b = pool.acquire(4096); // a again: the pool is empty
    expect(b.buf).toBe(a.buf);
    const c = pool.acquire(4096);
    b.unref(); // fits again
    c.unref(); // would be 8192: dropped
    expect(pool.acquire(4096).buf).toBe(b.buf);
    expect(pool.acquire(4096).buf).not.toBe(c.buf);
  });

  it('a buffer larger than the whole pool is never kept', () => {
    const pool = new BufferPool(4096);
    const big = pool.acquire(8192);
    big.unref();
    expect(pool.acquire(8192).buf).not.toBe(big.buf);
  });
});
