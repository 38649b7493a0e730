import { defineConfig } from 'vitest/config';

// Suites start real PostgreSQL clusters and embedded engines (~230 MB, seconds to boot each):
// files run in a few forks, tests inside a file run in order.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
