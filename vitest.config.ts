import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/temp-root.ts'],
    // Real databases and real child processes: generous per-test limits, never asserted on.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Most of a CLI test is spent waiting on a child process or a hold: a third worker keeps both cores busy.
    maxWorkers: 3,
  },
});
