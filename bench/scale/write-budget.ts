/**
 * `npx tsx bench/scale/write-budget.ts [results.json]`: writes bench/budget.json from a scale
 * run's deterministic figures (default bench/out/scale.json), keeping the stated margin.
 * Run it only after a change that is meant to move the figures, and commit the result.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deterministicMetrics, type Budget } from './budget.js';
import type { ScaleDocument } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const input = process.argv[2] ?? join(here, '..', 'out', 'scale.json');
const target = join(here, '..', 'budget.json');
const doc = JSON.parse(readFileSync(input, 'utf8')) as ScaleDocument;
const previous = existsSync(target) ? (JSON.parse(readFileSync(target, 'utf8')) as Budget) : null;
const budget: Budget = {
  margin: previous?.margin ?? 0.1,
  note:
    'Scale benchmark budget (bench/scale/budget.ts): deterministic figures only (bytes, modelled on-air ms, ratios of those). ' +
    'A lower-is-better metric fails above expect x (1 + margin), a higher-is-better one below expect x (1 - margin). ' +
    `Written by bench/scale/write-budget.ts from: ${doc.command} (${doc.machine.node}).`,
  metrics: Object.fromEntries(Object.entries(deterministicMetrics(doc)).map(([k, v]) => [k, { expect: v.value, better: v.better }])),
};
writeFileSync(target, JSON.stringify(budget, null, 2) + '\n');
process.stderr.write(`wrote ${Object.keys(budget.metrics).length} metrics to ${target}\n`);
