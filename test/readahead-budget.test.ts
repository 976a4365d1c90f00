// Readahead and the resident budget: streams are fetched ahead but never past
// the object's end; a budget keeps installed bytes under the cap while every
// byte read stays exact, and the kernel's own count (smaps) agrees.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { mapBytes, mapFile } from '../dist/lib/index.js';
import { sha256, sha256File, tempDir, writeRandomFile, touchPages } from './helpers/content.js';
import { idle } from './helpers/idle.js';

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

/** These pin the readahead: fill 'off', or the fill (test/fill.test.ts) would
 *  fetch these local files whole after a fault or two. */
const ra = { fill: 'off' } as const;

describe('readahead', () => {
  it('a sequential scan is fetched ahead, in fewer faults, and never past the end', async () => {
    const size = 40 * 1024 * 1024 + 12345;
    const path = writeRandomFile(tmp.dir, 'ra', size);
    const m = await mapFile(path, { ...ra, chunkSize: chunk, readahead: '8m', fetchSize: '2m' });
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

  it('a reader slower than the source finds the next window queued: its faults land on readahead markers, served from memory', async () => {
    const size = 32 * 1024 * 1024;
    const path = writeRandomFile(tmp.dir, 'slow', size);
    // From memory, which the network model never times: its seeds give GETs
    // of fetchSize. A file's reads would teach it a first byte near zero,
    // and with it windows of one-chunk pieces, which carry no markers.
    const m = await mapBytes(readFileSync(path), { ...ra, chunkSize: chunk, readahead: '4m', fetchSize: '1m', cacheSize: 0 });
    const block = 1024 * 1024;
    for (let o = 0; o < size; o += block) {
      touchPages(m.buffer.subarray(o, o + block));
      // Slower than the file: every top-up lands before the reader gets there.
      await new Promise((r) => setTimeout(r, 5));
    }
    const s = m.stats();
    expect(s.chunksFetched).toBe(size / chunk);
    expect(s.bytesFetched).toBe(size);
    // Once the window is at its cap (4 MiB, topped up by at least a quarter),
    // the reader meets a marker at each top-up instead of running off the end
    // of what was fetched; only the faults while its window ramps up wait on a fetch.
    expect(s.markerHits).toBeGreaterThanOrEqual((size - 4 * 1024 * 1024) / (4 * 1024 * 1024));
    expect(s.faults - s.markerHits).toBeLessThanOrEqual(12);
    expect(sha256(m.buffer)).toBe(sha256File(path));
    await m.close();
  });

  it('a stream that skips a little forward stays a stream; strided reads far apart never start one', async () => {
    const size = 64 * 1024 * 1024;
    const path = writeRandomFile(tmp.dir, 'skip', size);
    const want = readFileSync(path);
    // Read 192 KiB, skip 64 KiB, and again: one stream with gaps inside its window.
    const m = await mapFile(path, { ...ra, chunkSize: chunk, readahead: '8m', fetchSize: '1m' });
    for (let o = 0; o < 16 * 1024 * 1024; o += 256 * 1024) {
      touchPages(m.buffer.subarray(o, o + 192 * 1024));
      expect(m.buffer.subarray(o, o + 192 * 1024).equals(want.subarray(o, o + 192 * 1024))).toBe(true);
    }
    const s = m.stats();
    // 192 chunks touched in 64 runs; without skip tolerance every run starts
    // over. Faults on readahead markers are served from memory: not counted.
    expect(s.faults - s.markerHits).toBeLessThan(16);
    expect(s.prefetchedChunks).toBeGreaterThan(128);
    await m.close();
    // One 64 KiB read every 16 MiB: each a fault of its own, and nothing read ahead.
    const strided = await mapFile(path, { ...ra, chunkSize: chunk, readahead: '8m' });
    for (let o = 0; o < size; o += 16 * 1024 * 1024) touchPages(strided.buffer.subarray(o, o + chunk));
    expect(strided.stats()).toMatchObject({ faults: 4, fetches: 4, chunksFetched: 4, prefetchedChunks: 0 });
    await strided.close();
  });

  it('a bounded read is overshot by at most one window step, up or down, and never past either end', async () => {
    const size = 48 * 1024 * 1024;
    const path = writeRandomFile(tmp.dir, 'bounded', size);
    const want = readFileSync(path);
    const window = 4 * 1024 * 1024;
    const piece = 1024 * 1024;
    const ranges: Array<[number, number, 'up' | 'down']> = [
      [5 * 1024 * 1024 + 4096, 19 * 1024 * 1024, 'up'],
      [size - 3 * 1024 * 1024 - 1, 3 * 1024 * 1024 + 1, 'up'],
      [13 * 1024 * 1024 + 8192, 17 * 1024 * 1024, 'down'],
      [0, 5 * 1024 * 1024 - 3, 'down'],
    ];
    for (const [from, length, way] of ranges) {
      const m = await mapFile(path, { ...ra, chunkSize: chunk, readahead: window, fetchSize: '1m' });
      const end = from + length;
      // A parser's pace: a piece, then some work; the readahead runs ahead meanwhile.
      for (let i = 0; i < length; i += piece) {
        const [a, b] = way === 'up' ? [from + i, Math.min(end, from + i + piece)] : [Math.max(from, end - i - piece), end - i];
        const view = m.buffer.subarray(a, b);
        if (way === 'up') touchPages(view);
        else for (let p = view.length - 1; p >= 0; p -= 4096) void view[p];
        expect(view.equals(want.subarray(a, b))).toBe(true);
        await new Promise((r) => setTimeout(r, 3));
      }
      while (m.stats().inflight > 0) await new Promise((r) => setTimeout(r, 5));
      const s = m.stats();
      const touched = Math.min(size, Math.ceil(end / chunk) * chunk) - Math.floor(from / chunk) * chunk;
      expect(s.faults - s.markerHits).toBeLessThan(touched / chunk / 4);
      // What the reader touched, in whole chunks, plus at most one window beyond it.
      expect(s.bytesFetched).toBeGreaterThanOrEqual(touched - chunk);
      expect(s.bytesFetched).toBeLessThanOrEqual(touched + window);
      await m.close();
    }
  });

  it("advise('random') turns readahead off: each fault fetches one chunk", async () => {
    const path = writeRandomFile(tmp.dir, 'rnd', 4 * 1024 * 1024);
    const m = await mapFile(path, { ...ra, chunkSize: chunk, readahead: '8m' });
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
    const m = await mapFile(path, { ...ra, chunkSize: chunk, readahead: '8m' });
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
    const m = await mapFile(path, { ...ra, chunkSize: chunk });
    // 30 of the 32 places 2 MiB apart, in a shuffled order: no close steps,
    // no steady stride (touched in offset order, they would be one: below).
    let x = 7;
    const places = Array.from({ length: 32 }, (_, i) => i);
    for (let i = places.length - 1; i > 0; i--) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const j = x % (i + 1);
      [places[i], places[j]] = [places[j], places[i]];
    }
    for (const i of places.slice(0, 30)) void m.buffer[i * 2 * 1024 * 1024 + 100];
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
    // Compared once nothing is on its way: a readahead install landing
    // between the two reads would count in one and not the other.
    await idle(m);
    expect(smapsRss(size)).toBe(m.stats().residentBytes);
    // Evicted pages fault back in with the right bytes (no cache: fetched again).
    expect(sha256(m.buffer.subarray(0, 1024 * 1024))).toBe(sha256(want.subarray(0, 1024 * 1024)));
    await idle(m);
    expect(smapsRss(size)).toBe(m.stats().residentBytes);
    await m.close();
  });

  it('prefetch() of the whole object keeps installed bytes within a one-chunk budget: its many installs under way wait for room', async () => {
    const size = 40 * chunk;
    // Bytes in memory: every chunk's read ends at once, so the installs are under way together.
    const bytes = readFileSync(writeRandomFile(tmp.dir, 'budget-prefetch', size));
    const m = await mapBytes(bytes, { chunkSize: chunk, residentBudget: chunk, cacheSize: 0, readahead: 0 });
    await m.prefetch(0, size);
    await idle(m);
    const s = m.stats();
    expect(s.chunksFetched).toBe(40);
    expect(s.residentPeak).toBe(chunk);
    expect(s.evictions).toBe(39);
    expect(smapsRss(size)).toBe(chunk);
    expect(sha256(m.buffer)).toBe(sha256(bytes));
    await m.close();
  });
});
