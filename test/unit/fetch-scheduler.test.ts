// Unit tests of lib/worker/fetch-scheduler.ts with a fake StartRun that records
// every run and settles it when the test says: the concurrency cap, urgent
// before background, coalescing of same-urgency neighbours up to maxRunChunks,
// promote(), hold()/release() batching, stop() rejecting what is queued.
// Vitest 'unit' project, test-file thread.
import { describe, expect, it } from 'vitest';
import { FetchScheduler } from '../../lib/worker/fetch-scheduler.js';

interface Run {
  first: number;
  count: number;
  urgent: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

function harness(concurrency: number, maxRunChunks: number) {
  const runs: Run[] = [];
  const scheduler = new FetchScheduler({ concurrency, maxRunChunks }, (first, count, urgent) =>
    new Promise<void>((resolve, reject) => runs.push({ first, count, urgent, resolve, reject })));
  /** Each request's outcome, as it settles. */
  const outcome = new Map<number, string>();
  const request = (chunk: number, urgent: boolean) => {
    const p = scheduler.request(chunk, urgent);
    p.then(() => outcome.set(chunk, 'ok'), (e: Error) => outcome.set(chunk, `err:${e.message}`));
    return p;
  };
  const started = () => runs.map((r) => [r.first, r.count, r.urgent ? 'U' : 'B']);
  return { scheduler, runs, request, outcome, started };
}

/** Lets promise callbacks (the scheduler's .then/.finally) run. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('FetchScheduler: the concurrency cap', () => {
  it('starts at most `concurrency` runs; each one that ends lets the next start', async () => {
    const h = harness(2, 1);
    for (const c of [0, 10, 20, 30, 40]) h.request(c, true);
    expect(h.started()).toEqual([[0, 1, 'U'], [10, 1, 'U']]);
    expect(h.scheduler.active).toBe(2);
    h.runs[0].resolve();
    await settle();
    expect(h.started()).toEqual([[0, 1, 'U'], [10, 1, 'U'], [20, 1, 'U']]);
    expect(h.scheduler.active).toBe(2);
    h.runs[1].reject(new Error('boom'));
    h.runs[2].resolve();
    await settle();
    expect(h.started().map(([first]) => first)).toEqual([0, 10, 20, 30, 40]);
    h.runs[3].resolve();
    h.runs[4].resolve();
    await settle();
    expect(h.scheduler.active).toBe(0);
    expect(Object.fromEntries(h.outcome)).toEqual({ 0: 'ok', 10: 'err:boom', 20: 'ok', 30: 'ok', 40: 'ok' });
  });

  it('a concurrency of 1 runs one at a time, in order', async () => {
    const h = harness(1, 1);
    for (const c of [5, 3, 9]) h.request(c, false);
    for (let i = 0; i < 3; i++) {
      expect(h.runs).toHaveLength(i + 1);
      expect(h.scheduler.active).toBe(1);
      h.runs[i].resolve();
      await settle();
    }
    expect(h.started()).toEqual([[5, 1, 'B'], [3, 1, 'B'], [9, 1, 'B']]);
    expect(h.scheduler.active).toBe(0);
  });
});

describe('FetchScheduler: order and coalescing', () => {
  it('urgent requests start before background ones queued earlier', async () => {
    const h = harness(1, 1);
    h.scheduler.hold();
    h.request(10, false);
    h.request(20, false);
    h.request(30, true);
    h.scheduler.release();
    expect(h.started()).toEqual([[30, 1, 'U']]);
    h.runs[0].resolve();
    await settle();
    h.runs[1].resolve();
    await settle();
    expect(h.started()).toEqual([[30, 1, 'U'], [10, 1, 'B'], [20, 1, 'B']]);
  });

  it('queued neighbours ride in one run of at most maxRunChunks', () => {
    const h = harness(8, 4);
    h.scheduler.hold();
    for (let c = 0; c < 10; c++) h.request(c, false);
    h.scheduler.release();
    expect(h.started()).toEqual([[0, 4, 'B'], [4, 4, 'B'], [8, 2, 'B']]);
  });

  it("a request's own maxRun shortens its run, and never lengthens it past maxRunChunks", () => {
    const h = harness(4, 4);
    h.scheduler.hold();
    for (let c = 0; c < 10; c++) h.scheduler.request(c, false, c === 0 ? 2 : 100);
    h.scheduler.release();
    expect(h.started()).toEqual([[0, 2, 'B'], [2, 4, 'B'], [6, 4, 'B']]);
  });

  it('a run takes only neighbours of its own urgency', () => {
    const h = harness(8, 8);
    h.scheduler.hold();
    h.request(0, true);
    h.request(1, true);
    h.request(2, false);
    h.request(3, false);
    h.request(4, true);
    h.request(5, false);
    h.scheduler.release();
    expect(h.started()).toEqual([[0, 2, 'U'], [4, 1, 'U'], [2, 2, 'B'], [5, 1, 'B']]);
  });

  it('a run grows forward from its first chunk only, and stops at a gap', () => {
    const h = harness(8, 8);
    h.scheduler.hold();
    h.request(5, false);
    h.request(4, false);
    h.request(6, false);
    h.request(8, false);
    h.scheduler.release();
    expect(h.started()).toEqual([[5, 2, 'B'], [4, 1, 'B'], [8, 1, 'B']]);
  });

  it('without hold(), each request starts at once, alone', () => {
    const h = harness(8, 8);
    for (let c = 0; c < 3; c++) h.request(c, false);
    expect(h.started()).toEqual([[0, 1, 'B'], [1, 1, 'B'], [2, 1, 'B']]);
  });

  it('hold() nests: nothing starts until the last release()', () => {
    const h = harness(8, 8);
    h.scheduler.hold();
    h.scheduler.hold();
    h.request(0, true);
    h.request(1, true);
    h.scheduler.release();
    expect(h.runs).toHaveLength(0);
    h.scheduler.release();
    expect(h.started()).toEqual([[0, 2, 'U']]);
  });

  it('a run that ends while a batch is held starts nothing until release()', async () => {
    const h = harness(1, 8);
    h.request(0, true);
    h.scheduler.hold();
    h.request(5, true);
    h.runs[0].resolve();
    await settle();
    expect(h.runs).toHaveLength(1);
    h.request(6, true);
    h.scheduler.release();
    expect(h.started()).toEqual([[0, 1, 'U'], [5, 2, 'U']]);
  });

  it('every request of a run settles with the run', async () => {
    const h = harness(8, 8);
    h.scheduler.hold();
    for (let c = 0; c < 3; c++) h.request(c, true);
    for (let c = 10; c < 12; c++) h.request(c, true);
    h.scheduler.release();
    h.runs[0].resolve();
    h.runs[1].reject(new Error('gone'));
    await settle();
    expect(Object.fromEntries(h.outcome)).toEqual({ 0: 'ok', 1: 'ok', 2: 'ok', 10: 'err:gone', 11: 'err:gone' });
  });

  it('a StartRun that throws rejects its run and frees its slot', async () => {
    let calls = 0;
    const s = new FetchScheduler({ concurrency: 1, maxRunChunks: 1 }, () => {
      if (calls++ === 0) throw new Error('sync');
      return Promise.resolve();
    });
    const a = s.request(0, true).catch((e: Error) => e.message);
    const b = s.request(1, true).then(() => 'ok');
    expect(await a).toBe('sync');
    expect(await b).toBe('ok');
    expect(calls).toBe(2);
    expect(s.active).toBe(0);
  });

  it('keeps FIFO order over thousands of queued requests', async () => {
    const h = harness(1, 1);
    h.scheduler.hold();
    for (let c = 0; c < 3000; c++) h.request(c * 2, false);
    h.scheduler.release();
    for (let i = 0; i < 3000; i++) {
      h.runs[i].resolve();
      await settle();
    }
    expect(h.runs.map((r) => r.first)).toEqual(Array.from({ length: 3000 }, (_, i) => i * 2));
    expect(h.outcome.size).toBe(3000);
  });
});

describe('FetchScheduler: promote()', () => {
  it('a queued background chunk goes ahead of the other background chunks, as urgent', async () => {
    const h = harness(1, 8);
    h.request(100, true); // occupies the one slot
    h.scheduler.hold();
    h.request(10, false);
    h.request(20, false);
    h.request(30, false);
    h.scheduler.release();
    h.scheduler.promote(30);
    h.runs[0].resolve();
    await settle();
    expect(h.started()[1]).toEqual([30, 1, 'U']);
    h.runs[1].resolve();
    await settle();
    h.runs[2].resolve();
    await settle();
    // 30 is not fetched again from its old place in the background queue.
    expect(h.started()).toEqual([[100, 1, 'U'], [30, 1, 'U'], [10, 1, 'B'], [20, 1, 'B']]);
  });

  it('a promoted chunk rides with its urgent neighbours, no longer with the background ones', async () => {
    const h = harness(1, 8);
    h.request(100, true);
    h.scheduler.hold();
    h.request(1, false);
    h.request(2, false);
    h.request(3, false);
    h.scheduler.release();
    h.scheduler.promote(2);
    h.runs[0].resolve();
    await settle();
    h.runs[1].resolve();
    await settle();
    h.runs[2].resolve();
    await settle();
    h.runs[3]?.resolve();
    await settle();
    expect(h.started()).toEqual([[100, 1, 'U'], [2, 1, 'U'], [1, 1, 'B'], [3, 1, 'B']]);
  });

  it('promoting a chunk that is urgent, running or unknown changes nothing', async () => {
    const h = harness(1, 8);
    h.request(0, true);
    h.scheduler.hold();
    h.request(5, true);
    h.request(7, false);
    h.scheduler.release();
    h.scheduler.promote(0); // running
    h.scheduler.promote(5); // urgent already
    h.scheduler.promote(99); // unknown
    h.runs[0].resolve();
    await settle();
    h.runs[1].resolve();
    await settle();
    expect(h.started()).toEqual([[0, 1, 'U'], [5, 1, 'U'], [7, 1, 'B']]);
  });
});

describe('FetchScheduler: stop()', () => {
  it('rejects every queued request with the error; runs in flight settle on their own; nothing starts after', async () => {
    const h = harness(2, 1);
    for (const c of [0, 10, 20, 30]) h.request(c, c < 20);
    expect(h.runs).toHaveLength(2);
    h.scheduler.stop(new Error('closed'));
    await settle();
    expect(h.outcome.get(20)).toBe('err:closed');
    expect(h.outcome.get(30)).toBe('err:closed');
    expect(h.outcome.has(0)).toBe(false);
    h.runs[0].resolve();
    h.runs[1].reject(new Error('late'));
    await settle();
    expect(Object.fromEntries(h.outcome)).toEqual({ 0: 'ok', 10: 'err:late', 20: 'err:closed', 30: 'err:closed' });
    expect(h.runs).toHaveLength(2);
    expect(h.scheduler.active).toBe(0);
  });

  it('a request after stop() is never started and rejects', async () => {
    const h = harness(8, 8);
    h.scheduler.stop(new Error('closed'));
    h.request(3, true).catch(() => {});
    await settle();
    expect(h.runs).toHaveLength(0);
    expect(h.outcome.get(3)).toBe('err:closed');
  });

  it('a chunk asked for twice while queued is one entry: one run settles both, stop() rejects both', async () => {
    const h = harness(1, 8);
    h.request(0, true);
    const twice = [h.scheduler.request(5, false), h.scheduler.request(5, true)].map((p) => p.then(() => 'ok', (e: Error) => e.message));
    h.runs[0].resolve();
    await settle();
    // The second ask promoted it: it runs alone, once.
    expect(h.started()).toEqual([[0, 1, 'U'], [5, 1, 'U']]);
    h.runs[1].resolve();
    expect(await Promise.all(twice)).toEqual(['ok', 'ok']);

    const g = harness(1, 8);
    g.request(0, true);
    const queued = [g.scheduler.request(7, false), g.scheduler.request(7, false)].map((p) => p.then(() => 'ok', (e: Error) => e.message));
    g.scheduler.stop(new Error('closed'));
    expect(await Promise.all(queued)).toEqual(['closed', 'closed']);
  });

  it('a release() after stop() starts nothing', async () => {
    const h = harness(8, 8);
    h.scheduler.hold();
    h.request(0, true).catch(() => {});
    h.scheduler.stop(new Error('closed'));
    h.scheduler.release();
    await settle();
    expect(h.runs).toHaveLength(0);
    expect(h.outcome.get(0)).toBe('err:closed');
  });
});
