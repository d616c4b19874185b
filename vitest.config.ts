import { defineConfig } from 'vitest/config';

/** The suites against a real redis-server: their workers' stall interval is short, so
 * that a dead worker's batch moves on quickly, and a CPU starved by the other suites'
 * thread pools reads as stalls. They run after the rest, one file at a time. */
const REDIS = ['test/redis.test.ts', 'test/redis-cli.test.ts'];

export default defineConfig({
  test: {
    // The pool's threads run the compiled worker: build once before the tests.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'engine', include: ['test/**/*.test.ts'], exclude: REDIS, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'redis', include: REDIS, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
