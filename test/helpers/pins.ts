// Today's tuning, pinned in one place: the defaults table, the readahead
// schedule, the retry policy and the exit guard's grace, as the tests expect
// them. Whoever changes one of these on purpose updates it here (and the
// figures in the README); every test that depends on one reads it from here,
// so a change made by accident fails and a change made on purpose is one edit.
// Imported by unit and integration test files (vitest test-file processes).

const KiB = 1024;
const MiB = 1024 * KiB;

export const PINNED = {
  /** lib/shared/defaults.ts, value for value. */
  defaults: {
    chunkSize: 64 * KiB,
    fetchSize: 8 * MiB,
    cacheSize: 64 * MiB,
    readahead: 32 * MiB,
    concurrency: 8,
    residentBudget: 0,
    region: 'us-east-1',
    retry: {
      attempts: 6,
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      requestTimeoutMs: 10_000,
      deadlineMs: 60_000,
      connectTimeoutMs: 3000,
      openTimeoutMs: 15_000,
    },
  },
  /** lib/worker/readahead.ts: a confirmed stream's first window, in chunks,
   *  and the factor it grows by at each later fault of the stream. */
  readahead: { initialWindow: 4, growth: 4, maxStreams: 8 },
  /** native/addon.cc kExitGraceMs: how long an exiting process with threads
   *  parked in faults is given before the watchdog ends it. */
  exitGraceMs: 750,
} as const;

/** The readahead windows (in chunks) of a stream's 1st, 2nd, ... confirmed
 *  fault, capped at `maxWindow` chunks: 4, 16, 64, ... today. */
export function readaheadWindows(maxWindow: number, count: number): number[] {
  const out: number[] = [];
  let w = 0;
  for (let i = 0; i < count; i++) {
    w = Math.min(maxWindow, Math.max(PINNED.readahead.initialWindow, w * PINNED.readahead.growth));
    out.push(w);
  }
  return out;
}
