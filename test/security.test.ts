// Security: mappings are read-only (a write raises SIGSEGV, in child
// processes); the userfaultfd is close-on-exec (fdinfo flags, and a child
// spawned while it is open does not have it); no credential appears in any
// error, log line, stats or inspected object, whatever fails; https endpoints
// work with the standard CA options (caBundle / AWS_CA_BUNDLE, and
// NODE_EXTRA_CA_CERTS) and say which option to use when the CA is unknown.
//
// Runs in a vitest fork, main thread (the fault proxy on its own worker
// thread); writes, env-configured clients and SIGBUS runs in child processes;
// the TLS tests start their own MinIO with a self-signed certificate.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeError } from '../dist/lib/shared/errors.js';
import { mapObject, mapSource, type Mapping } from '../dist/lib/index.js';
import { createBucket, putObject, startMinio, type MinioServer } from '../dist/lib/dev/minio-server.js';
import { runChild } from './helpers/child.js';
import { sha256 } from './helpers/content.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';
import { assumeRole, type TempCredentials } from './helpers/sts.js';
import { content } from './fixtures/content.mjs';

const s3 = testS3();
const chunk = 64 * 1024;
const sizedSource = fileURLToPath(new URL('./fixtures/sized-source.mjs', import.meta.url));
const O_CLOEXEC = 0o2000000;

describe('mappings are read-only', () => {
  const cases: [string, string][] = [
    ['a write to a resident page', `void b[5]; console.log('read'); b[5] = 1;`],
    ['a write to a cold page', `console.log('read'); b[${10 * chunk + 1}] = 1;`],
    ['Buffer.fill over the mapping', `console.log('read'); b.fill(0);`],
    ['a write from a worker thread through attach()', `console.log('read');
      const { Worker } = await import('node:worker_threads');
      new Worker(\`const { workerData } = require('node:worker_threads');
        import(workerData.lib).then(({ attach }) => { attach(workerData.handle)[7] = 9; });\`, { eval: true, workerData: { lib: S3MMAP_LIB, handle: m.share() } });
      await new Promise((r) => setTimeout(r, 10_000));`],
  ];
  for (const [name, code] of cases) {
    it(`${name} raises SIGSEGV (child process)`, async () => {
      const r = await runChild(`
        import { mapSource } from S3MMAP_LIB;
        const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${16 * chunk}, seed: 3 } });
        const b = m.buffer;
        ${code}
        console.log('wrote');
      `);
      expect(r.signal, r.stderr).toBe('SIGSEGV');
      expect(r.stdout).toContain('read');
      expect(r.stdout).not.toContain('wrote');
    });
  }

  it('the region is mapped r--p (never writable) in /proc/self/maps', async () => {
    const size = 3 * chunk + 4096 * 37;
    // The mappings of that size registered with a userfaultfd ("um" in
    // smaps' VmFlags): V8 or libuv may hold an unrelated rw-p region of the
    // same size (seen under Node 24 and 26), which no uffd watches.
    const ofSize = () => readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/).filter((block) => {
      const [range] = block.split(' ');
      const [a, z] = range.split('-').map((h) => parseInt(h, 16));
      const flags = /^VmFlags:(.*)$/m.exec(block)?.[1].trim().split(/\s+/) ?? [];
      return z - a === size && flags.includes('um');
    });
    const before = new Set(ofSize().map((l) => l.split(' ')[0]));
    const m = await mapSource({ kind: 'module', path: sizedSource, options: { size, seed: 4 } });
    try {
      const lines = ofSize().filter((l) => !before.has(l.split(' ')[0]));
      expect(lines.map((l) => l.split(' ')[1])).toEqual(['r--p']);
    } finally {
      await m.close();
    }
  });
});

describe('the userfaultfd is close-on-exec', () => {
  function uffdFds(): string[] {
    return readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[userfaultfd]';
      } catch {
        return false;
      }
    });
  }

  it('every uffd of this process has O_CLOEXEC, and a child spawned meanwhile holds none', async () => {
    const maps: Mapping[] = [];
    try {
      for (let i = 0; i < 3; i++) maps.push(await mapSource({ kind: 'module', path: sizedSource, options: { size: 4 * chunk, seed: i } }));
      const fds = uffdFds();
      expect(fds.length).toBeGreaterThanOrEqual(3);
      for (const fd of fds) {
        const flags = parseInt(/^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);
        expect(flags & O_CLOEXEC, `fd ${fd}`).toBe(O_CLOEXEC);
      }
      // The child lists its own fds: what exec(2) let through.
      const child = await new Promise<string>((resolve, reject) => {
        const c = spawn('sh', ['-c', 'for f in /proc/self/fd/*; do readlink "$f"; done'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.on('error', reject);
        c.on('close', () => resolve(out));
      });
      expect(child).not.toContain('userfaultfd');
      expect(child.trim().split('\n').length).toBeLessThan(8); // stdio and the listing's own fd
    } finally {
      for (const m of maps) await m.close();
    }
  });
});

describe('no credential in any error, log line or stats', () => {
  let bucket: string;
  let tp: ThreadProxy;
  let temp: TempCredentials;
  const body = content(0, 8 * chunk, 31);

  beforeAll(async () => {
    bucket = await s3.uniqueBucket('secrets');
    await putObject(s3.client(), bucket, 'obj', body);
    tp = await startThreadProxy();
    temp = s3.external
      ? { ...s3.credentials, sessionToken: '' }
      : await assumeRole(s3, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/*`] }] });
  });
  afterAll(async () => tp?.close());

  /** Every place a user could print: the error in all its forms, the mapping, its stats. */
  function expectClean(texts: string[], secrets: string[]): void {
    for (const secret of secrets.filter((x) => x.length >= 8)) {
      for (const text of texts) expect(text).not.toContain(secret);
    }
    for (const text of texts) {
      expect(text).not.toMatch(/Signature=[0-9a-f]{16}/);
      expect(text).not.toMatch(/X-Amz-Security-Token=\w/i);
    }
  }
  const forms = (err: unknown) => [String((err as Error).message), String((err as Error).stack), inspect(err, { depth: 10, showHidden: true }), JSON.stringify(serializeError(err))];

  it('in this process: a permanent 500, an object replaced (412), a missing key, a wrong secret', async () => {
    const secrets = [temp.secretAccessKey, temp.sessionToken, s3.secretAccessKey];
    const opts = { endpoint: tp.endpoint, region: s3.region, credentials: temp, readahead: 0, retry: { attempts: 3, baseDelayMs: 5, deadlineMs: 2000 } };
    const texts: string[] = [];
    const m = await mapObject(`s3://${bucket}/obj`, opts);
    try {
      expect(sha256(m.buffer.subarray(0, chunk))).toBe(sha256(body.subarray(0, chunk)));
      await tp.setRule({ preset: 'window', from: 2 * chunk, to: 3 * chunk, fault: 'error500' });
      const e500 = await m.load(2 * chunk, 1).then(() => undefined, (e) => e);
      expect(e500).toMatchObject({ code: 'InternalError' });
      texts.push(...forms(e500));
      await tp.reset();
      await s3.client().send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: body.subarray(0, 4 * chunk) }));
      const e412 = await m.load(5 * chunk, 1).then(() => undefined, (e) => e);
      expect(e412).toMatchObject({ code: 'ObjectChanged' });
      texts.push(...forms(e412));
      texts.push(inspect(m, { depth: 10, showHidden: true }), JSON.stringify(m.stats()), inspect(m.info), ...m.errors.flatMap(forms));
    } finally {
      await m.close();
      await putObject(s3.client(), bucket, 'obj', body);
    }
    const missing = await mapObject(`s3://${bucket}/missing`, opts).then(() => undefined, (e) => e);
    expect(missing).toMatchObject({ code: 'NoSuchKey' });
    const wrong = 'wrong-secret-' + temp.secretAccessKey.slice(0, 4) + 'x'.repeat(20);
    const denied = await mapObject(`s3://${bucket}/obj`, { ...opts, credentials: { accessKeyId: temp.accessKeyId, secretAccessKey: wrong, sessionToken: temp.sessionToken } }).then(() => undefined, (e) => e);
    expect(denied?.code).toBe('SignatureDoesNotMatch');
    texts.push(...forms(missing), ...forms(denied));
    expectClean(texts, [...secrets, wrong]);
  });

  it('in a child with credentials from the environment: SIGBUS stderr, warnings and printed errors', async () => {
    await tp.setRule({ preset: 'window', from: 3 * chunk, to: 4 * chunk, fault: 'error500' });
    const r = await runChild(`
      import { inspect } from 'node:util';
      import { mapObject } from S3MMAP_LIB;
      const m = await mapObject(${JSON.stringify(`s3://${bucket}/obj`)}, { endpoint: ${JSON.stringify(tp.endpoint)}, readahead: 0, retry: { attempts: 2, baseDelayMs: 5, deadlineMs: 2000 } });
      console.log('good', m.buffer[1]);
      const e = await m.load(${3 * chunk}, 1).catch((err) => err);
      console.log(e.code, inspect(e, { depth: 10 }), JSON.stringify(m.stats()));
      console.error(e.stack);
      console.log('bad', m.buffer[${3 * chunk + 9}]);
    `, { env: { AWS_ACCESS_KEY_ID: temp.accessKeyId, AWS_SECRET_ACCESS_KEY: temp.secretAccessKey, AWS_SESSION_TOKEN: temp.sessionToken || undefined, AWS_REGION: s3.region } });
    await tp.reset();
    expect(r.signal, r.stderr).toBe('SIGBUS');
    expect(r.stdout).toContain(`good ${body[1]}`);
    expect(r.stdout).toContain('InternalError');
    expect(r.stderr).toMatch(/could not be read \(InternalError\)/);
    expectClean([r.stdout, r.stderr], [temp.secretAccessKey, temp.sessionToken, s3.secretAccessKey]);
  });
});

describe.skipIf(s3.external)('https endpoints', () => {
  let dir: string;
  let server: MinioServer;
  let ca: string;
  const body = content(0, 5 * chunk + 77, 41);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3mmap-tls-'));
    // A self-signed certificate for 127.0.0.1, as MinIO wants it in --certs-dir.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'private.key'), '-out', join(dir, 'public.crt'),
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    ca = join(dir, 'public.crt');
    server = await startMinio({ certsDir: dir });
    expect(server.endpoint).toMatch(/^https:/);
    const client = new S3Client({
      endpoint: server.endpoint, region: server.region, forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: readFileSync(ca) }) }),
    });
    await createBucket(client, 'tls');
    await putObject(client, 'tls', 'obj', body);
    client.destroy();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const creds = () => ({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });

  it('the caBundle option: exact bytes over TLS', async () => {
    const m = await mapObject('s3://tls/obj', { endpoint: server.endpoint, region: server.region, credentials: creds(), caBundle: ca });
    try {
      expect(sha256(m.buffer)).toBe(sha256(body));
    } finally {
      await m.close();
    }
  });

  for (const variable of ['AWS_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS']) {
    it(`${variable} in the environment (child process): exact bytes over TLS`, async () => {
      const r = await runChild(`
        import { createHash } from 'node:crypto';
        import { mapObject } from S3MMAP_LIB;
        const m = await mapObject('s3://tls/obj', { endpoint: ${JSON.stringify(server.endpoint)}, region: 'us-east-1', credentials: ${JSON.stringify(creds())} });
        console.log(createHash('sha256').update(m.buffer).digest('hex'));
      `, { env: { AWS_CA_BUNDLE: '', NODE_EXTRA_CA_CERTS: '', [variable]: ca } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(sha256(body));
    });
  }

  it('an unknown CA: one line naming the TLS failure and the options that fix it; nothing mapped', async () => {
    const err = await mapObject('s3://tls/obj', { endpoint: server.endpoint, region: server.region, credentials: creds() }).then(() => undefined, (e) => e);
    expect(err?.code).toMatch(/^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)$/);
    // By Node's roots, or by the bundle AWS_CA_BUNDLE names where the machine sets one (this one does).
    const by = process.env.AWS_CA_BUNDLE ? `the CA bundle '${process.env.AWS_CA_BUNDLE}' (AWS_CA_BUNDLE)` : "Node's built-in CAs";
    expect(err.message.startsWith(`s3mmap: the TLS certificate of ${server.endpoint} is not trusted by ${by} (`)).toBe(true);
    expect(err.message).toMatch(/^s3mmap: the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted by .* \(.*\); for a private CA set AWS_CA_BUNDLE or the caBundle option to its PEM file, or add it with NODE_EXTRA_CA_CERTS$/);
    expect(err.message).not.toMatch(/\n/);
  });

  it('a CA bundle that cannot be read, or holds no certificate, is refused with its path (and ignored for http)', async () => {
    const missing = await mapObject('s3://tls/obj', { endpoint: server.endpoint, credentials: creds(), caBundle: join(dir, 'nope.pem') }).then(() => undefined, (e) => e);
    expect(missing).toMatchObject({ code: 'ENOENT', message: expect.stringMatching(/cannot read the CA bundle '.*nope\.pem' named by caBundle \(ENOENT\)/) });
    const notPem = await mapObject('s3://tls/obj', { endpoint: server.endpoint, credentials: creds(), caBundle: join(dir, 'private.key') }).then(() => undefined, (e) => e);
    expect(notPem).toMatchObject({ code: 'InvalidCABundle' });
    // A bundle set for the whole machine does not matter to a plain-http endpoint.
    const plain = await mapObject('s3://no-such-bucket-tls/obj', { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, caBundle: join(dir, 'nope.pem') }).then(() => undefined, (e) => e);
    expect(plain?.code).toBe('NoSuchBucket');
  });
});
