import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Forks, not threads: argon2 and better-sqlite3 are native addons.
    pool: 'forks',
    fileParallelism: true,
    // The CI machine has two cores, and every integration file also drives three databases.
    maxWorkers: 2,
  },
})
