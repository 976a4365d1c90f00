// Unit tests of lib/s3/retry.ts: backoffDelay (exponential from the base,
// full jitter through an injected random, capped) and sleep (ends on time, or
// at once on abort, leaving no listener behind). Vitest 'unit' project,
// test-file thread; timers are vitest's fake ones.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, sleep } from '../../lib/s3/retry.js';
import { PINNED } from '../helpers/pins.js';

const policy = { baseDelayMs: PINNED.defaults.retry.baseDelayMs, maxDelayMs: PINNED.defaults.retry.maxDelayMs };

describe('backoffDelay', () => {
  it('doubles from the base per attempt, up to the cap (random = 1: the top of each range)', () => {
    const delays = Array.from({ length: 10 }, (_, i) => backoffDelay(i + 1, policy, () => 1));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  });

  it('full jitter: the delay is the random fraction of the range', () => {
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(1, { baseDelayMs: 7, maxDelayMs: 5 }, () => 1)).toBe(5);
    expect(backoffDelay(20, { baseDelayMs: 1, maxDelayMs: 3000 }, () => 0.25)).toBe(750);
  });

  it('Math.random by default: within [0, cap) of the attempt', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, policy);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(cap);
      }
    }
    const spread = new Set(Array.from({ length: 20 }, () => backoffDelay(5, policy)));
    expect(spread.size).toBeGreaterThan(1);
  });
});

describe('sleep', () => {
  afterEach(() => vi.useRealTimers());

  it('resolves after the time, not before, and removes its abort listener', async () => {
    vi.useFakeTimers();
    const ac = new AbortController();
    const remove = vi.spyOn(ac.signal, 'removeEventListener');
    let done = false;
    const p = sleep(1000, ac.signal).then(() => { done = true; });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect(done).toBe(true);
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  it('an abort ends it at once with the reason, and cancels the timer', async () => {
    vi.useFakeTimers();
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    const reason = new Error('stop');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an already aborted signal rejects without waiting', async () => {
    const reason = new Error('before');
    await expect(sleep(60_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});
