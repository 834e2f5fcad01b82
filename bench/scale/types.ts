/**
 * The scale benchmark's result document (bench/SCHEMA.md describes every field). Kept in one
 * place so the runner, the report/chart writer, the budget check and the tests agree.
 */

/** A distribution: count and nearest-rank quantiles (q-th value of the sorted sample). */
export interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export type Profile = 'ios' | 'android' | 'gateway';

/** One result object per scenario, size and (where relevant) profile / mode / door class. */
export interface ScaleResult {
  scenario: 'build' | 'compile' | 'sync' | 'unlock' | 'propagation' | 'capacity' | 'baseline';
  units: number;
  profile?: Profile | null;
  [field: string]: unknown;
}

export interface ScaleDocument {
  schema: 'latchkit-bench-scale/1';
  command: string;
  machine: { cpu: string; cores: number; node: string; platform: string };
  quick: boolean;
  sizes: number[];
  sample: Record<string, unknown>;
  results: ScaleResult[];
  /** Present after `--check`: every budget line, judged. */
  check?: { margin: number; passed: boolean; lines: BudgetLine[] };
}

export interface BudgetLine {
  metric: string;
  expect: number;
  actual: number | null;
  better: 'lower' | 'higher';
  ok: boolean;
}

export function stats(xs: readonly number[], digits = 1): Stats {
  if (xs.length === 0) return { n: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!, digits);
  return { n: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: round(s[s.length - 1]!, digits) };
}

export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
