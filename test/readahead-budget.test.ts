// Readahead and the resident budget: streams are fetched ahead but never past
// the object's end; a budget keeps installed bytes under the cap while every
// byte read stays exact, and the kernel's own count (smaps) agrees.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { mapFile } from '../dist/lib/index.js';
import { sha256, sha256File, tempDir, writeRandomFile, touchPages } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const chunk = 64 * 1024;

/** Rss of the one anonymous read-only mapping of exactly `length` bytes. */
function smapsRss(length: number): number {
  const text = readFileSync('/proc/self/smaps', 'utf8');
  const blocks = text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  const hits = blocks.filter((b) => {
    const [range, perms] = b.split(' ');
    const [a, z] = range.split('-').map((h) => parseInt(h, 16));
    return z - a === length && perms === 'r--p';
  });
  expect(hits.length).toBe(1);
  return Number(/\nRss:\s+(\d+) kB/.exec(hits[0])![1]) * 1024;
}

describe('readahead', () => {
  it('a sequential scan is fetched ahead, in fewer faults, and never past the end', async () => {
    const size = 40 * 1024 * 1024 + 12345;
    const path = writeRandomFile(tmp.dir, 'ra', size);
    const m = await mapFile(path, { chunkSize: chunk, readahead: '8m', fetchSize: '2m' });
    touchPages(m.buffer);
    const s = m.stats();
    const chunks = Math.ceil(size / chunk);
    expect(s.bytesFetched).toBe(size);
    expect(s.chunksFetched).toBe(chunks);
    expect(s.faults).toBeLessThan(chunks / 4);
    expect(s.prefetchedChunks).toBeGreaterThan(chunks / 2);
    expect(sha256(m.buffer)).toBe(sha256File(path));
    await m.close();
  });

  it("advise('random') turns readahead off: each fault fetches one chunk", async () => {
    const path = writeRandomFile(tmp.dir, 'rnd', 4 * 1024 * 1024);
    const m = await mapFile(path, { chunkSize: chunk, readahead: '8m' });
    await m.advise('random');
    touchPages(m.buffer);
    const s = m.stats();
    expect(s.faults).toBe(64);
    expect(s.fetches).toBe(64);
    expect(s.prefetchedChunks).toBe(0);
    await m.close();
  });

  it("advise('sequential') fetches the whole window on the first fault, clamped to the end", async () => {
    const size = 3 * 1024 * 1024 + 1;
    const path = writeRandomFile(tmp.dir, 'seqadv', size);
    const m = await mapFile(path, { chunkSize: chunk, readahead: '8m' });
    await m.advise('sequential');
    void m.buffer[0];
    await m.load(); // waits for the readahead in flight
    const s = m.stats();
    expect(s.faults).toBe(1);
    expect(s.bytesFetched).toBe(size);
    await m.close();
  });

  it('scattered single touches do not trigger readahead', async () => {
    const path = writeRandomFile(tmp.dir, 'scatter', 64 * 1024 * 1024);
    const m = await mapFile(path, { chunkSize: chunk });
    for (let i = 0; i < 30; i++) void m.buffer[i * 2 * 1024 * 1024 + 100];
    expect(m.stats().chunksFetched).toBe(30);
    await m.close();
  });
});

describe('resident budget', () => {
  it('keeps installed bytes within the budget through a full scan, bytes exact, smaps agrees', async () => {
    const size = 37 * 1024 * 1024 + 5 * 4096;
    const budget = 4 * 1024 * 1024;
    const path = writeRandomFile(tmp.dir, 'budget', size);
    const m = await mapFile(path, { chunkSize: chunk, residentBudget: budget, cacheSize: 0 });
    const want = readFileSync(path);
    let maxResident = 0;
    for (let off = 0; off < size; off += 256 * 1024) {
      const end = Math.min(size, off + 256 * 1024);
      expect(m.buffer.subarray(off, end).equals(want.subarray(off, end))).toBe(true);
      maxResident = Math.max(maxResident, m.stats().residentBytes);
    }
    const s = m.stats();
    expect(maxResident).toBeLessThanOrEqual(budget);
    // The fault worker's high-water mark sees every instant, not just these samples.
    expect(s.residentPeak).toBeLessThanOrEqual(budget);
    expect(s.residentPeak).toBeGreaterThanOrEqual(maxResident);
    expect(s.evictions).toBeGreaterThan(0);
    expect(smapsRss(size)).toBe(s.residentBytes);
    // Evicted pages fault back in with the right bytes (no cache: fetched again).
    expect(sha256(m.buffer.subarray(0, 1024 * 1024))).toBe(sha256(want.subarray(0, 1024 * 1024)));
    expect(smapsRss(size)).toBe(m.stats().residentBytes);
    await m.close();
  });
});
