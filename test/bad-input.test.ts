// Bad input: each case fails with one clear line and the right `code`, and
// leaves nothing behind: no region mapped, no userfaultfd, socket or other fd
// left open (read from /proc/self and the addon's own count). docs/failures.md's
// "What happens when things fail" lists these messages.
//
// Runs in a vitest fork, main thread (the proxy it uses runs on its own worker
// thread). Cases that change the process itself (no userfaultfd, an address-
// space limit) or end it (SIGBUS) run in child processes.
import { execFileSync } from 'node:child_process';
import { constants as bufferConstants } from 'node:buffer';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapBytes, mapObject, mapSource, S3MmapError, type S3MapOptions } from '../dist/lib/index.js';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { runChild } from './helpers/child.js';
import { pseudoRandom, sha256 } from './helpers/content.js';
import { resources, settledResources, type ProcessResources } from './helpers/leaks.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';
import { assumeRole } from './helpers/sts.js';

const s3 = testS3();
const chunk = 64 * 1024;
/** Private writable memory of this process (and its fault worker): what fork must be able to commit. */
function vmDataBytes(): number {
  const kib = /^VmData:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!kib) throw new Error('no VmData in /proc/self/status');
  return Number(kib[1]) * 1024;
}

const sizedSource = fileURLToPath(new URL('./fixtures/sized-source.mjs', import.meta.url));
let bucket: string;
let tp: ThreadProxy;
const opts = (extra: S3MapOptions = {}): S3MapOptions => ({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, ...extra });

beforeAll(async () => {
  bucket = await s3.uniqueBucket('badinput');
  await putObject(s3.client(), bucket, 'small', pseudoRandom(4 * chunk, 3));
  tp = await startThreadProxy();
  // Warm up: the fault worker and the SDK are loaded, so what they hold for
  // the life of the process is in every baseline below.
  const m = await mapObject(`s3://${bucket}/small`, opts());
  expect(m.buffer[0]).toBe(pseudoRandom(4 * chunk, 3)[0]);
  await m.close();
});
afterAll(async () => tp?.close());

/** Runs `attempt`, expects an S3MmapError with `code` and one line matching
 *  `text`, and that the process holds no more than before. */
async function refused(attempt: () => Promise<unknown>, code: string, text: RegExp): Promise<S3MmapError> {
  const before = resources();
  const err = await attempt().then(() => undefined, (e: unknown) => e);
  expect(err, 'expected a rejection').toBeInstanceOf(S3MmapError);
  const e = err as S3MmapError;
  expect(e.code).toBe(code);
  expect(e.message).toMatch(/^s3mmap: /);
  expect(e.message).not.toMatch(/[\r\n]/);
  expect(e.message).toMatch(text);
  expectNothingLeft(before, await settledResources(before));
  return e;
}

function expectNothingLeft(before: ProcessResources, after: ProcessResources): void {
  expect(after.regions).toBe(before.regions);
  expect(after.uffds).toBe(before.uffds);
  expect(after.readOnlyAnon).toBe(before.readOnlyAnon);
  expect(after.sockets).toBeLessThanOrEqual(before.sockets);
  expect(after.fds).toBeLessThanOrEqual(before.fds);
}

describe('refused before anything is mapped', () => {
  it('an invalid URL: InvalidURL, saying the expected form', async () => {
    for (const url of ['http://bucket/key', 's3://', 's3://bucket', 's3://Bad_Bucket/key', 'bucket/key']) {
      await refused(() => mapObject(url, opts()), 'InvalidURL', /write it as s3:\/\/bucket\/key/);
    }
    await refused(() => mapObject(`s3://${bucket}/small`, opts({ endpoint: 'ftp://user:pw@host/' })), 'InvalidURL', /bad S3 endpoint 'ftp:\/\/host\/'/);
  });

  it('a missing bucket: NoSuchBucket', async () => {
    await refused(() => mapObject('s3://s3mmap-no-such-bucket-here/key', opts()), 'NoSuchBucket', /no such bucket 's3mmap-no-such-bucket-here'/);
  });

  it('a missing key: NoSuchKey', async () => {
    await refused(() => mapObject(`s3://${bucket}/no/such/key`, opts()), 'NoSuchKey', /no such key 'no\/such\/key'/);
  });

  it('access denied: AccessDenied for credentials without s3:GetObject, SignatureDoesNotMatch for a wrong secret', async (ctx) => {
    const wrong = 'wrong-secret-' + Date.now();
    const e = await refused(
      () => mapObject(`s3://${bucket}/small`, opts({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: wrong } })),
      'SignatureDoesNotMatch', /rejected the request signature/,
    );
    expect(e.message).not.toContain(wrong);
    if (s3.external) ctx.skip();
    const temp = await assumeRole(s3, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:ListAllMyBuckets'], Resource: ['arn:aws:s3:::*'] }] });
    const d = await refused(() => mapObject(`s3://${bucket}/small`, opts({ credentials: temp })), 'AccessDenied', /access denied to .* allows s3:GetObject/);
    for (const secret of [temp.secretAccessKey, temp.sessionToken]) expect(d.message).not.toContain(secret);
  });

  it('an endpoint that refuses connections: ECONNREFUSED, promptly', async () => {
    const t0 = Date.now();
    await refused(() => mapObject(`s3://${bucket}/small`, opts({ endpoint: 'http://127.0.0.1:9' })), 'ECONNREFUSED', /connection refused by http:\/\/127\.0\.0\.1:9/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('an endpoint that does not resolve: ENOTFOUND', async () => {
    await refused(() => mapObject(`s3://${bucket}/small`, opts({ endpoint: 'http://no-such-host.invalid:9000' })), 'ENOTFOUND', /cannot resolve the S3 endpoint host 'no-such-host\.invalid'/);
  });

  it('a chunk size that is not a positive page multiple: EINVAL, before any request', async () => {
    for (const chunkSize of [0, 1000, 4097, '1.5k']) {
      await refused(() => mapBytes(new Uint8Array(10), { chunkSize }), 'EINVAL', /chunk size \d+ is not a positive multiple of the page size \(4096\); use e\.g\. 64k, 1m or 8m/);
    }
    for (const chunkSize of ['12q', -4096]) {
      await refused(() => mapBytes(new Uint8Array(10), { chunkSize }), 'EINVAL', /invalid chunk size '-?\w+'; use bytes or a unit/);
    }
    // Checked before the endpoint is contacted: a refused endpoint is not what it reports.
    await tp.reset();
    await refused(() => mapObject(`s3://${bucket}/small`, opts({ endpoint: tp.endpoint, chunkSize: 1000 })), 'EINVAL', /multiple of the page size/);
    expect((await tp.stats()).requests).toBe(0);
  });

  it('an object larger than the address space: ENOMEM at 2^50 bytes; just past one Buffer it maps, and buffer names view()', async () => {
    // 2^50 bytes is past the 128 TiB of user address space on every Node.
    const dataBefore = vmDataBytes();
    await refused(() => mapSource({ kind: 'module', path: sizedSource, options: { size: 2 ** 50 } }), 'ENOMEM', /cannot reserve .* of address space .*\(mmap: ENOMEM\)/);
    // Nothing sized by the object (its per-chunk state is 16 GiB here) is left
    // committed by the refusal: that would make the next fork fail.
    expect(vmDataBytes() - dataBefore).toBeLessThan(256 * 2 ** 20);
    // Where one Buffer holds 2^53 - 1 bytes, nothing is past it that mmap allows.
    if (bufferConstants.MAX_LENGTH >= 2 ** 47) return;
    const size = bufferConstants.MAX_LENGTH + 1;
    const m = await mapSource({ kind: 'module', path: sizedSource, options: { size } });
    try {
      expect(() => m.buffer).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_TOO_LARGE', message: expect.stringMatching(/more than one Buffer holds in Node\.js v[\d.]+ .*mapping\.view\(offset, length\).*Node\.js 22 or later/) }));
      expect(m.view(size - 1, 1).length).toBe(1);
    } finally {
      await m.close();
    }
  });

  // Where a Buffer may be larger than the address space. On Node 20 (4 GiB
  // Buffers) ENOMEM is reached under ulimit -v instead, in the test below.
  it.skipIf(bufferConstants.MAX_LENGTH < 2 ** 50)('an object larger than the address space (2^50 bytes, past the 128 TiB of user space): ENOMEM', async () => {
    await refused(() => mapSource({ kind: 'module', path: sizedSource, options: { size: 2 ** 50 } }), 'ENOMEM', /cannot reserve .* of address space .*\(mmap: ENOMEM\)/);
  });
});

describe('not an error', () => {
  it('an object of size 0 maps to an empty Buffer: nothing mapped, no GET', async () => {
    await putObject(s3.client(), bucket, 'empty', Buffer.alloc(0));
    const before = resources();
    const m = await mapObject(`s3://${bucket}/empty`, opts());
    expect(m.size).toBe(0);
    expect(m.buffer.length).toBe(0);
    expect(resources()).toMatchObject({ regions: before.regions, uffds: before.uffds, readOnlyAnon: before.readOnlyAnon });
    await m.load();
    expect(m.isResident()).toBe(true);
    expect(() => m.share()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    await m.close();
    expectNothingLeft(before, await settledResources(before));
    // Seen by the server side: a HEAD and nothing else.
    await tp.reset();
    const viaProxy = await mapObject(`s3://${bucket}/empty`, opts({ endpoint: tp.endpoint }));
    await viaProxy.load();
    await viaProxy.close();
    expect((await tp.stats()).byMethod).toEqual({ HEAD: 1 });
  });
});

describe('an object replaced while mapped (If-Match → 412)', () => {
  it('load() rejects with ObjectChanged; a raw touch in a child raises SIGBUS naming it; no byte of the new version is read', async () => {
    const v1 = pseudoRandom(8 * chunk, 11);
    const admin = s3.client();
    await putObject(admin, bucket, 'replaced', v1);
    const before = resources();
    const m = await mapObject(`s3://${bucket}/replaced`, opts({ readahead: 0 }));
    expect(sha256(m.buffer.subarray(0, chunk))).toBe(sha256(v1.subarray(0, chunk)));

    // The child maps v1 too, says so with a file, and touches chunk 5 once told the object changed.
    const sync = mkdtempSync(join(tmpdir(), 's3mmap-412-'));
    const child = runChild(`
      import { existsSync, writeFileSync } from 'node:fs';
      import { mapObject } from S3MMAP_LIB;
      const m = await mapObject(${JSON.stringify(`s3://${bucket}/replaced`)}, ${JSON.stringify(opts({ readahead: 0 }))});
      console.log('first', m.buffer[1]);
      writeFileSync(${JSON.stringify(join(sync, 'mapped'))}, '');
      while (!existsSync(${JSON.stringify(join(sync, 'changed'))})) await new Promise((r) => setTimeout(r, 20));
      console.log('changed', m.buffer[${5 * chunk + 3}]);
    `);
    while (!existsSync(join(sync, 'mapped'))) await new Promise((r) => setTimeout(r, 20));
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: 'replaced', Body: Buffer.alloc(8 * chunk, 0xee) }));
    writeFileSync(join(sync, 'changed'), '');

    const err = await m.load(5 * chunk, 10).then(() => undefined, (e) => e);
    expect(err).toMatchObject({ code: 'ObjectChanged', status: 412 });
    expect(err.message).toMatch(/^s3mmap: s3:\/\/\S+ changed after it was mapped \(ETag "[0-9a-f]+" → now different\); remap it to read the new version$/);
    expect(sha256(m.buffer.subarray(0, chunk))).toBe(sha256(v1.subarray(0, chunk)));
    await m.close();

    const r = await child;
    // Measured once the child (its stdio pipes) and our own upload client are gone.
    admin.destroy();
    expectNothingLeft(before, await settledResources(before));
    expect(r.signal, r.stderr).toBe('SIGBUS');
    expect(r.stdout).toContain(`first ${v1[1]}`);
    expect(r.stdout).not.toContain('changed');
    rmSync(sync, { recursive: true, force: true });
    expect(r.stderr).toMatch(new RegExp(`^s3mmap: bytes ${5 * chunk}-${6 * chunk - 1} of s3://${bucket}/replaced could not be read \\(ObjectChanged\\); touching them raises SIGBUS`, 'm'));
  });
});

describe('the process cannot map (child processes)', () => {
  const report = `
    const { readdirSync, readlinkSync } = await import('node:fs');
    const { native } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
    const uffds = () => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[userfaultfd]'; } catch { return false; } }).length;
  `;

  for (const code of ['EPERM', 'ENOSYS'] as const) {
    it(`userfaultfd unavailable (${code}, simulated by S3MMAP_SIMULATE_UFFD_ERROR): one line with the remedy, nothing mapped`, async () => {
      const r = await runChild(`
        import { mapBytes } from S3MMAP_LIB;
        ${report}
        const out = {};
        try { await mapBytes(new Uint8Array(4096)); } catch (e) { Object.assign(out, { code: e.code, message: e.message }); }
        console.log(JSON.stringify({ ...out, regions: native.liveRegions(), uffds: uffds() }));
      `, { env: { S3MMAP_SIMULATE_UFFD_ERROR: code } });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ code, regions: 0, uffds: 0 });
      expect(out.message).toMatch(code === 'EPERM' ? /not permitted \(EPERM\).*seccomp/ : /not available \(ENOSYS\).*seccomp/);
      expect(out.message).not.toMatch(/\n/);
    });
  }

  describe.skipIf(process.arch !== 'x64' && process.arch !== 'arm64')('under a real seccomp filter (test/fixtures/deny-uffd.c)', () => {
    let dir: string;
    let denyUffd: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 's3mmap-seccomp-'));
      denyUffd = join(dir, 'deny-uffd');
      execFileSync('cc', ['-O2', '-o', denyUffd, fileURLToPath(new URL('./fixtures/deny-uffd.c', import.meta.url))]);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const attempt = `
      import { mapBytes, uffdInfo } from S3MMAP_LIB;
      ${report}
      const out = { info: uffdInfo() };
      try {
        const m = await mapBytes(new Uint8Array(8192).fill(7));
        Object.assign(out, { mode: m.mode, byte: m.buffer[5000] });
        await m.close();
      } catch (e) { Object.assign(out, { code: e.code, message: e.message }); }
      console.log(JSON.stringify({ ...out, regions: native.liveRegions(), uffds: uffds() }));
    `;

    for (const code of ['EPERM', 'ENOSYS']) {
      it(`userfaultfd(2) and /dev/userfaultfd both denied (${code}): one line naming seccomp, nothing mapped`, async () => {
        const r = await runChild(attempt, { prefix: [denyUffd, code, 'all'] });
        expect(r.code, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out).toMatchObject({ code, regions: 0, uffds: 0, info: { available: false, code } });
        expect(out.message).toMatch(/^s3mmap: userfaultfd is not (permitted|available) \(E\w+\).*seccomp.*--security-opt seccomp=unconfined/);
        if (process.getuid?.() === 0 && code === 'EPERM') expect(out.message).toMatch(/even for root, so a seccomp filter or a security module blocks it/);
        expect(out.message).not.toMatch(/\n/);
      });
    }

    it.skipIf(!existsSync('/dev/userfaultfd') || process.getuid?.() !== 0)('only the syscall denied: falls back to /dev/userfaultfd in full mode and maps', async () => {
      const r = await runChild(attempt, { prefix: [denyUffd, 'EPERM', 'syscall'] });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ info: { available: true, via: '/dev/userfaultfd', mode: 'full' }, mode: 'full', byte: 7, regions: 0 });
    });
  });

  it('more than the address space allows (ulimit -v): ENOMEM in one line; a mapping that fits still works', async () => {
    const limit = 3 * 1024 ** 3;
    const r = await runChild(`
      import { mapSource } from S3MMAP_LIB;
      import { content } from ${JSON.stringify(new URL('./fixtures/content.mjs', import.meta.url).href)};
      ${report}
      const spec = (size) => ({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size, seed: 9 } });
      const out = {};
      try { await mapSource(spec(2 * 1024 ** 3)); out.mapped = true; } catch (e) { Object.assign(out, { code: e.code, message: e.message }); }
      Object.assign(out, { regions: native.liveRegions(), uffds: uffds() });
      const small = await mapSource(spec(16 * 1024 * 1024));
      out.smallOk = small.buffer.subarray(12345, 99999).equals(content(12345, 99999 - 12345, 9));
      await small.close();
      console.log(JSON.stringify(out));
    `, { prefix: ['prlimit', `--as=${limit}`] });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ code: 'ENOMEM', regions: 0, uffds: 0, smallOk: true });
    expect(out.mapped).toBeUndefined();
    expect(out.message).toMatch(/^s3mmap: cannot reserve 2\.00 GiB of address space for \S+ \(mmap: ENOMEM\); the process address-space limit \(ulimit -v\)/);
    expect(out.message).not.toMatch(/\n/);
  });
});
