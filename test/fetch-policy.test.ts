// The fetch policy seen in counts, never times: at the proxy (S3 through
// MinIO) a random reader's GETs carry one chunk each and a strided reader's
// never a gap; under a resident budget a random reader fetches and evicts
// what it would without readahead; the fill starts at exactly the fault the
// network model's seeds price it at (a memory source, whose reads the model
// never times, keeps the seeds), never past the budget, never with
// fill 'off'; a fault on a chunk inside a fill's GET is served by a GET of
// its own; the fill goes up from the fault that started it, a round of GETs
// queued at a time, and in a shared region holds its chunks' fetch locks as
// merged ranges (counted in /proc/locks); a fill GET's chunks are
// installed as its bytes come in, copied in on the I/O pool unless a thread
// waits on them or a budget is set. Bytes are checked against the generator,
// not the mapping.
//
// Runs in a vitest fork; the proxy runs on its own worker thread
// (test/helpers/proxy-thread.ts) because this file's main thread touches
// mapped pages.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROFILES } from '../dist/lib/dev/s3-harness/network.js';
import { mapBytes, mapObject, type Mapping, type S3MapOptions } from '../dist/lib/index.js';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { content } from './fixtures/content.mjs';
import { PINNED } from './helpers/pins.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';
import { idle } from './helpers/idle.js';

const s3 = testS3();
const chunk = 64 * 1024;
const MiB = 1024 * 1024;
const SEED = 47;
let bucket: string;
let tp: ThreadProxy;

beforeAll(async () => {
  bucket = await s3.uniqueBucket('policy');
  await putObject(s3.client(), bucket, 'small', content(0, 16 * MiB, SEED));
  await putObject(s3.client(), bucket, 'big', content(0, 64 * MiB, SEED));
  tp = await startThreadProxy();
});
afterAll(async () => tp?.close());
beforeEach(async () => {
  await tp.setNetwork(PROFILES.loopback);
  await tp.reset();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function map(key: string, options: S3MapOptions): Promise<Mapping> {
  const m = await mapObject(`s3://${bucket}/${key}`, { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials, ...options });
  await tp.reset(); // the HEAD
  return m;
}

/** Every GET's range as [firstChunk, chunks], in offset order. */
async function getRuns(): Promise<[number, number][]> {
  const log = await tp.log();
  expect(log.every((e) => e.method === 'GET' && e.status === 206)).toBe(true);
  return log
    .map((e) => /^bytes=(\d+)-(\d+)$/.exec(e.range ?? '')!)
    .map((r) => [Number(r[1]) / chunk, (Number(r[2]) + 1 - Number(r[1])) / chunk] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

/** A seeded sequence of offsets below `size`. */
function randomOffsets(n: number, size: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return Math.floor((x / 2 ** 32) * (size - 8));
  });
}

describe('readers seen at the proxy', () => {
  it("a random reader's GETs carry its chunk only: one chunk per GET, one GET per chunk touched", async () => {
    const m = await map('small', { fill: 'off' });
    try {
      const offsets = randomOffsets(300, m.size, 11);
      for (const o of offsets) expect(m.buffer[o]).toBe(content(o, 1, SEED)[0]);
      await idle(m);
      const touched = new Set(offsets.map((o) => Math.floor(o / chunk)));
      expect(await getRuns()).toEqual([...touched].sort((a, b) => a - b).map((c) => [c, 1]));
      expect(m.stats()).toMatchObject({ fetches: touched.size, prefetchedChunks: 0, bytesFetched: touched.size * chunk });
    } finally {
      await m.close();
    }
  });

  it('a strided reader (64 KiB every 8 MiB, across a chunk boundary) fetches what it touches and the strides ahead, never a gap', async () => {
    // On s3-standard a hole of 8 MiB costs more than a first byte (1.4 MB;
    // it would take a first byte near 100 ms at 85 MB/s), so it is never fetched.
    await tp.setNetwork(PROFILES['s3-standard']);
    const m = await map('big', { fill: 'off' });
    try {
      const stride = 8 * MiB;
      const touched = new Set<number>();
      for (let o = chunk / 2; o + chunk <= m.size; o += stride) {
        const v = m.buffer.subarray(o, o + chunk);
        expect(Buffer.compare(v, content(o, chunk, SEED))).toBe(0);
        touched.add(Math.floor(o / chunk)).add(Math.floor(o / chunk) + 1);
      }
      await idle(m);
      const runs = await getRuns();
      const fetched = runs.flatMap(([c, n]) => Array.from({ length: n }, (_, i) => c + i));
      // Nothing outside the touched chunks, each fetched once.
      expect(fetched.filter((c) => !touched.has(c))).toEqual([]);
      expect(new Set(fetched).size).toBe(fetched.length);
      // Strides ahead were fetched before the reader came (markers tell it moved on).
      expect(m.stats().prefetchedChunks).toBeGreaterThan(0);
      expect(m.stats().markerHits).toBeGreaterThan(0);
    } finally {
      await m.close();
    }
  });
});

describe('random reads under a resident budget', () => {
  it('fetch and evict what they would with readahead 0 (within 5%): no window, no fill (it would not fit)', async () => {
    const size = 16 * MiB;
    const data = new Uint8Array(content(0, size, SEED));
    const offsets = randomOffsets(20_000, size, 5);
    const run = async (options: object) => {
      const m = await mapBytes(data, { residentBudget: '2m', ...options });
      try {
        let bad = 0;
        for (const o of offsets) if (m.buffer[o] !== data[o]) bad++;
        expect(bad).toBe(0);
        return m.stats();
      } finally {
        await m.close();
      }
    };
    const plain = await run({ readahead: 0 });
    const policy = await run({});
    expect(policy.fill).toMatchObject({ started: false, why: 'no room' });
    expect(policy.residentPeak).toBeLessThanOrEqual(2 * MiB);
    expect(policy.chunksFetched).toBeLessThanOrEqual(plain.chunksFetched * 1.05);
    expect(policy.evictions).toBeLessThanOrEqual(plain.evictions * 1.05);
  });
});

describe('the fill (ski rental)', () => {
  // The model's seeds price it: a waiting fault costs one chunk's GET; the
  // fill, the missing bytes spread over every connection but one (pieces of
  // at most fetchSize), all of them together at most 450 MB/s (a memory
  // source's reads are not timed: the seeds stay).
  const { firstByteMs, bytesPerSec, aggregate } = { firstByteMs: 16, bytesPerSec: 85_000_000, aggregate: 450_000_000 };
  const connections = PINNED.defaults.concurrency - 1;
  const faultMs = firstByteMs + (chunk / bytesPerSec) * 1000;
  // GETs of the model's piece (fetchSize here), or spread over the 6 GETs that carry 450 MB/s at 85 MB/s each.
  const fillMs = (missing: number) => {
    const piece = Math.min(PINNED.defaults.fetchSize, Math.ceil(missing / chunk / Math.min(connections, 6)) * chunk);
    const pieces = Math.ceil(missing / piece);
    return Math.ceil(pieces / connections) * firstByteMs + (missing / Math.min(Math.min(connections, pieces) * bytesPerSec, aggregate)) * 1000;
  };
  const size = 64 * MiB;
  const chunks = size / chunk;
  /** The first fault at which k waiting faults cost half what the rest would (POLICY.fill.startAt). */
  const startAt = 0.5;
  let due = 1;
  while (due * faultMs < startAt * fillMs(size - due * chunk)) due++;
  const data = new Uint8Array(content(0, size, SEED));
  // Far apart and out of order: no stream, no stride.
  const places = [900, 13, 517, 260, 777, 91, 402, 640, 333, 1001, 150, 700].map((c) => c * chunk + 100);

  it(`starts at exactly the fault where the faults' cost reaches half the fill's (here the ${due}th), and then fetches the rest once`, async () => {
    expect(due).toBe(5); // 5 x 16.8 ms >= (16 ms + 63.7 MiB at 450 MB/s) / 2 (8 GETs of 8 MiB at 85 MB/s would carry more)
    const m = await mapBytes(data, {});
    try {
      for (let i = 0; i < due - 1; i++) expect(m.buffer[places[i]]).toBe(data[places[i]]);
      await idle(m);
      expect(m.stats().fill).toMatchObject({ started: false, why: 'none', atFault: -1 });
      expect(m.stats().chunksFetched).toBe(due - 1);
      expect(m.buffer[places[due - 1]]).toBe(data[places[due - 1]]);
      await idle(m);
      const s = m.stats();
      expect(s.fill).toMatchObject({ started: true, why: 'pays', atFault: due, chunks: chunks - due });
      expect(s.fill.rentMs).toBeGreaterThanOrEqual(startAt * s.fill.buyMs);
      expect(s.fill.rentMs).toBeLessThan(startAt * s.fill.buyMs + faultMs);
      expect(s.chunksFetched).toBe(chunks);
      expect(m.isResident(0, size)).toBe(true);
      expect(Buffer.compare(m.buffer, data)).toBe(0);
    } finally {
      await m.close();
    }
  });

  it("a reader that stops below half the fill's price never fills", async () => {
    const m = await mapBytes(data, {});
    try {
      for (let i = 0; i < due - 1; i++) void m.buffer[places[i]];
      await idle(m);
      expect(m.stats()).toMatchObject({ chunksFetched: due - 1, fill: { started: false } });
      expect(m.stats().fill.rentMs).toBeLessThan(startAt * m.stats().fill.buyMs);
    } finally {
      await m.close();
    }
  });

  it("fill 'off' never fills, however many faults", async () => {
    const m = await mapBytes(data, { fill: 'off' });
    try {
      for (const o of places) void m.buffer[o];
      for (const o of randomOffsets(200, size, 3)) void m.buffer[o];
      await idle(m);
      const s = m.stats();
      expect(s.fill).toMatchObject({ started: false, why: 'off', chunks: 0 });
      expect(s.prefetchedChunks).toBe(0);
      expect(s.chunksFetched).toBe(s.fetches);
    } finally {
      await m.close();
    }
  });

  it('never past the resident budget: a budget smaller than the object gets no fill; one that holds it does, within it', async () => {
    const small = await mapBytes(data, { residentBudget: '32m' });
    try {
      for (const o of places) void small.buffer[o];
      await idle(small);
      expect(small.stats()).toMatchObject({ chunksFetched: places.length, fill: { started: false, why: 'no room' } });
    } finally {
      await small.close();
    }
    const roomy = await mapBytes(data, { residentBudget: '64m' });
    try {
      for (const o of places) void roomy.buffer[o];
      await idle(roomy);
      const s = roomy.stats();
      expect(s.fill).toMatchObject({ started: true, why: 'pays', atFault: due });
      expect(s.residentPeak).toBeLessThanOrEqual(size);
      expect(s.evictions).toBe(0);
    } finally {
      await roomy.close();
    }
  });

  it("copies the fill's chunks in on the I/O pool, the faulted chunk on the loop; under a budget all of them on the loop", async () => {
    for (const [options, offLoop] of [[{}, chunks - 1], [{ residentBudget: '64m' }, 0]] as const) {
      const m = await mapBytes(data, { fill: 'eager', ...options });
      try {
        expect(m.buffer[places[0]]).toBe(data[places[0]]);
        await idle(m);
        expect(m.stats()).toMatchObject({ installs: chunks, installsOffLoop: offLoop, fill: { started: true, why: 'eager' } });
        expect(Buffer.compare(m.buffer, data)).toBe(0);
      } finally {
        await m.close();
      }
    }
  });

  it("'eager' fills at the first fault; a fault on a chunk inside a fill's GET in flight gets a GET of its own (one, however many ask), and the fill leaves a connection to faults", async () => {
    // Another spelling of the endpoint: a model of its own, still at its seeds
    // (an efficient GET of 12 MB), so the fill's GETs are fetchSize, 16 chunks.
    const m = await map('small', { endpoint: `${tp.endpoint}/`, fill: 'eager', concurrency: 4, fetchSize: '1m' });
    try {
      // Slow responses: the fill's GETs are still in flight when the reader moves on.
      await tp.setRule({ preset: 'always', fault: { mode: 'pass', delayMs: 400 } });
      expect(m.buffer[0]).toBe(content(0, 1, SEED)[0]);
      expect(m.stats().fill).toMatchObject({ started: true, why: 'eager', atFault: 1 });
      // The fill queues what its three lanes take in a round (again as each
      // run ends, the first chunk's included), not the whole object at once.
      expect(m.stats().fill.chunks).toBeGreaterThanOrEqual(3 * 16);
      expect(m.stats().fill.chunks).toBeLessThanOrEqual(2 * 3 * 16);
      // Wait until the fill's GET carrying chunk 70 is at the proxy (it is
      // held there 400 ms): a fault on 70 then would wait behind it.
      const carries70 = async () => (await tp.log()).some((e) => {
        const r = /^bytes=(\d+)-(\d+)$/.exec(e.range ?? '');
        return r !== null && Number(r[1]) <= 70 * chunk && Number(r[2]) >= 71 * chunk - 1 && Number(r[2]) - Number(r[1]) + 1 > chunk && e.doneAt === undefined;
      });
      for (let i = 0; i < 500 && !(await carries70()); i++) await sleep(5);
      expect(await carries70()).toBe(true);
      const at = 70 * chunk + 7;
      // A load() of the chunk and then a fault on it: one GET of their own
      // between them (it is held 400 ms, so the fault comes while it is out).
      const loaded = m.load(at, 10);
      expect(m.buffer[at]).toBe(content(at, 1, SEED)[0]);
      await loaded;
      await idle(m);
      const runs = await getRuns();
      expect(runs.filter(([first, count]) => first === 70 && count === 1)).toHaveLength(1);
      expect(runs).toContainEqual([1, 16]);
      // Over its lap the fill queued every chunk but the first fault's, once.
      expect(m.stats().fill.chunks).toBe(m.size / chunk - 1);
      // Three fill GETs at most in flight, and the faults' own: never more than 4.
      expect((await tp.stats()).peakInflight).toBeLessThanOrEqual(4);
      expect(Buffer.compare(m.buffer, content(0, m.size, SEED))).toBe(0);
    } finally {
      await m.close();
    }
  });

  it("in a shared region, holds the fetch locks of its chunks as a few merged ranges, not one lock per chunk", async () => {
    const dir = mkdtempSync(join('/dev/shm', 's3mmap-locks-'));
    const m = await map('small', { endpoint: `${tp.endpoint}/`, fill: 'eager', concurrency: 4, fetchSize: '1m', shared: true, sharedDir: dir });
    try {
      expect(m.stats().shared).toBe(true);
      // Slow responses: the fill's chunks stay locked (queued or in flight) while the locks are counted.
      await tp.setRule({ preset: 'always', fault: { mode: 'pass', delayMs: 400 } });
      expect(m.buffer[0]).toBe(content(0, 1, SEED)[0]);
      for (let i = 0; i < 200 && (await tp.log()).filter((e) => e.doneAt === undefined).length < 3; i++) await sleep(5);
      const [file] = readdirSync(dir).filter((f) => f.endsWith('.pages'));
      const ino = statSync(join(dir, file)).ino;
      const locks = readFileSync('/proc/locks', 'utf8').split('\n').filter((l) => l.includes('OFDLCK') && l.split(/\s+/)[5]?.endsWith(`:${ino}`));
      // At least 48 chunks are locked (three GETs of 16 in flight); one
      // range for them, and the read lock each mapping holds on a byte past the end.
      expect(m.stats().fill.chunks).toBeGreaterThanOrEqual(48);
      expect(locks.length).toBeGreaterThanOrEqual(2);
      expect(locks.length).toBeLessThanOrEqual(3);
      await tp.setRule({ preset: 'none' });
      await idle(m);
      expect(Buffer.compare(m.buffer, content(0, m.size, SEED))).toBe(0);
    } finally {
      await m.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('goes up from the fault that started it, then from the start: a reader going forward meets its bytes first', async () => {
    const m = await map('small', { endpoint: `${tp.endpoint}/`, fill: 'eager', concurrency: 4, fetchSize: '1m' });
    try {
      const at = 200 * chunk + 5;
      expect(m.buffer[at]).toBe(content(at, 1, SEED)[0]);
      await idle(m);
      const gets = (await tp.log())
        .sort((a, b) => a.seq - b.seq)
        .map((e) => /^bytes=(\d+)-(\d+)$/.exec(e.range ?? '')!)
        .map((r) => [Number(r[1]) / chunk, (Number(r[2]) + 1 - Number(r[1])) / chunk]);
      // The fault's own GET, then the fill's first three (its lanes), all above it.
      expect(gets[0]).toEqual([200, 1]);
      for (const [first] of gets.slice(1, 4)) expect(first).toBeGreaterThan(200);
      // The rest of the object, each chunk once (the first came with the open).
      const fetched = gets.slice(1).flatMap(([first, n]) => Array.from({ length: n }, (_, i) => first + i)).sort((a, b) => a - b);
      expect(fetched).toEqual(Array.from({ length: 256 }, (_, c) => c).filter((c) => c !== 0 && c !== 200));
      // It queued all but the fault's chunk: the first, kept from the open, installed without a GET.
      expect(m.stats().fill.chunks).toBe(255);
      expect(Buffer.compare(m.buffer, content(0, m.size, SEED))).toBe(0);
    } finally {
      await m.close();
    }
  });

  it("installs a GET's chunks as its bytes come in: a reader behind the fill's front faults on none of them and sends no GET of its own", async () => {
    // 2 MB/s per response: the fill's first 4 MiB GET takes about 2 s (the
    // fill leaves the other connection to faults), its first MiB half a second.
    await tp.setNetwork({ ...PROFILES.loopback, name: 'paced', bandwidthBps: 2e6 });
    const m = await map('small', { endpoint: `${tp.endpoint}/`, fill: 'eager', concurrency: 2, fetchSize: '4m' });
    try {
      expect(m.buffer[0]).toBe(content(0, 1, SEED)[0]);
      expect(m.stats().fill).toMatchObject({ started: true, why: 'eager' });
      // The first MiB after the first chunk is resident while the fill's first GET is still in flight.
      const front = chunk + MiB;
      for (let i = 0; i < 2000 && m.stats().residentBytes < front; i++) await sleep(2);
      // The proxy's clock (wall time, sub-millisecond): the GET's end is compared with this moment, not with when the log is read.
      const seenAt = performance.timeOrigin + performance.now();
      expect(m.stats().residentBytes).toBeGreaterThanOrEqual(front);
      await tp.setNetwork(PROFILES.loopback); // the fill's later GETs
      const log = await tp.log();
      expect(log.filter((e) => e.at < seenAt).map((e) => e.range)).toEqual([`bytes=${chunk}-${chunk + 4 * MiB - 1}`]);
      expect(log[0].doneAt ?? Infinity).toBeGreaterThan(seenAt);
      const faults = m.stats().faults;
      for (let o = chunk; o < front; o += 4096) expect(m.buffer[o]).toBe(content(o, 1, SEED)[0]);
      expect(m.stats().faults).toBe(faults);
      await idle(m);
      // Nothing was fetched twice, and no chunk by a GET of its own.
      const runs = await getRuns();
      expect(runs.filter(([, count]) => count === 1)).toEqual([]);
      expect(runs.reduce((n, [, count]) => n + count, 0)).toBe(m.size / chunk - 1);
      expect(Buffer.compare(m.buffer, content(0, m.size, SEED))).toBe(0);
    } finally {
      await m.close();
    }
  });
});
