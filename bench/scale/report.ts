/**
 * The scale benchmark's human outputs: a Markdown report (bench/out/report.md) and an SVG chart
 * of modelled latency against unit count (bench/out/latency.svg), drawn by vega-lite + vega,
 * rendered headless (no browser, no canvas: the 'none' renderer measures text approximately).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ScaleDocument, ScaleResult, Stats } from './types.js';

const num = (x: unknown, d = 1): string => (typeof x === 'number' && Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d }) : '–');
const st = (x: unknown): Stats => (x ?? { n: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN }) as Stats;
const by = (doc: ScaleDocument, scenario: ScaleResult['scenario']): ScaleResult[] => doc.results.filter((r) => r.scenario === scenario);

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function renderMarkdown(doc: ScaleDocument): string {
  const m = doc.machine;
  const parts: string[] = [
    '# latchkit scale benchmark',
    '',
    `Command: \`${doc.command}\` · machine: ${m.cores} × ${m.cpu}, ${m.platform}, Node ${m.node} · sizes: ${doc.sizes.map((s) => s.toLocaleString('en-US')).join(', ')} units.`,
    '',
    'Modelled times are on-air milliseconds of the virtual BLE radio (deterministic; host CPU is not charged to the air). ' +
      'CPU times are host CPU of this process and vary between runs. Sample: ' +
      Object.entries(doc.sample)
        .map(([k, v]) => `${k} = ${String(v)}`)
        .join(', ') +
      ' (bench/SCHEMA.md).',
    '',
    '## Property, compile and sign',
    '',
    table(
      ['units', 'buildings', 'doors', 'residents', 'guests', 'credentials (all doors)', 'lobby credentials', 'lobby bytes', 'B/credential', 'compile+sign all, CPU ms', 'build CPU ms'],
      by(doc, 'compile').map((c) => {
        const b = by(doc, 'build').find((x) => x.units === c.units) ?? ({} as ScaleResult);
        return [num(c.units), num(b['buildings']), num(c['doors']), num(b['residents']), num(b['guests']), num(c['credentials']), num(c['lobby_credentials']), num(c['lobby_bytes']), num(c['lobby_bytes_per_credential'], 3), num(c['cpu_ms']), num(b['cpu_ms'])];
      }),
    ),
    '',
    '## Sync per radio profile',
    '',
    '`full`: first set after commissioning; `delta`: a one-resident revoke; `full_only`: the same change sent as a full set (baseline).',
    '',
    table(
      ['units', 'profile', 'mode', 'door', 'doors', 'bytes p50', 'modelled ms p50', 'modelled ms max', 'CPU ms p50'],
      by(doc, 'sync').map((r) => [num(r.units), String(r.profile), String(r['mode']), String(r['door_class']), num(r['doors']), num(st(r['bytes']).p50), num(st(r['modelled_ms']).p50), num(st(r['modelled_ms']).max), num(st(r['cpu_ms']).p50)]),
    ),
    '',
    '## Unlock latency',
    '',
    'Phones (scan + connect + unlock; no relay, no event upload): `concurrent` = all phones of both profiles at once, each visiting its unit door then the lobby (a lock serves one phone at a time, so the lobby figures include the queue); `alone` = one phone per profile, nobody else on the air. Keypad and card: local to the lock, zero air time; lock CPU per check.',
    '',
    table(
      ['units', 'kind', 'load', 'profile', 'door', 'n', 'granted', 'modelled p50', 'p95', 'p99', 'CPU'],
      by(doc, 'unlock').map((r) => {
        const phone = r['kind'] === 'phone';
        const ms = st(r['modelled_ms']);
        const cpu = phone ? `${num(r['cpu_ms_per_unlock'], 2)} ms/unlock` : `p50 ${num(st(r['lock_cpu_us']).p50, 2)} µs, p99 ${num(st(r['lock_cpu_us']).p99, 2)} µs`;
        return [num(r.units), String(r['kind']), String(r['load'] ?? '–'), String(r.profile ?? '–'), String(r['door_class']), num(ms.n), num(r['granted']), num(ms.p50), num(ms.p95), num(ms.p99), cpu];
      }),
    ),
    '',
    '## Revoke-to-enforced (gateway profile)',
    '',
    table(
      ['units', 'gateways', 'online doors', 'doors changed', 'revoke-to-enforced, modelled ms', 'doors behind after', 'CPU ms', 'first sync: slowest gateway modelled ms'],
      by(doc, 'propagation').map((r) => [num(r.units), num(r['gateways']), num(r['online_doors']), num(r['doors_changed']), num(r['revoke_to_enforced_modelled_ms']), num(r['doors_behind_after']), num(r['cpu_ms']), num((r['first_sync'] as { modelled_ms_slowest_gateway?: number } | undefined)?.modelled_ms_slowest_gateway)]),
    ),
    '',
    '## Locks per process',
    '',
    table(
      ['units', 'locks started', 'start wall ms', 'bytes per lock (heap + buffers)', 'of which V8 heap', 'RSS bytes per lock', 'RSS after MB'],
      by(doc, 'capacity').map((r) => [num(r.units), num(r['locks']), num(r['start_wall_ms']), num(r['bytes_per_lock']), num(r['heap_bytes_per_lock']), num(r['rss_bytes_per_lock']), num(r['rss_after_mb'])]),
    ),
    '',
    '## Baselines (same run)',
    '',
    table(
      ['units', 'baseline', 'profile', 'door', 'ratio(s)'],
      by(doc, 'baseline').map((r) => {
        let ratio = '';
        if (r['baseline'] === 'cbor_map_per_entry') ratio = `bytes ${num(r['bytes_ratio'], 2)}× (${num(r['baseline_bytes'])} vs ${num(r['packed_bytes'])} B)`;
        else if (r['baseline'] === 'full_only_vs_delta') ratio = `bytes ${num(r['bytes_ratio'], 2)}×, modelled ${num(r['modelled_ratio'], 2)}× (${num(r['full_only_modelled_ms'])} vs ${num(r['delta_modelled_ms'])} ms), CPU ${num(r['cpu_ratio'], 2)}×`;
        else ratio = `sign ${num(r['sign_ratio'], 2)}× (${num(r['portable_sign_cpu_ms'], 2)} vs ${num(r['accelerated_sign_cpu_ms'], 2)} ms), lock open ${num(r['open_ratio'], 2)}× (${num(r['portable_open_cpu_ms'], 2)} vs ${num(r['accelerated_open_cpu_ms'], 2)} ms)`;
        return [num(r.units), String(r['baseline']), String(r.profile ?? '–'), String(r['door_class']), ratio];
      }),
    ),
    '',
  ];
  if (doc.check) {
    const bad = doc.check.lines.filter((l) => !l.ok);
    parts.push('## Budget check', '', `${doc.check.passed ? 'Passed' : 'FAILED'}: ${doc.check.lines.length - bad.length} of ${doc.check.lines.length} lines within a ${doc.check.margin * 100} % margin (bench/budget.json).`, '');
    if (bad.length > 0) parts.push(table(['metric', 'budget', 'actual', 'better'], bad.map((l) => [l.metric, num(l.expect, 3), num(l.actual, 3), l.better])), '');
  }
  parts.push('![modelled latency against unit count](latency.svg)', '');
  return parts.join('\n');
}

/** Points for the chart: phone unlock (alone p50; all at once p50/p99) per profile, lobby full/delta sync per profile, revoke-to-enforced. */
export function chartData(doc: ScaleDocument): { units: number; series: string; modelled_ms: number }[] {
  const rows: { units: number; series: string; modelled_ms: number }[] = [];
  for (const r of doc.results) {
    if (r.scenario === 'unlock' && r['kind'] === 'phone' && r['door_class'] === 'all') {
      const s = st(r['modelled_ms']);
      if (r['load'] === 'alone') rows.push({ units: r.units, series: `phone unlock ${String(r.profile)} alone p50`, modelled_ms: s.p50 });
      else rows.push({ units: r.units, series: `phone unlock ${String(r.profile)} ${String(r['concurrent_phones'])} at once p50`, modelled_ms: s.p50 }, { units: r.units, series: `phone unlock ${String(r.profile)} ${String(r['concurrent_phones'])} at once p99`, modelled_ms: s.p99 });
    }
    if (r.scenario === 'sync' && r['door_class'] === 'lobby' && (r['mode'] === 'full' || r['mode'] === 'delta')) {
      rows.push({ units: r.units, series: `lobby ${String(r['mode'])} sync ${String(r.profile)}`, modelled_ms: st(r['modelled_ms']).p50 });
    }
    if (r.scenario === 'propagation') rows.push({ units: r.units, series: 'revoke-to-enforced (4 gateways)', modelled_ms: r['revoke_to_enforced_modelled_ms'] as number });
  }
  return rows.filter((r) => Number.isFinite(r.modelled_ms) && r.modelled_ms > 0);
}

export async function renderSvg(doc: ScaleDocument): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'latchkit: modelled latency against property size', // The command goes in report.md: merged runs make it too long for a chart.
    subtitle: `${doc.sizes.map((x) => x.toLocaleString('en-US')).join(', ')} units · ${doc.machine.cores} × ${doc.machine.cpu} · Node ${doc.machine.node} · bench/out/report.md` },
    width: 560,
    height: 340,
    background: 'white',
    data: { values: chartData(doc) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'units', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'units in the property (log scale)', values: doc.sizes, format: ',d' } },
      y: { field: 'modelled_ms', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'modelled on-air ms (log scale)', format: ',d' } },
      // 20 distinct colours: up to 11 series here, and category10 would repeat one.
      color: { field: 'series', type: 'nominal', scale: { scheme: 'tableau20' }, legend: { title: null, orient: 'right', labelLimit: 400 } },
      tooltip: [{ field: 'series' }, { field: 'units' }, { field: 'modelled_ms' }],
    },
    config: { font: 'DejaVu Sans, Arial, sans-serif' },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export async function writeReport(doc: ScaleDocument, outDir: string): Promise<void> {
  writeFileSync(join(outDir, 'report.md'), renderMarkdown(doc));
  writeFileSync(join(outDir, 'latency.svg'), await renderSvg(doc));
}
