// mapObject() against a real MinIO: exact bytes, awkward keys, exact GET counts
// seen by the server side (a counting proxy), errors before anything is
// mapped, and an object replaced under a live mapping. The fault worker runs
// with the test hook jitter=max (lib/shared/test-hooks.ts): a retry waits
// exactly its backoff, which the refused-endpoint case uses as its bound.
process.env.S3MMAP_TEST_HOOKS = 'jitter=max';

import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapObject, type S3MapOptions } from '../dist/lib/index.js';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { pseudoRandom, sha256 } from './helpers/content.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
const chunk = 64 * 1024;
let bucket: string;
let tp: ThreadProxy;
const opts = (extra: S3MapOptions = {}): S3MapOptions => ({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, ...extra });

beforeAll(async () => {
  bucket = await s3.uniqueBucket('mapobj');
  tp = await startThreadProxy();
});
afterAll(async () => tp?.close());

describe('mapObject content', () => {
  for (const size of [0, 1, 4097, chunk + 1, 256 * 1024 * 1024 + 123]) {
    it(`size ${size}: sha256 of the mapping equals the uploaded object's`, async () => {
      const body = pseudoRandom(size, size + 11);
      const key = `obj-${size}`;
      await putObject(s3.client(), bucket, key, body);
      const m = await mapObject(`s3://${bucket}/${key}`, opts());
      try {
        expect(m.size).toBe(size);
        expect(sha256(m.buffer)).toBe(sha256(body));
        // Every byte once, but for the faults that landed inside a fill's GET
        // in flight: each got a GET of its own chunk (DESIGN.md, the fill).
        const s = m.stats();
        expect(s.bytesFetched).toBeGreaterThanOrEqual(size);
        expect(s.bytesFetched).toBeLessThanOrEqual(size + s.faults * chunk);
        if (!s.fill.started) expect(s.bytesFetched).toBe(size);
      } finally {
        await m.close();
      }
    });
  }

  it('keys with spaces, unicode, +, ? and # map correctly', async () => {
    const keys = ['with space/a b.bin', 'ünïcødé/日本語.bin', 'plus+sign.bin', 'question?mark.bin', 'hash#tag.bin', 'all of+them?#ü.bin'];
    for (const [i, key] of keys.entries()) {
      const body = pseudoRandom(3 * chunk + i, i + 100);
      await putObject(s3.client(), bucket, key, body);
      const m = await mapObject(`s3://${bucket}/${key}`, opts());
      expect(sha256(m.buffer), key).toBe(sha256(body));
      await m.close();
      const m2 = await mapObject({ bucket, key }, opts());
      expect(m2.size).toBe(body.length);
      await m2.close();
    }
  });
});

describe('GETs counted at the server side', () => {
  it('touching k scattered pages issues k ranged GETs of one chunk each; re-reading issues none', async () => {
    const size = 64 * 1024 * 1024;
    const body = pseudoRandom(size, 5);
    await putObject(s3.client(), bucket, 'scatter', body);
    // fill 'off': 40 reads cost more than fetching this 64 MiB object whole
    // by the network model, so the default would fetch it (test/fetch-policy.test.ts).
    const m = await mapObject(`s3://${bucket}/scatter`, opts({ endpoint: tp.endpoint, fill: 'off' }));
    await tp.reset();
    const k = 40;
    const offsets = Array.from({ length: k }, (_, i) => i * Math.floor(size / k) + ((i * 7919) % 4096));
    for (const off of offsets) expect(m.buffer[off]).toBe(body[off]);
    let st = await tp.stats();
    // The first offset is in chunk 0, which came with the open's GET.
    expect(offsets[0]).toBeLessThan(chunk);
    expect(st.rangedGets).toBe(k - 1);
    expect(st.plainGets).toBe(0);
    expect(st.bytesSent).toBe((k - 1) * chunk);
    expect(st.byMethod.HEAD ?? 0).toBe(0);
    expect(m.stats().fetches).toBe(k);
    for (const off of offsets) expect(m.buffer[off]).toBe(body[off]);
    st = await tp.stats();
    expect(st.rangedGets).toBe(k - 1);
    for (const e of await tp.log()) expect(e.range).toMatch(/^bytes=\d+-\d+$/);
    await m.close();
  });
});

describe('the open, counted at the server side', () => {
  it('mapObject() is one ranged GET of the first chunk and no HEAD; reading the first chunk adds no request', async () => {
    const body = pseudoRandom(8 * chunk + 5, 77);
    await putObject(s3.client(), bucket, 'open-once', body);
    await tp.reset();
    const m = await mapObject(`s3://${bucket}/open-once`, opts({ endpoint: tp.endpoint }));
    try {
      expect((await tp.stats()).byMethod).toEqual({ GET: 1 });
      expect((await tp.log()).map((e) => e.range)).toEqual([`bytes=0-${chunk - 1}`]);
      expect(sha256(m.buffer.subarray(0, chunk))).toBe(sha256(body.subarray(0, chunk)));
      expect((await tp.stats()).byMethod).toEqual({ GET: 1 });
      expect(m.stats()).toMatchObject({ fetches: 1, bytesFetched: chunk });
      // The chunk after it is a GET of its own (readahead may carry more with it).
      expect(m.buffer[chunk + 1]).toBe(body[chunk + 1]);
      const log = await tp.log();
      expect(log[1]).toMatchObject({ method: 'GET', range: expect.stringMatching(new RegExp(`^bytes=${chunk}-`)) });
      expect(log.filter((e) => e.method !== 'GET')).toEqual([]);
    } finally {
      await m.close();
    }
  });
});

describe('errors before anything is mapped', () => {
  it('a bad URL', async () => {
    await expect(mapObject('http://x/y', opts())).rejects.toMatchObject({ code: 'InvalidURL' });
    await expect(mapObject('s3://', opts())).rejects.toMatchObject({ code: 'InvalidURL' });
  });

  it('a missing bucket', async () => {
    const err = await mapObject('s3://no-such-bucket-s3mmap/key', opts()).catch((e) => e);
    expect(err.code).toBe('NoSuchBucket');
    expect(err.message).not.toContain('\n');
  });

  it('a missing key', async () => {
    await expect(mapObject(`s3://${bucket}/nope`, opts())).rejects.toMatchObject({ code: 'NoSuchKey' });
  });

  it('denied: a wrong secret, never printed', async () => {
    const secret = 'wrong-secret-value-1234567890';
    const err = await mapObject(`s3://${bucket}/obj-1`, opts({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: secret } })).catch((e) => e);
    expect(err.code).toBe('SignatureDoesNotMatch'); // as docs/failures.md's table promises
    expect(err.message).not.toContain(secret);
    expect(err.stack ?? '').not.toContain(secret);
    expect(err.message).not.toContain(s3.secretAccessKey);
  });

  it('an endpoint that refuses connections fails at the first refusal: no retry at open', async () => {
    // One retry would wait the whole first backoff (jitter=max): 8 s.
    const retry = { baseDelayMs: 8000, maxDelayMs: 8000, openTimeoutMs: 60_000 };
    const started = Date.now();
    await expect(mapObject(`s3://${bucket}/obj-1`, opts({ endpoint: 'http://127.0.0.1:9', retry }))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(Date.now() - started).toBeLessThan(retry.baseDelayMs / 2);
  });
});

describe('the object changes under a live mapping', () => {
  it('the next fetch fails with ObjectChanged; no byte of the new version is ever returned', async () => {
    const v1 = pseudoRandom(8 * chunk, 1);
    const v2 = Buffer.alloc(8 * chunk, 0xee);
    await putObject(s3.client(), bucket, 'changing', v1);
    const m = await mapObject(`s3://${bucket}/changing`, opts({ readahead: 0 }));
    expect(m.buffer[5]).toBe(v1[5]);
    await s3.client().send(new PutObjectCommand({ Bucket: bucket, Key: 'changing', Body: v2 }));
    const err = await m.load(4 * chunk, 10).catch((e) => e);
    expect(err.code).toBe('ObjectChanged');
    expect(err.message).toMatch(/changed after it was mapped/);
    expect(m.stats().errors).toBe(1);
    // What was installed before is the old version, still.
    expect(sha256(m.buffer.subarray(0, chunk))).toBe(sha256(v1.subarray(0, chunk)));
    expect(m.isResident(4 * chunk, 1)).toBe(false);
    await m.close();
  });
});
