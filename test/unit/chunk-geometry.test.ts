// Unit tests of lib/worker/chunk-geometry.ts: chunk arithmetic exact at S3's
// largest object (5 TiB), across the 2^32 boundary, at a short last chunk and
// for ranges clipped to the object. Vitest 'unit' project, test-file thread.
import { describe, expect, it } from 'vitest';
import { ChunkGeometry } from '../../lib/worker/chunk-geometry.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const TiB = 1024 ** 4;

describe('ChunkGeometry', () => {
  it('a small object with a short last chunk: counts, starts, object bytes and install bytes', () => {
    const g = new ChunkGeometry(3 * 64 * KiB + 5000, 64 * KiB, 4096);
    expect(g.chunks).toBe(4);
    expect([0, 1, 2, 3].map((c) => g.start(c))).toEqual([0, 64 * KiB, 128 * KiB, 192 * KiB]);
    expect(g.bytes(0)).toBe(64 * KiB);
    expect(g.bytes(3)).toBe(5000);
    expect(g.installBytes(3)).toBe(8192); // 5000 bytes round up to two pages
    expect(g.installBytes(0)).toBe(64 * KiB);
    expect(g.bytes(0, 4)).toBe(g.size);
    expect(g.bytes(2, 10)).toBe(64 * KiB + 5000); // a run is cut at the end
    expect(g.installBytes(2, 2)).toBe(64 * KiB + 8192);
    expect(g.bytes(4)).toBe(0); // past the end: nothing, never negative
    expect(g.bytes(9, 3)).toBe(0);
    expect(g.installBytes(4)).toBe(0);
  });

  it('chunkOf maps every byte of a chunk to it, and the next byte to the next chunk', () => {
    const g = new ChunkGeometry(10 * MiB, 64 * KiB, 4096);
    expect(g.chunkOf(0)).toBe(0);
    expect(g.chunkOf(64 * KiB - 1)).toBe(0);
    expect(g.chunkOf(64 * KiB)).toBe(1);
    expect(g.chunkOf(10 * MiB - 1)).toBe(159);
  });

  it('an object of exactly one chunk, and of one byte', () => {
    expect(new ChunkGeometry(64 * KiB, 64 * KiB, 4096).chunks).toBe(1);
    const tiny = new ChunkGeometry(1, 64 * KiB, 4096);
    expect(tiny.chunks).toBe(1);
    expect(tiny.bytes(0)).toBe(1);
    expect(tiny.installBytes(0)).toBe(4096);
    expect(new ChunkGeometry(0, 64 * KiB, 4096).chunks).toBe(0);
  });

  it('exact at 5 TiB with 64 KiB chunks, and with a size one byte short', () => {
    const g = new ChunkGeometry(5 * TiB, 64 * KiB, 4096);
    expect(g.chunks).toBe(83_886_080);
    const last = g.chunks - 1;
    expect(g.chunkOf(5 * TiB - 1)).toBe(last);
    expect(g.start(last)).toBe(5 * TiB - 64 * KiB);
    expect(g.bytes(last)).toBe(64 * KiB);
    expect(g.span(5 * TiB - 10, 100)).toEqual([last, last]);
    const short = new ChunkGeometry(5 * TiB - 1, 64 * KiB, 4096);
    expect(short.chunks).toBe(83_886_080);
    expect(short.bytes(last)).toBe(64 * KiB - 1);
    expect(short.installBytes(last)).toBe(64 * KiB);
    expect(short.bytes(0, short.chunks)).toBe(5 * TiB - 1);
  });

  it('exact at 5 TiB with 8 MiB chunks and odd sizes', () => {
    const size = 5 * TiB - 12_345;
    const g = new ChunkGeometry(size, 8 * MiB, 4096);
    expect(g.chunks).toBe(655_360);
    expect(g.bytes(g.chunks - 1)).toBe(8 * MiB - 12_345);
    expect(g.installBytes(g.chunks - 1)).toBe(8 * MiB - 12_288);
    expect(g.chunkOf(size - 1)).toBe(655_359);
  });

  it('across the 2^32 boundary: no 32-bit wrap anywhere', () => {
    const g = new ChunkGeometry(2 ** 33 + 777, 64 * KiB, 4096);
    expect(g.chunkOf(2 ** 32 - 1)).toBe(65_535);
    expect(g.chunkOf(2 ** 32)).toBe(65_536);
    expect(g.start(65_536)).toBe(2 ** 32);
    expect(g.span(2 ** 32 - 1, 2)).toEqual([65_535, 65_536]);
    expect(g.bytes(65_535, 2)).toBe(128 * KiB);
    expect(g.chunks).toBe(131_073);
    expect(g.bytes(131_072)).toBe(777);
    const four = new ChunkGeometry(2 ** 32, 4096, 4096);
    expect(four.chunks).toBe(2 ** 20);
    expect(four.contains(2 ** 20 - 1)).toBe(true);
    expect(four.contains(2 ** 20)).toBe(false);
    expect(four.span(0, 2 ** 32)).toEqual([0, 2 ** 20 - 1]);
  });

  it('span: the chunks covering a range, clipped to the object; nothing for empty or outside ranges', () => {
    const g = new ChunkGeometry(10 * 64 * KiB + 1, 64 * KiB, 4096);
    expect(g.span(0, 1)).toEqual([0, 0]);
    expect(g.span(64 * KiB - 1, 2)).toEqual([0, 1]);
    expect(g.span(64 * KiB, 64 * KiB)).toEqual([1, 1]);
    expect(g.span(100, 10 * 64 * KiB)).toEqual([0, 10]);
    expect(g.span(5 * 64 * KiB, Number.MAX_SAFE_INTEGER)).toEqual([5, 10]);
    expect(g.span(0, 0)).toEqual([0, -1]);
    expect(g.span(10, -5)).toEqual([0, -1]);
    expect(g.span(g.size, 10)).toEqual([0, -1]);
    expect(g.span(g.size + 5, 10)).toEqual([0, -1]);
    expect(g.span(g.size - 1, 10)).toEqual([10, 10]);
  });

  it('contains: exactly the chunks of the object', () => {
    const g = new ChunkGeometry(3 * 4096, 4096, 4096);
    expect([-1, 0, 1, 2, 3].map((c) => g.contains(c))).toEqual([false, true, true, true, false]);
  });
});
