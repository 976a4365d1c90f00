// The retry policy: exponential backoff with full jitter, a sleep that an
// abort cuts short, and the one loop of attempts that both the open (pin.ts)
// and the reads (source.ts) run under. Fault worker thread (S3 reads and
// opens); pure but for the timer.
import type { RetryPolicy } from '../shared/defaults.js';
import { S3MmapError } from '../shared/errors.js';
import { testHooks } from '../shared/test-hooks.js';
import { failureOf, type Failure } from './failures.js';

/** The wait before attempt `attempt + 1`: uniformly random up to
 *  min(maxDelayMs, baseDelayMs * 2^(attempt-1)) ("full jitter"). */
export function backoffDelay(attempt: number, policy: { baseDelayMs: number; maxDelayMs: number }, random: () => number = Math.random): number {
  return random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface Attempts<T> {
  policy: Pick<RetryPolicy, 'attempts' | 'baseDelayMs' | 'maxDelayMs'>;
  /** One attempt. An S3MmapError it throws is final; anything else is named by failureOf. */
  attempt: (n: number) => Promise<T>;
  /** Whether this failure is worth another attempt. */
  retryable: (f: Failure) => boolean;
  /** Rename a failure given the one before it (a read's own deadline says less than the server's last word). */
  rename?: (f: Failure, previous: Failure | undefined) => Failure;
  /** No attempt starts at or after this time (ms since the epoch). */
  giveUpAt?: number;
  /** Wait between attempts; rejects when the wait is cut short (abort, close). */
  pause: (ms: number) => Promise<void>;
  /** Counted once per attempt that will be repeated. */
  onRetry?: (f: Failure) => void;
  /** What to throw when no attempt is left: the failure, the attempts made, whether it was retryable. */
  giveUp: (f: Failure, attempts: number, retryable: boolean) => unknown | Promise<unknown>;
}

/** Runs `attempt` until it succeeds, fails for good, or the policy's attempts or giveUpAt run out. */
export async function withRetries<T>(a: Attempts<T>): Promise<T> {
  let previous: Failure | undefined;
  for (let n = 1; ; n++) {
    let failure: Failure;
    try {
      return await a.attempt(n);
    } catch (err) {
      if (err instanceof S3MmapError) throw err;
      failure = failureOf(err);
    }
    if (a.rename) failure = a.rename(failure, previous);
    previous = failure;
    const retryable = a.retryable(failure);
    const delay = backoffDelay(n, a.policy, testHooks.jitter);
    if (!retryable || n >= a.policy.attempts || (a.giveUpAt !== undefined && Date.now() + delay >= a.giveUpAt)) {
      throw await a.giveUp(failure, n, retryable);
    }
    a.onRetry?.(failure);
    await a.pause(delay);
  }
}
