// Vitest configuration of the unit tests (test/unit): the pure parts of lib/
// imported from their TypeScript sources, no MinIO, no fault worker, seconds
// to run. Read by the vitest main process (`npm run test:unit`, and as the
// 'unit' project of vitest.config.ts) and by Stryker's vitest runner
// (stryker.config.mjs), which mutates those sources.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'unit',
    include: ['test/unit/**/*.test.ts'],
    // Plain functions and classes: no process-level hooks, so threads are fine and start fastest.
    pool: 'threads',
    testTimeout: 10_000,
  },
});
