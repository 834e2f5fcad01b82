import { defineConfig } from 'vitest/config';

/**
 * Workspace packages export their built dist/ to the world and their TypeScript sources under
 * this condition (see the packages' "exports"): tests run on the sources with no build step.
 */
const SOURCE_CONDITION = '@latchkit/source';
// Vite's own defaults for server code, which setting `conditions` replaces.
const conditions = [SOURCE_CONDITION, 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.test.ts'],
    // Forks, not threads: the virtual radio loads noble/bleno through the CommonJS module
    // cache and native modules (better-sqlite3) are not worker-safe.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
