import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Forks, not threads: the virtual radio loads noble/bleno through the CommonJS module
    // cache and native modules (better-sqlite3) are not worker-safe.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
