// Vitest configuration. Read by the vitest main process; test files run in
// child processes (pool 'forks') because the library installs process-level
// exit hooks and a fault worker that a worker_threads pool would share.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Starts one MinIO per run; compiles nothing (`npm test` runs tsc first).
    globalSetup: ['test/global-setup.ts'],
    // Node 20 only: the lockfile pins an SDK that supports it, and its notice
    // that later releases will not is noise in test output. On 22 and later
    // nothing is silenced.
    env: Number(process.versions.node.split('.')[0]) < 22 ? { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } : {},
  },
});
