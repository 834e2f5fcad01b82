/**
 * `latchkit demo` (what `npm start` runs): the main job, a property on the virtual radio end to
 * end (gateway/src/main.ts). `--state-dir` and `--json` are the program's own options; the
 * demo's state directory defaults to ./.latchkit/demo, not the CLI's store, which it would
 * refuse to wipe anyway.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { join, resolve } from 'node:path';
import type { CliIo } from './main.js';

const units = (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 10 || n > 5000) throw new InvalidArgumentError(`expected a whole number from 10 to 5000, got "${value}"`);
  return n;
};
const seed = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return Number(value);
};

export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('the main job (npm start): a property on the virtual BLE radio, every door synced, each credential kind, the sync-until rule')
    .addOption(new Option('--units <n>', 'units in the property, 10..5000').argParser(units).default(300))
    .addOption(new Option('--seed <n>', 'seed of the property generator and the virtual radio').argParser(seed).default(1))
    .addHelpText(
      'after',
      `
The state directory is --state-dir (default .latchkit/demo), recreated on each run, and only if it
is empty or was made by this demo. --json prints only the summary, as JSON (with npm, use
\`npm start --silent -- --json\` so npm's banner stays off stdout).`,
    )
    .action(async (o: { units: number; seed: number }) => {
      const g = program.opts<{ stateDir?: string; json?: boolean }>();
      // Loaded on use: it selects the node:crypto provider for the process, as the demo wants.
      const { runDemo } = await import('../main.js');
      const summary = await runDemo({ units: o.units, seed: o.seed, stateDir: resolve(io.cwd, g.stateDir ?? join('.latchkit', 'demo')), quiet: g.json === true });
      if (g.json) io.out(JSON.stringify(summary, null, 2));
    });
}
