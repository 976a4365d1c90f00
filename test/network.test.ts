// The benchmark's network emulation (lib/dev/s3-harness/network.ts in lib/dev/s3-harness/s3-proxy.ts):
// the first-byte draws have the stated median and tail, and a bare request
// through the proxy, run on its own worker thread as in the bench, takes at
// least its drawn first byte plus its size over the bandwidth. Lower bounds
// are tight (the emulation must never be faster than the profile); upper
// bounds are generous, since a busy 2-core machine only ever adds time.
// Runs in a vitest fork, main thread; the proxy runs on a worker thread.
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { median } from '../dist/bench/format.js';
import { firstByteDraws, PROFILES } from '../dist/lib/dev/s3-harness/network.js';
import { readTraffic, startPhase, trafficDelta } from '../dist/bench/control.js';
import { startProxyThread, type ProxyThread } from '../dist/bench/proxy-thread.js';
import { startThreadProxy, type ThreadProxy } from './helpers/proxy-thread.js';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
const std = PROFILES['s3-standard'];
/** Timer and clock granularity: a request may look this much faster than its schedule. */
const SLACK_MS = 1;


describe('first-byte draws', () => {
  it('have the stated median, a tail, and a cap', () => {
    const draw = firstByteDraws(std, 7);
    const xs = Array.from({ length: 20_001 }, draw);
    expect(median(xs)).toBeGreaterThan(std.firstByteMedianMs * 0.97);
    expect(median(xs)).toBeLessThan(std.firstByteMedianMs * 1.03);
    // σ 0.5: P(X > 2 × median) = P(Z > ln 2 / 0.5) ≈ 8.3 %.
    const slow = xs.filter((x) => x > 2 * std.firstByteMedianMs).length / xs.length;
    expect(slow).toBeGreaterThan(0.06);
    expect(slow).toBeLessThan(0.11);
    expect(Math.min(...xs)).toBeGreaterThan(0);
    expect(Math.max(...xs)).toBeLessThanOrEqual(std.firstByteMedianMs * std.firstByteCapX);
  });

  it('repeat for a seed and are zero on loopback', () => {
    const a = firstByteDraws(std, 3);
    const b = firstByteDraws(std, 3);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
    expect(firstByteDraws(PROFILES.loopback)()).toBe(0);
  });
});

describe.skipIf(!s3.endpoint.startsWith('http:'))('requests through the emulating proxy', () => {
  let bucket: string;
  let proxy: ThreadProxy;
  let client: S3Client;
  const sizes = { small: 64 * 1024, large: 16 * 1024 * 1024 };

  beforeAll(async () => {
    bucket = await s3.uniqueBucket('network');
    await putObject(s3.client(), bucket, 'small', randomBytes(sizes.small));
    await putObject(s3.client(), bucket, 'large', randomBytes(sizes.large));
    proxy = await startThreadProxy();
    await proxy.setNetwork(std, 11);
    client = s3.client({ endpoint: proxy.endpoint, maxAttempts: 1 });
  });
  afterAll(async () => {
    client?.destroy();
    await proxy?.close();
  });

  /** Runs `fn` and returns its duration with the proxy's log entry for it. */
  async function timed(fn: () => Promise<unknown>) {
    await proxy.reset();
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    const [entry, ...more] = await proxy.log();
    expect(more).toHaveLength(0);
    return { ms, drawn: entry.firstByteMs!, bytes: entry.bytes };
  }
  const get = (key: string, range?: string) => async () => {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
    await out.Body!.transformToByteArray();
  };
  const paced = (bytes: number) => (bytes / std.bandwidthBps) * 1000;

  it('a HEAD waits for its drawn first byte', async () => {
    const over: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await timed(() => client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' })));
      expect(r.drawn).toBeGreaterThan(0);
      expect(r.ms).toBeGreaterThanOrEqual(r.drawn - SLACK_MS);
      over.push(r.ms - r.drawn);
    }
    expect(median(over)).toBeLessThan(50);
  });

  it('a bare ranged GET takes its first byte plus its size over the bandwidth', async () => {
    const ratios: number[] = [];
    for (const range of ['bytes=0-65535', 'bytes=0-1048575', 'bytes=0-4194303']) {
      const r = await timed(get('large', range));
      const want = r.drawn + paced(r.bytes);
      expect(r.bytes).toBe(Number(range.split('-')[1]) + 1);
      expect(r.ms).toBeGreaterThanOrEqual(want - SLACK_MS);
      ratios.push(r.ms / want);
    }
    expect(median(ratios)).toBeLessThan(3);
  });

  it('paces a 16 MiB body to 85 MB/s, in slices', async () => {
    const r = await timed(get('large'));
    const want = r.drawn + paced(sizes.large); // ≈ 16 + 197 ms
    expect(r.bytes).toBe(sizes.large);
    expect(r.ms).toBeGreaterThanOrEqual(want - SLACK_MS);
    expect(r.ms).toBeLessThan(want * 3 + 200);
  });

  it('paces each connection on its own: 4 at once take about as long as one', async () => {
    await proxy.reset();
    const t0 = performance.now();
    await Promise.all([0, 1, 2, 3].map((i) => get('large', `bytes=${i * 4194304}-${i * 4194304 + 4194303}`)()));
    const ms = performance.now() - t0;
    const log = await proxy.log();
    expect(log).toHaveLength(4);
    const slowest = Math.max(...log.map((e) => e.firstByteMs! + paced(e.bytes)));
    expect(ms).toBeGreaterThanOrEqual(slowest - SLACK_MS);
    // Shared pacing would need 4 × 49 ms of body time at least.
    expect(ms).toBeLessThan(slowest + 4 * paced(4194304) * 2 + 200);
  });
});

describe.skipIf(!s3.endpoint.startsWith('http:'))("the bench's proxy thread", () => {
  /** A bench proxy thread, a client through it and a 1000-byte object 'k'; `head()` times one HEAD of it. */
  async function withBenchProxy(name: string, fn: (bench: ProxyThread, head: () => Promise<number>) => Promise<void>): Promise<void> {
    const bench = await startProxyThread({ upstream: s3.endpoint, credentials: s3.credentials });
    const client = s3.client({ endpoint: bench.endpoint, maxAttempts: 1 });
    try {
      const bucket = await s3.uniqueBucket(name);
      await putObject(s3.client(), bucket, 'k', randomBytes(1000));
      await fn(bench, async () => {
        const t0 = performance.now();
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
        return performance.now() - t0;
      });
    } finally {
      client.destroy();
      await bench.close();
    }
  }

  it('switches profiles between requests', () => withBenchProxy('network-thread', async (bench, head) => {
    await bench.setNetwork('s3-standard', 5);
    const drawn = firstByteDraws(std, 5)();
    expect(await head()).toBeGreaterThanOrEqual(drawn - SLACK_MS);
    await bench.setNetwork('loopback');
    await head();
    const counters = await fetch(`${bench.controlUrl}/proxy`).then((r) => r.json());
    expect(counters).toMatchObject({ requests: 2, gets: 0 });
  }));

  it("starts a phase's first-byte draws over: the request after two others meets the first delay again", () => withBenchProxy('network-draws', async (bench, head) => {
    // Seed 3's sequence: 34.7, 26.2, 6.9 ms. Two warm-up requests take the first two.
    const draws = firstByteDraws(std, 3);
    const [first, , third] = [draws(), draws(), draws()];
    expect(first - third).toBeGreaterThan(20);
    await bench.setNetwork('s3-standard', 3);
    await head();
    await head();
    const before = await startPhase(bench.controlUrl);
    expect(await head()).toBeGreaterThanOrEqual(first - SLACK_MS);
    expect(trafficDelta(before, await readTraffic(bench.controlUrl))).toEqual({ requests: 1, gets: 0, bytes: 0 });
  }));
});
