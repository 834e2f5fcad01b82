/**
 * Benchmark entry point: `npm run bench -- [suite ...] [--quick] [--check]` (which is
 * `latchkit bench …`; that command starts this file).
 *
 * Each suite is a module `bench/<name>.ts` exporting `run(options)`, which returns a JSON-able
 * object. Results are printed as JSON on stdout (one document per run) and written to
 * bench/out/<suite>.json; progress goes to stderr so stdout stays machine-readable.
 *
 * With more than one suite, each runs in a child process of its own: a suite must not measure
 * the heap another one left behind (in one process the gateway compile after the radio
 * suite's 10,000 advertising locks took 4.9 s instead of 2.5 s, measured).
 */
import { Command, CommanderError } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchOptions {
  quick: boolean;
  check: boolean;
  /** Progress lines for humans; written to stderr. */
  log: (line: string) => void;
}

const SUITES = ['protocol', 'radio', 'lock', 'gateway', 'signer', 'propagation', 'scale', 'world'] as const;

/** A suite is `bench/<name>.ts`, or a folder `bench/<name>/index.ts` for a larger one (scale). */
function suiteModule(here: string, name: string): string | null {
  if (existsSync(join(here, `${name}.ts`))) return `./${name}.ts`;
  if (existsSync(join(here, name, 'index.ts'))) return `./${name}/index.ts`;
  return null;
}

async function main(): Promise<void> {
  // The same parser as the `latchkit` binary (commander), which starts this file for `latchkit bench`.
  const cli = new Command('latchkit bench')
    .argument('[suite...]')
    .option('--quick', 'smaller sizes (what CI runs)')
    .option('--check', 'judge the budget checks')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .parse(process.argv);
  const requested = cli.processedArgs[0] as string[];
  const opts = cli.opts<{ quick?: boolean; check?: boolean }>();
  const flags = [...(opts.quick ? ['--quick'] : []), ...(opts.check ? ['--check'] : [])];
  const here = dirname(fileURLToPath(import.meta.url));
  const available = SUITES.filter((s) => suiteModule(here, s) !== null);
  for (const name of requested) {
    if (!available.includes(name as (typeof SUITES)[number])) {
      throw new Error(`unknown benchmark suite "${name}"; available: ${available.join(', ')}`);
    }
  }
  const suites = requested.length > 0 ? requested : available;
  const options: BenchOptions = {
    quick: opts.quick === true,
    check: opts.check === true,
    log: (line) => process.stderr.write(`[bench] ${line}\n`),
  };
  const outDir = join(here, 'out');
  mkdirSync(outDir, { recursive: true });
  const results: Record<string, unknown> = {};
  if (suites.length > 1) {
    for (const name of suites) {
      // The same runtime and loader flags (tsx) as this process, one suite, its own heap.
      const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name, ...flags], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (child.status !== 0) throw new Error(`suite ${name} failed (exit ${child.status ?? child.signal})`);
      results[name] = JSON.parse(readFileSync(join(outDir, `${name}.json`), 'utf8'));
    }
  } else {
    for (const name of suites) {
      options.log(`suite ${name}${options.quick ? ' (quick)' : ''}`);
      const mod = (await import(suiteModule(here, name)!)) as { run: (o: BenchOptions) => Promise<unknown> };
      const result = await mod.run(options);
      results[name] = result;
      writeFileSync(join(outDir, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
    }
  }
  process.stdout.write(JSON.stringify(suites.length === 1 ? results[suites[0]!] : results, null, 2) + '\n');
}

main().catch((err: unknown) => {
  if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.help')) return;
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
