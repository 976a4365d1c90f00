// The disk cache (cacheDir) against a real MinIO, counted at the proxy:
// processes share what others fetched, bytes are exact (sha256 of the
// object), a changed object and damaged, misplaced or half-written entries
// are never served, kill -9 mid-write leaves nothing wrong, four processes
// fetch a cold object once, the cap holds (a cleanup deletes the least
// recently used entries down to 90% of it), an entry read again is stamped as
// used at most once a minute, a block another process holds too long is
// fetched here after 10 s, and unsafe directories are refused with one line. The mappings live in child processes; the test
// process counts at the proxy and looks at the directory.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { write } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapObject, type MappingStats } from '../dist/lib/index.js';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { distLib, runChild } from './helpers/child.js';
import { pseudoRandom, sha256, sha256File, tempDir } from './helpers/content.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
const KiB = 1024;
const MiB = 1024 * 1024;
const BLOCK = 64 * KiB;
const HEADER = 80;
const tmp = tempDir('s3mmap-disk-cache-');
let bucket: string;
let tp: ThreadProxy;

beforeAll(async () => {
  bucket = await s3.uniqueBucket('diskcache');
  tp = await startThreadProxy();
});
afterAll(async () => {
  await tp?.close();
  tmp.cleanup();
});

interface ChildOut {
  sha: string;
  /** How long the child's reads of its ranges took, ms. */
  readMs: number;
  stats: MappingStats;
}

interface ReadSpec {
  key: string;
  cacheDir: string;
  /** [offset, length] ranges hashed in order; default the whole object. */
  ranges?: Array<[number, number]>;
  options?: Record<string, unknown>;
}

/** A child process maps the object through the proxy, hashes the ranges and reports its stats. */
const CHILD = `
  import { mapObject } from S3MMAP_LIB;
  import { createHash } from 'node:crypto';
  const c = JSON.parse(process.env.S3MMAP_TEST_CHILD);
  const m = await mapObject('s3://' + c.bucket + '/' + c.key, { ...c.client, cacheDir: c.cacheDir, ...c.options });
  const h = createHash('sha256');
  const t0 = performance.now();
  for (const [off, len] of c.ranges ?? [[0, m.size]]) h.update(m.buffer.subarray(off, off + len));
  const readMs = performance.now() - t0;
  const sha = h.digest('hex');
  // After close(): it waits for the disk cache writes, which the stats then count.
  await m.close();
  console.log(JSON.stringify({ sha, readMs, stats: m.stats() }));
`;

function childEnv(spec: ReadSpec): NodeJS.ProcessEnv {
  const client = { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials };
  return { S3MMAP_TEST_CHILD: JSON.stringify({ bucket, client, ...spec }), S3MMAP_CACHE_DIR: '' };
}

async function readInChild(spec: ReadSpec): Promise<ChildOut> {
  const r = await runChild(CHILD, { env: childEnv(spec), timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`child failed (${r.code ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildOut;
}

function shaOf(body: Buffer, ranges: Array<[number, number]> = [[0, body.length]]): string {
  return sha256(Buffer.concat(ranges.map(([o, l]) => body.subarray(o, o + l))));
}

/** Files in the cache's version directories: entries, temporaries, and their bytes. */
function cacheFiles(dir: string): { versions: string[]; entries: string[]; temps: string[]; bytes: number } {
  const root = join(dir, 'v1');
  const out = { versions: [] as string[], entries: [] as string[], temps: [] as string[], bytes: 0 };
  if (!existsSync(root)) return out;
  // Names may vanish between readdir and stat (renamed or removed by a live process).
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  for (const obj of readdirSync(root)) {
    const od = join(root, obj);
    if (!isDir(od)) continue;
    for (const ver of readdirSync(od)) {
      const vd = join(od, ver);
      if (!isDir(vd)) continue;
      out.versions.push(vd);
      for (const name of readdirSync(vd)) {
        const p = join(vd, name);
        let size: number;
        try {
          size = statSync(p).size;
        } catch {
          continue; // removed while we looked
        }
        if (name.startsWith('.tmp-')) {
          out.temps.push(p);
          out.bytes += size;
        } else if (/^[0-9a-f]{8,}$/.test(name)) {
          out.entries.push(p);
          out.bytes += size;
        }
      }
    }
  }
  return out;
}

const blockFile = (versionDir: string, block: number) => join(versionDir, block.toString(16).padStart(8, '0'));

/** The shared usage counter: the first 8 bytes of v1/usage. */
function usageCounter(dir: string): number {
  const page = readFileSync(join(dir, 'v1', 'usage'));
  return page.length >= 8 ? Number(page.readBigInt64LE(0)) : 0; // 0 bytes long for a moment when new
}

/** Word 2 of v1/usage: when a cleanup pass last ran (ms). */
function pretendLastPass(dir: string, ms: number): void {
  const fd = openSync(join(dir, 'v1', 'usage'), 'r+');
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(ms));
  writeSync(fd, b, 0, 8, 16);
  closeSync(fd);
}

async function put(key: string, body: Buffer): Promise<void> {
  await putObject(s3.client(), bucket, key, body);
}

describe('the disk cache across processes', () => {
  it('a second process fetches 0 bytes from S3 for every chunk the first read, whatever its chunk size; all bytes exact', async () => {
    const size = 8 * MiB + 5000;
    const body = pseudoRandom(size, 13);
    await put('shared', body);
    const cacheDir = join(tmp.dir, 'shared');
    const ranges: Array<[number, number]> = [[0, 2 * MiB], [size - 100_000, 100_000]];

    await tp.reset();
    const a = await readInChild({ key: 'shared', cacheDir, ranges, options: { readahead: 0 } });
    expect(a.sha).toBe(shaOf(body, ranges));
    // 2 MiB, then the three blocks under the last 100,000 bytes (the last one 5,000 bytes long).
    const firstRead = 2 * MiB + 2 * BLOCK + 5000;
    expect(a.stats.bytesFetched).toBe(firstRead);
    expect(a.stats.diskCacheWrites).toBe(32 + 3);
    expect((await tp.stats()).bytesSent).toBe(firstRead);

    await tp.reset();
    const b = await readInChild({ key: 'shared', cacheDir, ranges, options: { readahead: 0 } });
    expect(b.sha).toBe(shaOf(body, ranges));
    let st = await tp.stats();
    expect(st.rangedGets).toBe(0);
    expect(st.bytesSent).toBe(0);
    expect(b.stats.fetches).toBe(0);
    expect(b.stats.diskCacheHits).toBe(35);
    expect(b.stats.diskCacheBytes).toBe(firstRead); // whole chunks: blocks here

    // 1 MiB chunks: the first two are made of the 32 blocks cached with 64 KiB chunks.
    await tp.reset();
    const c = await readInChild({ key: 'shared', cacheDir, ranges: [[0, 2 * MiB]], options: { chunkSize: '1m', readahead: 0 } });
    expect(c.sha).toBe(shaOf(body, [[0, 2 * MiB]]));
    expect((await tp.stats()).bytesSent).toBe(0);
    expect(c.stats.diskCacheHits).toBe(32);

    // The whole object with readahead: only what nobody read before goes over the network.
    await tp.reset();
    const d = await readInChild({ key: 'shared', cacheDir });
    expect(d.sha).toBe(sha256(body));
    st = await tp.stats();
    expect(st.bytesSent).toBe(size - firstRead);
    expect(d.stats.bytesFetched).toBe(size - firstRead);
    expect(d.stats.diskCacheBytes).toBe(firstRead);
    expect(d.stats.diskCacheDropped).toBe(0);

    // Private to the user, and no credential anywhere in it.
    const files = cacheFiles(cacheDir);
    expect(files.entries.length).toBe(Math.ceil(size / BLOCK));
    expect(files.temps).toEqual([]);
    expect(usageCounter(cacheDir)).toBe(files.bytes);
    for (const p of [cacheDir, join(cacheDir, 'v1'), ...files.versions]) expect(statSync(p).mode & 0o777).toBe(0o700);
    for (const p of [...files.entries, ...files.versions.map((v) => join(v, 'locks')), join(cacheDir, 'v1', 'usage'), join(cacheDir, 'v1', 'lock')]) expect(statSync(p).mode & 0o777).toBe(0o600);
    const everything = [...files.entries, ...readdirSync(join(cacheDir, 'v1')).map((n) => join(cacheDir, 'v1', n)).filter((p) => statSync(p).isDirectory()).map((p) => join(p, 'object'))];
    for (const p of everything) {
      const text = readFileSync(p).toString('latin1') + p;
      expect(text).not.toContain(s3.secretAccessKey);
      expect(text).not.toContain(s3.accessKeyId);
    }
  });

  it('a changed object (new ETag) is never served from the old entries; a misplaced entry is refused', async () => {
    const size = MiB + 123;
    const v1 = pseudoRandom(size, 1);
    const v2 = pseudoRandom(size, 2);
    const cacheDir = join(tmp.dir, 'changed');
    await put('changing', v1);
    const a = await readInChild({ key: 'changing', cacheDir });
    expect(a.sha).toBe(sha256(v1));
    expect(a.stats.diskCacheWrites).toBe(17);

    await s3.client().send(new PutObjectCommand({ Bucket: bucket, Key: 'changing', Body: v2 }));
    await tp.reset();
    const b = await readInChild({ key: 'changing', cacheDir });
    expect(b.sha).toBe(sha256(v2));
    expect(b.stats.diskCacheHits).toBe(0);
    expect((await tp.stats()).bytesSent).toBe(size);

    // An entry of the old version copied in place of block 3 of the new one: its header names another version.
    const [old, current] = cacheFiles(cacheDir).versions.sort((x, y) => statSync(x).mtimeMs - statSync(y).mtimeMs);
    expect(cacheFiles(cacheDir).versions.length).toBe(2);
    copyFileSync(blockFile(old, 3), blockFile(current, 3));
    await tp.reset();
    const c = await readInChild({ key: 'changing', cacheDir, options: { readahead: 0 } });
    expect(c.sha).toBe(sha256(v2));
    expect(c.stats.diskCacheDropped).toBe(1);
    expect(c.stats.diskCacheHits).toBe(16);
    const st = await tp.stats();
    expect(st.rangedGets).toBe(1);
    expect(st.bytesSent).toBe(BLOCK);
  });

  it('a flipped byte, a truncated entry, a block copied to the wrong place and a leftover temporary file: each detected, fetched again, bytes exact', async () => {
    const size = MiB;
    const body = pseudoRandom(size, 21);
    const cacheDir = join(tmp.dir, 'damaged');
    await put('damaged', body);
    await readInChild({ key: 'damaged', cacheDir, options: { readahead: 0 } });
    const [dir] = cacheFiles(cacheDir).versions;

    // Block 3: one data byte flipped. Block 7: cut short. Block 13: block 12's entry.
    const fd = openSync(blockFile(dir, 3), 'r+');
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, HEADER + 1000);
    one[0] ^= 0x40;
    writeSync(fd, one, 0, 1, HEADER + 1000);
    closeSync(fd);
    truncateSync(blockFile(dir, 7), HEADER + 30_000);
    copyFileSync(blockFile(dir, 12), blockFile(dir, 13));
    // Block 10: what a writer killed mid-write leaves, a temporary file and no entry.
    const temp = join(dir, '.tmp-999999-0-0000000a');
    writeFileSync(temp, readFileSync(blockFile(dir, 10)).subarray(0, 30_000));
    rmSync(blockFile(dir, 10));

    await tp.reset();
    const a = await readInChild({ key: 'damaged', cacheDir, options: { readahead: 0 } });
    expect(a.sha).toBe(sha256(body));
    expect(a.stats.diskCacheDropped).toBe(3);
    expect(a.stats.diskCacheHits).toBe(12);
    let st = await tp.stats();
    expect(st.rangedGets).toBe(4);
    expect(st.bytesSent).toBe(4 * BLOCK);
    expect((await tp.log()).filter((e) => e.method === 'GET').map((e) => e.range).sort()).toEqual([3, 7, 10, 13].map((b) => `bytes=${b * BLOCK}-${(b + 1) * BLOCK - 1}`).sort());
    // The entries were rewritten whole; the temporary file is ignored until a cleanup pass.
    const files = cacheFiles(cacheDir);
    expect(files.entries.length).toBe(16);
    expect(files.temps).toEqual([temp]);

    await tp.reset();
    const b = await readInChild({ key: 'damaged', cacheDir });
    expect(b.sha).toBe(sha256(body));
    expect(b.stats.diskCacheDropped).toBe(0);
    st = await tp.stats();
    expect(st.bytesSent).toBe(0);

    // A process with a smaller cap trims at once: the temporary file goes with the oldest entries.
    const c = await readInChild({ key: 'damaged', cacheDir, options: { cacheDirSize: '512k' } });
    expect(c.sha).toBe(sha256(body));
    expect(existsSync(temp)).toBe(false);
    expect(cacheFiles(cacheDir).bytes).toBeLessThanOrEqual(512 * KiB);
    expect(usageCounter(cacheDir)).toBe(cacheFiles(cacheDir).bytes);
  });

  it('kill -9 of a process in the middle of writing entries: the next process reads exact bytes and finds no torn entry', async () => {
    const size = 32 * MiB;
    const blocks = size / BLOCK;
    const body = pseudoRandom(size, 31);
    await put('killed', body);
    const leftovers: string[] = [];
    for (const share of [0.2, 0.5, 0.8]) {
      const cacheDir = join(tmp.dir, `killed-${share}`);
      const script = join(tmp.dir, 'killed-child.mjs');
      writeFileSync(script, CHILD.replaceAll('S3MMAP_LIB', JSON.stringify(distLib)));
      const child = spawn(process.execPath, [script], {
        env: { ...process.env, ...childEnv({ key: 'killed', cacheDir }) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.stdout.on('data', (d) => (err += d));
      const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (code, signal) => r(signal ?? (String(code) as NodeJS.Signals))));
      let done = false;
      void exited.then(() => (done = true));
      // Kill as soon as this share of the blocks is on disk, while the rest are being written.
      while (!done && cacheFiles(cacheDir).entries.length < share * blocks) await new Promise((r) => setTimeout(r, 1));
      child.kill('SIGKILL');
      const how = await exited;
      expect(how, err).toBe(done && how !== 'SIGKILL' ? '0' : 'SIGKILL');
      const after = cacheFiles(cacheDir);
      leftovers.push(`${share}: ${after.entries.length} entries, ${after.temps.length} temporary files`);

      await tp.reset();
      const next = await readInChild({ key: 'killed', cacheDir });
      expect(next.sha).toBe(sha256(body));
      expect(next.stats.diskCacheDropped).toBe(0);
      const present = after.entries.length;
      expect(next.stats.diskCacheHits).toBe(present);
      expect((await tp.stats()).bytesSent).toBe(size - present * BLOCK);
      expect(cacheFiles(cacheDir).entries.length).toBe(blocks);
      // An hour on (as far as the directory knows), the next process sweeps the killed writer's temporary files.
      pretendLastPass(cacheDir, 1);
      const later = await readInChild({ key: 'killed', cacheDir });
      expect(later.sha).toBe(sha256(body));
      expect(later.stats.diskCacheHits).toBe(blocks);
      const final = cacheFiles(cacheDir);
      expect(final.entries.length).toBe(blocks);
      expect(final.temps).toEqual([]);
      expect(usageCounter(cacheDir)).toBe(final.bytes);
    }
    console.log(`after kill -9: ${leftovers.join('; ')}`);
  });

  it('four processes faulting the same cold object at once: exact bytes, each block fetched once', async () => {
    const size = 16 * MiB;
    const body = pseudoRandom(size, 41);
    await put('four', body);
    const cacheDir = join(tmp.dir, 'four');
    await tp.reset();
    const outs = await Promise.all([0, 1, 2, 3].map(() => readInChild({ key: 'four', cacheDir })));
    for (const o of outs) expect(o.sha).toBe(sha256(body));
    const st = await tp.stats();
    console.log(
      `4 processes, cold 16 MiB: ${st.rangedGets} GETs, ${st.bytesSent} bytes from S3 (object ${size}); per process fetched ` +
        outs.map((o) => `${o.stats.bytesFetched} B in ${o.stats.fetches} GETs, ${o.stats.diskCacheWaits} blocks waited for`).join('; '),
    );
    expect(st.bytesSent).toBe(size);
    expect(outs.reduce((n, o) => n + o.stats.bytesFetched, 0)).toBe(size);
    expect(outs.reduce((n, o) => n + o.stats.diskCacheWrites, 0)).toBe(size / BLOCK);
    expect(cacheFiles(cacheDir).entries.length).toBe(size / BLOCK);
  });

  it('four processes through a cap smaller than the object: exact bytes, and the directory never ends over the cap', async () => {
    const size = 16 * MiB;
    const cap = 4 * MiB;
    const body = pseudoRandom(size, 43);
    await put('capped', body);
    const cacheDir = join(tmp.dir, 'capped');
    await tp.reset();
    // The shared counter bounds what the directory holds (a write reserves its bytes first): sample it meanwhile.
    let most = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        if (existsSync(join(cacheDir, 'v1', 'usage'))) most = Math.max(most, usageCounter(cacheDir));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const outs = await Promise.all([0, 1, 2, 3].map(() => readInChild({ key: 'capped', cacheDir, options: { cacheDirSize: cap } })));
    running = false;
    await sampler;
    for (const o of outs) expect(o.sha).toBe(sha256(body));
    expect(most).toBeLessThanOrEqual(cap);
    const files = cacheFiles(cacheDir);
    const st = await tp.stats();
    console.log(`4 processes, 16 MiB through a 4 MiB cap: ${st.rangedGets} GETs, ${st.bytesSent} bytes from S3; ${files.entries.length} entries, ${files.bytes} bytes left`);
    expect(files.bytes).toBeLessThanOrEqual(cap);
    expect(files.temps).toEqual([]);
    expect(usageCounter(cacheDir)).toBe(files.bytes);
    expect(st.bytesSent).toBeGreaterThanOrEqual(size);
  });
});

describe('the disk cache over time: recency, the cleanup, a lock held too long', () => {
  const ENTRY = BLOCK + HEADER;
  const nowSec = () => Date.now() / 1000;

  it('an entry read again is stamped as used (atime) when its stamp is a minute old or more, and left alone when newer', async () => {
    const body = pseudoRandom(4 * BLOCK, 51);
    await put('recency', body);
    const cacheDir = join(tmp.dir, 'recency');
    const a = await readInChild({ key: 'recency', cacheDir, options: { readahead: 0 } });
    expect(a.stats.diskCacheWrites).toBe(4);
    const [vd] = cacheFiles(cacheDir).versions;
    // mtime older than atime, both within a day: relatime leaves atime alone, so only s3mmap stamps it.
    const base = Math.floor(nowSec());
    utimesSync(blockFile(vd, 0), base - 120, base - 600); // read 2 minutes ago
    utimesSync(blockFile(vd, 1), base - 30, base - 600); // read 30 s ago
    const before = Date.now();
    const b = await readInChild({ key: 'recency', cacheDir, ranges: [[0, 2 * BLOCK]], options: { readahead: 0 } });
    expect(b.sha).toBe(shaOf(body, [[0, 2 * BLOCK]]));
    expect(b.stats).toMatchObject({ fetches: 0, diskCacheHits: 2 });
    const old = statSync(blockFile(vd, 0));
    const recent = statSync(blockFile(vd, 1));
    expect(old.atimeMs).toBeGreaterThanOrEqual(before - 1000);
    expect(old.mtimeMs).toBe((base - 600) * 1000);
    expect(recent.atimeMs).toBe((base - 30) * 1000);
  });

  it('a write that finds no room deletes the least recently used entries down to 90% of the cap, then writes', async () => {
    const blocks = 20;
    const cap = blocks * ENTRY; // exactly 20 entries
    const body = pseudoRandom((blocks + 1) * BLOCK, 53);
    await put('lowwater', body);
    const cacheDir = join(tmp.dir, 'lowwater');
    const options = { readahead: 0, cacheDirSize: cap };
    const a = await readInChild({ key: 'lowwater', cacheDir, ranges: [[0, blocks * BLOCK]], options });
    expect(a.stats.diskCacheWrites).toBe(blocks);
    expect(cacheFiles(cacheDir).bytes).toBe(cap);
    // Recency: block 0 the least recently used, block 19 the most.
    const [vd] = cacheFiles(cacheDir).versions;
    const base = Math.floor(nowSec());
    for (let i = 0; i < blocks; i++) utimesSync(blockFile(vd, i), base - 1000 + 10 * i, base - 2000);
    // Block 20 does not fit: the cleanup goes down to 90% (18 entries: blocks 0 and 1 go), then it is written.
    const b = await readInChild({ key: 'lowwater', cacheDir, ranges: [[blocks * BLOCK, BLOCK]], options });
    expect(b.sha).toBe(shaOf(body, [[blocks * BLOCK, BLOCK]]));
    expect(b.stats.diskCacheWrites).toBe(1);
    const files = cacheFiles(cacheDir);
    expect(files.entries.map((p) => parseInt(p.slice(-8), 16)).sort((x, y) => x - y)).toEqual(Array.from({ length: 19 }, (_, i) => i + 2));
    expect(files.bytes).toBe(19 * ENTRY);
    expect(usageCounter(cacheDir)).toBe(19 * ENTRY);
  });

  it('a block whose lock another process holds without writing it is fetched here after 10 s of waiting: exact bytes, fetched twice', async () => {
    const body = pseudoRandom(2 * BLOCK, 57);
    await put('held', body);
    const cacheDir = join(tmp.dir, 'held');
    const key = `s3://${bucket}/held`;
    await tp.reset();
    // The holder: its GET of block 0 never gets an answer, and it waits 30 s for one, holding the block's lock.
    await tp.enqueue('stall');
    const client = { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials };
    const holder = runChild(`
      import { mapObject } from S3MMAP_LIB;
      const m = await mapObject(${JSON.stringify(key)}, { ...${JSON.stringify(client)}, cacheDir: ${JSON.stringify(cacheDir)}, readahead: 0,
        retry: { attempts: 1, requestTimeoutMs: 30_000 } });
      const err = await m.load(0, ${BLOCK}).then(() => null, (e) => e.code);
      await m.close();
      console.log(JSON.stringify({ err }));
    `, { env: { S3MMAP_CACHE_DIR: '' }, timeoutMs: 60_000 });
    for (let i = 0; i < 500 && !(await tp.log()).some((e) => e.method === 'GET' && e.fault === 'stall'); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await tp.log()).some((e) => e.method === 'GET' && e.fault === 'stall')).toBe(true);
    // The waiter: finds the lock held, polls, and after 10 s fetches the block itself.
    const waiter = await readInChild({ key: 'held', cacheDir, ranges: [[0, BLOCK]], options: { readahead: 0 } });
    console.log(`a block held by another process: read after ${Math.round(waiter.readMs)} ms, ${waiter.stats.diskCacheWaits} block(s) waited for`);
    expect(waiter.sha).toBe(shaOf(body, [[0, BLOCK]]));
    expect(waiter.stats).toMatchObject({ fetches: 1, bytesFetched: BLOCK, diskCacheWaits: 1 });
    // It waited the 10 s, and no longer: the holder's GET gives up only at 30 s.
    expect(waiter.readMs).toBeGreaterThanOrEqual(9_500);
    expect(waiter.readMs).toBeLessThan(20_000);
    const gets = (await tp.log()).filter((e) => e.method === 'GET');
    expect(gets.map((e) => [e.range, e.fault])).toEqual([[`bytes=0-${BLOCK - 1}`, 'stall'], [`bytes=0-${BLOCK - 1}`, 'pass']]);
    const h = await holder;
    expect(h.code, h.stderr).toBe(0);
    expect(JSON.parse(h.stdout.trim().split('\n').pop()!)).toEqual({ err: 'ETIMEDOUT' });
  });
});

describe('off the libuv pool', () => {
  it('four concurrent async fs.write calls from cold ranges served from the disk cache complete', async () => {
    const size = 8 * MiB;
    const body = pseudoRandom(size, 51);
    await put('pool', body);
    const cacheDir = join(tmp.dir, 'pool');
    await readInChild({ key: 'pool', cacheDir });
    // Through the proxy as the child did: the endpoint is part of what names the cached bytes.
    const m = await mapObject(`s3://${bucket}/pool`, { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials, cacheDir, readahead: 0 });
    const writeAsync = promisify(write);
    const quarter = size / 4;
    const paths = [0, 1, 2, 3].map((i) => join(tmp.dir, `pool-out-${i}`));
    const fds = paths.map((p) => openSync(p, 'w'));
    // Each write parks a pool thread in a fault on a cold quarter.
    await Promise.all(fds.map((fd, i) => writeAsync(fd, m.buffer, i * quarter, quarter, 0)));
    fds.forEach((fd) => closeSync(fd));
    paths.forEach((p, i) => expect(sha256File(p)).toBe(sha256(body.subarray(i * quarter, (i + 1) * quarter))));
    expect(m.stats().fetches).toBe(0);
    expect(m.stats().diskCacheHits).toBe(size / BLOCK);
    await m.close();
  });
});

describe('the cache directory', () => {
  const opts = (cacheDir: string | false) => ({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, cacheDir });
  beforeAll(async () => put('small', pseudoRandom(3 * BLOCK, 61)));

  async function refusal(cacheDir: string): Promise<{ code: string; message: string }> {
    const err = await mapObject(`s3://${bucket}/small`, opts(cacheDir)).then(
      async (m) => {
        await m.close();
        throw new Error(`${cacheDir} was accepted`);
      },
      (e: { code: string; message: string }) => e,
    );
    expect(err.message).not.toContain('\n');
    return err;
  }

  it('is created private (0700) where it does not exist', async () => {
    const dir = join(tmp.dir, 'fresh', 'deeper', 'cache');
    const m = await mapObject(`s3://${bucket}/small`, opts(dir));
    await m.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'v1')).mode & 0o777).toBe(0o700);
  });

  it.runIf(process.geteuid?.() === 0)('owned by another user: refused', async () => {
    const dir = join(tmp.dir, 'foreign');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 12345, 12345);
    const err = await refusal(dir);
    expect(err.code).toBe('UnsafeCacheDir');
    expect(err.message).toMatch(/belongs to uid 12345, not to this user \(uid 0\)/);
  });

  it('writable by others, or by its group: refused, saying so and the remedy', async () => {
    const open = join(tmp.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    let err = await refusal(open);
    expect(err.code).toBe('UnsafeCacheDir');
    expect(err.message).toMatch(/is writable by its group and others \(mode 0777\).*chmod 700/);
    const group = join(tmp.dir, 'group');
    mkdirSync(group);
    chmodSync(group, 0o770);
    err = await refusal(group);
    expect(err.message).toMatch(/is writable by its group \(mode 0770\)/);
  });

  it('inside a directory others can write without the sticky bit: refused', async () => {
    const parent = join(tmp.dir, 'shared-parent');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    const dir = join(parent, 'cache');
    mkdirSync(dir, { mode: 0o700 });
    const err = await refusal(dir);
    expect(err.code).toBe('UnsafeCacheDir');
    expect(err.message).toMatch(/inside .*shared-parent, which is writable by its group and others \(mode 0777\) without the sticky bit/);
  });

  it('a file, not a directory: refused', async () => {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'x');
    const err = await refusal(file);
    expect(['ENOTDIR', 'EEXIST']).toContain(err.code);
    expect(err.message).toMatch(/a-file/);
  });

  it('S3MMAP_CACHE_DIR turns it on for a process; cacheDir: false turns it off again', async () => {
    const dir = join(tmp.dir, 'from-env');
    const src = `
      import { mapObject } from S3MMAP_LIB;
      const c = JSON.parse(process.env.S3MMAP_TEST_CHILD);
      const out = [];
      for (const cacheDir of [undefined, false]) {
        const m = await mapObject('s3://' + c.bucket + '/small', { ...c.client, ...(cacheDir === false ? { cacheDir } : {}) });
        let s = 0; for (let i = 0; i < m.size; i += 4096) s += m.buffer[i];
        await m.close();
        out.push(m.stats());
      }
      console.log(JSON.stringify(out));
    `;
    const client = { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials };
    const r = await runChild(src, { env: { S3MMAP_TEST_CHILD: JSON.stringify({ bucket, client }), S3MMAP_CACHE_DIR: dir } });
    expect(r.code, r.stderr).toBe(0);
    const [on, off] = JSON.parse(r.stdout) as MappingStats[];
    expect(on.diskCacheWrites).toBe(3);
    expect(off.diskCacheWrites + off.diskCacheHits).toBe(0);
    expect(off.fetches).toBeGreaterThan(0);
  });
});

describe('the command line: --cache and s3mmap cache', () => {
  const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
  function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: {
          PATH: process.env.PATH, HOME: process.env.HOME,
          AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region,
          AWS_ENDPOINT_URL: tp.endpoint, AWS_EC2_METADATA_DISABLED: 'true', ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    });
  }

  it('cat --cache reads a second time from the disk; `s3mmap cache` lists, then clears one object and then all', async () => {
    const body = pseudoRandom(3 * MiB + 7, 71);
    const other = pseudoRandom(MiB, 72);
    await put('cli/a.bin', body);
    await put('cli/b.bin', other);
    const dir = join(tmp.dir, 'cli');
    await tp.reset();
    let r = await cli(['cat', `s3://${bucket}/cli/a.bin`, '--cache', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(r.stdout)).toBe(sha256(body));
    expect((await tp.stats()).bytesSent).toBe(body.length);
    await tp.reset();
    r = await cli(['cat', `s3://${bucket}/cli/a.bin`, '--verbose'], { S3MMAP_CACHE_DIR: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(r.stdout)).toBe(sha256(body));
    expect(r.stderr).toMatch(/fetched 0 B of 3\.00 MiB \(0%\) in 0 GETs, 3\.00 MiB read from the disk cache/);
    expect((await tp.stats()).rangedGets).toBe(0);
    r = await cli(['cat', `s3://${bucket}/cli/b.bin`, '--cache', dir]);
    expect(r.code, r.stderr).toBe(0);

    const entriesA = Math.ceil(body.length / BLOCK);
    const bytesA = body.length + entriesA * HEADER;
    r = await cli(['cache', '--cache', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout.toString()) as { entries: number; bytes: number; objects: Array<{ url: string; entries: number; bytes: number; endpoint: string }> };
    expect(info.entries).toBe(entriesA + 16);
    expect(info.bytes).toBe(bytesA + MiB + 16 * HEADER);
    expect(info.objects.map((o) => [o.url, o.entries, o.bytes])).toEqual([[`s3://${bucket}/cli/a.bin`, entriesA, bytesA], [`s3://${bucket}/cli/b.bin`, 16, MiB + 16 * HEADER]]);
    expect(info.objects[0].endpoint).toBe(tp.endpoint);
    r = await cli(['cache', '--cache', dir]);
    expect(r.stdout.toString()).toMatch(new RegExp(`holds +${(bytesA + MiB + 16 * HEADER).toLocaleString('en-US')} B .* in ${entriesA + 16} entries of 2 objects`));
    expect(r.stdout.toString()).toContain(`s3://${bucket}/cli/a.bin`);

    r = await cli(['cache', `s3://${bucket}/cli/a.bin`, '--clear', '--cache', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toContain(`removed ${bytesA.toLocaleString('en-US')} B`);
    expect(cacheFiles(dir).entries.length).toBe(16);
    expect(usageCounter(dir)).toBe(MiB + 16 * HEADER);
    r = await cli(['cache', '--clear'], { S3MMAP_CACHE_DIR: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(cacheFiles(dir).entries.length).toBe(0);
    expect(usageCounter(dir)).toBe(0);

    // Without a directory, a usage error saying how to give one.
    r = await cli(['cache']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('s3mmap: no cache directory: give --cache DIR or set S3MMAP_CACHE_DIR');
    // An unsafe one: a runtime error, one line.
    const open = join(tmp.dir, 'cli-open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    r = await cli(['cat', `s3://${bucket}/cli/b.bin`, '--cache', open]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/refusing the cache directory .*cli-open: .* is writable by its group and others \(mode 0777\)/);
  });
});
