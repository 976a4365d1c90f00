// lib/dev/s3-harness/s3-proxy.ts against the run's S3 endpoint: exact counts, and each fault
// mode seen from the client side. Runs in a vitest fork (its main thread).
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { startTestProxy, type TestProxy } from './helpers/proxy.js';
import { rawRequest } from './helpers/raw-http.js';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
/** What the SDK rejects with when a body is cut by a TCP RST, and when an abort signal ends a request. */
const RESET_ERROR = { message: 'aborted', code: 'ECONNRESET' };
const STALL_ERROR = { name: 'AbortError' };
/** An answer without an S3 error code: the SDK names it Unknown, and only its status says what it was. */
const STATUS_ONLY_502 = { name: 'Unknown', code: undefined, status: 502 };
const STATUS_ONLY_504 = { name: 'Unknown', code: undefined, status: 504 };

describe.skipIf(!s3.endpoint.startsWith('http:'))('s3-proxy', () => {
  const data = randomBytes(1024 * 1024 + 123);
  const key = 'obj.bin';
  let bucket: string;
  let t: TestProxy;
  /** One attempt, so each fault reaches the test as the client saw it. */
  const once = () => t.client({ maxAttempts: 1 });
  const rangedGet = (client = once(), range = 'bytes=1000-4999') =>
    client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  const objectPath = () => `/${bucket}/${key}`;

  beforeAll(async () => {
    bucket = await s3.uniqueBucket('proxy');
    await putObject(s3.client(), bucket, key, data);
    // Anonymous reads let the raw-socket checks skip SigV4.
    await s3.client().send(new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: ['*'] }, Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/*`] }],
      }),
    }));
    t = await startTestProxy();
  });
  afterEach(() => t.proxy.reset());
  afterAll(async () => { await t?.proxy.close(); });

  it('forwards a signed ranged GET and counts it exactly', async () => {
    const got = await rangedGet();
    expect(got.ContentRange).toBe(`bytes 1000-4999/${data.length}`);
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(data.subarray(1000, 5000));
    const st = t.proxy.stats();
    expect(st).toMatchObject({ requests: 1, byMethod: { GET: 1 }, rangedGets: 1, plainGets: 0, bytesSent: 4000 });
    const log = t.proxy.log();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ seq: expect.any(Number), method: 'GET', path: objectPath(), range: 'bytes=1000-4999', fault: 'pass', status: 206, bytes: 4000, at: expect.any(Number) });
  });

  it('forwards signed uploads and keeps connections alive', async () => {
    const client = t.client();
    // Big enough for the SDK to send Expect: 100-continue (with Connection: close, its own choice).
    const big = randomBytes(3 * 1024 * 1024);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'up.bin', Body: big }));
    expect(t.proxy.stats()).toMatchObject({ byMethod: { PUT: 1 }, bytesSent: 0 });
    t.proxy.reset();

    for (let i = 0; i < 3; i++) await (await rangedGet(client, 'bytes=0-9')).Body!.transformToByteArray();
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'up.bin' }));
    expect(head.ContentLength).toBe(big.length);
    expect(t.proxy.stats()).toMatchObject({ byMethod: { GET: 3, HEAD: 1 }, connections: 1, bytesSent: 30 });
  });

  it('error500 answers 500 InternalError', async () => {
    t.proxy.enqueue('error500');
    const err = await rangedGet().catch((e) => e);
    expect(err.name).toBe('InternalError');
    expect(err.$metadata.httpStatusCode).toBe(500);
    expect((await rangedGet()).$metadata.httpStatusCode).toBe(206); // one request only
  });

  it('slowDown answers 503 SlowDown', async () => {
    t.proxy.enqueue('slowDown');
    const err = await rangedGet().catch((e) => e);
    expect(err.name).toBe('SlowDown');
    expect(err.$metadata.httpStatusCode).toBe(503);
  });

  it('the queue waits for its method; a rule decides otherwise', async () => {
    t.proxy.enqueue('error500');
    const head = await once().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(data.length);
    await expect(rangedGet()).rejects.toMatchObject({ name: 'InternalError' });

    t.proxy.setRule((r) => (r.range === 'bytes=0-0' ? 'slowDown' : undefined));
    await expect(rangedGet(once(), 'bytes=0-0')).rejects.toMatchObject({ name: 'SlowDown' });
    expect((await rangedGet()).$metadata.httpStatusCode).toBe(206);
    expect(t.proxy.log().map((e) => e.fault)).toEqual(['pass', 'error500', 'slowDown', 'pass']);
  });

  it('reset sends headers and part of the body, then a TCP RST', async () => {
    t.proxy.enqueue('reset');
    const raw = await rawRequest(t.proxy.port, objectPath(), { headers: { range: 'bytes=0-99999' } });
    expect(raw.status).toBe(206);
    expect(raw.headers['content-length']).toBe('100000');
    expect(raw.end).toBe('reset');
    expect(raw.body.length).toBeLessThanOrEqual(50000);

    t.proxy.enqueue({ mode: 'reset', afterBytes: 10 });
    const got = await rangedGet();
    await expect(got.Body!.transformToByteArray()).rejects.toMatchObject(RESET_ERROR);
    expect(t.proxy.log()[1]).toMatchObject({ fault: 'reset', status: 206, bytes: 10 });
  });

  it('truncate sends fewer bytes than Content-Length, then FIN', async () => {
    t.proxy.enqueue({ mode: 'truncate', afterBytes: 777 });
    const raw = await rawRequest(t.proxy.port, objectPath(), { headers: { range: 'bytes=0-99999' } });
    expect(raw.status).toBe(206);
    expect(raw.headers['content-length']).toBe('100000');
    expect(raw.end).toBe('fin');
    expect(raw.body).toEqual(data.subarray(0, 777));
    expect(t.proxy.stats().bytesSent).toBe(777);
  });

  it('stall never answers; the client gives up', async () => {
    t.proxy.enqueue('stall');
    const started = Date.now();
    const err = await once().send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-9' }),
      { abortSignal: AbortSignal.timeout(300) }).catch((e) => e);
    expect(err).toMatchObject(STALL_ERROR);
    expect(Date.now() - started).toBeLessThan(5000);
    const raw = await rawRequest(t.proxy.port, objectPath(), { timeoutMs: 300 }); // the queue is empty: passes
    expect(raw.status).toBe(200);
    t.proxy.enqueue('stall');
    const stalled = await rawRequest(t.proxy.port, objectPath(), { timeoutMs: 300 });
    expect(stalled).toMatchObject({ end: 'timeout', status: undefined });
    expect(t.proxy.log().map((e) => e.status)).toEqual([undefined, 200, undefined]);
  });

  it('error429 answers 429 TooManyRequests; gone499 499 ClientDisconnected; error502 and error504 answer HTML without an S3 code; denied403 answers 403 AccessDenied', async () => {
    const seen: Record<string, unknown> = {};
    for (const mode of ['error429', 'gone499', 'error502', 'error504', 'denied403'] as const) {
      t.proxy.enqueue(mode);
      const err = await rangedGet().catch((e) => e);
      seen[mode] = { name: err.name, code: err.Code, status: err.$metadata?.httpStatusCode };
    }
    expect(seen).toEqual({
      error429: { name: 'TooManyRequests', code: 'TooManyRequests', status: 429 },
      gone499: { name: 'ClientDisconnected', code: 'ClientDisconnected', status: 499 },
      error502: STATUS_ONLY_502,
      error504: STATUS_ONLY_504,
      denied403: { name: 'AccessDenied', code: 'AccessDenied', status: 403 },
    });
    expect(t.proxy.log().map((e) => [e.fault, e.status])).toEqual([['error429', 429], ['gone499', 499], ['error502', 502], ['error504', 504], ['denied403', 403]]);
    expect((await rangedGet()).$metadata.httpStatusCode).toBe(206);
  });

  it('logs when each request arrived and ended, and the most in flight at once', async () => {
    t.proxy.setRule(() => ({ mode: 'pass', delayMs: 300 }));
    const client = t.client({ maxAttempts: 1 });
    await Promise.all([0, 1, 2].map(async () => (await rangedGet(client, 'bytes=0-9')).Body!.transformToByteArray()));
    await (await rangedGet(client, 'bytes=0-9')).Body!.transformToByteArray();
    const log = t.proxy.log();
    expect(t.proxy.stats().peakInflight).toBe(3);
    for (const e of log) {
      expect(e.doneAt! - e.at).toBeGreaterThanOrEqual(299);
      expect(Math.abs(e.at - Date.now())).toBeLessThan(60_000);
    }
    // The fourth was sent after the first three had ended.
    expect(log[3].at).toBeGreaterThanOrEqual(Math.max(...log.slice(0, 3).map((e) => e.doneAt!)) - 1);
    t.proxy.reset();
    expect(t.proxy.stats().peakInflight).toBe(0);
  });

  it('wrongRange shifts Content-Range and leaves the body alone', async () => {
    t.proxy.enqueue('wrongRange');
    const got = await rangedGet();
    expect(got.ContentRange).toBe(`bytes 1001-5000/${data.length}`);
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(data.subarray(1000, 5000));
  });

  it('fullObject answers 200 with the whole object, re-signing the request without Range', async () => {
    t.proxy.enqueue('fullObject');
    const got = await rangedGet();
    expect(got.$metadata.httpStatusCode).toBe(200);
    expect(got.ContentRange).toBeUndefined();
    // toEqual walks a 1 MiB buffer byte by byte, for seconds.
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    expect(t.proxy.stats()).toMatchObject({ rangedGets: 1, bytesSent: data.length });

    t.proxy.enqueue('fullObject');
    const raw = await rawRequest(t.proxy.port, objectPath(), { headers: { range: 'bytes=0-9' } });
    expect(raw.status).toBe(200);
    expect(raw.body.equals(data)).toBe(true);
  });

  it('fullObject without credentials refuses rather than forwarding a broken signature', async () => {
    const { startS3Proxy } = await import('../dist/lib/dev/s3-harness/s3-proxy.js');
    const bare = await startS3Proxy({ upstream: s3.endpoint });
    try {
      bare.enqueue('fullObject');
      const err = await s3.client({ endpoint: bare.endpoint, maxAttempts: 1 })
        .send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-9' })).catch((e) => e);
      expect(err.$metadata.httpStatusCode).toBe(502);
    } finally {
      await bare.close();
    }
  });
});
