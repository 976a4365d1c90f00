// What a mapping asks S3 for, seen at the proxy: the exact ranged GETs of a
// sequential reader (readahead's start and growth, pinned in
// test/helpers/pins.ts), of advise('sequential'), of prefetch() and
// advise('willneed'), how load() splits a long range over the connections,
// and the most GETs in flight at once for a given concurrency. Behaviour that produces no wrong byte when it breaks, so only
// counts and ranges can catch it.
//
// Runs in a vitest fork. The proxy runs on its own worker thread
// (test/helpers/proxy-thread.ts) because this file's main thread touches
// mapped pages.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProxyLogEntry } from '../dist/lib/dev/s3-harness/s3-proxy.js';
import { mapObject, type Mapping, type S3MapOptions } from '../dist/lib/index.js';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { content } from './fixtures/content.mjs';
import { PINNED } from './helpers/pins.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';
import { idle } from './helpers/idle.js';

const s3 = testS3();
const chunk = 64 * 1024;
const SEED = 31;
const CHUNKS = 200;
let bucket: string;
let tp: ThreadProxy;

beforeAll(async () => {
  bucket = await s3.uniqueBucket('fetchplan');
  await putObject(s3.client(), bucket, 'obj', content(0, CHUNKS * chunk, SEED));
  tp = await startThreadProxy();
});
afterAll(async () => tp?.close());
beforeEach(async () => tp.reset());

/** fill 'off': these are the readahead's and prefetch's GETs; a fill of this
 *  small object would pay after two faults (test/fill.test.ts). */
async function map(options: S3MapOptions): Promise<Mapping> {
  const m = await mapObject(`s3://${bucket}/obj`, { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials, fill: 'off', ...options });
  await tp.reset(); // the open's GET
  return m;
}

/** The GETs' ranges as [firstChunk, chunks], in offset order (concurrent GETs may arrive in any order). */
async function getRuns(): Promise<[number, number][]> {
  const log: ProxyLogEntry[] = await tp.log();
  expect(log.every((e) => e.method === 'GET' && e.status === 206)).toBe(true);
  return log
    .map((e) => /^bytes=(\d+)-(\d+)$/.exec(e.range ?? '')!)
    .map((r) => [Number(r[1]) / chunk, (Number(r[2]) + 1 - Number(r[1])) / chunk] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

describe('readahead, seen at the server', () => {
  it(`a sequential reader: the fault's own chunk until ${PINNED.readahead.confirmSteps} close steps confirm it, then windows of what it has read (${PINNED.readahead.initialWindow} chunks at least, up to the cap) in one GET per connection; a marker at each piece of two chunks or more`, async () => {
    const maxWindow = 32; // readahead 2 MiB of 64 KiB chunks
    const chunks = CHUNKS; // the whole object: the last window is clamped to its end
    const m = await map({ readahead: maxWindow * chunk });
    try {
      // One touch per chunk not installed, each only once everything asked for
      // has landed: a fault then comes where nothing was asked for yet (a GET
      // of its own) or on a readahead marker (served from memory).
      let faults = 0;
      for (let c = 0; c < chunks; c++) {
        if (m.isResident(c * chunk, 1)) continue;
        expect(m.buffer[c * chunk + 1]).toBe(content(c * chunk + 1, 1, SEED)[0]);
        faults++;
        await idle(m);
      }
      // What that reader must cost, from the pinned schedule.
      const { initialWindow, windowPerRead, confirmSteps } = PINNED.readahead;
      const connections = PINNED.defaults.concurrency;
      // Chunk 0 came with the open's GET (map() reset the proxy after it): its fault waits on no GET of its own.
      const want: [number, number][] = [];
      const markers = new Set<number>();
      let faultGets = 1;
      let end = 1;
      let window = 0;
      for (let c = 1; c < chunks; c++) {
        if (c < end && !markers.has(c)) continue;
        if (c >= end) {
          want.push([c, 1]);
          faultGets++;
          end = c + 1;
        }
        if (c < confirmSteps) continue; // not a stream yet
        window = Math.max(window, Math.min(maxWindow, Math.max(initialWindow, Math.ceil((c + 1) * windowPerRead))));
        const piece = Math.ceil(window / connections);
        let to = Math.min(chunks, c + 1 + window);
        const frontier = Math.max(c + 1, Math.min(end, to));
        if (to < chunks) to = frontier + Math.floor((to - frontier) / piece) * piece;
        for (let at = frontier; at < to; at += piece) {
          const n = Math.min(piece, to - at);
          want.push([at, n]);
          if (n > 1) markers.add(at);
        }
        end = Math.max(end, to);
      }
      want.sort((a, b) => a[0] - b[0]);
      expect(await getRuns()).toEqual(want);
      // Today's schedule, spelled out: faults at 0 (the open's bytes), 1, 2, 3,
      // 8 and 18 wait on fetches (0 to 2 are no stream yet; windows of 4, 9 and 18 chunks after
      // the last three, in GETs of one chunk while the window is no larger
      // than the connections); from there on the reader meets a marker at
      // each piece of 2, and each tops the window up by a piece.
      expect(want.slice(0, 17)).toEqual(Array.from({ length: 17 }, (_, c) => [c + 1, 1]));
      expect(want.filter(([c]) => c >= 18 && c < 41)).toEqual([[18, 1], [19, 2], [21, 2], [23, 2], [25, 2], [27, 2], [29, 2], [31, 2], [33, 2], [35, 2], [37, 2], [39, 2]]);
      expect(faultGets).toBe(6);
      const s = m.stats();
      expect(s.faults).toBe(faults);
      expect(s.markerHits).toBe(markers.size);
      expect(faults).toBe(faultGets + markers.size);
      expect(s.fetches).toBe(1 + want.length); // the open's chunk counts as the fetch it saved
      expect(s.bytesFetched).toBe(chunks * chunk);
      expect((await tp.stats()).bytesSent).toBe((chunks - 1) * chunk);
    } finally {
      await m.close();
    }
  });

  it("advise('sequential'): the first fault fetches the whole window at once, in its pieces, and nothing past it", async () => {
    const m = await map({ readahead: 32 * chunk, fetchSize: 16 * chunk });
    try {
      await m.advise('sequential');
      void m.buffer[5];
      await idle(m);
      // Chunk 0 came with the open. A window of 32 chunks in 16 GETs of 2 (one per connection); each piece's first chunk is held back as a marker.
      expect(await getRuns()).toEqual([...Array.from({ length: 16 }, (_, i): [number, number] => [1 + 2 * i, 2])]);
      expect(m.stats()).toMatchObject({ faults: 1, fetches: 17, prefetchedChunks: 32, bytesFetched: 33 * chunk });
      expect(m.isResident(33 * chunk, 1)).toBe(false);
      // Reading the window costs no GET: its markers come from memory.
      await tp.reset();
      for (let c = 0; c < 33; c++) expect(m.buffer[c * chunk]).toBe(content(c * chunk, 1, SEED)[0]);
      await idle(m);
      expect(m.isResident(0, 33 * chunk)).toBe(true);
      expect(m.stats().markerHits).toBe(16);
      expect((await getRuns()).filter(([c]) => c < 33)).toEqual([]);
    } finally {
      await m.close();
    }
  });

  it("advise('random'): a sequential reader fetches one chunk per fault, nothing ahead", async () => {
    const m = await map({ readahead: 32 * chunk });
    try {
      await m.advise('random');
      for (let c = 0; c < 20; c++) void m.buffer[c * chunk];
      await idle(m);
      // Chunk 0 came with the open.
      expect(await getRuns()).toEqual(Array.from({ length: 19 }, (_, c) => [c + 1, 1]));
    } finally {
      await m.close();
    }
  });
});

describe('prefetch(), seen at the server', () => {
  it('prefetch(offset, length): one GET of exactly the chunks covering the range; touching them then costs no fault', async () => {
    const m = await map({ readahead: 0 });
    try {
      await m.prefetch(10 * chunk + 5, 20 * chunk);
      await idle(m);
      expect(await getRuns()).toEqual([[10, 21]]);
      expect(m.isResident(10 * chunk, 21 * chunk)).toBe(true);
      expect(m.isResident(9 * chunk, 1)).toBe(false);
      expect(m.isResident(31 * chunk, 1)).toBe(false);
      for (let off = 10 * chunk; off < 31 * chunk; off += 4096) void m.buffer[off];
      expect(m.stats()).toMatchObject({ faults: 0, fetches: 1, prefetchedChunks: 21, bytesFetched: 21 * chunk });
      // Prefetching what is resident asks for nothing.
      await m.prefetch(12 * chunk, chunk);
      await idle(m);
      expect((await tp.stats()).rangedGets).toBe(1);
    } finally {
      await m.close();
    }
  });

  it("advise('willneed', offset, length) is prefetch(): GETs of at most fetchSize", async () => {
    const m = await map({ readahead: 0, fetchSize: 8 * chunk });
    try {
      await m.advise('willneed', 40 * chunk, 20 * chunk);
      await idle(m);
      expect(await getRuns()).toEqual([[40, 8], [48, 8], [56, 4]]);
      expect(m.isResident(40 * chunk, 20 * chunk)).toBe(true);
    } finally {
      await m.close();
    }
  });
});

describe('load() of a long range, seen at the server', () => {
  // docs/api.md: "A long range is spread evenly over every connection (GETs
  // of about 1/concurrency of it, 1 MiB at least)". Fetched as the fault path
  // fetches (runs up to fetchSize), the same ranges would come in 2 GETs.
  for (const [concurrency, runs] of [
    // 200 chunks over 4 connections: 4 GETs of 50 chunks, all in flight at once.
    [4, [[0, 50], [50, 50], [100, 50], [150, 50]]],
    // Over 16: 1/16 is 13 chunks, under 1 MiB: 12 GETs of at least 16 chunks, even: 17 (the last 13).
    [16, Array.from({ length: 12 }, (_, i) => [17 * i, Math.min(17, CHUNKS - 17 * i)])],
    // A range of 1.5 MiB: one GET, not 1 MiB and a runt (the load waits for the later first byte).
    [16, [[0, 24]]],
  ] as [number, [number, number][]][]) {
    it(`concurrency ${concurrency}: ${runs.length} GETs of ${runs[0][1]} chunks, ${Math.min(concurrency, runs.length)} in flight at once`, async () => {
      const m = await map({ readahead: 0, concurrency });
      try {
        // Slow GETs, so that the pieces started together are seen together.
        await tp.setRule({ preset: 'always', fault: { mode: 'pass', delayMs: 200 } });
        const n = runs.reduce((sum, [, k]) => sum + k, 0);
        await m.load(0, n * chunk);
        // Chunk 0 came with the open: the first piece's GET starts at chunk 1.
        expect(await getRuns()).toEqual(runs.map(([c, k]) => (c === 0 ? [1, k - 1] : [c, k])));
        expect((await tp.stats()).peakInflight).toBe(Math.min(concurrency, runs.length));
        expect(m.stats()).toMatchObject({ fetches: runs.length, bytesFetched: n * chunk });
        expect(m.buffer.subarray(0, n * chunk).equals(content(0, n * chunk, SEED))).toBe(true);
      } finally {
        await m.close();
      }
    });
  }
});

describe('concurrency, seen at the server', () => {
  for (const concurrency of [3, 5, undefined]) {
    const want = concurrency ?? PINNED.defaults.concurrency;
    it(`${concurrency === undefined ? 'by default' : `concurrency ${concurrency}`}: at most ${want} GETs in flight, and that many at once`, async () => {
      const n = 3 * want;
      const m = await map({ readahead: 0, fetchSize: chunk, ...(concurrency === undefined ? {} : { concurrency }) });
      try {
        // Slow GETs, so that every one the mapping may start is in flight together.
        await tp.setRule({ preset: 'always', fault: { mode: 'pass', delayMs: 250 } });
        // The mapping's own count of reads started, sampled: the S3 client's socket
        // limit would hide from the proxy a scheduler that started them all at once.
        let started = 0;
        const sampler = setInterval(() => { started = Math.max(started, m.stats().inflight); }, 5);
        try {
          await m.load(chunk, n * chunk); // from chunk 1: chunk 0 came with the open
        } finally {
          clearInterval(sampler);
        }
        const st = await tp.stats();
        expect(st.rangedGets).toBe(n);
        expect(st.peakInflight).toBe(want);
        expect(started).toBeLessThanOrEqual(want);
        expect(m.stats().fetches).toBe(n);
      } finally {
        await m.close();
      }
    });
  }
});
