// Fault injection between the S3 client and MinIO, seen through a mapping:
// transient faults are retried and every byte is exact; permanent ones end
// within the configured deadline (load() rejects with the S3 code, a raw touch
// raises SIGBUS with one line on stderr); a MinIO stopped and restarted in the
// middle of a sequential scan costs time, not bytes.
//
// Runs in a vitest fork. The proxy (lib/dev/s3-harness/s3-proxy.ts) runs on its own worker
// thread (test/helpers/proxy-thread.ts), so this file's main thread may touch
// mapped pages. SIGBUS cases run in child processes; the restart scan runs on a
// worker thread while the main thread stops and starts a dedicated MinIO.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultMode } from '../dist/lib/dev/s3-harness/s3-proxy.js';
import { mapObject, type S3MapOptions } from '../dist/lib/index.js';
import { createBucket, putObject, startMinio } from '../dist/lib/dev/minio-server.js';
import { runChild } from './helpers/child.js';
import { pseudoRandom, sha256 } from './helpers/content.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
const chunk = 64 * 1024;
const size = 40 * chunk + 4321; // not a chunk or page multiple
const body = pseudoRandom(size, 77);
const bodySha = sha256(body);
let bucket: string;
let tp: ThreadProxy;

const TRANSIENT: FaultMode[] = ['error500', 'slowDown', 'reset', 'stall', 'truncate'];
/** What a read ends with when every attempt meets the fault. */
const PERMANENT: [FaultMode, string, boolean][] = [
  ['error500', 'InternalError', true],
  ['slowDown', 'SlowDown', true],
  ['reset', 'TruncatedBody', true],
  ['stall', 'ETIMEDOUT', true],
  ['truncate', 'TruncatedBody', true],
  ['wrongRange', 'BadRangeResponse', false],
  ['fullObject', 'BadRangeResponse', false],
];

const DEADLINE_MS = 1500;
/** Tight retry settings so a permanent failure ends quickly; the deadline is the bound under test. */
const retry = { attempts: 1000, deadlineMs: DEADLINE_MS, requestTimeoutMs: 400, baseDelayMs: 10, maxDelayMs: 100 };
const viaProxy = (extra: S3MapOptions = {}): S3MapOptions => ({
  endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials, retry, ...extra,
});

beforeAll(async () => {
  bucket = await s3.uniqueBucket('faults');
  await putObject(s3.client(), bucket, 'obj', body);
  // A permanent-failure case needs chunk 3 absent everywhere: a mapping of
  // 'obj' that an earlier case closed may still be held (a reader thread's
  // attach() view lives until that thread's views are collected), and a new
  // mapping of the same version joins its shared pages. Each case reads its own copy.
  for (const [mode] of PERMANENT) {
    await putObject(s3.client(), bucket, `load-${mode}`, body);
    await putObject(s3.client(), bucket, `touch-${mode}`, body);
  }
  tp = await startThreadProxy();
});
afterAll(async () => tp?.close());
beforeEach(async () => tp.reset());

describe('transient faults are retried and every byte is exact', () => {
  for (const mode of TRANSIENT) {
    it(`${mode} on the first two GETs of a scan`, async () => {
      const m = await mapObject(`s3://${bucket}/obj`, viaProxy({ readahead: 0, retry: { ...retry, deadlineMs: 20_000 } }));
      try {
        await tp.enqueue(mode, mode);
        // The main thread faults chunk by chunk; the proxy thread forwards.
        expect(sha256(m.buffer)).toBe(bodySha);
        const st = await tp.stats();
        const chunks = Math.ceil(size / chunk);
        expect(st.faults[mode]).toBe(2);
        expect(st.rangedGets).toBe(chunks + 2);
        expect(st.plainGets).toBe(0);
        expect(m.stats()).toMatchObject({ errors: 0, chunksFetched: chunks, bytesFetched: size });
        // Only complete 206 answers were accepted: the two faulted GETs were repeated.
        const log = await tp.log();
        const good = log.filter((e) => e.method === 'GET' && e.fault === 'pass');
        expect(good.every((e) => e.status === 206)).toBe(true);
        expect(new Set(good.map((e) => e.range)).size).toBe(chunks);
      } finally {
        await m.close();
      }
    });
  }

  it('every third GET faulted in turn, with readahead and four reader threads at once', async () => {
    const m = await mapObject(`s3://${bucket}/obj`, viaProxy({ readahead: '256k', fetchSize: '128k', retry: { ...retry, deadlineMs: 30_000 } }));
    try {
      await tp.setRule({ preset: 'everyNth', n: 3, faults: TRANSIENT });
      const shared = new SharedArrayBuffer(size);
      Buffer.from(shared).set(body);
      const readers = [1, 2, 3, 4].map((seed) => new Promise<{ bad: number; bytes: number }>((resolve, reject) => {
        const w = new Worker(new URL('./fixtures/range-reader.mjs', import.meta.url), {
          workerData: { handle: m.share(), expected: shared, seed, reads: 150, maxLen: 3 * chunk },
        });
        w.once('message', resolve);
        w.once('error', reject);
      }));
      const results = await Promise.all(readers);
      for (const r of results) expect(r).toMatchObject({ bad: 0 });
      expect(sha256(m.buffer)).toBe(bodySha);
      const st = await tp.stats();
      const injected = TRANSIENT.reduce((n, f) => n + (st.faults[f] ?? 0), 0);
      expect(injected).toBeGreaterThanOrEqual(TRANSIENT.length);
      expect(m.stats().errors).toBe(0);
    } finally {
      await m.close();
    }
  });
});

describe('a permanent failure ends within the deadline', () => {
  for (const [mode, code, retried] of PERMANENT) {
    it(`${mode}: load() rejects with ${code}; the rest of the object still reads exactly`, async () => {
      const m = await mapObject(`s3://${bucket}/load-${mode}`, viaProxy({ readahead: 0 }));
      try {
        await tp.setRule({ preset: 'window', from: 3 * chunk, to: 4 * chunk, fault: mode });
        const t0 = Date.now();
        const err = await m.load(3 * chunk + 5, 10).then(() => undefined, (e) => e);
        const elapsed = Date.now() - t0;
        expect(err, 'load() must reject').toBeDefined();
        expect(err.code).toBe(code);
        expect(err.message).toMatch(/^s3mmap: /);
        expect(err.message).not.toMatch(/[\r\n]/);
        expect(elapsed).toBeLessThan(DEADLINE_MS + 1000);
        const attempts = (await tp.log()).filter((e) => e.method === 'GET' && e.fault === mode).length;
        if (retried) expect(attempts).toBeGreaterThan(1);
        else expect(attempts).toBe(1);
        expect(m.isResident(3 * chunk, 1)).toBe(false);
        expect(m.errors.at(-1)).toMatchObject({ code });
        expect(m.stats().errors).toBe(1);
        // Neighbours are unaffected and exact (touched from this thread).
        expect(sha256(m.buffer.subarray(0, 3 * chunk))).toBe(sha256(body.subarray(0, 3 * chunk)));
        expect(sha256(m.buffer.subarray(4 * chunk))).toBe(sha256(body.subarray(4 * chunk)));
        // Once the endpoint behaves, load() tries the chunk again.
        await tp.setRule({ preset: 'none' });
        await m.load(3 * chunk, chunk);
        expect(sha256(m.buffer)).toBe(bodySha);
      } finally {
        await m.close();
      }
    });
  }

  for (const [mode, code] of PERMANENT) {
    it(`${mode}: a raw touch in a child process raises SIGBUS with one line naming ${code}, never zeros, never a hang`, async () => {
      await tp.setRule({ preset: 'window', from: 3 * chunk, to: 4 * chunk, fault: mode });
      const opts = { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials, retry, readahead: 0 };
      const r = await runChild(`
        import { mapObject } from S3MMAP_LIB;
        const m = await mapObject(${JSON.stringify(`s3://${bucket}/touch-${mode}`)}, ${JSON.stringify(opts)});
        console.log('good', m.buffer[${2 * chunk + 1}]);
        const t0 = Date.now();
        console.log('bad', m.buffer[${3 * chunk + 7}], Date.now() - t0);
      `, { timeoutMs: 30_000 });
      expect(r.signal, r.stderr).toBe('SIGBUS');
      expect(r.stdout).toContain(`good ${body[2 * chunk + 1]}\n`);
      expect(r.stdout).not.toContain('bad');
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('s3mmap: '));
      expect(lines).toEqual([
        `s3mmap: bytes ${3 * chunk}-${4 * chunk - 1} of s3://${bucket}/touch-${mode} could not be read (${code}); touching them raises SIGBUS, use mapping.load() to handle the error`,
      ]);
      expect(r.stderr).not.toContain(s3.secretAccessKey);
      // Node start and the SDK import, plus the deadline: far from the 30 s kill.
      expect(r.ms).toBeLessThan(DEADLINE_MS + 8000);
    });
  }
});

describe('MinIO stopped and restarted in the middle of a sequential scan', () => {
  it('the scan waits it out and completes with the exact checksum', async (ctx) => {
    if (s3.external) ctx.skip();
    const dataDir = mkdtempSync(join(tmpdir(), 's3mmap-restart-'));
    const port = await freePort();
    const creds = { accessKeyId: 'restart' + process.pid, secretAccessKey: 'restart-secret-' + process.pid };
    let server = await startMinio({ dataDir, port, ...creds });
    try {
      const objSize = 8 * 1024 * 1024 + 999;
      const data = pseudoRandom(objSize, 4242);
      await createBucket(server.client(), 'scan');
      await putObject(server.client(), 'scan', 'big', data);
      const m = await mapObject('s3://scan/big', {
        endpoint: server.endpoint, region: 'us-east-1', credentials: creds, readahead: 0, cacheSize: 0,
        retry: { attempts: 1000, deadlineMs: 60_000, baseDelayMs: 50, maxDelayMs: 500, requestTimeoutMs: 5000 },
      });
      try {
        // One Int32 of progress (bytes scanned / chunk), written by the scanner.
        const progress = new Int32Array(new SharedArrayBuffer(8));
        const scanner = new Worker(new URL('./fixtures/paced-scan.mjs', import.meta.url), {
          workerData: { handle: m.share(), progress, chunk, pauseMs: 4 },
        });
        const done = new Promise<{ sha: string; ms: number }>((resolve, reject) => {
          scanner.once('message', resolve);
          scanner.once('error', reject);
        });
        const chunks = Math.ceil(objSize / chunk);
        while (Atomics.load(progress, 0) < chunks / 4) await sleep(5);
        await server.stop();
        const atStop = Atomics.load(progress, 0);
        await sleep(1500);
        const whileDown = Atomics.load(progress, 0);
        server = await startMinio({ dataDir, port, ...creds });
        const result = await done;
        expect(atStop).toBeLessThan(chunks);
        // The scanner was parked in a fault while the server was away.
        expect(whileDown - atStop).toBeLessThanOrEqual(1);
        expect(result.sha).toBe(sha256(data));
        expect(m.stats()).toMatchObject({ errors: 0, bytesFetched: objSize });
        await scanner.terminate();
      } finally {
        await m.close();
      }
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}
