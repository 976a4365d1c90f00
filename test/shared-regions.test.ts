// Shared regions against a real MinIO, with real processes: N processes that
// map one object hold one copy (the sum of their mappings' Pss from
// /proc/PID/smaps) and fetch it once (bytes at the proxy); a process that
// maps it after another read it sends no GET but its open's; the shared pages file goes
// with the last process, and after kill -9 with the next one's sweep; a
// tmpfs too small falls back to private memory with exact bytes; another
// user cannot open the pages; an eviction in one process is followed by
// exact reads in another. Every mapping lives in a child process; bytes
// are compared with sha256 of the object as put.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { distLib, runChild, type ChildResult } from './helpers/child.js';
import { pseudoRandom, sha256, tempDir } from './helpers/content.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
const sharedSource = fileURLToPath(new URL('./fixtures/shared-source.mjs', import.meta.url));
const contentModule = new URL('./fixtures/content.mjs', import.meta.url).href;
const MiB = 1024 * 1024;
const tmp = tempDir('s3mmap-shared-');
/** This file's own shared memory directory: other test files use the default one. */
const shmDir = `/dev/shm/s3mmap-test-${process.pid}`;
let bucket: string;
let tp: ThreadProxy;

beforeAll(async () => {
  bucket = await s3.uniqueBucket('shared');
  tp = await startThreadProxy();
});
afterAll(async () => {
  await tp?.close();
  tmp.cleanup();
  spawnSync('rm', ['-rf', shmDir]);
});

interface ChildOut {
  sha: string;
  again: string | null;
  pssKiB: number;
  vmFlags: string;
  stats: { shared: boolean; sharedNote: string | null; bytesFetched: number; fetches: number; sharedHits: number; sharedWaits: number; sharedEvictions: number; sharedFallbacks: number };
}

/**
 * A child maps the object, waits at barrier files so that all N map before
 * any reads and all have read before any measures, hashes the whole object,
 * reads its mapping's Pss while every process still maps it, then closes.
 * The mapping's VMA is the one exactly as long as the object in whole pages.
 */
const CHILD = `
  import { mapObject } from S3MMAP_LIB;
  import { createHash } from 'node:crypto';
  import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
  const c = JSON.parse(process.env.S3MMAP_TEST_CHILD);
  const barrier = async (name) => {
    writeFileSync(c.sync + '/' + name + '-' + process.pid, '');
    while (readdirSync(c.sync).filter((f) => f.startsWith(name + '-')).length < c.n) await new Promise((r) => setTimeout(r, 5));
  };
  const m = await mapObject('s3://' + c.bucket + '/' + c.key, { ...c.client, ...c.options });
  await barrier('mapped');
  const sha = createHash('sha256').update(m.buffer).digest('hex');
  await barrier('read');
  let again = null;
  if (c.evictAll) {
    // The process with the lowest pid evicts the whole object for everyone; then both read it all again.
    const pids = readdirSync(c.sync).filter((f) => f.startsWith('read-')).map((f) => Number(f.slice(5))).sort((a, b) => a - b);
    if (pids[0] === process.pid) await m.evict(0, m.size);
    await barrier('evicted');
    again = createHash('sha256').update(m.buffer).digest('hex');
  }
  const length = Math.ceil(m.size / 4096) * 4096;
  let pssKiB = -1;
  let vmFlags = '';
  let inRange = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (head) inRange = parseInt(head[2], 16) - parseInt(head[1], 16) === length;
    else if (inRange && line.startsWith('Pss:')) pssKiB = Number(/(\\d+)/.exec(line)[1]);
    else if (inRange && line.startsWith('VmFlags:')) vmFlags = line.slice(8).trim();
  }
  await barrier('measured');
  if (c.readyFile) writeFileSync(c.readyFile, '');
  if (c.holdUntil) while (!existsSync(c.holdUntil)) await new Promise((r) => setTimeout(r, 5));
  if (c.reread) {
    // Read again after the others: what was punched out comes back exact.
    again = createHash('sha256').update(m.buffer).digest('hex');
  }
  await m.close();
  console.log(JSON.stringify({ sha, again, pssKiB, vmFlags, stats: m.stats() }));
`;

interface Run {
  key: string;
  n: number;
  options?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  evictAll?: boolean;
  readyFile?: string;
  reread?: boolean;
  holdUntil?: string;
}

let runs = 0;
function env(r: Run): NodeJS.ProcessEnv {
  const sync = join(tmp.dir, `sync-${runs++}`);
  mkdirSync(sync);
  const client = { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials };
  return { S3MMAP_TEST_CHILD: JSON.stringify({ bucket, client, sync, ...r }), S3MMAP_SHM_DIR: shmDir, S3MMAP_CACHE_DIR: '', ...r.env };
}

function parse(r: ChildResult): ChildOut {
  if (r.code !== 0) throw new Error(`child failed (${r.code ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildOut;
}

async function readTogether(r: Run): Promise<ChildOut[]> {
  const e = env(r);
  const results = await Promise.all(Array.from({ length: r.n }, () => runChild(CHILD, { env: e, timeoutMs: 90_000 })));
  return results.map(parse);
}

const pagesFiles = (dir = shmDir) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.pages')) : []);

describe('shared regions', () => {
  it("4 processes reading one object hold one copy (Pss) and fetch it once; a later process sends only its open's GET; the file goes with the last", async () => {
    const size = 24 * MiB + 12345;
    const body = pseudoRandom(size, 71);
    await putObject(s3.client(), bucket, 'four', body);
    await tp.reset();
    const hold = join(tmp.dir, 'hold-four');
    // The first four read together; a fifth maps the object while they still hold it, after they read.
    const together = readTogether({ key: 'four', n: 4, holdUntil: hold });
    while (pagesFiles().length === 0 || readdirSync(join(tmp.dir, `sync-${runs - 1}`)).filter((f) => f.startsWith('measured-')).length < 4) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const four = await tp.stats();
    const logged = (await tp.log()).length;
    const [late] = await readTogether({ key: 'four', n: 1 });
    const lateLog = (await tp.log()).slice(logged);
    writeFileSync(hold, '');
    const outs = await together;

    for (const o of [...outs, late]) expect(o.sha).toBe(sha256(body));
    for (const o of outs) {
      expect(o.stats.shared).toBe(true);
      // Not inherited by a forked child, which would read missing pages as zeros (rule 11).
      expect(o.vmFlags.split(' ')).toContain('dc');
    }
    const pss = outs.reduce((a, o) => a + o.pssKiB, 0) * 1024;
    console.log(`4 processes: Pss sum ${(pss / MiB).toFixed(2)} MiB for a ${(size / MiB).toFixed(2)} MiB object (${(pss / size).toFixed(3)}x); S3 bytes ${(four.bytesSent / MiB).toFixed(2)} MiB (${(four.bytesSent / size).toFixed(3)}x) in ${four.rangedGets} GETs`);
    expect(pss).toBeLessThanOrEqual(1.1 * size);
    expect(four.bytesSent).toBeLessThanOrEqual(1.05 * size);
    expect(four.bytesSent).toBeGreaterThanOrEqual(size);
    // The late process found every page in shared memory: its one request
    // was the open's pin, which asks for the first chunk (64 KiB) before the
    // ETag that names the shared file is known.
    expect(lateLog.map((e) => [e.method, e.range])).toEqual([['GET', `bytes=0-${64 * 1024 - 1}`]]);
    expect(late.stats.fetches).toBe(0);
    expect(late.stats.bytesFetched).toBe(0);
    // The last to close removed the file.
    expect(pagesFiles()).toEqual([]);
  });

  it('with shared: false each process holds its own copy: the same measure sees 4 copies', async () => {
    const size = 8 * MiB + 4321;
    const body = pseudoRandom(size, 72);
    await putObject(s3.client(), bucket, 'private', body);
    await tp.reset();
    const outs = await readTogether({ key: 'private', n: 4, options: { shared: false } });
    for (const o of outs) {
      expect(o.sha).toBe(sha256(body));
      expect(o.stats.shared).toBe(false);
      expect(o.stats.sharedNote).toBe('off (shared: false)');
    }
    const pss = outs.reduce((a, o) => a + o.pssKiB, 0) * 1024;
    const st = await tp.stats();
    console.log(`4 private mappings: Pss sum ${(pss / MiB).toFixed(2)} MiB for a ${(size / MiB).toFixed(2)} MiB object (${(pss / size).toFixed(3)}x); S3 bytes ${(st.bytesSent / size).toFixed(3)}x in ${st.rangedGets} GETs`);
    expect(pss).toBeGreaterThan(3.9 * size);
    expect(st.bytesSent).toBeGreaterThanOrEqual(4 * size);
  });

  it('after kill -9 of every process the file stays until the next process sweeps it', async () => {
    const size = 4 * MiB + 100;
    const body = pseudoRandom(size, 73);
    await putObject(s3.client(), bucket, 'killed', body);
    const e = env({ key: 'killed', n: 2, holdUntil: join(tmp.dir, 'never') });
    const children = [0, 1].map(() => spawnChild(e));
    while (readdirSync(JSON.parse(e.S3MMAP_TEST_CHILD!).sync).filter((f) => f.startsWith('measured-')).length < 2) await new Promise((r) => setTimeout(r, 20));
    const left = pagesFiles();
    expect(left.length).toBe(1);
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map((c) => new Promise((r) => c.on('close', r))));
    expect(pagesFiles()).toEqual(left);
    expect(statSync(join(shmDir, left[0])).blocks * 512).toBeGreaterThanOrEqual(size);
    // Another object's mapping sweeps it.
    await putObject(s3.client(), bucket, 'sweeper', pseudoRandom(MiB, 74));
    const [o] = await readTogether({ key: 'sweeper', n: 1 });
    expect(o.sha).toBe(sha256(pseudoRandom(MiB, 74)));
    expect(pagesFiles()).toEqual([]);
  });

  it('a tmpfs too small for the object: private memory, exact bytes, and stats say why', async (ctx) => {
    await withTmpfs(ctx, 'small-shm', async (mnt) => {
      const size = 6 * MiB + 77;
      const body = pseudoRandom(size, 75);
      await putObject(s3.client(), bucket, 'small', body);
      const outs = await readTogether({ key: 'small', n: 2, env: { S3MMAP_SHM_DIR: join(mnt, 'pages') } });
      for (const o of outs) {
        expect(o.sha).toBe(sha256(body));
        expect(o.stats.shared).toBe(false);
        expect(o.stats.sharedNote).toMatch(/larger than the shared memory cap/);
      }
      // Without the cap check the copy into the full tmpfs fails: sharedSize past the tmpfs is clamped to it.
      const big = await readTogether({ key: 'small', n: 1, options: { sharedSize: '1g' }, env: { S3MMAP_SHM_DIR: join(mnt, 'pages') } });
      expect(big[0].sha).toBe(sha256(body));
      expect(big[0].stats.shared).toBe(false);
    });
  });

  it('the cap holds for all shared pages of the user: another object\'s least recently installed chunks are punched out, and come back exact', async () => {
    const size = 3 * MiB;
    const x = pseudoRandom(size, 79);
    const y = pseudoRandom(size, 80);
    await putObject(s3.client(), bucket, 'cap-x', x);
    await putObject(s3.client(), bucket, 'cap-y', y);
    const cap = 4 * MiB;
    const ready = join(tmp.dir, 'cap-x-ready');
    const hold = join(tmp.dir, 'cap-x-hold');
    // X is read and held; then Y is read under the same cap: 6 MiB do not fit in 4.
    const first = readTogether({ key: 'cap-x', n: 1, options: { sharedSize: cap, cacheSize: 0 }, readyFile: ready, holdUntil: hold, reread: true });
    while (!existsSync(ready)) await new Promise((r) => setTimeout(r, 20));
    const [second] = await readTogether({ key: 'cap-y', n: 1, options: { sharedSize: cap, cacheSize: 0 }, readyFile: join(tmp.dir, 'cap-y-ready'), holdUntil: ready });
    expect(second.sha).toBe(sha256(y));
    expect(second.stats.sharedEvictions).toBeGreaterThan(0);
    // Y is closed and its file gone; what X's file holds now is what the pass left of it.
    const held = pagesFiles().reduce((a, f) => a + statSync(join(shmDir, f)).blocks * 512, 0);
    expect(held).toBeLessThan(size);
    writeFileSync(hold, '');
    const [xs] = await first;
    expect(xs.sha).toBe(sha256(x));
    expect(xs.again).toBe(sha256(x));
  });

  it('the kernel reads shared pages: write(2) from cold pages in full mode; in user-only mode after load() and prefetch()', async () => {
    const size = 4 * MiB;
    const body = pseudoRandom(size, 81);
    await putObject(s3.client(), bucket, 'kernel', body);
    const r = await runChild(KERNEL_CHILD, { env: env({ key: 'kernel', n: 1 }), timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ fullShared: true, userShared: true, refused: 'ENOTRESIDENT', fullWrite: sha256(body), userWrite: sha256(body), userFetched: size });
  });

  it('a shared region whose fault worker dies: the thread in its fault ends in SIGSEGV, never zeros; another process then reads every byte', async () => {
    const key = `dying-${process.pid}`;
    const map = (extra: string) => `
      import { mapSource } from S3MMAP_LIB;
      import { content } from ${JSON.stringify(contentModule)};
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sharedSource)}, options: { size: ${4 * MiB}, seed: 82, key: '${key}'${extra} } }, { readahead: 0 });
      if (!m.stats().shared) throw new Error('not shared: ' + m.stats().sharedNote);
    `;
    const dying = await runChild(`${map(', dieAfter: 2')}
      console.log('first', m.buffer[10] === content(10, 1, 82)[0]);
      console.log('never', m.buffer[${2 * MiB}]);
    `, { env: { S3MMAP_SHM_DIR: shmDir }, timeoutMs: 30_000 });
    expect(dying.signal, dying.stderr).toBe('SIGSEGV');
    expect(dying.stdout.trim()).toBe('first true');
    const after = await runChild(`${map('')}
      const want = content(0, m.size, 82);
      console.log(Buffer.compare(m.buffer, want) === 0 ? 'exact' : 'differs');
      await m.close();
    `, { env: { S3MMAP_SHM_DIR: shmDir }, timeoutMs: 30_000 });
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout.trim()).toBe('exact');
    // The dead process's file was swept by the second, which removed its own on close.
    expect(pagesFiles()).toEqual([]);
  });

  it('a tmpfs that fills up mid-run: room is made for everyone, and with nothing to free the chunks go private; never SIGBUS, exact bytes', async (ctx) => {
    await withTmpfs(ctx, 'full-shm', async (mnt) => {
      const size = 2 * MiB + 4097;
      const body = pseudoRandom(size, 78);
      await putObject(s3.client(), bucket, 'full', body);
      const run = { key: 'full', n: 1, options: { sharedSize: '4m', cacheSize: 0 }, env: { S3MMAP_SHM_DIR: join(mnt, 'pages') } };
      // 1 MiB free: about half fits, then UFFDIO_COPY answers ENOMEM and the oldest chunks are punched out.
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(3 * MiB, 1));
      const [half] = await readTogether(run);
      expect(half.sha).toBe(sha256(body));
      expect(half.stats.shared).toBe(true);
      expect(half.stats.sharedEvictions).toBeGreaterThan(0);
      // Less than a chunk free and nothing of ours to punch: every chunk goes into private memory.
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(4 * MiB - 16 * 1024, 1));
      const [none] = await readTogether(run);
      expect(none.sha).toBe(sha256(body));
      expect(none.stats.shared).toBe(true);
      expect(none.stats.sharedFallbacks).toBe(Math.ceil(size / (64 * 1024)));
    });
  });

  it('another user can neither open the pages nor the directory', async (ctx) => {
    if (process.geteuid?.() !== 0) return ctx.skip('running a child as nobody needs root');
    const size = 2 * MiB;
    await putObject(s3.client(), bucket, 'private-to-user', pseudoRandom(size, 76));
    const hold = join(tmp.dir, 'hold-user');
    const e = env({ key: 'private-to-user', n: 1, holdUntil: hold });
    const child = spawnChild(e);
    while (pagesFiles().length === 0) await new Promise((r) => setTimeout(r, 20));
    const file = join(shmDir, pagesFiles()[0]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(shmDir).mode & 0o777).toBe(0o700);
    // As nobody: read, write and list are all refused.
    const probe = `for (const [p, f] of ${JSON.stringify([[file, 'r'], [file, 'r+']])}) { try { require('fs').openSync(p, f); console.log('opened ' + f); } catch (e) { console.log(e.code); } } try { require('fs').readdirSync(${JSON.stringify(shmDir)}); console.log('listed'); } catch (e) { console.log(e.code); }`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', probe], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      writeFileSync(hold, '');
      await new Promise((res) => child.on('close', res));
      return ctx.skip(`setpriv failed: ${r.error?.message ?? r.stderr}`);
    }
    expect(r.stdout.trim().split('\n')).toEqual(['EACCES', 'EACCES', 'EACCES']);
    writeFileSync(hold, '');
    await new Promise((res) => child.on('close', res));
  });

  it('an eviction in one process (holes punched) is followed by exact re-reads in another', async () => {
    const size = 6 * MiB + 999;
    const body = pseudoRandom(size, 77);
    await putObject(s3.client(), bucket, 'evict', body);
    await tp.reset();
    // No chunk cache: an evicted chunk can only come back from S3.
    const outs = await readTogether({ key: 'evict', n: 2, evictAll: true, options: { cacheSize: 0 } });
    for (const o of outs) {
      expect(o.sha).toBe(sha256(body));
      expect(o.again).toBe(sha256(body));
    }
    // Fetched twice in all: once before the eviction, once after.
    const st = await tp.stats();
    expect(st.bytesSent).toBeGreaterThanOrEqual(2 * size);
    expect(st.bytesSent).toBeLessThanOrEqual(2.1 * size);
  });

  it('a fill fetches only what no other process installed: the half another process loaded is never asked of S3 again', async () => {
    const size = 4 * MiB + 777;
    const half = 2 * MiB;
    const body = pseudoRandom(size, 78);
    await putObject(s3.client(), bucket, 'fill', body);
    const ready = join(tmp.dir, 'ready-fill');
    const hold = join(tmp.dir, 'hold-fill');
    const e = env({ key: 'fill', n: 1 });
    const holder = runChild(FILL_CHILD, { env: { ...e, FILL_ROLE: JSON.stringify({ load: half, ready, hold }) }, timeoutMs: 60_000 });
    while (!existsSync(ready)) await new Promise((r) => setTimeout(r, 20));
    await tp.reset();
    // The filler touches the last byte: with fill 'eager' that first fault queues the rest of the object.
    const filler = parseFill(await runChild(FILL_CHILD, { env: { ...e, FILL_ROLE: JSON.stringify({ fill: true, from: half }) }, timeoutMs: 60_000 }));
    writeFileSync(hold, '');
    expect(parseFill(await holder).sha).toBe(sha256(body.subarray(0, half)));
    expect(filler.sha).toBe(sha256(body));
    expect(filler.stats.shared).toBe(true);
    expect(filler.stats.fill.started).toBe(true);
    const log = await tp.log();
    // Its open's pin asks for the first chunk; every other GET lies in the half nobody had installed.
    expect(log.filter((x) => x.method === 'GET' && x.range === `bytes=0-${64 * 1024 - 1}`)).toHaveLength(1);
    const reads = log.filter((x) => x.method === 'GET' && x.range !== `bytes=0-${64 * 1024 - 1}`);
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(Number(/^bytes=(\d+)-/.exec(r.range ?? '')?.[1])).toBeGreaterThanOrEqual(half);
    expect(reads.reduce((n, r) => n + r.bytes, 0)).toBe(size - half);
    expect(filler.stats.bytesFetched).toBe(size - half);
  });
});

/** Runs `fn` on a 4 MiB tmpfs of its own (root only; skipped otherwise), unmounted after. */
async function withTmpfs(ctx: { skip: (why: string) => void }, name: string, fn: (mnt: string) => Promise<void>): Promise<void> {
  if (process.geteuid?.() !== 0) return ctx.skip('mounting a tmpfs needs root');
  const mnt = join(tmp.dir, name);
  mkdirSync(mnt);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mnt]);
  if (m.status !== 0) return ctx.skip(`mount -t tmpfs failed: ${m.stderr}`);
  try {
    await fn(mnt);
  } finally {
    spawnSync('umount', [mnt]);
  }
}

/** The kernel's own reads of a shared region: write(2) from cold pages (full
 *  mode), and in user-only mode after load(); prefetch() then touches with no GET. */
const KERNEL_CHILD = `
  import { mapObject } from S3MMAP_LIB;
  import { createHash } from 'node:crypto';
  import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
  const c = JSON.parse(process.env.S3MMAP_TEST_CHILD);
  const out = {};
  const hashOfWrite = (buf, path) => {
    const fd = openSync(path, 'w');
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    closeSync(fd);
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  };
  const full = await mapObject('s3://' + c.bucket + '/' + c.key, { ...c.client, readahead: 0 });
  out.fullShared = full.stats().shared;
  out.fullWrite = hashOfWrite(full.buffer, c.sync + '/full');
  await full.close();
  const user = await mapObject('s3://' + c.bucket + '/' + c.key, { ...c.client, readahead: 0, userModeOnly: true });
  out.userShared = user.stats().shared;
  try { user.kernelView(0, user.size); out.refused = null; } catch (e) { out.refused = e.code; }
  await user.load(0, user.size / 2);
  await user.prefetch(user.size / 2, user.size - user.size / 2);
  while (user.stats().inflight > 0 || !user.isResident(0, user.size)) await new Promise((r) => setTimeout(r, 10));
  out.userWrite = hashOfWrite(user.kernelView(0, user.size), c.sync + '/user');
  out.userFetched = user.stats().bytesFetched;
  await user.close();
  console.log(JSON.stringify(out));
`;

/** FILL_ROLE { load, ready, hold }: maps the object, load()s its first
 *  `load` bytes, says so and holds the mapping until told; { fill, from }: maps
 *  it with fill 'eager', touches the last byte, waits until the fill has
 *  installed [from, size), reads it all. */
const FILL_CHILD = `
  import { mapObject } from S3MMAP_LIB;
  import { createHash } from 'node:crypto';
  import { existsSync, writeFileSync } from 'node:fs';
  const c = JSON.parse(process.env.S3MMAP_TEST_CHILD);
  const role = JSON.parse(process.env.FILL_ROLE);
  const wait = () => new Promise((r) => setTimeout(r, 10));
  const m = await mapObject('s3://' + c.bucket + '/' + c.key, { ...c.client, readahead: 0, fill: role.fill ? 'eager' : 'off' });
  let sha;
  if (role.load) {
    await m.load(0, role.load);
    writeFileSync(role.ready, '');
    while (!existsSync(role.hold)) await wait();
    sha = createHash('sha256').update(m.buffer.subarray(0, role.load)).digest('hex');
  } else {
    if (m.buffer[m.size - 1] === undefined) throw new Error('no byte');
    // Read only once the fill has installed the half nobody had: a fault inside a fill's GET would get a GET of its own.
    while (!m.isResident(role.from, m.size - role.from)) await wait();
    sha = createHash('sha256').update(m.buffer).digest('hex');
  }
  await m.close();
  console.log(JSON.stringify({ sha, stats: m.stats() }));
`;

function parseFill(r: ChildResult): { sha: string; stats: { shared: boolean; bytesFetched: number; fill: { started: boolean; chunks: number } } } {
  if (r.code !== 0) throw new Error(`child failed (${r.code ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function spawnChild(e: NodeJS.ProcessEnv) {
  const dir = join(tmp.dir, `child-${runs++}`);
  mkdirSync(dir);
  const file = join(dir, 'child.mjs');
  writeFileSync(file, CHILD.replaceAll('S3MMAP_LIB', JSON.stringify(distLib)));
  chmodSync(dir, 0o755);
  return spawn(process.execPath, [file], { env: { ...process.env, ...e }, stdio: ['ignore', 'pipe', 'pipe'] });
}
