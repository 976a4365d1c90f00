// The retry policy's arithmetic and its waits: exponential backoff with full
// jitter, and a sleep that an abort cuts short. Fault worker thread (S3 reads
// and opens); pure but for the timer.

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
