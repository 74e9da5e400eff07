import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Child-process tests import the compiled library: build it once before any test runs.
    globalSetup: ['test/global-setup.ts'],
    // Forks isolate the native addon per test file; a crash there fails one file, not the run.
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
