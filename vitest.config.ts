// Vitest configuration. Read by the vitest main process. Two projects:
// 'unit' (vitest.unit.config.ts: the pure modules from their sources, no
// server) and 'integration' (everything else, against one MinIO that its
// globalSetup starts). Integration test files run in child processes (pool
// 'forks') because the library installs process-level exit hooks and a fault
// worker that a worker_threads pool would share. `npm test` runs both;
// `npm run test:unit` only the first.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Node 20 only: the lockfile pins an SDK that supports it, and its notice
    // that later releases will not is noise in test output. On 22 and later
    // nothing is silenced.
    env: Number(process.versions.node.split('.')[0]) < 22 ? { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } : {},
    projects: [
      './vitest.unit.config.ts',
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', '**/node_modules/**'],
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Starts one MinIO per run; compiles nothing (`npm test` runs tsc first).
          globalSetup: ['test/global-setup.ts'],
          // A test file whose main thread stops for good fails with a report.
          setupFiles: ['test/helpers/hang-watchdog.ts'],
        },
      },
    ],
  },
});
