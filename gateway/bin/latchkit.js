#!/usr/bin/env node
// The gateway ships as TypeScript source; tsx's loader compiles it in-process on first import.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
