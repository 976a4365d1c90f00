// Test data: files of seeded pseudo-random bytes in a temp folder, and their
// sha256 computed from the file itself (never from the code under test).
// Runs in the vitest test-file process.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Deterministic bytes: xorshift32 seeded by `seed`, so any offset can be checked independently. */
export function pseudoRandom(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  for (; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

export function tempDir(prefix = 's3mmap-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeRandomFile(dir: string, name: string, size: number, seed = size): string {
  const path = join(dir, name);
  writeFileSync(path, pseudoRandom(size, seed));
  return path;
}

/** Reads one byte of every page: faults each page in once. */
export function touchPages(buf: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < buf.length; i += 4096) s += buf[i];
  return s;
}
