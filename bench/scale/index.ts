/**
 * `npm run bench -- scale [--quick] [--check]`
 *
 * Properties of 100, 1,000, 10,000 and 50,000 units (--quick: 100 and 1,000), each built,
 * compiled, synced, unlocked and revoked as bench/scale/scenarios.ts describes. Writes
 * bench/out/scale.json (through bench/run.ts), bench/out/report.md and bench/out/latency.svg;
 * --check compares against bench/budget.json (bench/scale/budget.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from '../run.js';
import { checkBudget, loadBudget } from './budget.js';
import { QUICK_SIZES, SCALE_SIZES } from './generator.js';
import { writeReport } from './report.js';
import { runSize, SAMPLE } from './scenarios.js';
import type { ScaleDocument, ScaleResult } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));

export async function run(o: BenchOptions): Promise<ScaleDocument> {
  // LATCHKIT_SCALE_SIZES=100,1000 overrides the sizes (for trying one size by hand).
  const env = process.env['LATCHKIT_SCALE_SIZES'];
  const sizes = env ? env.split(',').map(Number) : [...(o.quick ? QUICK_SIZES : SCALE_SIZES)];
  const results: ScaleResult[] = [];
  for (const units of sizes) {
    const w0 = performance.now();
    results.push(...(await runSize(units, o.log)));
    o.log(`[${units}] done in ${((performance.now() - w0) / 1000).toFixed(1)} s wall`);
  }
  const doc: ScaleDocument = {
    schema: 'latchkit-bench-scale/1',
    command: `${env ? `LATCHKIT_SCALE_SIZES=${env} ` : ''}npm run bench -- scale${o.quick ? ' --quick' : ''}${o.check ? ' --check' : ''}`,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}` },
    quick: o.quick,
    sizes,
    sample: { ...SAMPLE },
    results,
  };
  if (o.check) doc.check = checkBudget(doc, loadBudget(join(here, '..', 'budget.json')));
  const outDir = join(here, '..', 'out');
  mkdirSync(outDir, { recursive: true });
  await writeReport(doc, outDir);
  // Written here too (run.ts writes it on success), so a failed check leaves its evidence.
  writeFileSync(join(outDir, 'scale.json'), JSON.stringify(doc, null, 2) + '\n');
  o.log(`wrote ${join(outDir, 'report.md')} and ${join(outDir, 'latency.svg')}`);
  if (doc.check && !doc.check.passed) {
    const bad = doc.check.lines.filter((l) => !l.ok);
    throw new Error(`scale budget check failed (margin ${doc.check.margin * 100} %): ${bad.map((l) => `${l.metric} = ${l.actual} (budget ${l.expect}, ${l.better} is better)`).join('; ')}`);
  }
  if (doc.check) o.log(`scale budget check passed (${doc.check.lines.length} metrics, margin ${doc.check.margin * 100} %)`);
  return doc;
}
