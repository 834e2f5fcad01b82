/**
 * Stand-alone entry for the simulator's commands while the gateway's `latchkit` binary is not
 * wired to them: `npx tsx simulator/bin/latchkit-sim.ts fleet start property.json`.
 */
import { Command, CommanderError } from 'commander';
import { registerSimulatorCommands } from '../src/cli/index.js';

const program = new Command('latchkit-sim').description('latchkit lock simulator').option('--json', 'print results as JSON').exitOverride();
registerSimulatorCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (!['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code)) process.exitCode = 2;
  } else {
    const code = err !== null && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : 'INTERNAL';
    process.stderr.write(`error ${code}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
