// Exact counts from the fault loop: chunks fetched per scan, single touches,
// re-reads, and reinstalls from the chunk cache after eviction.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { mapFile } from '../dist/lib/index.js';
import { sha256, sha256File, tempDir, writeRandomFile, touchPages } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const chunk = 64 * 1024;

describe('fetch counts', () => {
  it('a sequential scan of N chunks without readahead fetches exactly N; a second scan fetches nothing', async () => {
    const n = 37;
    const path = writeRandomFile(tmp.dir, 'seq', n * chunk - 100);
    const m = await mapFile(path, { chunkSize: chunk, readahead: 0 });
    touchPages(m.buffer);
    let s = m.stats();
    expect(s.chunksFetched).toBe(n);
    expect(s.fetches).toBe(n);
    expect(s.bytesFetched).toBe(m.size);
    expect(s.faults).toBe(n); // one fault per chunk: the first page of each
    touchPages(m.buffer);
    s = m.stats();
    expect(s.chunksFetched).toBe(n);
    expect(s.faults).toBe(n);
    expect(sha256(m.buffer)).toBe(sha256File(path));
    await m.close();
  });

  it('touching one byte fetches exactly one chunk', async () => {
    const path = writeRandomFile(tmp.dir, 'one', 100 * chunk);
    const m = await mapFile(path, { chunkSize: chunk });
    const before = m.stats();
    expect(before.chunksFetched).toBe(0);
    expect(before.residentBytes).toBe(0);
    const x = m.buffer[50 * chunk + 1234];
    const s = m.stats();
    expect(s.chunksFetched).toBe(1);
    expect(s.bytesFetched).toBe(chunk);
    expect(s.residentBytes).toBe(chunk);
    expect(x).toBe(readFileSync(path)[50 * chunk + 1234]);
    await m.close();
  });

  it('evicted chunks come back from the chunk cache without a fetch', async () => {
    const path = writeRandomFile(tmp.dir, 'evict', 8 * chunk);
    const m = await mapFile(path, { chunkSize: chunk, readahead: 0 });
    touchPages(m.buffer);
    expect(m.stats().chunksFetched).toBe(8);
    await m.evict(0, m.size);
    expect(m.stats().residentBytes).toBe(0);
    expect(m.isResident(0, 1)).toBe(false);
    expect(sha256(m.buffer)).toBe(sha256File(path));
    const s = m.stats();
    expect(s.chunksFetched).toBe(8);
    expect(s.cacheHits).toBe(8);
    expect(s.faults).toBe(16);
    await m.close();
  });

  it('without a chunk cache, evicted chunks are fetched again', async () => {
    const path = writeRandomFile(tmp.dir, 'nocache', 4 * chunk);
    const m = await mapFile(path, { chunkSize: chunk, readahead: 0, cacheSize: 0 });
    touchPages(m.buffer);
    await m.evict();
    touchPages(m.buffer);
    expect(m.stats().chunksFetched).toBe(8);
    expect(m.stats().cacheHits).toBe(0);
    await m.close();
  });

  it('load() makes a range resident with one fetch per chunk, and faults on it cost nothing', async () => {
    const path = writeRandomFile(tmp.dir, 'load', 10 * chunk);
    const m = await mapFile(path, { chunkSize: chunk, readahead: 0, fetchSize: chunk });
    await m.load(chunk + 5, 2 * chunk);
    expect(m.stats().chunksFetched).toBe(3);
    expect(m.stats().fetches).toBe(3);
    expect(m.isResident(chunk, 3 * chunk)).toBe(true);
    expect(m.isResident(0, 1)).toBe(false);
    touchPages(m.buffer.subarray(chunk, 4 * chunk));
    expect(m.stats().faults).toBe(0);
    await m.close();
  });

  it('load() fetches neighbouring chunks in one read up to fetchSize', async () => {
    const path = writeRandomFile(tmp.dir, 'coalesce', 64 * chunk);
    const m = await mapFile(path, { chunkSize: chunk, readahead: 0, fetchSize: 16 * chunk, concurrency: 1 });
    await m.load();
    const s = m.stats();
    expect(s.chunksFetched).toBe(64);
    // All 64 chunks are queued before any read starts: reads of 16 chunks.
    expect(s.fetches).toBe(4);
    expect(sha256(m.buffer)).toBe(sha256File(path));
    await m.close();
  });
});
