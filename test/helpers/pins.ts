// Today's tuning, pinned in one place: the defaults table, the readahead
// schedule, the retry policy and the exit guard's grace, as the tests expect
// them. Whoever changes one of these on purpose updates it here (and the
// figures in README.md and docs/); every test that depends on one reads it from here,
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
    readahead: 128 * MiB,
    concurrency: 16,
    residentBudget: 0,
    diskCache: {
      size: 4 * 1024 * MiB,
      lowWater: 0.9,
      touchAfterSec: 60,
      lockWaitMs: 10_000,
      sweepAfterMs: 3_600_000,
    },
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
  /** lib/worker/readahead.ts: a confirmed stream's smallest window, in
   *  chunks; its window as a share of what it has read; GETs per window; the
   *  streams tracked at once. */
  readahead: { initialWindow: 4, windowPerRead: 1, piecesPerWindow: 8, maxStreams: 8 },
  /** native/exit_guard.cc kExitGraceMs: how long an exiting process with threads
   *  parked in faults is given before the watchdog ends it. */
  exitGraceMs: 750,
} as const;
