// Deterministic benchmark objects and the checksum every system computes.
// Pure functions; used in the orchestrator (seeding, expected checksums) and
// in the cell processes (the in-memory system), on their main threads.
//
// The object is a sequence of 64 KiB blocks, each filled by xorshift32 from a
// state derived from (seed, block index), so any range can be generated on
// its own. bench/uffd-ceiling.c implements the same generator and fold; keep
// the two in step.

/** Part of every object key and cached file name: bump when the generator changes. */
export const CONTENT_VERSION = 'v1';

export const BLOCK = 64 * 1024;
/** The workloads' page: the sequential scan folds one byte of every PAGE. */
export const PAGE = 4096;

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The xorshift32 state a block starts from (never 0). */
export function blockState(seed: number, block: number): number {
  return mix32((seed ^ mix32((block + 0x9e3779b9) >>> 0)) >>> 0) || 1;
}

/** Fills `out` (a multiple of 4 bytes, 4-byte aligned) with the bytes of
 *  [offset, offset + out.length) of the object; offset is a multiple of BLOCK. */
export function fillBlocks(seed: number, offset: number, out: Uint8Array): void {
  if (offset % BLOCK !== 0) throw new Error(`fillBlocks: offset ${offset} is not a multiple of ${BLOCK}`);
  const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
  const perBlock = BLOCK / 4;
  let block = offset / BLOCK;
  for (let w = 0; w < words.length; w += perBlock, block++) {
    let s = blockState(seed, block);
    const end = Math.min(words.length, w + perBlock);
    for (let i = w; i < end; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      words[i] = s;
    }
  }
}

/** Bytes [offset, offset + length) of the object, generated. */
export function objectBytes(seed: number, offset: number, length: number): Uint8Array {
  const first = Math.floor(offset / BLOCK) * BLOCK;
  const last = Math.ceil((offset + length) / BLOCK) * BLOCK;
  const buf = new Uint8Array(last - first);
  fillBlocks(seed, first, buf);
  return buf.subarray(offset - first, offset - first + length);
}

/** The whole object in a Buffer (the in-memory system, the ceiling's source). */
export function objectBuffer(seed: number, size: number): Buffer {
  const alloc = Math.ceil(size / BLOCK) * BLOCK;
  const buf = Buffer.allocUnsafe(alloc);
  const step = 64 * 1024 * 1024;
  for (let o = 0; o < alloc; o += step) fillBlocks(seed, o, buf.subarray(o, Math.min(alloc, o + step)));
  return buf.subarray(0, size);
}

/** The fold: h = h * 31 + byte (mod 2^32), over every byte of `bytes`. */
export function foldBytes(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) h = (Math.imul(h, 31) + bytes[i]) | 0;
  return h;
}

/** The fold over one byte of every PAGE of `bytes`, whose first byte is
 *  page-aligned in the object. */
export function foldPages(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i += PAGE) h = (Math.imul(h, 31) + bytes[i]) | 0;
  return h;
}

/** Seeded PRNG for workload offsets: the same sequence in every process. */
export { rng } from '../lib/dev/s3-harness/rng.js';
