/**
 * One front door: `latchkit demo` is what `npm start` runs, `latchkit bench` what `npm run bench`
 * runs, and `latchkit --version` names the installed @latchkit/gateway. All through commander.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cliIn } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkit-front-door-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = cliIn(dir);
const root = join(import.meta.dirname, '..', '..');

describe('latchkit front door', () => {
  it('--version prints the gateway package version', async () => {
    const r = await cli.run('--version');
    expect(r.code).toBe(0);
    expect(r.out).toBe((JSON.parse(readFileSync(join(root, 'gateway', 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('npm start and npm run bench are aliases of latchkit demo and latchkit bench', () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start']).toBe('latchkit demo');
    expect(scripts['bench']).toBe('latchkit bench');
  });

  it('demo refuses a unit count out of range as a usage error, before touching anything', async () => {
    for (const units of ['9', '5001', 'ten']) {
      const r = await cli.run('--state-dir', 'demo-state', 'demo', '--units', units);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^error VALIDATION_FAILED: .*--units/);
    }
  });

  it('demo --json runs the main job and prints its summary as JSON', async () => {
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const summary = await cli.json('--state-dir', 'demo-state', 'demo', '--units', '10', '--seed', '3');
      expect(summary.doors).toEqual({ total: 13, online: 3, offline: 10 });
      expect(summary.sync_until_rule).toEqual({ granted_before_sync: true, granted_after_sync: false });
    } finally {
      quiet.mockRestore();
    }
  });

  it('bench runs bench/run.ts and fails with BENCH_FAILED when a suite does', async () => {
    const r = await cli.run('bench', 'no-such-suite');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error BENCH_FAILED: latchkit bench no-such-suite exited with 1/);
  });
});
