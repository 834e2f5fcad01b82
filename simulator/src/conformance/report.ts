/**
 * What a conformance run prints: a progress line per case, a summary table for a person, JUnit
 * XML for a CI (one testcase per case; manual and not-run cases as skipped), and JSON (the
 * report as it is).
 */
import type { CaseResult, RunReport } from './runner.js';

const MARK: Record<CaseResult['status'], string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' };

/** `[ 3/38] PASS sync.delta (412 ms)`; without a result, the case that is starting. */
export function progressLine(p: { index: number; total: number; id: string; result?: CaseResult }): string {
  const n = `[${String(p.index + 1).padStart(String(p.total).length)}/${p.total}]`;
  if (!p.result) return `${n} .... ${p.id}`;
  return `${n} ${MARK[p.result.status]} ${p.id} (${p.result.wallMs} ms)`;
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

/** Answer times of a case as `median/max ms over n answers`. */
export function answerTimes(r: CaseResult): string {
  const m = median(r.answersMs);
  return m === null ? '-' : `${m}/${Math.max(...r.answersMs)} (${r.answersMs.length})`;
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The terminal table: one row per case, then the steps of the manual cases and a summary. */
export function formatTable(report: RunReport): string {
  const rows = [['result', 'case', 'section', 'wall ms', 'air ms', 'answers ms med/max (n)', 'observed']];
  for (const r of report.results) {
    rows.push([MARK[r.status], r.id, r.section, String(r.wallMs), r.modelledMs === null ? '-' : String(r.modelledMs), answerTimes(r), r.observed]);
  }
  const out = [`latchkit conform: ${report.target}`, '', ...pad(rows)];
  const manual = report.results.filter((r) => r.manual !== null);
  if (manual.length > 0) {
    out.push('', 'Manual cases (the target offers no bench hook for them):');
    for (const r of manual) {
      out.push(`  ${r.id}: ${r.title} (${r.section})`);
      for (const [i, step] of r.manual!.entries()) out.push(`    ${i + 1}. ${step}`);
    }
  }
  const s = report.summary;
  out.push('', `${s.pass} passed, ${s.fail} failed, ${s.skip} skipped (${report.results.length} cases, ${report.wallMs} ms): ${report.ok ? 'CONFORMS' : 'DOES NOT CONFORM'}`);
  return out.join('\n');
}

function xml(s: string): string {
  // XML 1.0 allows neither control characters nor lone surrogates; a lock's garbage must not break the file.
  return s
    .replace(/[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/** JUnit XML (the Ant/Jenkins dialect every CI reads): one testsuite, one testcase per case. */
export function toJunit(report: RunReport): string {
  const s = report.summary;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="latchkit conform" tests="${report.results.length}" failures="${s.fail}" errors="0" skipped="${s.skip}" time="${seconds(report.wallMs)}">`,
    `  <testsuite name="${xml(report.target)}" tests="${report.results.length}" failures="${s.fail}" errors="0" skipped="${s.skip}" time="${seconds(report.wallMs)}" timestamp="${report.startedAt.replace(/\.\d+Z$/, '')}" hostname="${xml(report.radio)}">`,
    '    <properties>',
    `      <property name="lockId" value="${report.lockId}"/>`,
    `      <property name="radio" value="${report.radio}"/>`,
    '    </properties>',
  ];
  for (const r of report.results) {
    const group = r.id.split('.')[0]!;
    lines.push(`    <testcase classname="latchkit.conform.${xml(group)}" name="${xml(`${r.id}: ${r.title}`)}" time="${seconds(r.wallMs)}">`);
    if (r.status === 'fail') lines.push(`      <failure message="${xml(r.observed)}" type="CONFORMANCE_FAILED">${xml(`${r.section}: ${r.observed}`)}</failure>`);
    if (r.status === 'skip') lines.push(`      <skipped message="${xml(r.observed)}"/>`);
    const detail = [`section: ${r.section}`, `observed: ${r.observed}`, `answers ms: ${r.answersMs.join(' ') || '-'}`, `modelled air ms: ${r.modelledMs ?? '-'}`];
    if (r.manual) detail.push(...r.manual.map((step, i) => `step ${i + 1}: ${step}`));
    lines.push(`      <system-out>${xml(detail.join('\n'))}</system-out>`, '    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
