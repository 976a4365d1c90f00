// Unit tests of lib/s3/retry.ts: backoffDelay (exponential from the base,
// full jitter through an injected random, capped), sleep (ends on time, or
// at once on abort, leaving no listener behind) and withRetries, the one loop
// of attempts of the S3 open and reads (bounded by attempts and by a time). Vitest 'unit' project,
// test-file thread; timers are vitest's fake ones.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { S3MmapError } from '../../lib/shared/errors.js';
import { backoffDelay, sleep, withRetries, type Attempts } from '../../lib/s3/retry.js';
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

describe('withRetries', () => {
  const policy = { attempts: 4, baseDelayMs: 10, maxDelayMs: 1000 };
  const err500 = () => Object.assign(new Error('boom'), { Code: 'InternalError', $metadata: { httpStatusCode: 500 } });
  /** Attempts that fail with `failures` in turn, then succeed; waits recorded, never slept. */
  function loop(failures: unknown[], extra: Partial<Attempts<string>> = {}) {
    const waits: number[] = [];
    let n = 0;
    const a: Attempts<string> = {
      policy,
      attempt: async () => {
        const f = failures[n++];
        if (f === undefined) return 'ok';
        throw f;
      },
      retryable: (f) => f.code === 'InternalError',
      pause: async (ms) => { waits.push(ms); },
      giveUp: (f, attempts, retryable) => new Error(`gave up: ${f.code} after ${attempts} (${retryable ? 'retryable' : 'final'})`),
      ...extra,
    };
    return { run: withRetries(a), waits, tried: () => n };
  }

  it('retries a retryable failure and returns the first success', async () => {
    const l = loop([err500(), err500()]);
    expect(await l.run).toBe('ok');
    expect(l.tried()).toBe(3);
    expect(l.waits).toHaveLength(2);
  });

  it('stops at policy.attempts, with the last failure', async () => {
    const l = loop(Array.from({ length: 10 }, err500));
    await expect(l.run).rejects.toThrow('gave up: InternalError after 4 (retryable)');
    expect(l.tried()).toBe(4);
    expect(l.waits).toHaveLength(3);
  });

  it('gives up at once on a failure that is not retryable, and passes an S3MmapError through untouched', async () => {
    const denied = Object.assign(new Error('no'), { Code: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    let l = loop([denied]);
    await expect(l.run).rejects.toThrow('gave up: AccessDenied after 1 (final)');
    const final = new S3MmapError('ObjectChanged', 's3mmap: changed');
    l = loop([final]);
    await expect(l.run).rejects.toBe(final);
    expect(l.waits).toEqual([]);
  });

  it('starts no attempt whose wait would end past giveUpAt', async () => {
    const l = loop(Array.from({ length: 10 }, err500), { giveUpAt: Date.now() - 1 });
    await expect(l.run).rejects.toThrow('after 1 (retryable)');
  });

  it('counts each retry once, and renames a failure from the one before it', async () => {
    const retried: string[] = [];
    const timeout = Object.assign(new Error('late'), { code: 'ETIMEDOUT' });
    const l = loop([err500(), timeout], {
      policy: { ...policy, attempts: 2 },
      onRetry: (f) => retried.push(f.code),
      rename: (f, previous) => (previous && f.code === 'ETIMEDOUT' ? previous : f),
    });
    await expect(l.run).rejects.toThrow('gave up: InternalError after 2 (retryable)');
    expect(retried).toEqual(['InternalError']);
  });
});
