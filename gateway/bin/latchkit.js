#!/usr/bin/env node
// The gateway ships as TypeScript source; tsx's loader compiles it in-process on first import.
import { register } from 'tsx/esm/api';

register();
// `latchkit … | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
