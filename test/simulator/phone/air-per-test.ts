/**
 * One virtual air per test and what to stop after it: `const env = airPerTest()` at the top of a
 * test file registers the afterEach that runs `env.cleanup` (newest first), closes `env.air` and
 * restores spies.
 */
import { afterEach, vi } from 'vitest';
import type { Air } from '../../../simulator/src/radio/index.js';

export interface AirPerTest {
  air: Air | undefined;
  readonly cleanup: Array<() => Promise<void>>;
}

export function airPerTest(): AirPerTest {
  const env: AirPerTest = { air: undefined, cleanup: [] };
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const f of env.cleanup.splice(0).reverse()) await f();
    await env.air?.close();
    env.air = undefined;
  });
  return env;
}
