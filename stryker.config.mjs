// Stryker configuration: mutation testing of the pure modules against their
// unit tests only (test/unit, vitest.unit.config.ts), so a run takes minutes.
// Read by `npm run mutate` (Stryker's main process; it runs vitest in worker
// processes inside a sandbox copy of the tree). The report goes to
// reports/mutation/ (mutation.html, mutation.json).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'lib/worker/readahead.ts',
    'lib/worker/fetch-scheduler.ts',
    'lib/worker/chunk-geometry.ts',
    'lib/worker/residency.ts',
    'lib/worker/buffer-pool.ts',
    'lib/api/options.ts',
    'lib/shared/sizes.ts',
    'lib/shared/defaults.ts',
    'lib/s3/retry.ts',
    'lib/s3/url.ts',
    'lib/s3/failures.ts',
  ],
  coverageAnalysis: 'perTest',
  // Two cores on this machine.
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false },
  // Only what the unit tests read is copied into the sandbox.
  ignorePatterns: ['.cache', 'dist', 'build', 'bench', 'cli', 'native', 'reports', 'test/fixtures', '*.log'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
