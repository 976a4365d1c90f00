// What the network model is fed and how load() splits a range: the run
// reader (lib/worker/run-reader.ts) times a read for the model only when it
// goes to the network (not the open's first chunk, which
// lib/worker/prefetched.ts hands over from memory), and FetchPolicy.loadPiece
// splits a range about evenly. Pure logic over fake sources below the S3
// layer, in the integration project because these modules load the addon.
import { describe, expect, it } from 'vitest';
import { planFetch } from '../dist/lib/shared/plan.js';
import type { GetTiming } from '../dist/lib/shared/network-model.js';
import { createStatsBuffer, StatsWriter } from '../dist/lib/shared/stats.js';
import type { Source, SourceInfo } from '../dist/lib/sources/source.js';
import { BufferPool } from '../dist/lib/worker/buffer-pool.js';
import { ChunkGeometry } from '../dist/lib/worker/chunk-geometry.js';
import { FetchPolicy, type GetTimer } from '../dist/lib/worker/fetch-policy.js';
import { PrefetchedSource } from '../dist/lib/worker/prefetched.js';
import { RunReader } from '../dist/lib/worker/run-reader.js';

const KiB = 1024;
const chunk = 64 * KiB;
const size = 8 * chunk;
const body = new Uint8Array(size).map((_, i) => (i * 7 + 3) & 0xff);

/** A source that serves `body` and counts its reads. */
function fakeSource(): Source & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    reads,
    async open(): Promise<SourceInfo> {
      return { size, version: 'v1' } as SourceInfo;
    },
    async read(offset, length, into) {
      reads.push([offset, length]);
      into.set(body.subarray(offset, offset + length));
    },
    close() {},
  };
}

/** A timer that records what it is told. */
function recordingTimer(): GetTimer & { ended: number[] } {
  const ended: number[] = [];
  return {
    ended,
    begin: () => ({ startMs: 0, crowd: 1 }) as GetTiming,
    end: (_g, bytes) => { ended.push(bytes); },
  };
}

function reader(source: Source, timer: GetTimer): RunReader {
  return new RunReader({
    source, pool: new BufferPool(4 * size), geometry: new ChunkGeometry(size, chunk, 4096),
    stats: new StatsWriter(createStatsBuffer()), cache: null, disk: null,
    signal: new AbortController().signal, stopped: () => false, timer,
  });
}

describe('the network model is fed network reads only', () => {
  it("the open's first chunk, handed over from memory, is not timed; the next read is, with its bytes", async () => {
    const inner = fakeSource();
    const timer = recordingTimer();
    const r = reader(new PrefetchedSource(inner, body.slice(0, chunk)), timer);
    const got: number[] = [];
    await r.read(0, 1, async (c, n, data) => { got.push(c, n, data[5]); });
    expect(inner.reads).toEqual([]);
    expect(timer.ended).toEqual([]);
    expect(got).toEqual([0, 1, body[5]]);
    await r.read(1, 2, async (c, n, data) => { got.push(c, n, data[chunk + 9]); });
    expect(inner.reads).toEqual([[chunk, 2 * chunk]]);
    expect(timer.ended).toEqual([2 * chunk]);
    expect(got.slice(3)).toEqual([1, 2, body[2 * chunk + 9]]);
  });

  it('a read that takes the held chunk and more is timed for the part fetched', async () => {
    const inner = fakeSource();
    const timer = recordingTimer();
    const r = reader(new PrefetchedSource(inner, body.slice(0, chunk)), timer);
    await r.read(0, 3, async () => {});
    expect(inner.reads).toEqual([[chunk, 2 * chunk]]);
    expect(timer.ended).toEqual([2 * chunk]);
  });

  it('a read that fails ends its timing with no bytes', async () => {
    const timer = recordingTimer();
    const failing: Source = { ...fakeSource(), read: async () => { throw new Error('boom'); } };
    await expect(reader(failing, timer).read(2, 1, async () => {})).rejects.toThrow('boom');
    expect(timer.ended).toEqual([0]);
  });
});

describe('load() splits a range about evenly', () => {
  const policy = (concurrency: number) => new FetchPolicy(
    planFetch({ chunkSize: chunk, fetchSize: 8 * 1024 * KiB, readahead: 0, residentBudget: 0, concurrency, fill: 'off', endpoint: 'split' }),
    100_000, new StatsWriter(createStatsBuffer()));

  it('into concurrency GETs of 1 MiB at least, and of one fetch (8 MiB) at most', () => {
    const p = policy(16);
    expect(p.loadPiece(19)).toBe(19); // 1.19 MiB: one GET, not 1 MiB and a runt
    expect(p.loadPiece(40)).toBe(20); // 2.5 MiB: 2 GETs
    expect(p.loadPiece(200)).toBe(17); // 12 GETs
    expect(p.loadPiece(1600)).toBe(100); // 16 GETs
    expect(p.loadPiece(2100)).toBe(124); // 17 GETs of at most 128 chunks, not 16 of 128 and a runt
    expect(policy(4).loadPiece(200)).toBe(50);
    expect(p.loadPiece(1)).toBe(1);
  });
});
