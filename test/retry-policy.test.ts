// The retry policy as the server sees it: how many GETs a failing read sends
// with the default policy, how the waits between them grow and where they
// stop growing (from the proxy's timestamps), which answers are retried (429,
// 502, 504 with the rest of the transient set) and which end a read at once
// (NoSuchKey, NoSuchBucket and AccessDenied after the object was mapped).
//
// Runs in a vitest fork; the proxy runs on its own worker thread. The fault
// worker of this process runs with the test hook jitter=max
// (lib/shared/test-hooks.ts): every backoff takes the top of its range, so
// the waits are exact figures instead of random points below them.
process.env.S3MMAP_TEST_HOOKS = 'jitter=max';

import { DeleteBucketCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultMode, ProxyLogEntry } from '../dist/lib/dev/s3-harness/s3-proxy.js';
import { mapObject, type Mapping, type S3MapOptions } from '../dist/lib/index.js';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { content } from './fixtures/content.mjs';
import { sha256 } from './helpers/content.js';
import { PINNED } from './helpers/pins.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
const chunk = 64 * 1024;
const size = 12 * chunk + 999;
const SEED = 41;
const body = content(0, size, SEED);
const RANGE3 = `bytes=${3 * chunk}-${4 * chunk - 1}`;
let bucket: string;
let tp: ThreadProxy;

beforeAll(async () => {
  bucket = await s3.uniqueBucket('retry');
  await putObject(s3.client(), bucket, 'obj', body);
  tp = await startThreadProxy();
});
afterAll(async () => tp?.close());
beforeEach(async () => tp.reset());

function map(options: S3MapOptions = {}, key = 'obj', b = bucket): Promise<Mapping> {
  return mapObject(`s3://${b}/${key}`, { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials, readahead: 0, ...options });
}

/** The GETs of one range, in order of arrival. */
async function attemptsOf(range: string): Promise<ProxyLogEntry[]> {
  return (await tp.log()).filter((e) => e.method === 'GET' && e.range === range).sort((a, b) => a.at - b.at);
}

/** Wait before each retry: from the end of one answer to the arrival of the next request. */
const waits = (attempts: ProxyLogEntry[]) => attempts.slice(1).map((e, i) => e.at - attempts[i].doneAt!);

describe('the default policy, seen at the server', () => {
  it(`a read that keeps failing: ${PINNED.defaults.retry.attempts} GETs, waits doubling from ${PINNED.defaults.retry.baseDelayMs} ms`, async () => {
    const { attempts, baseDelayMs } = PINNED.defaults.retry;
    const m = await map();
    try {
      await tp.setRule({ preset: 'window', from: 3 * chunk, to: 4 * chunk, fault: 'error500' });
      const err = await m.load(3 * chunk, 1).then(() => undefined, (e) => e);
      expect(err).toMatchObject({ code: 'InternalError' });
      expect(err.message).toContain(`failed after ${attempts} attempts in `);
      const tries = await attemptsOf(RANGE3);
      expect(tries).toHaveLength(attempts);
      const want = Array.from({ length: attempts - 1 }, (_, i) => baseDelayMs * 2 ** i); // 100, 200, 400, 800, 1600
      const got = waits(tries);
      got.forEach((w, i) => {
        expect(w, `wait ${i + 1}`).toBeGreaterThanOrEqual(want[i] - 2);
        expect(w, `wait ${i + 1}`).toBeLessThan(want[i] + 1000);
      });
    } finally {
      await m.close();
    }
  });

  it('the waits stop growing at retry.maxDelayMs', async () => {
    const { attempts, baseDelayMs } = PINNED.defaults.retry;
    const maxDelayMs = 250;
    const m = await map({ retry: { maxDelayMs } });
    try {
      await tp.setRule({ preset: 'window', from: 3 * chunk, to: 4 * chunk, fault: 'error500' });
      await expect(m.load(3 * chunk, 1)).rejects.toMatchObject({ code: 'InternalError' });
      const got = waits(await attemptsOf(RANGE3));
      const want = Array.from({ length: attempts - 1 }, (_, i) => Math.min(maxDelayMs, baseDelayMs * 2 ** i)); // 100, 200, 250, 250, 250
      expect(got).toHaveLength(want.length);
      got.forEach((w, i) => {
        expect(w, `wait ${i + 1}`).toBeGreaterThanOrEqual(want[i] - 2);
        // Uncapped, the last two would be 800 and 1600 ms.
        expect(w, `wait ${i + 1}`).toBeLessThan(want[i] + 300);
      });
    } finally {
      await m.close();
    }
  });
});

describe('429, 499 (MinIO shutting down), 502 and 504 are retried', () => {
  const retry = { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 };
  const CODES: [FaultMode, string][] = [['error429', 'TooManyRequests'], ['gone499', 'ClientDisconnected'], ['error502', '502'], ['error504', '504']];

  for (const [mode] of CODES) {
    it(`${mode} on the first two attempts of a load(): repeated, every byte exact`, async () => {
      const m = await map({ retry });
      try {
        await tp.enqueue(mode, mode);
        // load(), not a touch: were it not retried, the test fails here instead of the process dying of SIGBUS.
        await m.load();
        expect(sha256(m.buffer)).toBe(sha256(body));
        const st = await tp.stats();
        expect(st.faults[mode]).toBe(2);
        expect(st.rangedGets).toBe(1 + 2); // the whole object in one GET, twice refused
        expect(m.stats().errors).toBe(0);
      } finally {
        await m.close();
      }
    });
  }

  for (const [mode, code] of CODES) {
    it(`${mode} on every attempt: load() rejects with ${code} after retry.attempts GETs`, async () => {
      const m = await map({ retry });
      try {
        await tp.setRule({ preset: 'window', from: 3 * chunk, to: 4 * chunk, fault: mode });
        const err = await m.load(3 * chunk, 1).then(() => undefined, (e) => e);
        expect(err).toMatchObject({ code, retryable: true });
        expect(err.message).toContain(`failed after ${retry.attempts} attempts in `);
        expect(await attemptsOf(RANGE3)).toHaveLength(retry.attempts);
      } finally {
        await m.close();
      }
    });
  }
});

describe('gone after the object was mapped: one GET, no retry', () => {
  const retry = { attempts: 5, baseDelayMs: 10 };

  it('AccessDenied (the access was revoked)', async () => {
    const m = await map({ retry });
    try {
      await tp.setRule({ preset: 'window', from: 3 * chunk, to: 4 * chunk, fault: 'denied403' });
      const err = await m.load(3 * chunk, 1).then(() => undefined, (e) => e);
      expect(err).toMatchObject({ code: 'AccessDenied', status: 403, retryable: false });
      expect(err.message).toContain('the credentials lost access after the object was mapped');
      expect(await attemptsOf(RANGE3)).toHaveLength(1);
    } finally {
      await m.close();
    }
  });

  it('NoSuchKey (the object was deleted) and NoSuchBucket (the bucket too)', async () => {
    const b = await s3.uniqueBucket('gone');
    const admin = s3.client();
    for (const key of ['a', 'b']) await putObject(admin, b, key, body);
    const a = await map({ retry }, 'a', b);
    const other = await map({ retry }, 'b', b);
    try {
      await admin.send(new DeleteObjectCommand({ Bucket: b, Key: 'a' }));
      const e1 = await a.load(3 * chunk, 1).then(() => undefined, (e) => e);
      expect(e1).toMatchObject({ code: 'NoSuchKey', retryable: false });
      expect(e1.message).toContain('was deleted after it was mapped');
      await admin.send(new DeleteObjectCommand({ Bucket: b, Key: 'b' }));
      await admin.send(new DeleteBucketCommand({ Bucket: b }));
      const e2 = await other.load(3 * chunk, 1).then(() => undefined, (e) => e);
      expect(e2).toMatchObject({ code: 'NoSuchBucket', retryable: false });
      expect(e2.message).toContain('the bucket was deleted after the object was mapped');
      const gets = (await tp.log()).filter((e) => e.method === 'GET');
      expect(gets.map((e) => [e.path, e.range, e.status])).toEqual([[`/${b}/a`, RANGE3, 404], [`/${b}/b`, RANGE3, 404]]);
    } finally {
      await a.close();
      await other.close();
    }
  });
});
