#!/usr/bin/env node
// `latchkit`: one binary for the gateway, the demo, the simulator's commands and the benchmarks.
//
// Installed from a tarball or a registry it runs the compiled dist/ with plain Node. In a
// repository checkout (src/ is present; it is not shipped) it runs the TypeScript sources, so a
// fresh clone needs no build: tsx compiles them in-process, and a resolve hook adds the
// "@latchkit/source" export condition so the sibling workspace packages resolve to their sources
// too, as they do under vitest and tsc.
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';

const sources = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  registerHooks(new URL('./source-condition.js', import.meta.url));
  cli = await import(sources.href);
} else {
  cli = await import('../dist/src/cli/main.js');
}
// `latchkit … | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
process.exitCode = await cli.runCli(process.argv.slice(2));
