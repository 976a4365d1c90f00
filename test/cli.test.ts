// The `s3mmap` command line, run as users run it: the built dist/cli/main.js
// in a child process against the run's MinIO (test/global-setup.ts), with
// credentials and endpoint given the standard AWS way (environment,
// profiles). Runs in a vitest test-file process, main thread; every CLI run is
// a separate process with its own fault worker.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userEnv } from './helpers/cli-env.js';
import { testS3 } from './helpers/s3.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const PKG = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const s3 = testS3();
let admin: S3Client;
let bucket: string;
let tmp: string;

// Objects: sizes chosen so cat crosses its 8 MiB pieces at odd places and a
// bar is due on a terminal (>= 32 MiB); contents random so a misplaced byte shows.
const BIG = 33 * 1024 * 1024 + 12_345;
const objects: Record<string, { body: Buffer; etag?: string }> = {
  'big.bin': { body: randomBytes(BIG) },
  'small.bin': { body: randomBytes(100_003) },
  'empty.bin': { body: Buffer.alloc(0) },
  'dir/inner.bin': { body: randomBytes(5000) },
  // Keys are literal: '+', '?', '#' and spaces are part of them.
  'odd key+?#.bin': { body: randomBytes(777) },
};

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  admin = s3.client();
  bucket = await s3.uniqueBucket('cli');
  for (const [key, o] of Object.entries(objects)) {
    o.etag = (await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: o.body }))).ETag;
  }
  tmp = mkdtempSync(join(tmpdir(), 's3mmap-cli-test-'));
});

afterAll(() => {
  admin?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const url = (key: string) => `s3://${bucket}/${key}`;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; slowReaderMs?: number; cwd?: string } = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: opts.env ?? userEnv(), stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    if (opts.slowReaderMs) {
      // Fill the pipe and keep it full for a while: the CLI meets EAGAIN / a blocked write.
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), opts.slowReaderMs);
    }
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr, ms: Date.now() - started });
    });
  });
}

/** stderr of a failed run: exactly one line, no stack. */
function oneLine(r: Run): string {
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return lines[0];
}

function noSecrets(r: Run, secrets: string[] = [s3.secretAccessKey]): void {
  const all = r.stdout.toString('latin1') + r.stderr;
  for (const s of secrets) expect(all.includes(s), `secret '${s.slice(0, 4)}…' printed`).toBe(false);
}

describe('cat', () => {
  it('writes the whole object, byte for byte', async () => {
    for (const key of ['big.bin', 'small.bin', 'odd key+?#.bin']) {
      const r = await cli(['cat', url(key)]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.length).toBe(objects[key].body.length);
      expect(sha256(r.stdout)).toBe(sha256(objects[key].body));
      expect(r.stderr).toBe(''); // piped: no progress bar, no warning (the SDK's Node 20 notice included)
    }
  });

  it('writes ranges at odd offsets, across piece borders, open and suffix ranges', async () => {
    const body = objects['big.bin'].body;
    const M = 8 * 1024 * 1024;
    const cases: [string, number, number][] = [
      ['0-0', 0, 1],
      ['1-1', 1, 2],
      ['4095-4096', 4095, 4097],
      ['12345-8400000', 12345, 8_400_001],
      [`${M - 1}-${M}`, M - 1, M + 1],
      [`${M * 2 + 7}-${M * 3 + 65_537}`, M * 2 + 7, M * 3 + 65_538],
      [`${BIG - 3}-`, BIG - 3, BIG],
      ['-100', BIG - 100, BIG],
      [`${BIG - 10}-${BIG + 1000}`, BIG - 10, BIG], // an end past the object is cut, as HTTP does
      ['1m-2m', M / 8, M / 4 + 1], // units are binary
    ];
    for (const [range, start, end] of cases) {
      const r = await cli(['cat', url('big.bin'), `--range=${range}`]);
      expect(r.code, `${range}: ${r.stderr}`).toBe(0);
      expect(r.stdout.length, range).toBe(end - start);
      expect(sha256(r.stdout), range).toBe(sha256(body.subarray(start, end)));
    }
  });

  it('works in user-mode-only mode, loading each piece before writing it', async () => {
    const body = objects['big.bin'].body;
    const whole = await cli(['cat', url('big.bin'), '--user-mode-only', '--verbose', '--json']);
    expect(whole.code, whole.stderr).toBe(0);
    expect(sha256(whole.stdout)).toBe(sha256(body));
    const report = JSON.parse(whole.stderr);
    expect(report.mode).toBe('user-only');
    expect(report.stats.bytesFetched).toBe(BIG);

    const part = await cli(['cat', url('big.bin'), '--user-mode-only', '--range', '8388000-16777300']);
    expect(part.code, part.stderr).toBe(0);
    expect(sha256(part.stdout)).toBe(sha256(body.subarray(8_388_000, 16_777_301)));
  });

  it('honours --chunk-size (1m and 4k) with the same bytes', async () => {
    const body = objects['big.bin'].body;
    for (const cs of ['1m', '4k']) {
      const r = await cli(['cat', url('big.bin'), '--chunk-size', cs, '--range', '77-5000000', '-v', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(sha256(r.stdout)).toBe(sha256(body.subarray(77, 5_000_001)));
      expect(JSON.parse(r.stderr).stats.chunkSize).toBe(cs === '1m' ? 1 << 20 : 4096);
    }
  });

  it('keeps every byte when the reader is slow (a full, non-blocking pipe)', async () => {
    const r = await cli(['cat', url('big.bin')], { slowReaderMs: 1500 });
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(r.stdout)).toBe(sha256(objects['big.bin'].body));
  });

  it('drops the pieces it has written: the resident peak stays at a few 8 MiB pieces however big the object', async () => {
    // cat loads 8 MiB pieces, 4 ahead of the writer (cli/commands/cat.ts PIECE, AHEAD),
    // and evicts each once written: at most the 4 ahead and the one being written.
    const PIECE = 8 * 1024 * 1024;
    const size = 12 * PIECE + 4321;
    const body = randomBytes(size);
    // A bucket of its own: the ls tests list this file's bucket exactly.
    const own = await s3.uniqueBucket('cli-cat');
    await admin.send(new PutObjectCommand({ Bucket: own, Key: 'cat-96m.bin', Body: body }));
    const r = await cli(['cat', `s3://${own}/cat-96m.bin`, '--verbose', '--json'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(r.stdout)).toBe(sha256(body));
    const { stats } = JSON.parse(r.stderr.trim().split('\n').at(-1)!);
    expect(stats.bytesFetched).toBe(size);
    expect(stats.residentPeak).toBeGreaterThanOrEqual(PIECE);
    expect(stats.residentPeak).toBeLessThanOrEqual(5 * PIECE);
    expect(stats.residentBytes).toBeLessThanOrEqual(5 * PIECE);
  });

  it('writes nothing for an empty object', async () => {
    const r = await cli(['cat', url('empty.bin')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(0);
  });

  it('exits 0 without a word when the reader goes away (| head -c 10)', async () => {
    const dir = mkdtempSync(join(tmp, 'head-'));
    const script = `"${process.execPath}" "${CLI}" cat "$1" 2>"$2/err" | head -c 10 >"$2/out"; echo "\${PIPESTATUS[0]}" >"$2/status"`;
    const r = spawnSync('bash', ['-c', script, 'bash', url('big.bin'), dir], { env: userEnv(), timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'status'), 'utf8').trim()).toBe('0');
    expect(readFileSync(join(dir, 'err'), 'utf8')).toBe('');
    expect(readFileSync(join(dir, 'out')).equals(objects['big.bin'].body.subarray(0, 10))).toBe(true);
  });

  it('rejects a range that starts past the end (exit 1) and a malformed one (exit 2)', async () => {
    const past = await cli(['cat', url('small.bin'), '--range', '100003-']);
    expect(past.code).toBe(1);
    expect(oneLine(past)).toMatch(/range start 100003 is past the end .*100003 bytes/);
    for (const bad of ['10-5', 'abc', '5', '-0', '1-2-3']) {
      const r = await cli(['cat', url('small.bin'), `--range=${bad}`]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toContain(`invalid --range '${bad}'`);
      expect(r.stderr).toContain('Usage: s3mmap cat s3://bucket/key');
    }
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('draws a progress bar on a terminal for a large transfer, and not for a small one', async () => {
    const run = (key: string) => {
      const log = join(tmp, `tty-${key.replace(/\W/g, '')}.log`);
      const out = join(tmp, `tty-${key.replace(/\W/g, '')}.out`);
      // script(1) gives the CLI a terminal on stderr; stdout goes to a file.
      const r = spawnSync('script', ['-qfec', `"${process.execPath}" "${CLI}" cat "${url(key)}" > "${out}"`, log], { env: userEnv(), timeout: 60_000 });
      return { status: r.status, log: readFileSync(log, 'latin1'), out: readFileSync(out) };
    };
    const big = run('big.bin');
    expect(big.status).toBe(0);
    expect(big.log).toMatch(/\[#+\] 100%/);
    expect(sha256(big.out)).toBe(sha256(objects['big.bin'].body));
    const small = run('small.bin');
    expect(small.status).toBe(0);
    expect(small.log).not.toContain('%');
    expect(sha256(small.out)).toBe(sha256(objects['small.bin'].body));
  });

  it('draws the bar when asked even into a pipe (--progress)', async () => {
    const r = await cli(['cat', url('small.bin'), '--progress']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('100%');
    expect(sha256(r.stdout)).toBe(sha256(objects['small.bin'].body));
  });
});

describe('stat', () => {
  it('--json reports the true size, ETag, the chunk plan and the userfaultfd', async () => {
    const r = await cli(['stat', url('big.bin'), '--json', '--chunk-size', '1m']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout.toString());
    expect(s.size).toBe(BIG);
    expect(s.etag).toBe(objects['big.bin'].etag);
    expect(s.bucket).toBe(bucket);
    expect(s.key).toBe('big.bin');
    expect(Date.parse(s.lastModified)).toBeGreaterThan(Date.now() - 3_600_000);
    expect(s.plan.chunkSize).toBe(1 << 20);
    expect(s.plan.chunks).toBe(Math.ceil(BIG / (1 << 20)));
    expect(s.plan.lastChunkSize).toBe(BIG % (1 << 20));
    expect(s.uffd.available).toBe(true);
    expect(s.uffd.mode).toBe('full'); // the tests run as root
    expect(s.uffd.features).toContain('POISON');
    expect(s.uffd.pageSize).toBe(4096);
  });

  it('prints the same facts for people', async () => {
    const r = await cli(['stat', url('small.bin'), '--user-mode-only']);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString();
    expect(text).toContain('100,003 B (97.7 KiB)');
    expect(text).toContain(objects['small.bin'].etag!);
    expect(text).toMatch(/chunk size\s+64\.0 KiB: 2 chunks/);
    expect(text).toMatch(/mode\s+user-only/);
    expect(r.stderr).toBe('');
  });

  it('says whether the pages would be shared with your other processes, and why not', async () => {
    const shared = await cli(['stat', url('small.bin'), '--shared-size', '1m']);
    expect(shared.code, shared.stderr).toBe(0);
    expect(shared.stdout.toString()).toMatch(/memory\s+shared with your other processes mapping this version \(\S+, all shared pages up to 1\.00 MiB\)/);
    const off = await cli(['stat', url('small.bin'), '--no-shared', '--json']);
    expect(JSON.parse(off.stdout.toString()).plan).toMatchObject({ shared: null, sharedNote: 'off (shared: false)' });
    const big = await cli(['stat', url('big.bin'), '--shared-size', '1m']);
    expect(big.stdout.toString()).toMatch(/memory\s+private to each mapping: not shared \(the object, 33\.0 MiB, is larger than the shared memory cap, 1\.00 MiB/);
  });
});

describe('mount', () => {
  it('--exec runs the script on the Buffer and reports fetching less than the object', async () => {
    const body = objects['big.bin'].body;
    const offsets = [0, 1, 4097, 1_000_003, 9_999_999, 20_000_001, BIG - 1];
    // No fill: in a CI run the cold process's first GETs were slow enough that
    // 7 reads paid half a 33 MiB fill and it started (the policy is tested in
    // test/fetch-policy.test.ts); here the point is what --exec reports.
    const r = await cli(['mount', url('big.bin'), '--fill', 'off', '--exec', join(FIXTURES, 'cli-scattered.mjs'), '--json', '--', ...offsets.map(String), '--flag']);
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout.toString());
    expect(printed.size).toBe(BIG);
    expect(printed.bytes).toEqual(offsets.map((o) => body[o]));
    expect(printed.args).toEqual([...offsets.map(String), '--flag']);
    const { stats, size } = JSON.parse(r.stderr);
    expect(size).toBe(BIG);
    expect(stats.faults).toBeGreaterThan(0);
    expect(stats.fetches).toBeGreaterThan(0);
    expect(stats.bytesFetched).toBeGreaterThan(0);
    expect(stats.bytesFetched).toBeLessThan(BIG / 4);
    expect(stats.faultLatencyP99Us).toBeGreaterThanOrEqual(stats.faultLatencyP50Us);
  });

  it('prints the fetch summary for people on exit', async () => {
    const r = await cli(['mount', url('big.bin'), '-e', join(FIXTURES, 'cli-scattered.mjs'), '--', '5', '30000000']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^s3mmap: s3:\/\/.*big\.bin: fetched [\d.]+ KiB of 33\.0 MiB \([\d.]+%\) in \d+ GETs?; \d+ faults?, fault latency p50 [\d.]+ (µs|ms), p99 [\d.]+ (µs|ms)\n$/);
  });

  it('opens a REPL with buf and mapping that answers expressions from stdin', async () => {
    const body = objects['big.bin'].body;
    const r = await cli(['mount', url('big.bin')], { input: 'buf.length\nbuf[12345]\nmapping.mode\n' });
    expect(r.code, r.stderr).toBe(0);
    const answers = r.stdout.toString().split('s3mmap> ').map((s) => s.trim()).filter(Boolean);
    expect(answers).toEqual([String(BIG), String(body[12345]), "'full'"]);
    expect(r.stderr).toMatch(/fetched .* of 33\.0 MiB .* in \d+ GETs?; \d+ faults?/);
  });

  it('a failing script: exit 1, one line, and still the summary', async () => {
    // A relative path is taken from the current directory, and shown as given.
    const r = await cli(['mount', url('small.bin'), '--exec', 'cli-throws.mjs'], { cwd: FIXTURES });
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/fetched [\d.]+ KiB of 97\.7 KiB/);
    expect(lines[1]).toBe('s3mmap: cli-throws.mjs failed: the query found nothing');
  });

  it('a missing script is a usage error', async () => {
    const r = await cli(['mount', url('small.bin'), '--exec', 'no-such-script.mjs']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no such file 'no-such-script.mjs'");
    expect(r.stderr).toContain('Usage: s3mmap mount');
  });
});

describe('ls', () => {
  it('lists one level with human sizes, folders as DIR', async () => {
    const r = await cli(['ls', `s3://${bucket}/`]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines.find((l) => l.endsWith(url('big.bin')))).toMatch(/^33\.0 MiB  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  s3:/);
    expect(lines.find((l) => l.endsWith(url('small.bin')))).toMatch(/^97\.7 KiB /);
    expect(lines.find((l) => l.endsWith(url('empty.bin')))).toMatch(/^ +0 B /);
    expect(lines.find((l) => l.endsWith(url('odd key+?#.bin')))).toMatch(/^ +777 B /);
    expect(lines.find((l) => l.endsWith(url('dir/')))).toMatch(/^ +DIR +s3:/);
  });

  it('--json -r lists every key with its exact size and ETag', async () => {
    const r = await cli(['ls', `s3://${bucket}`, '-r', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const entries = JSON.parse(r.stdout.toString()) as { type: string; key: string; size: number; etag: string; url: string }[];
    expect(entries.map((e) => e.key).sort()).toEqual(Object.keys(objects).sort());
    for (const e of entries) {
      expect(e.type).toBe('object');
      expect(e.size).toBe(objects[e.key].body.length);
      expect(e.etag).toBe(objects[e.key].etag);
      expect(e.url).toBe(url(e.key));
    }
  });

  it('filters by prefix, lists buckets, and says when nothing matches', async () => {
    const pre = await cli(['ls', `s3://${bucket}/sm`]);
    expect(pre.stdout.toString().trim()).toMatch(/97\.7 KiB .*small\.bin$/);
    const buckets = await cli(['ls', '--json']);
    expect(buckets.code).toBe(0);
    expect(JSON.parse(buckets.stdout.toString()).map((b: { url: string }) => b.url)).toContain(`s3://${bucket}/`);
    const none = await cli(['ls', `s3://${bucket}/zzz`]);
    expect(none.code).toBe(0);
    expect(none.stdout.length).toBe(0);
    expect(none.stderr).toContain('nothing under');
  });
});

describe('errors', () => {
  it('a bad URL is a usage error: exit 2, the message and the usage line', async () => {
    for (const [args, msg] of [
      [['cat', 'bucket/key'], "bad S3 URL 'bucket/key': it must start with 's3://'"],
      [['stat', `s3://${bucket}/`], 'the object key is missing'],
      [['mount', 's3://Bad_Bucket/k'], "'Bad_Bucket' is not a valid bucket name"],
      [['ls', 's3://x'], "'x' is not a valid bucket name"],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0]).toContain(msg);
      expect(lines[1]).toMatch(new RegExp(`^Usage: s3mmap ${args[0]} `));
      expect(lines[2]).toBe(`Try 's3mmap ${args[0]} --help' for more information.`);
    }
  });

  it('a missing key or bucket: exit 1, one line naming the S3 code and what to do', async () => {
    for (const cmd of ['cat', 'stat', 'mount']) {
      const r = await cli([cmd, url('no/such.bin')]);
      expect(r.code, r.stderr).toBe(1);
      expect(oneLine(r)).toBe(`s3mmap: no such key 'no/such.bin' in bucket '${bucket}' (NoSuchKey); check the key with \`s3mmap ls s3://${bucket}/\``);
    }
    const nb = await cli(['cat', 's3://s3mmap-no-such-bucket-here/k']);
    expect(nb.code).toBe(1);
    expect(oneLine(nb)).toMatch(/no such bucket 's3mmap-no-such-bucket-here' .*\(NoSuchBucket\)/);
    const ls = await cli(['ls', 's3://s3mmap-no-such-bucket-here/']);
    expect(ls.code).toBe(1);
    expect(oneLine(ls)).toMatch(/\(NoSuchBucket\); check the bucket name/);
  });

  it('wrong credentials: exit 1, the S3 code, and no secret even with --verbose', async () => {
    const wrongSecret = 'WrongSecret' + randomBytes(12).toString('hex');
    for (const args of [['cat', url('small.bin')], ['stat', url('small.bin')], ['ls', `s3://${bucket}/`]]) {
      const r = await cli(args, { env: userEnv({ AWS_SECRET_ACCESS_KEY: wrongSecret }) });
      expect(r.code, r.stderr).toBe(1);
      expect(oneLine(r)).toMatch(/rejected the request signature of access key '.*' \(SignatureDoesNotMatch\)/);
      noSecrets(r, [wrongSecret, s3.secretAccessKey]);
      const v = await cli([...args, '--verbose'], { env: userEnv({ AWS_SECRET_ACCESS_KEY: wrongSecret }) });
      expect(v.code).toBe(1);
      expect(v.stderr).toMatch(/^\s+at /m); // --verbose adds the stack
      noSecrets(v, [wrongSecret, s3.secretAccessKey]);
    }
    const badKey = await cli(['stat', url('small.bin')], { env: userEnv({ AWS_ACCESS_KEY_ID: 'NoSuchAccessKey' }) });
    expect(badKey.code).toBe(1);
    expect(oneLine(badKey)).toMatch(/does not know access key 'NoSuchAccessKey' \(InvalidAccessKeyId\)/);
    noSecrets(badKey);
  });

  it('no credentials anywhere: exit 1 and where to put them', async () => {
    const r = await cli(['stat', url('small.bin')], { env: userEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, HOME: tmp }) });
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(/no AWS credentials found .*set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });

  it('an unreachable endpoint: exit 1 within seconds, naming it', async () => {
    const port = await closedPort();
    for (const args of [['cat', url('small.bin')], ['ls', `s3://${bucket}/`], ['mount', url('small.bin')]]) {
      const r = await cli([...args, '--endpoint', `http://127.0.0.1:${port}`], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(1);
      expect(oneLine(r)).toMatch(new RegExp(`connection refused by http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); start the S3 server there or fix the endpoint`));
      expect(r.ms).toBeLessThan(10_000);
    }
  });

  it('a bad --chunk-size (or other size, or endpoint) is a usage error', async () => {
    const cases: [string[], RegExp][] = [
      [['--chunk-size', '12q'], /invalid --chunk-size '12q': use a number of bytes or a binary unit, e\.g\. 64k, 1m, 8MiB/],
      [['--chunk-size', '1000'], /chunk size 1000 is not a positive multiple of the page size \(4096\)/],
      [['--chunk-size', '0'], /chunk size 0 is not a positive multiple of the page size/],
      [['--cache-size', 'lots'], /invalid --cache-size 'lots'/],
      [['--readahead', 'fast'], /invalid --readahead 'fast'/],
      [['--endpoint', 'ftp://x'], /invalid --endpoint 'ftp:\/\/x': write it as http:\/\/host:port/],
    ];
    for (const cmd of ['cat', 'stat']) {
      for (const [opt, msg] of cases) {
        const r = await cli([cmd, url('small.bin'), ...opt]);
        expect(r.code, `${cmd} ${opt.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(msg);
        expect(r.stderr).toContain(`Usage: s3mmap ${cmd} s3://bucket/key`);
        expect(r.stdout.length).toBe(0);
      }
    }
  });

  it('usage errors from the command line itself: exit 2', async () => {
    const cases: [string[], string][] = [
      [[], 'name a command'],
      [['frobnicate'], "unknown command 'frobnicate'"],
      [['cta', url('small.bin')], "unknown command 'cta'; did you mean cat?"],
      [['cat'], 'missing the object, s3://bucket/key'],
      [['cat', url('small.bin'), '--bogus-option'], 'unknown argument: bogus-option'],
      [['stat', url('small.bin'), 'extra'], 'unknown argument: extra'],
      [['cat', url('small.bin'), '--range'], 'option --range needs a value'],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.split('\n')[0]).toContain(msg);
      expect(r.stderr).toMatch(/^Usage: s3mmap /m);
    }
  });

  it('no userfaultfd (Docker seccomp, say): stat shows the remedy, cat fails with it in one line', async () => {
    const env = userEnv({ S3MMAP_SIMULATE_UFFD_ERROR: 'ENOSYS' });
    const st = await cli(['stat', url('small.bin'), '--json'], { env });
    expect(st.code, st.stderr).toBe(0);
    const report = JSON.parse(st.stdout.toString());
    expect(report.size).toBe(100_003); // the object is still described
    expect(report.uffd.available).toBe(false);
    expect(report.uffd.reason).toContain('seccomp');
    const r = await cli(['cat', url('small.bin')], { env });
    expect(r.code).toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(oneLine(r)).toMatch(/userfaultfd is not available \(ENOSYS\).*--security-opt seccomp=unconfined/);
  });

  it('--verbose adds the stack to a runtime error', async () => {
    const r = await cli(['cat', url('no-such.bin'), '--verbose']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toContain('(NoSuchKey)');
    expect(lines.length).toBeGreaterThan(2);
    expect(r.stderr).toMatch(/^\s+at /m);
    noSecrets(r);
  });
});

describe('help, version, credentials, bench, demo', () => {
  it('--help lists every command with examples; each command has its own examples', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    const text = top.stdout.toString();
    for (const cmd of ['cat', 'stat', 'mount', 'ls', 'bench', 'demo']) expect(text).toMatch(new RegExp(`^  s3mmap ${cmd}\\b`, 'm'));
    for (const opt of ['--endpoint', '--region', '--profile', '--chunk-size', '--cache-size', '--readahead', '--json', '--verbose', '--version']) expect(text).toContain(opt);
    expect(text).toContain('Examples:');
    for (const cmd of ['cat', 'stat', 'mount', 'ls', 'bench', 'demo']) {
      const r = await cli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      const help = r.stdout.toString();
      expect(help, cmd).toMatch(new RegExp(`^Usage: s3mmap ${cmd}`));
      expect(help, cmd).toMatch(new RegExp(`Examples:\\n  s3mmap ${cmd}`));
    }
  });

  it('docs/cli.md shows `s3mmap --help` exactly as it prints', async () => {
    const page = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
    const shown = /```\n\$ s3mmap --help\n([\s\S]*?)```/.exec(page)?.[1];
    expect(shown, 'docs/cli.md has a "$ s3mmap --help" block').toBeDefined();
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(shown).toBe(r.stdout.toString());
  });

  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString().trim()).toBe(PKG.version);
  });

  it('takes credentials from a profile (--profile) and the endpoint from --endpoint', async () => {
    const creds = join(tmp, 'credentials');
    writeFileSync(creds, `[cli-test]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`);
    const env = userEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined, AWS_SHARED_CREDENTIALS_FILE: creds });
    const r = await cli(['cat', url('small.bin'), '--profile', 'cli-test', '--endpoint', s3.endpoint], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(r.stdout)).toBe(sha256(objects['small.bin'].body));
    const ls = await cli(['ls', `s3://${bucket}/sm`, '--profile', 'cli-test', '--endpoint', s3.endpoint], { env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.toString()).toContain('small.bin');
    const wrong = await cli(['stat', url('small.bin'), '--profile', 'no-such-profile', '--endpoint', s3.endpoint], { env });
    expect(wrong.code).toBe(1);
    expect(oneLine(wrong)).toContain("no AWS credentials found in profile 'no-such-profile'");
  });

  it('bench: a missing benchmark says so (exit 1); a built one gets the arguments', async () => {
    const missing = await cli(['bench'], { env: userEnv({ S3MMAP_BENCH_MODULE: join(tmp, 'no-such-run.js') }) });
    expect(missing.code).toBe(1);
    expect(oneLine(missing)).toMatch(/^s3mmap: the benchmark is not built/);
    const fake = await cli(['bench', '--size', '1g', '--only', 's3mmap', 'x'], { env: userEnv({ S3MMAP_BENCH_MODULE: join(FIXTURES, 'cli-bench.mjs') }) });
    expect(fake.code, fake.stderr).toBe(0);
    expect(JSON.parse(fake.stdout.toString())).toEqual({ benchArgs: ['--size', '1g', '--only', 's3mmap', 'x'] });
    // `--` shields the benchmark's own --help from the CLI; its exit status is the command's.
    const shielded = await cli(['bench', '--', '--help', '--exit-3'], { env: userEnv({ S3MMAP_BENCH_MODULE: join(FIXTURES, 'cli-bench.mjs') }) });
    expect(shielded.code).toBe(3);
    expect(JSON.parse(shielded.stdout.toString())).toEqual({ benchArgs: ['--help', '--exit-3'] });
    expect(shielded.stderr).toBe('');
  });

  it('demo: Ctrl-C stops its MinIO and removes the data folder; exit status 130', async () => {
    const child = spawn(process.execPath, [CLI, 'demo', '--size', '512m', '--verbose'], {
      env: userEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    // Interrupt once it says where MinIO keeps its data: the upload is under way then.
    const started = await new Promise<{ pid: number; dataDir: string }>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const pid = /\(pid (\d+)\)/.exec(stdout);
        const dir = /data in (\S+)\n/.exec(stdout);
        if (pid && dir) resolve({ pid: Number(pid[1]), dataDir: dir[1] });
      });
      child.once('close', () => reject(new Error(`demo ended before it started MinIO: ${stdout}${stderr}`)));
    });
    expect(existsSync(started.dataDir)).toBe(true);
    child.kill('SIGINT');
    const end = await closed;
    clearTimeout(killer);
    expect(end).toEqual({ code: 130, signal: null });
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('s3mmap: interrupted; stopped MinIO and removed its data');
    expect(stdout).not.toMatch(/^uploaded /m);
    expect(existsSync(started.dataDir)).toBe(false);
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      try {
        process.kill(started.pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch (e) {
        gone = (e as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }
    expect(gone, `MinIO (pid ${started.pid}) still running`).toBe(true);
  });

  it('demo: starts its own MinIO, verifies scattered records, fetches a fraction', async () => {
    const size = 4 * 1024 * 1024;
    const r = await cli(['demo', '--size', '4m', '--reads', '6', '--json'], { env: userEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined }), timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout.toString());
    expect(d.verified).toBe(true);
    expect(d.object.size).toBe(size);
    expect(d.object.records).toBe(size / 64);
    expect(d.reads).toHaveLength(6);
    expect(d.reads.every((x: { ok: boolean }) => x.ok)).toBe(true);
    // Not the demo's word for it: each record read back is checked here against the layout
    // the demo documents (index, 13 words derived from it, FNV-1a of the 60 bytes before).
    for (const x of d.reads as { record: number; offset: number; bytes: string }[]) {
      expect(x.offset).toBe(x.record * 64);
      expect(x.bytes, `record ${x.record}`).toBe(demoRecord(x.record).toString('hex'));
    }
    expect(new Set(d.reads.map((x: { record: number }) => x.record)).size).toBe(6);
    expect(d.reads[0].record).toBe(0);
    expect(d.reads[5].record).toBe(size / 64 - 1);
    expect(d.rereadFetches).toBe(0);
    expect(d.stats.fetches).toBeGreaterThan(0);
    expect(d.stats.bytesFetched).toBeLessThan(size / 2);
    // The demo's server is gone: its endpoint refuses connections now.
    const port = Number(new URL(d.minio.endpoint).port);
    expect(await isListening(port)).toBe(false);
  });
});

/** Record i of the demo's object, built from its documented layout (an oracle independent of cli/commands/demo.ts). */
function demoRecord(i: number): Buffer {
  const fmix32 = (h: number) => {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  const r = Buffer.alloc(64);
  r.writeBigUInt64LE(BigInt(i), 0);
  const seed = fmix32((i >>> 0) ^ fmix32(Math.floor(i / 2 ** 32) + 0x9e3779b9));
  for (let k = 0; k < 13; k++) r.writeUInt32LE(fmix32(seed + Math.imul(k + 1, 0x27d4eb2f)), 8 + 4 * k);
  let h = 0x811c9dc5;
  for (let j = 0; j < 60; j++) h = Math.imul(h ^ r[j], 0x01000193);
  r.writeUInt32LE(h >>> 0, 60);
  return r;
}

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
