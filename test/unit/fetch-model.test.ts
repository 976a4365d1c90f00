// Unit tests of the pure parts of the fetch policy: the network model
// (lib/shared/network-model.ts: what each GET teaches it, the sizes it
// gives), the plan in chunks (lib/shared/plan.ts) and the ski-rental
// decision and room (lib/worker/fill.ts). Vitest 'unit' project.
import { describe, expect, it } from 'vitest';
import { POLICY } from '../../lib/shared/defaults.js';
import { NetworkModel } from '../../lib/shared/network-model.js';
import { modelSizes, planFetch } from '../../lib/shared/plan.js';
import { FillWhy } from '../../lib/shared/stats.js';
import { SkiRental, fillRoom } from '../../lib/worker/fill.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('NetworkModel', () => {
  it('starts at the seeds: 16 ms first byte, 85 MB/s per connection', () => {
    const m = new NetworkModel();
    expect(m.figures()).toEqual({ firstByteMs: POLICY.network.firstByteMs, bytesPerSec: POLICY.network.bytesPerSec, samples: 0 });
    // The gap worth fetching: first byte x bandwidth; the efficient GET: 9x that (Arrow's cap).
    expect(m.gapBytes).toBeCloseTo(0.016 * 85e6, 3);
    expect(m.pieceBytes).toBeCloseTo(9 * 0.016 * 85e6, 3);
    expect(m.getMs(64 * KiB)).toBeCloseTo(16 + (65536 / 85e6) * 1000, 6);
  });

  it('short GETs teach the first byte, long ones the bandwidth', () => {
    const m = new NetworkModel();
    // A 64 KiB GET that took 2.77 ms: 2 ms of first byte at the seeded bandwidth.
    for (let i = 0; i < 40; i++) m.observe(64 * KiB, 2 + (65536 / 85e6) * 1000);
    expect(m.firstByteMs).toBeCloseTo(2, 2);
    expect(m.bytesPerSec).toBe(85e6);
    // 8 MiB in 2 ms + 40 ms: 200 MiB/s.
    for (let i = 0; i < 40; i++) m.observe(8 * MiB, 2 + 40);
    expect(m.bytesPerSec / ((8 * MiB) / 0.04)).toBeCloseTo(1, 3);
    expect(m.firstByteMs).toBeCloseTo(2, 2);
    expect(m.samples).toBe(80);
  });

  it("a figure's first GET replaces its seed, then it is the mean of its GETs until each weighs less than the smoothing (a fifth)", () => {
    const m = new NetworkModel();
    const at = (fb: number) => fb + (65536 / 85e6) * 1000;
    // Loopback: 4 ms GETs, the first of a cold process 10 ms.
    m.observe(64 * KiB, at(10));
    expect(m.firstByteMs).toBeCloseTo(10, 6);
    for (const fb of [4, 4, 4, 4]) m.observe(64 * KiB, at(fb));
    expect(m.firstByteMs).toBeCloseTo((10 + 4 * 4) / 5, 6);
    // From the fifth on, each GET weighs a fifth.
    m.observe(64 * KiB, at(4));
    expect(m.firstByteMs).toBeCloseTo(5.2 + 0.2 * (4 - 5.2), 6);
    // The bandwidth counts its own GETs: its first replaces the seed too.
    m.observe(8 * MiB, m.firstByteMs + 20);
    expect(m.bytesPerSec).toBeCloseTo((8 * MiB) / 0.02, 0);
  });

  it('ignores GETs that say nothing (no bytes, no time)', () => {
    const m = new NetworkModel();
    m.observe(0, 5);
    m.observe(100, 0);
    expect(m.samples).toBe(0);
  });

  it('prices a parallel fetch: rounds of first bytes plus the bytes over the connections used, at most the aggregate', () => {
    const m = new NetworkModel();
    expect(POLICY.network.aggregateBytesPerSec).toBe(450e6);
    // 16 MiB in 8 MiB pieces: 2 connections, 170 MB/s, one round.
    expect(m.parallelMs(16 * MiB, 15, 8 * MiB)).toBeCloseTo(16 + (16 * MiB / (2 * 85e6)) * 1000, 6);
    // 64 MiB: 8 pieces would carry 680 MB/s; the machine 450.
    expect(m.parallelMs(64 * MiB, 15, 8 * MiB)).toBeCloseTo(16 + (64 * MiB / 450e6) * 1000, 6);
    // 1 GiB: 128 pieces, 9 rounds of 15.
    expect(m.parallelMs(1024 * MiB, 15, 8 * MiB)).toBeCloseTo(9 * 16 + (1024 * MiB / 450e6) * 1000, 6);
    expect(m.parallelMs(0, 15, 8 * MiB)).toBe(0);
  });
});

describe('the plan', () => {
  const base = { chunkSize: 64 * KiB, fetchSize: 8 * MiB, readahead: 128 * MiB, residentBudget: 0, concurrency: 16, fill: 'auto' as const, endpoint: 'e' };

  it('is the options in chunks', () => {
    expect(planFetch(base)).toEqual({ chunkSize: 64 * KiB, fetchChunks: 128, readaheadChunks: 2048, loadMinPieceChunks: 16, concurrency: 16, budgetChunks: 0, fill: 'auto', endpoint: 'e' });
    expect(planFetch({ ...base, residentBudget: 2 * MiB + 1 }).budgetChunks).toBe(32);
  });

  it("readahead 0 asks for what is touched only: 'auto' fill is off, 'eager' stays", () => {
    expect(planFetch({ ...base, readahead: 0 }).fill).toBe('off');
    expect(planFetch({ ...base, readahead: 0, fill: 'eager' }).fill).toBe('eager');
  });

  it("the model's sizes in chunks: the piece at most one fetch, the gap rounded down", () => {
    const m = new NetworkModel();
    expect(modelSizes(m, planFetch(base))).toEqual({ maxPiece: 128, gap: 20 }); // 12.2 MB capped at 8 MiB; 1.36 MB
    m.firstByteMs = 0.5;
    m.bytesPerSec = 1e9;
    expect(modelSizes(m, planFetch(base))).toEqual({ maxPiece: 68, gap: 7 }); // 4.5 MB; 500 KB
  });
});

describe('SkiRental', () => {
  it("'auto' buys once the rent reaches half the price, and only once", () => {
    expect(POLICY.fill.startAt).toBe(0.5);
    const r = new SkiRental('auto');
    r.rent(20);
    expect(r.due(100)).toBeNull();
    r.rent(20);
    expect(r.due(100)).toBeNull();
    r.rent(10);
    expect(r.due(100)).toBe(FillWhy.pays);
    expect(r.due(100)).toBeNull();
  });

  it("'eager' buys at once; 'off' never", () => {
    expect(new SkiRental('eager').due(1e9)).toBe(FillWhy.eager);
    const off = new SkiRental('off');
    off.rent(1e9);
    expect(off.due(0)).toBeNull();
  });
});

describe('fillRoom', () => {
  it('under a budget: what the budget leaves', () => {
    expect(fillRoom(64 * MiB, 10 * MiB)).toBe(54 * MiB);
    expect(fillRoom(2 * MiB, 3 * MiB)).toBe(0);
  });

  it('without one: at most half the free memory', async () => {
    const { freemem } = await import('node:os');
    const room = fillRoom(0, 0);
    expect(room).toBeGreaterThan(0);
    expect(room).toBeLessThanOrEqual(freemem() * POLICY.fill.freeShare * 1.1);
  });
});

describe('FetchPolicy: the fill starts where the waits reach half its price', async () => {
  const { FetchPolicy } = await import('../../lib/worker/fetch-policy.js');
  const { StatsWriter, createStatsBuffer, readStats } = await import('../../lib/shared/stats.js');
  const chunk = 64 * KiB;
  const policy = (size: number, endpoint: string) => {
    const sab = createStatsBuffer();
    // A budget that holds the object: the room for the fill does not depend on this machine's free memory.
    const plan = planFetch({ chunkSize: chunk, fetchSize: 8 * MiB, readahead: 128 * MiB, residentBudget: 2 * size, concurrency: 16, fill: 'auto', endpoint });
    return { p: new FetchPolicy(plan, size / chunk, new StatsWriter(sab)), stats: () => readStats(sab, size, chunk) };
  };
  /** Faults on chunks 0..n-1, each waiting, as a sequential reader's first faults. */
  const scan = (size: number, n: number, endpoint: string) => {
    const { p, stats } = policy(size, endpoint);
    let filled = -1;
    for (let c = 0; c < n; c++) {
      const d = p.onFault(c, true, { missingBytes: size - (c + 1) * chunk, residentBytes: c * chunk });
      if (d?.fill && filled < 0) filled = c;
    }
    return { filled, fill: stats().fill };
  };

  it('64 MiB: at the fifth wait (84 ms of waits against a 165 ms fill); four waits never', () => {
    expect(scan(64 * MiB, 8, 'scan-a')).toMatchObject({ filled: 4, fill: { started: true, why: 'pays', atFault: 5 } });
    expect(scan(64 * MiB, 4, 'scan-b')).toMatchObject({ filled: -1, fill: { started: false } });
  });

  it('1 GiB: at the 76th wait (half of 9 rounds of first bytes and 1 GiB at 450 MB/s is 1.27 s)', () => {
    expect(scan(1024 * MiB, 75, 'scan-c')).toMatchObject({ filled: -1, fill: { started: false } });
    expect(scan(1024 * MiB, 80, 'scan-d')).toMatchObject({ filled: 75, fill: { started: true, atFault: 76 } });
  });
});

describe('NetworkModel: learns only from GETs that had a connection to themselves', () => {
  it('a crowd of GETs (a fill) teaches nothing; a GET alone, or beside a few, does', () => {
    const m = new NetworkModel();
    expect(m.soloCrowd).toBe(5); // 450 MB/s over 85 MB/s a connection, rounded down
    expect(m.saturatingGets).toBe(6); // and up
    // 16 GETs at once, each 180 ms for 64 KiB: the crowd's time, not the network's.
    const crowd = Array.from({ length: 16 }, () => m.begin(0));
    for (const g of crowd) m.end(g, 64 * KiB, 180);
    expect(m.figures()).toEqual({ firstByteMs: 16, bytesPerSec: 85e6, samples: 0 });
    // A GET that started alone but saw the crowd come is crowded too.
    const early = m.begin(0);
    const late = Array.from({ length: 5 }, () => m.begin(1));
    m.end(early, 64 * KiB, 100);
    for (const g of late) m.end(g, 64 * KiB, 100);
    expect(m.samples).toBe(0);
    // Five at once (what the aggregate carries at 85 MB/s each): each teaches.
    const few = Array.from({ length: 5 }, () => m.begin(0));
    for (const g of few) m.end(g, 64 * KiB, 4 + (65536 / 85e6) * 1000);
    expect(m.samples).toBe(5);
    expect(m.firstByteMs).toBeLessThan(16);
    // A failed GET (no bytes) teaches nothing and leaves the crowd.
    const failed = m.begin(0);
    m.end(failed, 0, 50);
    expect(m.samples).toBe(5);
    const alone = m.begin(0);
    m.end(alone, 64 * KiB, 3);
    expect(m.samples).toBe(6);
  });
});
