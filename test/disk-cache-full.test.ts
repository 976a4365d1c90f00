// The disk cache on a filesystem with no room, on a real small filesystem (a
// 2 MiB tmpfs mounted for the test; mounting needs root, so the file is
// skipped otherwise): the cache filled by one object never refuses the next
// (its least recently used entries make room), the cap in force is what the
// filesystem holds, temporary files are swept wherever they are, a disk
// full of other files maps without the cache and says so in stats() and
// `s3mmap stat`. Bytes checked against the object's sha256. The mappings
// live in child processes; the test process mounts, fills and looks.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { runChild } from './helpers/child.js';
import { userEnv } from './helpers/cli-env.js';
import { pseudoRandom, sha256 } from './helpers/content.js';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
const MiB = 1024 * 1024;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const isRoot = process.getuid?.() === 0;
const mnt = join(tmpdir(), `s3mmap-full-${process.pid}`);
const cacheDir = join(mnt, 'cache');
let bucket: string;
let mounted = false;
const bodies: Record<string, Buffer> = {};

beforeAll(async () => {
  if (!isRoot) return;
  bucket = await s3.uniqueBucket('cachefull');
  for (const [key, size, seed] of [['big', 16 * MiB, 71], ['other', MiB, 72], ['third', MiB, 73]] as const) {
    bodies[key] = pseudoRandom(size, seed);
    await putObject(s3.client(), bucket, key, bodies[key]);
  }
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mnt]);
  mounted = true;
  mkdirSync(cacheDir, { mode: 0o700 });
});
afterAll(() => {
  if (mounted) spawnSync('umount', [mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

/** Maps `key` with the cache in a child, reads it all, closes: its sha256 and stats. */
async function readThroughCache(key: string): Promise<{ sha: string; stats: Record<string, number> }> {
  const r = await runChild(`
    import { createHash } from 'node:crypto';
    import { mapObject } from S3MMAP_LIB;
    const m = await mapObject(${JSON.stringify(`s3://${bucket}/${key}`)}, ${JSON.stringify({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, cacheDir })});
    const sha = createHash('sha256').update(m.buffer).digest('hex');
    await m.close();
    console.log(JSON.stringify({ sha, stats: m.stats() }));
  `, { env: { S3MMAP_CACHE_DIR: '' }, timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`child failed (${r.code ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Every file under `dir`, relative. */
function files(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(dir, join(rel, e.name)) : [join(rel, e.name)]));
}

/** Fills what is left of the filesystem with a file that is not the cache's. */
function fillWith(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

function stat(key: string): { stdout: string; status: number | null } {
  const r = spawnSync(process.execPath, [CLI, 'stat', `s3://${bucket}/${key}`, '--cache', cacheDir], { env: userEnv(), encoding: 'utf8' });
  return { stdout: r.stdout + r.stderr, status: r.status };
}

describe.skipIf(!isRoot)('a disk cache on a full 2 MiB filesystem (needs root to mount a tmpfs)', () => {
  it('the cache filled by a 16 MiB object never refuses the next object: old entries make room, stale temporary files are swept, bytes exact', async () => {
    const first = await readThroughCache('big');
    expect(first.sha).toBe(sha256(bodies.big));
    expect(first.stats.diskCacheWrites).toBeGreaterThan(0);
    // The cap in force is what the filesystem holds, not the 4 GiB default.
    const st = stat('big').stdout;
    expect(st, st).toMatch(/disk cache +.*up to [\d.]+ [KM]iB, what its filesystem can hold \(4(\.00)? GiB asked\)/);
    // What an earlier version left behind when the object file's write met ENOSPC, and a crashed writer's.
    const objectDir = readdirSync(join(cacheDir, 'v1'), { withFileTypes: true }).find((e) => e.isDirectory())!.name;
    writeFileSync(join(cacheDir, 'v1', objectDir, 'object.tmp-99999'), '');
    writeFileSync(join(cacheDir, 'v1', objectDir, '.tmp-99999-object'), '');
    // Whatever room is left goes to other files: the disk is full.
    fillWith(join(mnt, 'filler'));
    expect(statfsSync(mnt).bavail).toBe(0);
    const second = await readThroughCache('other');
    expect(second.sha).toBe(sha256(bodies.other));
    expect(second.stats.diskCacheBypassed).toBe(0);
    expect(second.stats.diskCacheWrites).toBeGreaterThan(0);
    expect(files(cacheDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a disk full of files that are not the cache\'s: the mapping runs without the cache, exact bytes, stats().diskCacheBypassed and `s3mmap stat` say so', async () => {
    rmSync(join(cacheDir, 'v1'), { recursive: true, force: true });
    rmSync(join(mnt, 'filler'), { force: true });
    mkdirSync(join(cacheDir, 'v1'), { mode: 0o700 });
    fillWith(join(mnt, 'filler'));
    const r = await readThroughCache('third');
    expect(r.sha).toBe(sha256(bodies.third));
    expect(r.stats.diskCacheBypassed).toBe(1);
    expect(r.stats.diskCacheWrites).toBe(0);
    const s = stat('third');
    expect(s.status, s.stdout).toBe(0);
    expect(s.stdout).toMatch(/disk cache +.*its filesystem is full .*mappings run without the disk cache \(stats\(\)\.diskCacheBypassed\) until there is room/);
  });
});
