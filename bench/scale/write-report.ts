/**
 * `npx tsx bench/scale/write-report.ts a.json [b.json ...]`: one report and chart from several
 * scale runs (e.g. the quick sizes in one process and 10,000 / 50,000 units in others, run in
 * parallel), written to bench/out/report.md, latency.svg and scale.json. Results are taken as
 * they are; each run's command is kept.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport } from './report.js';
import type { ScaleDocument } from './types.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: npx tsx bench/scale/write-report.ts <scale.json> [...]\n');
  process.exit(2);
}
const docs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as ScaleDocument);
const sizes = [...new Set(docs.flatMap((d) => d.sizes))].sort((a, b) => a - b);
const merged: ScaleDocument = {
  ...docs[0]!,
  command: docs.map((d) => `${d.command}${d.sizes.length ? ` (${d.sizes.join(', ')} units)` : ''}`).join(' + '),
  quick: docs.every((d) => d.quick),
  sizes,
  results: sizes.flatMap((s) => docs.flatMap((d) => d.results.filter((r) => r.units === s))),
};
delete merged.check;
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'out');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'scale.json'), JSON.stringify(merged, null, 2) + '\n');
await writeReport(merged, out);
process.stderr.write(`wrote ${join(out, 'report.md')}, latency.svg and scale.json (${sizes.join(', ')} units)\n`);
