// An object over 4 GiB in MinIO, end to end: generated once per run (a
// streaming multipart upload, content a function of the offset), mapped
// through the counting proxy, read near 0, on both sides of 2^32 and at the
// end (through `buffer` where one Buffer holds it, through view() where not),
// and through the CLI's cat, stat and mount. Runs in a vitest fork; its main
// thread touches mapped pages, so the proxy runs on a worker thread.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapObject } from '../dist/lib/index.js';
import { maxBufferLength } from '../dist/lib/shared/native.js';
import { putGenerated } from './helpers/big-object.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { userEnv } from './helpers/cli-env.js';
import { testS3 } from './helpers/s3.js';
import { tempDir } from './helpers/content.js';
import { content } from './fixtures/content.mjs';

const s3 = testS3();
const SEED = 41;
// Past 4 GiB by half a GiB and a tail that is no whole chunk or page.
const SIZE = 4.5 * 2 ** 30 + 12_345;
const TWO32 = 2 ** 32;
const CHUNK = 64 * 1024;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const whole = maxBufferLength >= SIZE;
const tmp = tempDir();
let bucket: string;
let url: string;
let tp: ThreadProxy;

beforeAll(async () => {
  bucket = await s3.uniqueBucket('big');
  url = `s3://${bucket}/offsets-4.5g`;
  const t0 = Date.now();
  const client = s3.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
  await putGenerated(client, bucket, 'offsets-4.5g', SIZE, SEED);
  client.destroy();
  console.log(`uploaded ${SIZE} bytes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  tp = await startThreadProxy();
}, 300_000);
afterAll(async () => {
  await tp?.close();
  tmp.cleanup();
});

function cli(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

describe(`a ${SIZE}-byte object (over 4 GiB) in MinIO`, () => {
  it(`bytes near 0, on both sides of 2^32 and at the end are exact through ${whole ? '`buffer` and view()' : 'view() (`buffer` names it)'}; only the chunks touched are fetched, with exact Range headers`, async () => {
    await tp.reset();
    const m = await mapObject(url, { endpoint: tp.endpoint, region: s3.region, credentials: s3.credentials, readahead: 0 });
    try {
      expect(m.size).toBe(SIZE);
      const reads: [number, number][] = [[0, 16], [TWO32 - 8, 16], [SIZE - 16, 16]];
      for (const [off, len] of reads) expect(m.view(off, len).equals(content(off, len, SEED)), `view at ${off}`).toBe(true);
      if (whole) {
        expect(m.buffer.length).toBe(SIZE);
        for (const [off, len] of reads) expect(m.buffer.subarray(off, off + len).equals(content(off, len, SEED)), `buffer at ${off}`).toBe(true);
        expect([m.buffer[TWO32 - 1], m.buffer[TWO32], m.buffer[SIZE - 1]]).toEqual([...content(TWO32 - 1, 2, SEED), ...content(SIZE - 1, 1, SEED)]);
      } else {
        expect(() => m.buffer).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_TOO_LARGE', message: expect.stringMatching(/mapping\.view\(offset, length\).*Node\.js 22 or later/) }));
      }
      const last = Math.floor((SIZE - 1) / CHUNK) * CHUNK;
      const log = (await tp.log()).filter((e) => e.method === 'GET');
      const ranges = log.map((e) => e.range).sort();
      // 0, the chunks on each side of 2^32, the last one: four GETs, nothing else.
      expect(ranges).toEqual([
        `bytes=0-${CHUNK - 1}`,
        `bytes=${TWO32 - CHUNK}-${TWO32 - 1}`,
        `bytes=${TWO32}-${TWO32 + CHUNK - 1}`,
        `bytes=${last}-${SIZE - 1}`,
      ].sort());
      expect(log.every((e) => e.status === 206)).toBe(true);
      const stats = m.stats();
      expect(stats.fetches).toBe(4);
      expect(stats.bytesFetched).toBe(3 * CHUNK + (SIZE - last));
      console.log(`GETs through the proxy: ${ranges.length} (${ranges.join(', ')}), ${stats.bytesFetched} bytes`);
    } finally {
      await m.close();
    }
  });

  it('`s3mmap cat --range` across 2^32 equals the same range from a plain GetObject', async () => {
    const from = TWO32 - 100_000;
    const to = TWO32 + 99_999;
    const r = await cli(['cat', url, '--range', `${from}-${to}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const client = s3.client();
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'offsets-4.5g', Range: `bytes=${from}-${to}` }));
    const plain = Buffer.from(await got.Body!.transformToByteArray());
    client.destroy();
    expect(got.ContentRange).toBe(`bytes ${from}-${to}/${SIZE}`);
    expect(r.stdout.length).toBe(200_000);
    expect(r.stdout.equals(plain)).toBe(true);
    expect(plain.equals(content(from, 200_000, SEED))).toBe(true);
  });

  it('`s3mmap stat` gives the exact size and says whether one Buffer holds it; `mount --exec` reads through mapping.view()', async () => {
    const st = await cli(['stat', url, '--json']);
    expect(st.code, st.stderr).toBe(0);
    const report = JSON.parse(st.stdout.toString());
    expect(report.size).toBe(SIZE);
    expect(report.plan.chunks).toBe(Math.ceil(SIZE / CHUNK));
    expect(report.node).toMatchObject({ version: process.version, wholeBuffer: whole });

    const script = join(tmp.dir, 'across.mjs');
    writeFileSync(script, `export default function (buf, mapping) {
      console.log(JSON.stringify({ whole: buf !== null && buf.length === mapping.size, bytes: [...mapping.view(${TWO32 - 2}, 4)], tail: [...mapping.view(mapping.size - 2)] }));
    }\n`);
    const mt = await cli(['mount', url, '--exec', script]);
    expect(mt.code, mt.stderr).toBe(0);
    expect(JSON.parse(mt.stdout.toString())).toEqual({ whole, bytes: [...content(TWO32 - 2, 4, SEED)], tail: [...content(SIZE - 2, 2, SEED)] });
    if (!whole) expect(mt.stderr).toMatch(/`buf` is null; mapping\.view\(offset, length\) gives a Buffer over any window/);
  });
});
