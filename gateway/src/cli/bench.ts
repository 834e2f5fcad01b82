/**
 * `latchkit bench [suite...] [--quick] [--check]` (what `npm run bench` runs): the benchmark
 * suites of a repository checkout (bench/run.ts, which owns their options). They live beside
 * the packages, not in one (bench imports the gateway, never the reverse), so this starts them
 * in a child process: Node with tsx and the source condition, as the repository runs its code.
 * An installed @latchkit/gateway has no bench/ and says so.
 */
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../errors.js';

/** bench/run.ts of the checkout this file is in (gateway/src/cli -> the repository root). */
const runner = fileURLToPath(new URL('../../../bench/run.ts', import.meta.url));

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run benchmark suites of a repository checkout (npm run bench); JSON on stdout, files in bench/out/')
    .argument('[suite...]', 'suites to run (default: every suite, each in its own process); see bench/SCHEMA.md')
    .option('--quick', 'smaller sizes (what CI runs)')
    .option('--check', 'judge the budget checks; exit 1 if one fails')
    .allowUnknownOption(false)
    .action((suites: string[], o: { quick?: boolean; check?: boolean }) => {
      if (!existsSync(runner)) {
        throw new GatewayError('BENCH_UNAVAILABLE', 'the benchmarks run from a latchkit repository checkout (git clone, npm install, npx latchkit bench); an installed package does not ship bench/');
      }
      const args = [...suites, ...(o.quick ? ['--quick'] : []), ...(o.check ? ['--check'] : [])];
      const root = dirname(dirname(runner));
      const child = spawnSync(process.execPath, ['--conditions=@latchkit/source', '--import', 'tsx', runner, ...args], { cwd: root, stdio: 'inherit' });
      if (child.status !== 0) throw new GatewayError('BENCH_FAILED', `latchkit bench ${args.join(' ')} exited with ${child.status ?? child.signal}`);
    });
}
