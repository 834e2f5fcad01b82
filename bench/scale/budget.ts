/**
 * The scale benchmark's budget (`--check`): deterministic figures only — sizes, modelled
 * on-air times of the virtual radio and ratios of sizes or modelled times — compared with
 * bench/budget.json within a stated margin. Host CPU and wall-clock are never judged: CI
 * machines are noisy, and a budget that fails on noise gets ignored.
 *
 * Refresh the budget after an intended change: `npm run bench -- scale --quick`, then
 * `npx tsx bench/scale/write-budget.ts` (reads bench/out/scale.json).
 */
import { readFileSync } from 'node:fs';
import type { BudgetLine, ScaleDocument, ScaleResult, Stats } from './types.js';

export interface Budget {
  /** Allowed regression as a fraction: lower-is-better metrics may grow by it, higher-is-better shrink by it. */
  margin: number;
  note?: string;
  metrics: Record<string, { expect: number; better: 'lower' | 'higher' }>;
}

export function loadBudget(file: string): Budget {
  return JSON.parse(readFileSync(file, 'utf8')) as Budget;
}

const str = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));

/** Every deterministic figure of a result document, by a stable name ending in `@<units>`. */
export function deterministicMetrics(doc: Pick<ScaleDocument, 'results'>): Record<string, { value: number; better: 'lower' | 'higher' }> {
  const m: Record<string, { value: number; better: 'lower' | 'higher' }> = {};
  const put = (name: string, r: ScaleResult, value: unknown, better: 'lower' | 'higher'): void => {
    if (typeof value === 'number' && Number.isFinite(value)) m[`${name}@${r.units}`] = { value, better };
  };
  for (const r of doc.results) {
    switch (r.scenario) {
      case 'compile':
        put('compile.lobby_bytes_per_credential', r, r['lobby_bytes_per_credential'], 'lower');
        break;
      case 'sync': {
        const key = `sync.${str(r['mode'])}.${str(r.profile)}.${str(r['door_class'])}`;
        put(`${key}.bytes_p50`, r, (r['bytes'] as Stats).p50, 'lower');
        put(`${key}.modelled_ms_p50`, r, (r['modelled_ms'] as Stats).p50, 'lower');
        break;
      }
      case 'unlock':
        if (r['kind'] === 'phone' && r['door_class'] === 'all') {
          put(`unlock.phone.${str(r['load'])}.${str(r.profile)}.modelled_ms_p50`, r, (r['modelled_ms'] as Stats).p50, 'lower');
          put(`unlock.phone.${str(r['load'])}.${str(r.profile)}.modelled_ms_p95`, r, (r['modelled_ms'] as Stats).p95, 'lower');
        }
        break;
      case 'propagation':
        put('propagation.revoke_to_enforced_modelled_ms', r, r['revoke_to_enforced_modelled_ms'], 'lower');
        break;
      case 'baseline':
        if (r['baseline'] === 'cbor_map_per_entry') put('baseline.cbor_map_per_entry.bytes_ratio', r, r['bytes_ratio'], 'higher');
        if (r['baseline'] === 'full_only_vs_delta') {
          put(`baseline.full_only_vs_delta.${str(r.profile)}.${str(r['door_class'])}.bytes_ratio`, r, r['bytes_ratio'], 'higher');
          put(`baseline.full_only_vs_delta.${str(r.profile)}.${str(r['door_class'])}.modelled_ratio`, r, r['modelled_ratio'], 'higher');
        }
        break;
      default:
        break;
    }
  }
  return m;
}

/** Correctness that no margin excuses: every unlock granted, no door left behind after a revoke. */
function invariants(doc: Pick<ScaleDocument, 'results'>): BudgetLine[] {
  const lines: BudgetLine[] = [];
  for (const r of doc.results) {
    if (r.scenario === 'unlock' && (r['door_class'] !== 'all' || r['load'] === 'alone')) {
      const n = (r['unlocks'] ?? r['checks']) as number;
      lines.push({ metric: `invariant.unlock.${str(r['kind'])}.${r['load'] ? `${str(r['load'])}.` : ''}${str(r.profile)}.${str(r['door_class'])}.all_granted@${r.units}`, expect: n, actual: r['granted'] as number, better: 'higher', ok: n > 0 && r['granted'] === n });
    }
    if (r.scenario === 'propagation') {
      lines.push({ metric: `invariant.propagation.doors_behind_after@${r.units}`, expect: 0, actual: r['doors_behind_after'] as number, better: 'lower', ok: r['doors_behind_after'] === 0 });
    }
  }
  return lines;
}

export function checkBudget(doc: Pick<ScaleDocument, 'results' | 'sizes'>, budget: Budget): { margin: number; passed: boolean; lines: BudgetLine[] } {
  const actual = deterministicMetrics(doc);
  const lines: BudgetLine[] = [];
  for (const [metric, b] of Object.entries(budget.metrics)) {
    const units = Number(metric.slice(metric.lastIndexOf('@') + 1));
    if (!doc.sizes.includes(units)) continue; // that size was not run (e.g. 10,000 units under --quick)
    const a = actual[metric]?.value ?? null;
    const ok = a !== null && (b.better === 'lower' ? a <= b.expect * (1 + budget.margin) : a >= b.expect * (1 - budget.margin));
    lines.push({ metric, expect: b.expect, actual: a, better: b.better, ok });
  }
  lines.push(...invariants(doc));
  return { margin: budget.margin, passed: lines.every((l) => l.ok), lines };
}
