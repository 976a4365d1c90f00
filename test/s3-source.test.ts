// The S3 source against a real MinIO (started once per run by
// test/global-setup.ts), and against the fault-injecting proxy in
// lib/dev/s3-harness/s3-proxy.ts for the failures MinIO will not produce on demand.
// Runs in a vitest test-file process (pool 'forks'), main thread: the source
// does not care which thread it is on, the fault worker only adds the uffd.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, open as openAsync, openSync, rmSync, writeFileSync } from 'node:fs';
import dns from 'node:dns';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { inspect } from 'node:util';
import { MessageChannel } from 'node:worker_threads';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deserializeError, redactSecrets, S3MmapError, serializeError, type SerializedError } from '../dist/lib/shared/errors.js';
import { resolveS3Options } from '../dist/lib/s3/client.js';
import { S3Source, type S3SourceOptions } from '../dist/lib/s3/source.js';
import { startTestProxy, type TestProxy } from './helpers/proxy.js';
import { testS3 } from './helpers/s3.js';
import { assumeRole } from './helpers/sts.js';

const s3 = testS3();
let admin: S3Client;
let bucket: string;
const sources: S3Source[] = [];

beforeAll(async () => {
  admin = s3.client();
  bucket = await s3.uniqueBucket('source');
});
afterEach(() => {
  for (const s of sources.splice(0)) s.close();
});
afterAll(() => admin?.destroy());

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const never = () => new AbortController().signal;

async function put(key: string, body: Uint8Array): Promise<string> {
  const out = await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return out.ETag!;
}

function source(key: string, extra: Partial<S3SourceOptions> = {}): S3Source {
  const s = new S3Source({
    bucket, key,
    client: { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials },
    ...extra,
  });
  sources.push(s);
  return s;
}

/** Read the whole object in `chunk`-sized pieces, several in flight, into one buffer. */
async function readAll(src: S3Source, size: number, chunk: number): Promise<Buffer> {
  const out = Buffer.alloc(size);
  const jobs: Promise<void>[] = [];
  for (let off = 0; off < size; off += chunk) {
    const len = Math.min(chunk, size - off);
    jobs.push(src.read(off, len, out.subarray(off), never()));
  }
  await Promise.all(jobs);
  return out;
}

async function failure(p: Promise<unknown>): Promise<S3MmapError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(S3MmapError);
    return e as S3MmapError;
  }
  throw new Error('expected a rejection');
}

/** One line, says who it is, and no secret anywhere a user could print it. */
function expectClean(err: S3MmapError, secrets: string[]): void {
  expect(err.message).toMatch(/^s3mmap: /);
  expect(err.message).not.toMatch(/[\r\n]/);
  const places = [err.message, inspect(err, { depth: 10 }), JSON.stringify(serializeError(err)), String(err.stack)];
  for (const secret of secrets) {
    for (const text of places) expect(text).not.toContain(secret);
  }
  for (const text of places) expect(text).not.toMatch(/Signature=[0-9a-f]{16}/);
}

describe('S3Source reads (MinIO)', () => {
  for (const size of [0, 1, 4097, (1 << 20) + 1]) {
    it(`returns exactly the uploaded bytes for a ${size}-byte object`, async () => {
      const data = randomBytes(size);
      const etag = await put(`sizes/${size}.bin`, data);
      const src = source(`sizes/${size}.bin`);
      const info = await src.open();
      expect(info.size).toBe(size);
      expect(info.version).toBe(etag);
      expect(typeof info.meta?.lastModified).toBe('string');
      expect(info.meta?.contentType).toBeTruthy();

      expect(sha256(await readAll(src, size, 64 * 1024))).toBe(sha256(data));
      if (size > 0) {
        expect(sha256(await readAll(src, size, size))).toBe(sha256(data)); // one GET for all of it
        expect(sha256(await readAll(src, size, 4093))).toBe(sha256(data)); // ranges off page boundaries
      }
      expect(src.stats.retries).toBe(0);
      expect(src.stats.bytes).toBe(size === 0 ? 0 : size * 3);
      expect(await src.open()).toBe(info); // pinned once
    });
  }

  it('writes only `length` bytes into a larger buffer', async () => {
    const data = randomBytes(10_000);
    await put('larger-buffer.bin', data);
    const src = source('larger-buffer.bin');
    await src.open();
    const into = Buffer.alloc(8192, 0xee);
    await src.read(1000, 4096, into, never());
    expect(into.subarray(0, 4096).equals(data.subarray(1000, 5096))).toBe(true);
    expect(into.subarray(4096).every((b) => b === 0xee)).toBe(true);
    expect(src.stats).toEqual({ gets: 1, retries: 0, bytes: 4096 });
  });

  it('handles keys with spaces, unicode, +, ?, #, % and nesting', async () => {
    const keys = ['with space.bin', 'ünïcødé/файл 数据.bin', 'a+b=c.bin', 'q?x=1&y=2.bin', 'hash#frag.bin', '100%25 pure.bin', 'deep/er/still/x.bin'];
    for (const key of keys) {
      const data = randomBytes(5000);
      await put(key, data);
      const src = source(key);
      expect((await src.open()).size).toBe(5000);
      expect(sha256(await readAll(src, 5000, 1500))).toBe(sha256(data));
    }
  });

  it('rejects reads outside the object or the buffer, and reads before open', async () => {
    await put('bounds.bin', randomBytes(100));
    const early = source('bounds.bin');
    expect((await failure(early.read(0, 1, Buffer.alloc(1), never()))).code).toBe('NotOpen');
    const src = source('bounds.bin');
    await src.open();
    expect((await failure(src.read(90, 20, Buffer.alloc(20), never()))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await failure(src.read(0, 20, Buffer.alloc(10), never()))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await failure(src.read(-1, 1, Buffer.alloc(1), never()))).code).toBe('ERR_OUT_OF_RANGE');
    expect(src.stats.gets).toBe(0);
  });

  it('fails a read with ObjectChanged once the object is overwritten, without retrying', async () => {
    const first = randomBytes(8192);
    const etag = await put('changing.bin', first);
    const src = source('changing.bin');
    await src.open();
    const buf = Buffer.alloc(4096);
    await src.read(0, 4096, buf, never());
    await put('changing.bin', randomBytes(8192));
    const err = await failure(src.read(4096, 4096, buf, never()));
    expect(err.code).toBe('ObjectChanged');
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(412);
    expect(err.message).toContain(`s3://${bucket}/changing.bin changed after it was mapped (ETag ${etag}`);
    expect(err.message).toContain('remap it');
    expect(src.stats).toMatchObject({ gets: 2, retries: 0 });
  });

  it('fails a read once the object is deleted after it was mapped', async () => {
    await put('deleted.bin', randomBytes(100));
    const src = source('deleted.bin');
    await src.open();
    await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'deleted.bin' }));
    const err = await failure(src.read(0, 10, Buffer.alloc(10), never()));
    expect(err.code).toBe('NoSuchKey');
    expect(err.message).toContain('deleted after it was mapped');
    expect(src.stats.retries).toBe(0);
  });
});

describe('S3Source.open errors', () => {
  it('NoSuchKey, with the ls hint', async () => {
    const err = await failure(source('no/such/key.bin').open());
    expect(err.code).toBe('NoSuchKey');
    expect(err.message).toBe(`s3mmap: no such key 'no/such/key.bin' in bucket '${bucket}' (NoSuchKey); check the key with \`s3mmap ls s3://${bucket}/\``);
    expectClean(err, [s3.secretAccessKey]);
  });

  it('NoSuchBucket, told apart from a missing key', async () => {
    const src = new S3Source({ bucket: 'no-such-bucket-' + randomBytes(4).toString('hex'), key: 'k', client: { endpoint: s3.endpoint, credentials: s3.credentials } });
    const err = await failure(src.open());
    expect(err.code).toBe('NoSuchBucket');
    expect(err.message).toContain('no such bucket');
    expectClean(err, [s3.secretAccessKey]);
  });

  it('SignatureDoesNotMatch for a wrong secret; the secret appears nowhere', async () => {
    await put('secret.bin', randomBytes(10));
    const wrong = 'WRONG-' + randomBytes(18).toString('base64url');
    const src = source('secret.bin', { client: { endpoint: s3.endpoint, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: wrong } } });
    const err = await failure(src.open());
    expect(err.code).toBe('SignatureDoesNotMatch');
    expect(err.status).toBe(403);
    expect(err.message).toContain(`access key '${s3.accessKeyId}'`);
    expectClean(err, [wrong, s3.secretAccessKey]);
  });

  it('InvalidAccessKeyId for an unknown access key', async () => {
    await put('akid.bin', randomBytes(10));
    const secret = 'S3CRET-' + randomBytes(18).toString('base64url');
    const src = source('akid.bin', { client: { endpoint: s3.endpoint, credentials: { accessKeyId: 'NOBODY' + randomBytes(4).toString('hex'), secretAccessKey: secret } } });
    const err = await failure(src.open());
    expect(err.code).toBe('InvalidAccessKeyId');
    expectClean(err, [secret, s3.secretAccessKey]);
  });

  it('AccessDenied for valid credentials without s3:GetObject (and session tokens work)', async (ctx) => {
    if (s3.external) ctx.skip(); // MinIO's AssumeRole without a role ARN
    await put('denied.bin', randomBytes(10));
    const temp = await assumeRole(s3, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:ListAllMyBuckets'], Resource: ['arn:aws:s3:::*'] }] });
    const src = source('denied.bin', { client: { endpoint: s3.endpoint, credentials: temp } });
    const err = await failure(src.open());
    expect(err.code).toBe('AccessDenied');
    expect(err.message).toContain('s3:GetObject');
    expectClean(err, [temp.secretAccessKey, temp.sessionToken, s3.secretAccessKey]);

    const readOnly = await assumeRole(s3, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/*`] }] });
    const ok = source('denied.bin', { client: { endpoint: s3.endpoint, credentials: readOnly } });
    expect((await ok.open()).size).toBe(10);
    await ok.read(0, 10, Buffer.alloc(10), never());
  });

  it('ECONNREFUSED for a closed port, quickly', async () => {
    const port = await closedPort();
    const secret = 'S3CRET-' + randomBytes(18).toString('base64url');
    const t0 = Date.now();
    const err = await failure(new S3Source({ bucket, key: 'k', client: { endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'a', secretAccessKey: secret } } }).open());
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.message).toContain(`http://127.0.0.1:${port}`);
    expect(Date.now() - t0).toBeLessThan(2000);
    expectClean(err, [secret]);
  });

  it('ENOTFOUND for a host that does not resolve', async () => {
    const err = await failure(new S3Source({ bucket, key: 'k', client: { endpoint: 'http://no-such-host.invalid:9000', credentials: s3.credentials } }).open());
    expect(err.code).toBe('ENOTFOUND');
    expect(err.message).toContain('no-such-host.invalid');
  });

  it('InvalidURL for a bad endpoint, without its user info', async () => {
    const err = await failure(new S3Source({ bucket, key: 'k', client: { endpoint: 'ftp://user:hunter22@host/', credentials: s3.credentials } }).open());
    expect(err.code).toBe('InvalidURL');
    expectClean(err, ['hunter22']);
  });

  it('ETIMEDOUT when HEAD gets no answer, within the open deadline', async () => {
    const proxy = await startTestProxy(() => ({ mode: 'stall', method: '*' }));
    try {
      const t0 = Date.now();
      const src = source('k', { client: { endpoint: proxy.proxy.endpoint, credentials: s3.credentials }, retry: { requestTimeoutMs: 400 } });
      const err = await failure(src.open());
      expect(err.code).toBe('ETIMEDOUT');
      expect(Date.now() - t0).toBeLessThan(3000);
      const deadline = source('k', { client: { endpoint: proxy.proxy.endpoint, credentials: s3.credentials }, retry: { openTimeoutMs: 500 } });
      const err2 = await failure(deadline.open());
      expect(err2.code).toBe('ETIMEDOUT');
      expect(err2.message).toContain('took longer than 0.5 s');
    } finally {
      await proxy.proxy.close();
    }
  });

  it('AbortError when the caller aborts open()', async () => {
    const proxy = await startTestProxy(() => ({ mode: 'stall', method: '*' }));
    try {
      const src = source('k', { client: { endpoint: proxy.proxy.endpoint, credentials: s3.credentials } });
      const err = await failure(src.open(AbortSignal.timeout(200)));
      expect(err.code).toBe('AbortError');
    } finally {
      await proxy.proxy.close();
    }
  });
});

describe('S3Source faults (through lib/dev/s3-harness/s3-proxy)', () => {
  let tp: TestProxy;
  const data = randomBytes(256 * 1024);
  const fast = { baseDelayMs: 5, maxDelayMs: 20 };

  beforeAll(async () => {
    tp = await startTestProxy();
    await put('faults.bin', data);
  });
  afterAll(async () => tp?.proxy.close());
  beforeEach(() => tp.proxy.reset());

  function viaProxy(retry: S3SourceOptions['retry'] = {}): S3Source {
    return source('faults.bin', { client: { endpoint: tp.proxy.endpoint, credentials: s3.credentials }, retry: { ...fast, ...retry } });
  }

  it('retries 500, 503 SlowDown, a reset and a truncated body, then returns the right bytes', async () => {
    const src = viaProxy();
    await src.open();
    tp.proxy.enqueue('error500', 'slowDown', 'reset', 'truncate', { mode: 'truncate', afterBytes: 0 });
    const out = Buffer.alloc(data.length);
    await src.read(0, data.length, out, never());
    expect(sha256(out)).toBe(sha256(data));
    expect(src.stats.gets).toBe(6);
    expect(src.stats.retries).toBe(5);
    expect(src.stats.bytes).toBeGreaterThanOrEqual(data.length);
    expect(tp.proxy.stats().rangedGets).toBe(6);
    expect(tp.proxy.stats().plainGets).toBe(0);
  });

  it('never accepts a 200 with the whole object', async () => {
    const src = viaProxy();
    await src.open();
    tp.proxy.enqueue('fullObject');
    const err = await failure(src.read(4096, 4096, Buffer.alloc(4096), never()));
    expect(err.code).toBe('BadRangeResponse');
    expect(err.status).toBe(200);
    expect(err.message).toContain('HTTP 200 and the whole object');
    expect(src.stats).toEqual({ gets: 1, retries: 0, bytes: 0 });
  });

  it('rejects a Content-Range that is not the one asked for', async () => {
    const src = viaProxy();
    await src.open();
    tp.proxy.enqueue('wrongRange');
    const err = await failure(src.read(0, 4096, Buffer.alloc(4096), never()));
    expect(err.code).toBe('BadRangeResponse');
    expect(err.message).toContain(`'bytes 0-4095/${data.length}'`);
  });

  it('gives up after the configured attempts with the last S3 code', async () => {
    const src = viaProxy({ attempts: 3 });
    await src.open();
    tp.proxy.setRule((r) => (r.method === 'GET' ? 'error500' : 'pass'));
    const err = await failure(src.read(0, 4096, Buffer.alloc(4096), never()));
    expect(err.code).toBe('InternalError');
    expect(err.status).toBe(500);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('after 3 attempts');
    expect(src.stats).toMatchObject({ gets: 3, retries: 2 });
  });

  it('gives up at the read deadline however many attempts are left', async () => {
    const src = viaProxy({ attempts: 1000, deadlineMs: 800, baseDelayMs: 50, maxDelayMs: 200 });
    await src.open();
    tp.proxy.setRule((r) => (r.method === 'GET' ? 'slowDown' : 'pass'));
    const t0 = Date.now();
    const err = await failure(src.read(0, 4096, Buffer.alloc(4096), never()));
    expect(err.code).toBe('SlowDown');
    expect(err.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(src.stats.gets).toBeGreaterThan(1);
  });

  it('times out a stalled request per attempt and retries it', async () => {
    const src = viaProxy({ requestTimeoutMs: 300 });
    await src.open();
    tp.proxy.enqueue('stall');
    const out = Buffer.alloc(8192);
    const t0 = Date.now();
    await src.read(8192, 8192, out, never());
    expect(out.equals(data.subarray(8192, 16384))).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(src.stats).toMatchObject({ gets: 2, retries: 1 });

    const impatient = viaProxy({ requestTimeoutMs: 200, attempts: 2 });
    await impatient.open();
    tp.proxy.setRule((r) => (r.method === 'GET' ? 'stall' : 'pass'));
    const err = await failure(impatient.read(0, 10, Buffer.alloc(10), never()));
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.retryable).toBe(true);
    expect(impatient.stats).toMatchObject({ gets: 2, retries: 1 });
  });

  it('stops at once when the caller aborts, mid-request and mid-backoff', async () => {
    const src = viaProxy({ baseDelayMs: 5000, maxDelayMs: 5000 });
    await src.open();
    tp.proxy.enqueue('stall');
    const t0 = Date.now();
    let err = await failure(src.read(0, 4096, Buffer.alloc(4096), AbortSignal.timeout(150)));
    expect(err.code).toBe('AbortError');
    expect(err.retryable).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);

    tp.proxy.setRule((r) => (r.method === 'GET' ? 'error500' : 'pass'));
    const t1 = Date.now();
    err = await failure(src.read(0, 4096, Buffer.alloc(4096), AbortSignal.timeout(150)));
    expect(err.code).toBe('AbortError');
    expect(Date.now() - t1).toBeLessThan(1000);

    const already = AbortSignal.abort();
    expect((await failure(src.read(0, 1, Buffer.alloc(1), already))).code).toBe('AbortError');
  });

  it('close() ends reads in flight with ERR_CLOSED', async () => {
    const src = viaProxy();
    await src.open();
    tp.proxy.enqueue('stall');
    const pending = failure(src.read(0, 4096, Buffer.alloc(4096), never()));
    await new Promise((r) => setTimeout(r, 100));
    src.close();
    expect((await pending).code).toBe('ERR_CLOSED');

    const sleepy = viaProxy({ baseDelayMs: 5000, maxDelayMs: 5000 });
    await sleepy.open();
    tp.proxy.setRule((r) => (r.method === 'GET' ? 'error500' : 'pass'));
    const t0 = Date.now();
    const backingOff = failure(sleepy.read(0, 4096, Buffer.alloc(4096), never()));
    await new Promise((r) => setTimeout(r, 200));
    sleepy.close();
    expect((await backingOff).code).toBe('ERR_CLOSED');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await failure(sleepy.read(0, 1, Buffer.alloc(1), never()))).code).toBe('ERR_CLOSED');
  });
});

describe('S3Source across a server restart', () => {
  it('retries a refused connection during read (the endpoint answered at open)', async () => {
    const data = randomBytes(20_000);
    await put('restart.bin', data);
    const upstream = new URL(s3.endpoint);
    const fwd = await forwarder(Number(upstream.port), upstream.hostname);
    try {
      const src = source('restart.bin', { client: { endpoint: `http://127.0.0.1:${fwd.port}`, credentials: s3.credentials }, retry: { baseDelayMs: 100, maxDelayMs: 400, attempts: 10 } });
      await src.open();
      await fwd.stop();
      setTimeout(() => void fwd.start(), 300);
      const out = Buffer.alloc(data.length);
      await src.read(0, data.length, out, never());
      expect(out.equals(data)).toBe(true);
      expect(src.stats.retries).toBeGreaterThan(0);
    } finally {
      await fwd.stop();
    }
  });

  it('fails open() at once on a refused connection instead', async () => {
    const fwd = await forwarder(Number(new URL(s3.endpoint).port), '127.0.0.1');
    await fwd.stop();
    const t0 = Date.now();
    const err = await failure(new S3Source({ bucket, key: 'k', client: { endpoint: `http://127.0.0.1:${fwd.port}`, credentials: s3.credentials } }).open());
    expect(err.code).toBe('ECONNREFUSED');
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('S3Source keeps off the libuv threadpool after open (DESIGN.md rule 3)', () => {
  it('reads while every pool thread is parked, with file-based credentials and a named host', async (ctx) => {
    const ep = new URL(s3.endpoint);
    if (ep.hostname !== '127.0.0.1') ctx.skip();
    ep.hostname = 'localhost'; // a name, so a lookup would be needed
    const data = randomBytes(64 * 1024);
    await put('pool.bin', data);

    const dir = mkdtempSync(join(tmpdir(), 's3mmap-pool-'));
    const restore = withEnv({
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
      AWS_CONFIG_FILE: join(dir, 'config'),
      AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined,
    });
    writeFileSync(join(dir, 'credentials'), `[pooltest]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`);
    writeFileSync(join(dir, 'config'), `[profile pooltest]\nregion = ${s3.region}\n`);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const parked: Promise<number>[] = [];
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      closeSync(openSync(fifo, 'w')); // readers are waiting in open(2), so this does not block
    };
    try {
      const src = source('pool.bin', { client: { endpoint: ep.href.replace(/\/$/, ''), profile: 'pooltest' } });
      await src.open();

      // An async open of a FIFO with no writer blocks its pool thread in open(2).
      const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
      for (let i = 0; i < poolSize; i++) {
        parked.push(new Promise((resolve, reject) => openAsync(fifo, 'r', (err, fd) => (err ? reject(err) : resolve(fd)))));
      }
      // Control: a lookup now waits for the pool, so the pool really is full.
      const lookup = dns.promises.lookup('localhost').then(() => 'resolved');
      expect(await Promise.race([lookup, delay(300, 'blocked')])).toBe('blocked');

      // Eight at once: the HEAD's keep-alive socket serves one, the others
      // need new connections, hence host lookups.
      const out = Buffer.alloc(64 * 1024);
      const reads = Promise.all(Array.from({ length: 8 }, (_, i) => src.read(i * 8192, 8192, out.subarray(i * 8192), never()))).then(() => 'read');
      expect(await Promise.race([reads, delay(5000, 'hung')])).toBe('read');
      expect(src.stats.gets).toBe(8);
      expect(out.equals(data)).toBe(true);
    } finally {
      release();
      for (const fd of await Promise.all(parked)) closeSync(fd);
      restore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('resolveS3Options', () => {
  it('takes the endpoint from options, then AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL', async () => {
    const creds = { accessKeyId: 'a', secretAccessKey: 'b' };
    const env = { AWS_ENDPOINT_URL_S3: 'http://s3-only:1', AWS_ENDPOINT_URL: 'http://general:2' };
    expect((await resolveS3Options({ endpoint: 'http://opt:3', credentials: creds, region: 'r' }, env)).endpoint).toBe('http://opt:3');
    expect((await resolveS3Options({ credentials: creds, region: 'r' }, env)).endpoint).toBe('http://s3-only:1');
    expect((await resolveS3Options({ credentials: creds, region: 'r' }, { AWS_ENDPOINT_URL: 'http://general:2' })).endpoint).toBe('http://general:2');
    const aws = await resolveS3Options({ credentials: creds, region: 'r' }, {});
    expect(aws.endpoint).toBeUndefined();
    expect(aws.forcePathStyle).toBe(false);
    expect((await resolveS3Options({ endpoint: 'http://x:1', credentials: creds, region: 'r' }, {})).forcePathStyle).toBe(true);
    expect((await resolveS3Options({ endpoint: 'http://x:1', credentials: creds, region: 'r', forcePathStyle: false }, {})).forcePathStyle).toBe(false);
  });

  it('takes the region from options, AWS_REGION, AWS_DEFAULT_REGION, the profile, else us-east-1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3mmap-region-'));
    const config = join(dir, 'config');
    writeFileSync(config, '[profile far]\nregion = ap-southeast-2\n');
    const restore = withEnv({ AWS_CONFIG_FILE: config, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_PROFILE: undefined });
    try {
      const creds = { accessKeyId: 'a', secretAccessKey: 'b' };
      const r = async (o: object, env: NodeJS.ProcessEnv = {}) => (await resolveS3Options({ credentials: creds, ...o }, env)).region;
      expect(await r({ region: 'eu-west-1', profile: 'far' }, { AWS_REGION: 'x' })).toBe('eu-west-1');
      expect(await r({ profile: 'far' }, { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'y' })).toBe('us-west-2');
      expect(await r({ profile: 'far' }, { AWS_DEFAULT_REGION: 'eu-north-1' })).toBe('eu-north-1');
      expect(await r({ profile: 'far' })).toBe('ap-southeast-2');
      expect(await r({ profile: 'none' })).toBe('us-east-1');
    } finally {
      restore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolves credentials once from the environment chain', async () => {
    const restore = withEnv({ AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: 'secret-from-env', AWS_SESSION_TOKEN: 'tok', AWS_PROFILE: undefined });
    try {
      const o = await resolveS3Options({ region: 'r' }, {});
      expect(o.credentials).toMatchObject({ accessKeyId: 'AKIDENV', secretAccessKey: 'secret-from-env', sessionToken: 'tok' });
    } finally {
      restore();
    }
  });

  it('says how to fix missing credentials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3mmap-nocreds-'));
    const restore = withEnv({
      AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined,
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_CONFIG_FILE: join(dir, 'none2'), AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    });
    try {
      const err = await failure(resolveS3Options({ region: 'r', profile: 'ghost' }, {}));
      expect(err.code).toBe('NoCredentials');
      expect(err.message).toContain("profile 'ghost'");
      expect(err.message).toContain('AWS_ACCESS_KEY_ID');
    } finally {
      restore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('errors across postMessage', () => {
  async function roundTrip(err: unknown): Promise<Error> {
    const { port1, port2 } = new MessageChannel();
    const got = new Promise<SerializedError>((resolve) => port2.once('message', resolve));
    port1.postMessage(serializeError(err));
    const back = deserializeError(await got);
    port1.close();
    return back;
  }

  it('keeps S3MmapError class, code, status, retryable, stack and cause', async () => {
    const cause = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const err = new S3MmapError('SlowDown', 's3mmap: too fast; slow down', { status: 503, retryable: true, cause });
    const back = await roundTrip(err);
    expect(back).toBeInstanceOf(S3MmapError);
    expect(back).toMatchObject({ name: 'S3MmapError', code: 'SlowDown', status: 503, retryable: true, message: err.message });
    expect(back.stack).toBe(err.stack);
    expect((back.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });

  it('keeps code, errno and syscall of native errors', async () => {
    const err = Object.assign(new Error('EFAULT: bad address, ioctl'), { code: 'EFAULT', errno: -14, syscall: 'ioctl' });
    const back = await roundTrip(err);
    expect(back).toMatchObject({ code: 'EFAULT', errno: -14, syscall: 'ioctl', message: err.message });
    expect(back).not.toBeInstanceOf(S3MmapError);
    expect((await roundTrip('plain string')).message).toBe('plain string');
  });

  it('flattens messages to one line and adds the prefix', () => {
    expect(new S3MmapError('X', 'two\n  lines').message).toBe('s3mmap: two lines');
  });

  it('redacts secrets and SigV4 material', () => {
    const text = 'key=hunter2secret Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abcdef0123 X-Amz-Signature=deadbeef';
    const out = redactSecrets(text, ['hunter2secret']);
    expect(out).not.toContain('hunter2secret');
    expect(out).not.toContain('abcdef0123');
    expect(out).not.toContain('deadbeef');
  });
});

// --- helpers -----------------------------------------------------------------

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

function withEnv(vars: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) delete process.env[k];
      else process.env[k] = val;
    }
  };
  apply(vars);
  return () => apply(saved);
}

/** A TCP forwarder that can be stopped (connections reset, port refused) and
 *  started again on the same port: a server restart, seen from the client. */
async function forwarder(targetPort: number, targetHost: string): Promise<{ port: number; start(): Promise<void>; stop(): Promise<void> }> {
  let server: net.Server | undefined;
  const conns = new Set<net.Socket>();
  let port = 0;
  const start = async () => {
    server = net.createServer((c) => {
      const up = net.connect(targetPort, targetHost);
      conns.add(c).add(up);
      c.pipe(up).pipe(c);
      const drop = () => { c.destroy(); up.destroy(); conns.delete(c); conns.delete(up); };
      c.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  };
  const stop = async () => {
    if (!server) return;
    const s = server;
    server = undefined;
    for (const c of conns) c.resetAndDestroy();
    await new Promise((r) => s.close(r));
  };
  await start();
  return { get port() { return port; }, start, stop };
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}
