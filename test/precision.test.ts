// Offsets past 2^32, up to the largest S3 object (5 TiB): the Range header
// the S3 source sends and the Content-Range it accepts, against a loopback
// endpoint that claims a 5 TiB object; and the pure arithmetic on the way
// (cat's ranges, sizes, readahead windows in chunks, stats counters). Runs
// in a vitest fork, main thread: nothing here touches mapped memory.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRange, resolveRange } from '../dist/cli/commands/cat.js';
import { S3Source } from '../dist/lib/s3/source.js';
import { formatBytes, parseSize } from '../dist/lib/shared/sizes.js';
import { Counter, createStatsBuffer, readStats, StatsWriter } from '../dist/lib/shared/stats.js';
import { Readahead } from '../dist/lib/worker/readahead.js';
import { content } from './fixtures/content.mjs';

const TiB = 2 ** 40;
const SIZE = 5 * TiB; // S3's largest object
const ETAG = '"5tib-object"';
const SEED = 51;

/** How the endpoint answers a ranged GET: honestly, or off in its Content-Range. */
let answer: 'exact' | 'start-1' | 'total+1' | 'end+1' = 'exact';
const ranges: string[] = [];
let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': String(SIZE), etag: ETAG, 'last-modified': new Date(0).toUTCString() });
      return res.end();
    }
    const range = req.headers.range ?? '';
    ranges.push(range);
    // Parsed as BigInt: the test's own reading of the header loses nothing.
    const m = /^bytes=(\d+)-(\d+)$/.exec(range);
    // Only the open's GET, from byte 0, comes without If-Match: it learns the ETag.
    if (!m || (req.headers['if-match'] !== ETAG && m[1] !== '0')) {
      res.writeHead(400);
      return res.end();
    }
    const [start, end] = [BigInt(m[1]), BigInt(m[2])];
    const length = Number(end - start + 1n);
    const shown = {
      exact: `bytes ${start}-${end}/${SIZE}`,
      'start-1': `bytes ${start - 1n}-${end}/${SIZE}`,
      'end+1': `bytes ${start}-${end + 1n}/${SIZE}`,
      'total+1': `bytes ${start}-${end}/${BigInt(SIZE) + 1n}`,
    }[req.headers['if-match'] ? answer : 'exact']; // the open's GET pins the true size
    res.writeHead(206, { 'content-length': String(length), 'content-range': shown, etag: ETAG });
    res.end(content(Number(start), length, SEED));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function source(): S3Source {
  return new S3Source({
    bucket: 'big', key: 'five-tib',
    client: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDPRECISION', secretAccessKey: 'not-a-secret-precision' } },
    retry: { attempts: 1 },
  });
}

describe('S3 source at offsets up to 5 TiB', () => {
  it('the first GET pins the exact size (its Content-Range total); ranged GETs around 2^32, 2^40, 2^42 and the last byte send exact Range headers and return exact bytes', async () => {
    answer = 'exact';
    ranges.length = 0;
    const src = source();
    try {
      const info = await src.open();
      expect(info.size).toBe(SIZE);
      expect(ranges.splice(0)).toEqual(['bytes=0-0']);
      const reads: [number, number][] = [
        [2 ** 32 - 3, 7], [2 ** 40 - 1, 2], [2 ** 42 + 65_536, 65_536], [SIZE - 1, 1], [SIZE - 8 * 2 ** 20, 8 * 2 ** 20],
      ];
      for (const [offset, length] of reads) {
        const into = Buffer.alloc(length);
        await src.read(offset, length, into, new AbortController().signal);
        expect(into.equals(content(offset, length, SEED)), `bytes at ${offset}`).toBe(true);
      }
      expect(ranges).toEqual([
        'bytes=4294967293-4294967299',
        'bytes=1099511627775-1099511627776',
        'bytes=4398046576640-4398046642175',
        'bytes=5497558138879-5497558138879',
        'bytes=5497549750272-5497558138879',
      ]);
      expect(src.stats.gets).toBe(reads.length);
      expect(src.stats.bytes).toBe(reads.reduce((n, [, l]) => n + l, 0));
      await expect(src.read(SIZE - 1, 2, Buffer.alloc(2), new AbortController().signal)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    } finally {
      src.close();
    }
  });

  for (const off of ['start-1', 'end+1', 'total+1'] as const) {
    it(`a Content-Range off by one past 2^40 (${off}) is refused: BadRangeResponse`, async () => {
      answer = off;
      const src = source();
      try {
        await src.open();
        const err = await src.read(4 * TiB + 3, 4096, Buffer.alloc(4096), new AbortController().signal).catch((e) => e);
        expect(err).toMatchObject({ code: 'BadRangeResponse' });
        expect(err.message).toContain(`'bytes 4398046511107-4398046515202/${SIZE}'`);
      } finally {
        src.close();
        answer = 'exact';
      }
    });
  }
});

describe('arithmetic up to 5 TiB', () => {
  it('cat --range parses and resolves offsets past 2^32 exactly', () => {
    expect(parseRange('4294967295-4294967296')).toEqual({ start: 2 ** 32 - 1, end: 2 ** 32 });
    expect(parseRange('5497558138879-')).toEqual({ start: SIZE - 1, end: undefined });
    expect(parseRange('4t-')).toEqual({ start: 4 * TiB, end: undefined });
    expect(resolveRange(parseRange('4294967295-4294967296'), SIZE, 's3://b/k')).toEqual([2 ** 32 - 1, 2 ** 32 + 1]);
    expect(resolveRange(parseRange('-1'), SIZE, 's3://b/k')).toEqual([SIZE - 1, SIZE]);
    expect(resolveRange(parseRange('5497558138000-9999999999999'), SIZE, 's3://b/k')).toEqual([5497558138000, SIZE]);
    expect(() => resolveRange(parseRange('5t-'), SIZE, 's3://b/k')).toThrow(/range start 5497558138880 is past the end .*the last byte is at 5497558138879/);
  });

  it('sizes parse and print exactly at 4 GiB and 5 TiB', () => {
    expect(parseSize('5t')).toBe(SIZE);
    expect(parseSize('5TiB')).toBe(SIZE);
    expect(parseSize('4.5g')).toBe(4.5 * 2 ** 30);
    expect(parseSize('5497558138879')).toBe(SIZE - 1);
    expect(formatBytes(SIZE)).toBe('5.00 TiB');
    expect(formatBytes(2 ** 32)).toBe('4.00 GiB');
  });

  it('readahead windows stay in chunks and stop at the last chunk of a 5 TiB object', () => {
    const chunks = SIZE / 65_536; // 83,886,080 chunks
    const limits = { chunks, maxWindow: 512, connections: 16 };
    const ra = new Readahead(limits);
    ra.tune({ maxPiece: 128, gap: 0 });
    ra.setMode('sequential');
    // A window of 512 in pieces of 32 (one per connection), clamped to the last chunk.
    const c = chunks - 99;
    expect(ra.onFault(chunks - 100)).toEqual({ pieces: [[c, c + 32], [c + 32, c + 64], [c + 64, c + 96], [c + 96, chunks]], markers: [c, c + 32, c + 64, c + 96] });
    const normal = new Readahead(limits);
    normal.tune({ maxPiece: 128, gap: 0 });
    const start = 2 ** 32 / 65_536 - 2; // across the chunk below 2^32
    for (let i = 0; i < 3; i++) expect(normal.onFault(start + i)).toBeNull();
    expect(normal.onFault(start + 3)).toEqual({ pieces: [[start + 4, start + 5], [start + 5, start + 6], [start + 6, start + 7], [start + 7, start + 8]], markers: [] });
  });

  it('stats counters add bytes past 2^32 and up to 5 TiB exactly', () => {
    const sab = createStatsBuffer();
    const w = new StatsWriter(sab);
    for (let i = 0; i < 5 * 1024; i++) w.add(Counter.bytesFetched, 2 ** 30);
    w.add(Counter.bytesFetched, -1);
    w.set(Counter.residentBytes, 2 ** 32 + 1);
    const s = readStats(sab, SIZE, 65_536);
    expect(s.bytesFetched).toBe(SIZE - 1);
    expect(s.residentBytes).toBe(2 ** 32 + 1);
    expect(s.size).toBe(SIZE);
  });
});
