/**
 * The scale benchmark's own parts, fast: the seeded generator (same seed, same property; the
 * shape issue 7 asks for) and the report writer (a Markdown table and valid SVG text from a
 * fixture result), plus the budget check's verdicts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setCryptoProvider } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import * as g from '../../gateway/src/index.js';
import { checkBudget, deterministicMetrics } from '../../bench/scale/budget.js';
import { buildProperty, residentPhoneKey, sampleUnitDoors, sampleUnits, validNow } from '../../bench/scale/generator.js';
import { chartData, renderMarkdown, renderSvg } from '../../bench/scale/report.js';
import type { ScaleDocument } from '../../bench/scale/types.js';

setCryptoProvider(nodeCryptoProvider);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function build(units: number, seed = 1, buildingUnits?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'latchkit-scale-test-'));
  dirs.push(dir);
  const db = g.openStore({ stateDir: dir });
  const p = buildProperty(db, { units, seed, ...(buildingUnits ? { buildingUnits } : {}) });
  const summary = {
    residents: p.residents.map((r) => [r.unit, r.slot, r.cardUid, r.daily, r.start, r.end]),
    doors: g.listDoors(db, p.propertyId).map((d) => [d.name, d.lockId, d.connectivity, d.gatewayRadio]),
    // Doorcodes, content keys and secrets come from the gateway's CSPRNG, as in production: their
    // values change run to run, their count and length (hence every size) do not.
    codes: p.residents.map((r) => g.personDoorcode(db, r.personId)?.length),
    guests: p.guests,
  };
  db.close();
  return { p, summary };
}

describe('scale generator', () => {
  it('builds the same property from the same seed, and another from another seed', () => {
    const a = build(60, 1);
    const b = build(60, 1);
    expect(b.summary).toEqual(a.summary);
    expect(build(60, 2).summary.residents).not.toEqual(a.summary.residents);
  });

  it('has the shape issue 7 asks for', () => {
    const { p } = build(200, 1);
    expect(p.buildings).toBe(1);
    expect(p.unitDoors).toHaveLength(200);
    expect(p.shared.map((d) => d.role)).toEqual(['lobby', 'entrance', 'entrance', 'garage', 'amenity', 'amenity']);
    const perUnit = p.residents.length / 200;
    expect(perUnit).toBeGreaterThan(1.7);
    expect(perUnit).toBeLessThan(1.9);
    const cards = p.residents.filter((r) => r.cardUid).length / p.residents.length;
    expect(cards).toBeGreaterThan(0.4);
    expect(cards).toBeLessThan(0.6);
    // Varied windows: open, past and future starts, some lease ends; most valid now.
    expect(p.residents.some((r) => r.start === null)).toBe(true);
    expect(p.residents.some((r) => r.start !== null && !validNow(r))).toBe(true);
    expect(p.residents.some((r) => r.end !== null)).toBe(true);
    expect(p.residents.filter(validNow).length / p.residents.length).toBeGreaterThan(0.7);
    expect(sampleUnitDoors(p, 10).map((d) => d.unit)).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180]);
  });

  it('gives real phone key pairs only to the units asked for', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-scale-test-'));
    dirs.push(dir);
    const db = g.openStore({ stateDir: dir });
    const p = buildProperty(db, { units: 30, keyedUnits: (u) => u % 10 === 0 });
    expect(new Set(p.residents.filter((r) => r.realKey).map((r) => r.unit))).toEqual(new Set([0, 10, 20]));
    const keyOf = (personId: number): string => g.listPhoneKeys(db, personId)[0]!.publicKey;
    const r0 = p.residents.find((r) => r.unit === 10)!;
    expect(keyOf(r0.personId)).toBe(Buffer.from(residentPhoneKey(1, 10, r0.slot).publicKey).toString('hex'));
    expect(sampleUnits(50_000, 10)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    db.close();
  });

  it('splits a large property into buildings with their own shared doors', () => {
    const { p } = build(25, 1, 10);
    expect(p.buildings).toBe(3);
    expect(p.shared).toHaveLength(18);
    expect(new Set(p.shared.map((d) => d.gatewayRadio))).toEqual(new Set(['b0-gw-1', 'b0-gw-2', 'b0-gw-3', 'b0-gw-4', 'b1-gw-1', 'b1-gw-2', 'b1-gw-3', 'b1-gw-4', 'b2-gw-1', 'b2-gw-2', 'b2-gw-3', 'b2-gw-4']));
    expect(p.unitDoors.filter((d) => d.building === 2)).toHaveLength(5);
  });
});

const stat = (p50: number, p99 = p50) => ({ n: 4, p50, p95: p99, p99, max: p99 });
const fixture: ScaleDocument = {
  schema: 'latchkit-bench-scale/1',
  command: 'npm run bench -- scale --quick',
  machine: { cpu: 'Test CPU', cores: 2, node: 'v20.20.2', platform: 'linux x64' },
  quick: true,
  sizes: [100, 1000],
  sample: { unit_doors: 10 },
  results: [100, 1000].flatMap((units) => [
    { scenario: 'build' as const, units, buildings: 1, residents: units * 1.8, guests: 1, cpu_ms: 10 },
    { scenario: 'compile' as const, units, doors: units + 6, credentials: units * 28, lobby_credentials: units * 4.6, lobby_bytes: units * 56, lobby_bytes_per_credential: 12.1, cpu_ms: 100 },
    { scenario: 'sync' as const, units, profile: 'ios' as const, mode: 'full', door_class: 'lobby', doors: 1, bytes: stat(units * 56), modelled_ms: stat(units), cpu_ms: stat(5) },
    { scenario: 'sync' as const, units, profile: 'ios' as const, mode: 'delta', door_class: 'lobby', doors: 1, bytes: stat(243), modelled_ms: stat(660), cpu_ms: stat(1) },
    { scenario: 'unlock' as const, units, profile: 'ios' as const, kind: 'phone', load: 'concurrent', door_class: 'all', concurrent_phones: 24, unlocks: 4, granted: 4, modelled_ms: stat(600, 900), cpu_ms_per_unlock: 3 },
    { scenario: 'unlock' as const, units, profile: 'ios' as const, kind: 'phone', load: 'concurrent', door_class: 'lobby', unlocks: 4, granted: 4, modelled_ms: stat(600, 900), cpu_ms_per_unlock: 3 },
    { scenario: 'unlock' as const, units, profile: null, kind: 'doorcode', door_class: 'lobby', checks: 4, granted: 4, modelled_ms: stat(0), lock_cpu_us: stat(10) },
    { scenario: 'propagation' as const, units, profile: 'gateway' as const, gateways: 4, doors_changed: 7, revoke_to_enforced_modelled_ms: 3050, doors_behind_after: 0 },
    { scenario: 'capacity' as const, units, locks: units, bytes_per_lock: 40_000 },
    { scenario: 'baseline' as const, units, profile: null, baseline: 'cbor_map_per_entry', door_class: 'lobby', bytes_ratio: 4.9, baseline_bytes: 1, packed_bytes: 1 },
  ]),
};

describe('scale report', () => {
  it('writes a Markdown table and a readable SVG chart from a result', async () => {
    const md = renderMarkdown(fixture);
    expect(md).toContain('| units | profile | mode | door | doors | bytes p50 | modelled ms p50 | modelled ms max | CPU ms p50 |');
    expect(md).toContain('| 1,000 | ios | delta | lobby | 1 | 243 | 660 | 660 | 1 |');
    expect(md).toContain('Test CPU');
    expect(chartData(fixture).map((r) => r.series)).toContain('phone unlock ios 24 at once p99');
    const svg = await renderSvg(fixture);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('phone unlock ios 24 at once p50');
    expect(svg).toContain('units in the property');
  });

  it('the budget check passes within the margin and fails beyond it', () => {
    const metrics = Object.fromEntries(Object.entries(deterministicMetrics(fixture)).map(([k, v]) => [k, { expect: v.value, better: v.better }]));
    expect(Object.keys(metrics)).toContain('sync.delta.ios.lobby.bytes_p50@1000');
    expect(checkBudget(fixture, { margin: 0.1, metrics }).passed).toBe(true);
    const tight = { ...metrics, 'sync.delta.ios.lobby.bytes_p50@1000': { expect: 200, better: 'lower' as const } };
    const r = checkBudget(fixture, { margin: 0.1, metrics: tight });
    expect(r.passed).toBe(false);
    expect(r.lines.filter((l) => !l.ok).map((l) => l.metric)).toEqual(['sync.delta.ios.lobby.bytes_p50@1000']);
    // Sizes that were not run are not judged.
    expect(checkBudget({ ...fixture, sizes: [100] }, { margin: 0.1, metrics: tight }).passed).toBe(true);
  });
});
