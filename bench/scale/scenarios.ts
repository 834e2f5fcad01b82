/**
 * The scale benchmark's scenarios for one property size (issue 7). Everything runs in this
 * process: the gateway's SQLite model and compiler, simulated locks (LockDevice) served on the
 * virtual radio with the real noble/bleno stacks, phones and gateway centrals of each profile.
 *
 * Modelled times come from the radio model (a central's clock, `central.now()`), which charges
 * no host CPU to the air; host CPU is measured separately with process.cpuUsage (the whole
 * process: central, lock firmware and radio stacks all run here). Only the doors of the sample
 * (documented in SAMPLE below and in bench/SCHEMA.md) are put on the air; building and
 * compiling always cover the whole property.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dailyCode, deriveIndexKey, diversifyCardKey, localDay, encodeCbor, entriesFromSpecs, fromHex, issueFullSet, nobleProvider, openSetMessage, setCryptoProvider, type CryptoProvider, type Entry } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { connectLock, createAir, deliverSet, LockDevice, Phone, serveLock, SimulatedCard, type ServedLock, type VirtualCentral } from '@latchkit/simulator';
import * as g from '../../gateway/src/index.js';
import { buildProperty, commissionAll, deviceSeedOf, FIXED_NOW_MS, residentPhoneKey, sampleUnitDoors, sampleUnits, validNow, type Resident, type ScaleProperty, type UnitDoor } from './generator.js';
import { round, stats, type Profile, type ScaleResult } from './types.js';

/** What is sampled, per size; reported in the result document. */
export const SAMPLE = {
  /** Unit doors of building 0 on the air for sync, unlock and propagation (evenly spaced). */
  unit_doors: 10,
  /** Shared door synced per profile: building 0's lobby (the largest set of the property). */
  shared_door: 'lobby of building 0',
  /** Phones per profile (ios, android), residents of the sampled unit doors, all at once. */
  phones_per_profile: 12,
  /** Then one phone per profile alone on a fresh air: this many rounds of (its unit door, the lobby). */
  alone_visits: 5,
  /** Keypad and card checks per door class (lobby, unit doors), each resident's code/card in turn. */
  local_checks: 400,
  /** Locks started for the per-lock memory figure: every unit door up to this many. */
  capacity_locks_max: 5_000,
  /** Repetitions of each crypto-provider baseline operation (median reported). */
  crypto_runs: 3,
  gateways: 4,
} as const;

const crypto = nodeCryptoProvider;
const NOW_S = Math.floor(FIXED_NOW_MS / 1000);
const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;

function lockDevice(lockId: string, profile: 'lobby' | 'standard'): LockDevice {
  // The lock's RTC starts at the benchmark's fixed time, so the windows the generator set
  // relative to it are judged as they were written, on any day the benchmark runs.
  return new LockDevice({ identity: { lockId: fromHex(lockId), deviceSeed: deviceSeedOf(lockId) }, profile, crypto, rtc: { lockMs: FIXED_NOW_MS, hostMs: Date.now() } });
}

async function fullPayload(db: g.Db, doorId: number): Promise<Uint8Array> {
  return (await g.syncPayload(db, doorId, -1, { forceFull: true }))!.bytes;
}

/** A lock holding the door's current commissioning and (optionally) a set, applied without a radio. */
function preparedLock(db: g.Db, doorId: number, lockId: string, profile: 'lobby' | 'standard', set: Uint8Array | null): LockDevice {
  const device = lockDevice(lockId, profile);
  device.firmware.commission(g.lockIdentity(db, doorId)!.commissionMessage);
  if (set) device.firmware.applySetMessage(set);
  return device;
}

/** One sync as a gateway or phone does it: find, connect, info, deliver, receipt. Modelled ms until the receipt. */
async function pushOver(central: VirtualCentral, lockId: string, bundle: { delta?: Uint8Array; full: Uint8Array }): Promise<{ modelled_ms: number; cpu_ms: number; bytes: number; sent: string }> {
  const t0 = central.now();
  const c0 = process.cpuUsage();
  const client = await connectLock(central.noble, fromHex(lockId), { timeoutMs: 60_000, findTimeoutMs: 60_000 });
  try {
    const info = await client.info();
    const r = await deliverSet(client, info.seq, bundle);
    if (!r) throw new Error(`lock ${lockId} was already at the pushed sequence`);
    await client.receipt();
    return { modelled_ms: central.now() - t0, cpu_ms: cpuMs(process.cpuUsage(c0)), bytes: r.bytes, sent: r.sent };
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}

function forceGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export async function runSize(units: number, log: (s: string) => void, seed = 1): Promise<ScaleResult[]> {
  setCryptoProvider(crypto);
  const out: ScaleResult[] = [];
  const dir = mkdtempSync(join(os.tmpdir(), `latchkit-bench-scale-${units}-`));
  const db = g.openStore({ stateDir: dir });
  try {
    // ------------------------------------------------------------ build
    log(`[${units}] building the property`);
    let c0 = process.cpuUsage();
    let w0 = performance.now();
    const keyedUnits = new Set(sampleUnits(units, SAMPLE.unit_doors));
    const p = buildProperty(db, { units, seed, keyedUnits: (u) => keyedUnits.has(u), onProgress: (n) => log(`[${units}]   ${n} units`) });
    const buildCpu = cpuMs(process.cpuUsage(c0));
    const buildWall = performance.now() - w0;
    c0 = process.cpuUsage();
    w0 = performance.now();
    // Real device keys where a simulated lock will be built: shared doors, the capacity locks (the
    // first unit doors) and the sampled unit doors.
    const realDevice = new Set([...p.shared.map((d) => d.id), ...p.unitDoors.slice(0, SAMPLE.capacity_locks_max).map((d) => d.id), ...p.unitDoors.filter((d) => keyedUnits.has(d.unit) && d.building === 0).map((d) => d.id)]);
    await commissionAll(db, p, { onProgress: (n) => log(`[${units}]   ${n} doors commissioned`), realDevice: (id) => realDevice.has(id) });
    const commissionCpu = cpuMs(process.cpuUsage(c0));
    out.push({
      scenario: 'build',
      units,
      buildings: p.buildings,
      doors: p.shared.length + p.unitDoors.length,
      shared_doors: p.shared.length,
      residents: p.residents.length,
      residents_per_unit: round(p.residents.length / units, 2),
      keycards: p.residents.filter((r) => r.cardUid).length,
      daily_codes: p.residents.filter((r) => r.daily).length,
      guests: p.guests,
      cpu_ms: Math.round(buildCpu),
      wall_ms: Math.round(buildWall),
      commission_all_cpu_ms: Math.round(commissionCpu),
      commission_all_wall_ms: Math.round(performance.now() - w0),
    });
    log(`[${units}]   ${p.shared.length + p.unitDoors.length} doors, ${p.residents.length} residents, ${p.guests} guests in ${(buildWall / 1000).toFixed(1)} s; commissioned in ${((performance.now() - w0) / 1000).toFixed(1)} s`);

    // ------------------------------------------------------------ compile and sign everything
    log(`[${units}] compiling and signing every door`);
    c0 = process.cpuUsage();
    w0 = performance.now();
    const compiled = g.compileDirty(db, { ctx: p.ctx, propertyId: p.propertyId, provider: crypto });
    const compileCpu = cpuMs(process.cpuUsage(c0));
    const compileWall = performance.now() - w0;
    const lobby = p.shared.find((d) => d.building === 0 && d.role === 'lobby')!;
    const lobbySet = compiled.find((c) => c.doorId === lobby.id)!;
    const unitIds = new Set(p.unitDoors.map((u) => u.id));
    const unitSets = compiled.filter((c) => unitIds.has(c.doorId));
    // A first compile signs every full set (no lock holds a base yet).
    const fullOf = (c: g.CompiledDoorSet): Uint8Array => {
      if (!c.fullBytes) throw new Error(`scale bench: door ${c.doorId} was compiled without its full set`);
      return c.fullBytes;
    };
    const credentials = compiled.reduce((s, c) => s + c.credentials, 0);
    out.push({
      scenario: 'compile',
      units,
      doors: compiled.length,
      credentials,
      set_bytes_total: compiled.reduce((s, c) => s + fullOf(c).length, 0),
      lobby_credentials: lobbySet.credentials,
      lobby_bytes: fullOf(lobbySet).length,
      lobby_bytes_per_credential: round(fullOf(lobbySet).length / lobbySet.credentials, 3),
      unit_door_bytes: stats(unitSets.map((c) => fullOf(c).length), 0),
      cpu_ms: Math.round(compileCpu),
      wall_ms: Math.round(compileWall),
      provider: 'node',
    });
    log(`[${units}]   ${compiled.length} doors, ${credentials} credentials; lobby ${lobbySet.credentials} credentials in ${fullOf(lobbySet).length} B; ${Math.round(compileCpu)} ms CPU`);
    // Every door receipts its first set (as after a full sync), so later compiles make deltas.
    const enforce = db.prepare('UPDATE door_sync_state SET enforced_seq = ?, enforced_digest = ? WHERE door_id = ?');
    db.transaction(() => {
      for (const c of compiled) enforce.run(c.seq, Buffer.from(c.digest), c.doorId);
    })();

    // Locks per process first, while the heap holds little else: freed pages from the radio
    // scenarios would otherwise be reused and hide the locks' share of RSS.
    await capacity(db, p, units, out, log);

    // ------------------------------------------------------------ baselines on the lobby set
    await baselines(db, p, lobby.id, lobby.lockId, fullOf(lobbySet).length, units, out, log);

    // ------------------------------------------------------------ full and delta sync per profile
    const sampled = sampleUnitDoors(p, SAMPLE.unit_doors);
    const residentsOf = new Map<number, Resident[]>();
    for (const r of p.residents) residentsOf.set(r.unit, [...(residentsOf.get(r.unit) ?? []), r]);
    const syncDoors = [{ id: lobby.id, lockId: lobby.lockId, cls: 'lobby' as const }, ...sampled.map((d) => ({ id: d.id, lockId: d.lockId, cls: 'unit' as const }))];
    const seq1 = new Map<number, Uint8Array>();
    for (const d of syncDoors) seq1.set(d.id, await fullPayload(db, d.id));
    // The everyday change: one resident of the first sampled unit (with a roommate) is revoked.
    const victimUnit = sampled.find((d) => (residentsOf.get(d.unit) ?? []).length === 2) ?? sampled[0]!;
    const victim = residentsOf.get(victimUnit.unit)![0]!;
    g.revokeAllKeys(db, victim.personId, p.ctx);
    const recompiled = g.compileDirty(db, { ctx: p.ctx, propertyId: p.propertyId, provider: crypto });
    const changed = syncDoors.filter((d) => recompiled.some((c) => c.doorId === d.id));
    const seq2 = new Map<number, { full: Uint8Array; delta: Uint8Array }>();
    for (const d of changed) seq2.set(d.id, { full: await fullPayload(db, d.id), delta: (await g.syncPayload(db, d.id, recompiled.find((c) => c.doorId === d.id)!.seq - 1))!.bytes });
    log(`[${units}] sync: lobby + ${sampled.length} unit doors per profile; then a one-resident revoke (${recompiled.length} doors recompiled, ${changed.length} of them on the air)`);
    for (const profile of ['ios', 'android', 'gateway'] as const) {
      await syncProfile(db, profile, units, syncDoors, changed, seq1, seq2, out, log);
    }

    // ------------------------------------------------------------ unlock latency
    await unlocks(db, p, lobby, sampled, residentsOf, victim, units, out, log);

    // ------------------------------------------------------------ revoke-to-enforced with 4 gateways
    await propagation(db, p, sampled, residentsOf, victim, units, out, log);
    return out;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type SyncDoor = { id: number; lockId: string; cls: 'lobby' | 'unit' };
type Acc = Record<'lobby' | 'unit', { ms: number[]; cpu: number[]; bytes: number[] }>;
const acc = (): Acc => ({ lobby: { ms: [], cpu: [], bytes: [] }, unit: { ms: [], cpu: [], bytes: [] } });

async function syncProfile(
  db: g.Db,
  profile: Profile,
  units: number,
  doors: SyncDoor[],
  changed: SyncDoor[],
  seq1: Map<number, Uint8Array>,
  seq2: Map<number, { full: Uint8Array; delta: Uint8Array }>,
  out: ScaleResult[],
  log: (s: string) => void,
): Promise<void> {
  const air = createAir({ seed: 71 });
  const served = new Map<number, ServedLock>();
  const deviceProfile = (d: SyncDoor): 'lobby' | 'standard' => (d.cls === 'lobby' ? 'lobby' : 'standard');
  try {
    // Commissioned locks without a set; the radio carries the sets.
    for (const d of doors) served.set(d.id, await serveLock(air, preparedLock(db, d.id, d.lockId, deviceProfile(d), null)));
    const central = await air.addCentral({ profile, name: `sync-${profile}` });
    const record = (a: Acc, cls: 'lobby' | 'unit', r: { modelled_ms: number; cpu_ms: number; bytes: number }): void => {
      a[cls].ms.push(r.modelled_ms);
      a[cls].cpu.push(r.cpu_ms);
      a[cls].bytes.push(r.bytes);
    };
    const full = acc();
    for (const d of doors) record(full, d.cls, await pushOver(central, d.lockId, { full: seq1.get(d.id)! }));
    const delta = acc();
    for (const d of changed) {
      const r = await pushOver(central, d.lockId, { delta: seq2.get(d.id)!.delta, full: seq2.get(d.id)!.full });
      if (r.sent !== 'delta') throw new Error(`door ${d.id}: the delta was not applied (${r.sent} sent)`);
      record(delta, d.cls, r);
    }
    // Baseline: the same change sent as a full set to a lock that holds the previous set.
    const fullOnly = acc();
    for (const d of changed) {
      await served.get(d.id)!.stop();
      served.set(d.id, await serveLock(air, preparedLock(db, d.id, d.lockId, deviceProfile(d), seq1.get(d.id)!)));
      record(fullOnly, d.cls, await pushOver(central, d.lockId, { full: seq2.get(d.id)!.full }));
    }
    await central.close();
    const sum = (xs: number[]): number => xs.reduce((s, v) => s + v, 0);
    for (const [mode, m] of [['full', full], ['delta', delta], ['full_only', fullOnly]] as const) {
      for (const cls of ['lobby', 'unit'] as const) {
        const x = m[cls];
        if (x.ms.length === 0) continue;
        out.push({ scenario: 'sync', units, profile, mode, door_class: cls, doors: x.ms.length, bytes: stats(x.bytes, 0), modelled_ms: stats(x.ms), cpu_ms: stats(x.cpu) });
      }
    }
    for (const cls of ['lobby', 'unit'] as const) {
      if (delta[cls].ms.length === 0) continue;
      out.push({
        scenario: 'baseline',
        units,
        profile,
        baseline: 'full_only_vs_delta',
        door_class: cls,
        full_only_bytes: sum(fullOnly[cls].bytes),
        delta_bytes: sum(delta[cls].bytes),
        bytes_ratio: round(sum(fullOnly[cls].bytes) / sum(delta[cls].bytes), 2),
        full_only_modelled_ms: round(sum(fullOnly[cls].ms)),
        delta_modelled_ms: round(sum(delta[cls].ms)),
        modelled_ratio: round(sum(fullOnly[cls].ms) / sum(delta[cls].ms), 2),
        cpu_ratio: round(sum(fullOnly[cls].cpu) / sum(delta[cls].cpu), 2),
      });
    }
    log(`[${units}]   ${profile}: lobby full ${round(full.lobby.ms[0]!)} ms modelled (${full.lobby.bytes[0]} B), delta ${round(delta.lobby.ms[0] ?? NaN)} ms (${delta.lobby.bytes[0]} B); unit doors full p50 ${stats(full.unit.ms).p50} ms`);
  } finally {
    for (const s of served.values()) await s.stop().catch(() => undefined);
    await air.close();
  }
}

// ---------------------------------------------------------------- baselines on the lobby set

/** Naive layout: each credential its own CBOR map with string keys (as bench/protocol.ts). */
function cborMapPerEntry(entries: readonly Entry[]): Uint8Array {
  return encodeCbor(entries.map((e) => ({ kind: e.kind, key: e.key, holder: e.holder, start: e.start, end: e.end, schedule: e.schedule })));
}

async function baselines(db: g.Db, p: ScaleProperty, lobbyId: number, lobbyLockId: string, packedBytes: number, units: number, out: ScaleResult[], log: (s: string) => void): Promise<void> {
  const identity = g.lockIdentity(db, lobbyId)!;
  const lockId = fromHex(lobbyLockId);
  const specs = g.credentialsForDoor(db, lobbyId, p.ctx);
  const entries = entriesFromSpecs(specs, deriveIndexKey(identity.contentKey, lockId), crypto);
  const naive = cborMapPerEntry(entries);
  out.push({ scenario: 'baseline', units, profile: null, baseline: 'cbor_map_per_entry', door_class: 'lobby', credentials: entries.length, packed_bytes: packedBytes, baseline_bytes: naive.length, bytes_ratio: round(naive.length / packedBytes, 3) });

  // Portable (@noble, pure JS) against accelerated (node:crypto) provider, same set: the
  // gateway's sign and the lock's verify + decrypt + install. CPU ratios: reported, never checked.
  const issuer = g.issuerFor(db, p.propertyId, { provider: crypto });
  const secrets = g.propertySecrets(db, p.propertyId);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const timeMs = (fn: () => void): number => {
    fn(); // warm-up (JIT, key caches)
    const xs: number[] = [];
    for (let i = 0; i < SAMPLE.crypto_runs; i++) {
      const c = process.cpuUsage();
      fn();
      xs.push(cpuMs(process.cpuUsage(c)));
    }
    return round(median(xs), 2);
  };
  const per: Record<string, { sign_ms: number; open_ms: number }> = {};
  for (const provider of [nobleProvider, nodeCryptoProvider] as CryptoProvider[]) {
    const common = { issuer, lockId, contentKey: identity.contentKey, secrets, seq: 1, issuedAt: NOW_S, entries, provider };
    const set = issueFullSet(common);
    per[provider.name] = {
      sign_ms: timeMs(() => void issueFullSet(common)),
      open_ms: timeMs(() => void openSetMessage(set.bytes, { lockId, anchors: [issuer.publicKey], contentKey: identity.contentKey, seq: 0, current: null, provider })),
    };
  }
  const portable = per['noble']!;
  const accelerated = per['node']!;
  out.push({
    scenario: 'baseline',
    units,
    profile: null,
    baseline: 'crypto_portable_vs_accelerated',
    door_class: 'lobby',
    credentials: entries.length,
    portable_sign_cpu_ms: portable.sign_ms,
    accelerated_sign_cpu_ms: accelerated.sign_ms,
    sign_ratio: round(portable.sign_ms / accelerated.sign_ms, 2),
    portable_open_cpu_ms: portable.open_ms,
    accelerated_open_cpu_ms: accelerated.open_ms,
    open_ratio: round(portable.open_ms / accelerated.open_ms, 2),
  });
  log(`[${units}]   baselines: CBOR maps ${round(naive.length / packedBytes, 2)}x the packed lobby set; portable/accelerated sign ${round(portable.sign_ms / accelerated.sign_ms, 2)}x, open ${round(portable.open_ms / accelerated.open_ms, 2)}x`);
}

// ---------------------------------------------------------------- unlocks

async function unlocks(
  db: g.Db,
  p: ScaleProperty,
  lobby: { id: number; lockId: string },
  sampled: UnitDoor[],
  residentsOf: Map<number, Resident[]>,
  victim: Resident,
  units: number,
  out: ScaleResult[],
  log: (s: string) => void,
): Promise<void> {
  const air = createAir({ seed: 72 });
  const served: ServedLock[] = [];
  const phones: Phone[] = [];
  try {
    const devices = new Map<number, LockDevice>();
    for (const d of [{ id: lobby.id, lockId: lobby.lockId, profile: 'lobby' as const }, ...sampled.map((s) => ({ id: s.id, lockId: s.lockId, profile: 'standard' as const }))]) {
      const device = preparedLock(db, d.id, d.lockId, d.profile, await fullPayload(db, d.id));
      devices.set(d.id, device);
      served.push(await serveLock(air, device));
    }
    // Residents of the sampled units whose access is open now (the victim was revoked).
    const holders = sampled.flatMap((d) => (residentsOf.get(d.unit) ?? []).filter((r) => r !== victim && r.realKey && validNow(r)).map((r) => ({ r, door: d })));
    log(`[${units}] unlock: ${holders.length} eligible residents at ${sampled.length} unit doors and the lobby`);

    // Phone keys: every phone at once, each visiting its unit door then the lobby.
    const visits: { profile: 'ios' | 'android'; cls: 'lobby' | 'unit'; totalMs: number; connectExchangeMs: number; granted: boolean }[] = [];
    const plan: { phone: Phone; profile: 'ios' | 'android'; door: UnitDoor; holder: (typeof holders)[number] }[] = [];
    for (const profile of ['ios', 'android'] as const) {
      for (let i = 0; i < SAMPLE.phones_per_profile && holders.length > 0; i++) {
        const h = holders[(i * 7 + (profile === 'ios' ? 0 : 3)) % holders.length]!;
        const phone = await Phone.create({ radio: air, key: residentPhoneKey(p.seed, h.r.unit, h.r.slot), profile, crypto, timeoutMs: 120_000 });
        phones.push(phone);
        plan.push({ phone, profile, door: h.door, holder: h });
      }
    }
    const c0 = process.cpuUsage();
    await Promise.all(
      plan.map(async ({ phone, profile, door }) => {
        for (const [cls, lockId] of [['unit', door.lockId], ['lobby', lobby.lockId]] as const) {
          const v = await phone.visit(fromHex(lockId), { readEvents: false, relay: false });
          visits.push({ profile, cls, totalMs: v.timing.totalMs, connectExchangeMs: v.timing.connectMs + v.timing.exchangeMs, granted: v.unlock?.granted === true });
        }
      }),
    );
    const phoneCpu = cpuMs(process.cpuUsage(c0));
    // One phone per profile alone (the first of each), on its own air with its own two locks:
    // the latency of an unlock nobody competes for. Not on the air above: after the rush, the
    // locks' modelled clocks are seconds ahead of a fresh phone's, and its first scan would wait
    // for them (a central hears an advertiser only after that advertiser's own time).
    const alone: typeof visits = [];
    const c1 = process.cpuUsage();
    for (const profile of ['ios', 'android'] as const) {
      const first = plan.find((x) => x.profile === profile);
      if (!first) continue;
      const h = first.holder;
      const soloAir = createAir({ seed: 75 });
      const soloServed: ServedLock[] = [];
      try {
        soloServed.push(await serveLock(soloAir, preparedLock(db, lobby.id, lobby.lockId, 'lobby', await fullPayload(db, lobby.id))));
        soloServed.push(await serveLock(soloAir, preparedLock(db, h.door.id, h.door.lockId, 'standard', await fullPayload(db, h.door.id))));
        const phone = await Phone.create({ radio: soloAir, key: first.phone.key, profile, crypto, timeoutMs: 120_000 });
        try {
          for (let i = 0; i < SAMPLE.alone_visits; i++) {
            for (const [cls, lockId] of [['unit', h.door.lockId], ['lobby', lobby.lockId]] as const) {
              const v = await phone.visit(fromHex(lockId), { readEvents: false, relay: false });
              alone.push({ profile, cls, totalMs: v.timing.totalMs, connectExchangeMs: v.timing.connectMs + v.timing.exchangeMs, granted: v.unlock?.granted === true });
            }
          }
        } finally {
          await phone.close();
        }
      } finally {
        for (const s2 of soloServed) await s2.stop().catch(() => undefined);
        await soloAir.close();
      }
    }
    const aloneCpu = cpuMs(process.cpuUsage(c1));
    for (const profile of ['ios', 'android'] as const) {
      const v = alone.filter((x) => x.profile === profile);
      out.push({
        scenario: 'unlock',
        units,
        profile,
        kind: 'phone',
        load: 'alone',
        door_class: 'all',
        phones: 1,
        concurrent_phones: 1,
        unlocks: v.length,
        granted: v.filter((x) => x.granted).length,
        modelled_ms: stats(v.map((x) => x.totalMs)),
        connect_exchange_modelled_ms: stats(v.map((x) => x.connectExchangeMs)),
        cpu_ms_per_unlock: round(aloneCpu / alone.length, 2),
      });
    }
    for (const profile of ['ios', 'android'] as const) {
      for (const cls of ['unit', 'lobby', 'all'] as const) {
        const v = visits.filter((x) => x.profile === profile && (cls === 'all' || x.cls === cls));
        out.push({
          scenario: 'unlock',
          units,
          profile,
          kind: 'phone',
          load: 'concurrent',
          door_class: cls,
          phones: plan.filter((x) => x.profile === profile).length,
          concurrent_phones: plan.length,
          unlocks: v.length,
          granted: v.filter((x) => x.granted).length,
          modelled_ms: stats(v.map((x) => x.totalMs)),
          connect_exchange_modelled_ms: stats(v.map((x) => x.connectExchangeMs)),
          // Host CPU of the whole concurrent batch (both profiles, phones and locks) per unlock.
          cpu_ms_per_unlock: round(phoneCpu / visits.length, 2),
        });
      }
      const all = visits.filter((x) => x.profile === profile);
      const one = alone.filter((x) => x.profile === profile);
      log(`[${units}]   phone ${profile}: ${all.length} concurrent unlocks, ${all.filter((x) => x.granted).length} granted, modelled p50 ${stats(all.map((x) => x.totalMs)).p50} ms p99 ${stats(all.map((x) => x.totalMs)).p99} ms; alone p50 ${stats(one.map((x) => x.totalMs)).p50} ms`);
    }

    // Keypad and card: local to the lock, no air time. Lock CPU per check, event record included.
    const secrets = g.propertySecrets(db, p.propertyId);
    for (const cls of ['lobby', 'unit'] as const) {
      const us: Record<'doorcode' | 'keycard', number[]> = { doorcode: [], keycard: [] };
      const granted = { doorcode: 0, keycard: 0 };
      const withCards = holders.filter((h) => h.r.cardUid);
      for (let i = 0; i < SAMPLE.local_checks && holders.length > 0; i++) {
        const h = holders[i % holders.length]!;
        const fw = devices.get(cls === 'lobby' ? lobby.id : h.door.id)!.firmware;
        const code = g.personDoorcode(db, h.r.personId)!;
        let t = performance.now();
        const a = fw.enterCode(code);
        us.doorcode.push((performance.now() - t) * 1000);
        if (a.granted) granted.doorcode++;
        if (withCards.length === 0) continue;
        const c = withCards[i % withCards.length]!;
        const uid = fromHex(c.r.cardUid!);
        const card = new SimulatedCard(uid, diversifyCardKey(secrets.cardMaster, uid, crypto), crypto);
        const cardFw = devices.get(cls === 'lobby' ? lobby.id : c.door.id)!.firmware;
        t = performance.now();
        const b = cardFw.tapCard(card);
        us.keycard.push((performance.now() - t) * 1000);
        if (b.granted) granted.keycard++;
      }
      for (const kind of ['doorcode', 'keycard'] as const) {
        out.push({
          scenario: 'unlock',
          units,
          profile: null,
          kind,
          door_class: cls,
          checks: us[kind].length,
          granted: granted[kind],
          // Keypad and card reader are wired to the lock: nothing crosses the radio.
          modelled_ms: { n: us[kind].length, p50: 0, p95: 0, p99: 0, max: 0 },
          lock_cpu_us: stats(us[kind], 2),
          note: 'local to the lock: modelled air time is zero; lock_cpu_us is host CPU of the firmware call (wall-clock, incl. the event record)',
        });
      }
      log(`[${units}]   ${cls} keypad p50 ${stats(us.doorcode, 2).p50} µs (${granted.doorcode}/${us.doorcode.length} granted), card p50 ${stats(us.keycard, 2).p50} µs (${granted.keycard}/${us.keycard.length})`);
    }

    // Daily codes at the lobby: residents of building 0 who have one (about 8 %), today's code as
    // their app would show it (the lock's day: its RTC started at the fixed time, UTC offset 0).
    const day = localDay(Math.floor(FIXED_NOW_MS / 60_000), 0);
    const daily = p.residents
      .filter((r) => r.daily && r !== victim && validNow(r) && p.unitDoors[r.unit]?.building === 0)
      .slice(0, 20)
      .map((r) => dailyCode(secrets.daily, g.getPerson(db, r.personId, p.ctx).holderRef, day, crypto));
    if (daily.length > 0) {
      const fw = devices.get(lobby.id)!.firmware;
      const us: number[] = [];
      let granted = 0;
      for (let i = 0; i < SAMPLE.local_checks; i++) {
        const t = performance.now();
        const a = fw.enterCode(daily[i % daily.length]!);
        us.push((performance.now() - t) * 1000);
        if (a.granted) granted++;
      }
      out.push({
        scenario: 'unlock',
        units,
        profile: null,
        kind: 'daily',
        door_class: 'lobby',
        checks: us.length,
        granted,
        modelled_ms: { n: us.length, p50: 0, p95: 0, p99: 0, max: 0 },
        lock_cpu_us: stats(us, 2),
        note: 'local to the lock: modelled air time is zero; lock_cpu_us is host CPU of the firmware call (wall-clock, incl. the event record)',
      });
      log(`[${units}]   lobby daily code p50 ${stats(us, 2).p50} µs (${granted}/${us.length} granted, ${daily.length} holders)`);
    }
  } finally {
    for (const ph of phones) await ph.close().catch(() => undefined);
    for (const s of served) await s.stop().catch(() => undefined);
    await air.close();
  }
}

// ---------------------------------------------------------------- locks per process

async function capacity(db: g.Db, p: ScaleProperty, units: number, out: ScaleResult[], log: (s: string) => void): Promise<void> {
  const n = Math.min(p.unitDoors.length, SAMPLE.capacity_locks_max);
  log(`[${units}] capacity: ${n} unit-door locks with their sets, advertising in this process`);
  const air = createAir({ seed: 73 });
  const served: ServedLock[] = [];
  try {
    const doors: (UnitDoor & { set: Uint8Array; commission: Uint8Array })[] = [];
    for (const d of p.unitDoors.slice(0, n)) doors.push({ ...d, set: await fullPayload(db, d.id), commission: g.lockIdentity(db, d.id)!.commissionMessage });
    forceGc();
    forceGc();
    const before = process.memoryUsage();
    const w0 = performance.now();
    const c0 = process.cpuUsage();
    for (const d of doors) {
      const device = lockDevice(d.lockId, 'standard');
      device.firmware.commission(d.commission);
      device.firmware.applySetMessage(d.set);
      served.push(await serveLock(air, device));
    }
    const startWall = performance.now() - w0;
    const startCpu = cpuMs(process.cpuUsage(c0));
    forceGc();
    const after = process.memoryUsage();
    out.push({
      scenario: 'capacity',
      units,
      profile: null,
      locks: n,
      device_profile: 'standard',
      start_wall_ms: Math.round(startWall),
      start_cpu_ms: Math.round(startCpu),
      // V8 heap + buffers is the locks' own memory; the RSS delta is also given, but freed
      // pages of earlier work are reused by the locks, so it can come out low or negative
      // (then null) at small lock counts.
      bytes_per_lock: Math.round((after.heapUsed + after.external - before.heapUsed - before.external) / n),
      rss_bytes_per_lock: after.rss > before.rss ? Math.round((after.rss - before.rss) / n) : null,
      heap_bytes_per_lock: Math.round((after.heapUsed - before.heapUsed) / n),
      // Buffers (flash images, sets) live outside the V8 heap.
      external_bytes_per_lock: Math.round((after.external - before.external) / n),
      rss_after_mb: round(after.rss / 2 ** 20, 1),
    });
    log(`[${units}]   ${n} locks in ${(startWall / 1000).toFixed(1)} s; ${Math.round((after.heapUsed + after.external - before.heapUsed - before.external) / n)} B heap + buffers per lock`);
  } finally {
    for (const s of served) await s.stop().catch(() => undefined);
    await air.close();
  }
}

// ---------------------------------------------------------------- revoke-to-enforced

async function propagation(
  db: g.Db,
  p: ScaleProperty,
  sampled: UnitDoor[],
  residentsOf: Map<number, Resident[]>,
  firstVictim: Resident,
  units: number,
  out: ScaleResult[],
  log: (s: string) => void,
): Promise<void> {
  // Building 0's shared doors are online on radios b0-gw-1..4 (generator). The sampled unit
  // doors go online too, spread over the same four radios; every door a building-0 resident's
  // revoke touches (the six shared doors and their unit door) is then on the air, so the
  // revoke-to-enforced figure covers the whole change, not a sample of it.
  const gateways = SAMPLE.gateways;
  sampled.forEach((d, i) => g.updateDoor(db, d.id, { connectivity: 'online', gatewayRadio: `b0-gw-${1 + (i % gateways)}` }));
  const online = [...p.shared.filter((d) => d.building === 0).map((d) => ({ id: d.id, lockId: d.lockId, radio: d.gatewayRadio, profile: 'lobby' as const })), ...sampled.map((d, i) => ({ id: d.id, lockId: d.lockId, radio: `b0-gw-${1 + (i % gateways)}`, profile: 'standard' as const }))];
  log(`[${units}] propagation: ${online.length} online doors of building 0 on ${gateways} gateways`);
  const air = createAir({ seed: 74 });
  const served = new Map<number, ServedLock>();
  const engines: g.SyncEngine[] = [];
  try {
    for (const d of online) served.set(d.id, await serveLock(air, lockDevice(d.lockId, d.profile)));
    for (let k = 1; k <= gateways; k++) engines.push(await g.SyncEngine.create({ db, radio: air, name: `b0-gw-${k}`, ctx: p.ctx, provider: crypto, timeoutMs: 60_000 }));
    for (const d of online) for (const e of engines) if (e !== engines[Number(d.radio.slice(-1)) - 1]) air.setInRange(e.address, served.get(d.id)!.peripheral, false);

    // First sync: each gateway commissions its factory-fresh locks and pushes their full sets.
    const c0 = process.cpuUsage();
    const first = await Promise.all(engines.map((e) => e.pushPending(p.propertyId)));
    const firstFailures = first.flatMap((r) => r.failures);
    if (firstFailures.length > 0) throw new Error(`first sync failed for ${firstFailures.length} doors: ${firstFailures[0]!.code} ${firstFailures[0]!.message}`);
    const firstCpu = cpuMs(process.cpuUsage(c0));

    const victim = sampled.flatMap((d) => residentsOf.get(d.unit) ?? []).find((r) => r !== firstVictim && validNow(r))!;
    const c1 = process.cpuUsage();
    g.revokeAllKeys(db, victim.personId, p.ctx);
    const pushes = await Promise.all(engines.map((e) => e.pushPending(p.propertyId)));
    const cpu = cpuMs(process.cpuUsage(c1));
    const perGateway = pushes.map((r, i) => ({ gateway: `b0-gw-${i + 1}`, doors: r.results.length, failures: r.failures.length, sent: r.results.map((x) => x.sent), bytes: r.results.reduce((s, x) => s + x.bytes, 0), modelled_ms: round(r.results.reduce((s, x) => s + x.elapsedMs, 0)) }));
    const behind = online.filter((d) => {
      const s = g.doorSyncState(db, d.id);
      return s.enforcedSeq < s.compiledSeq;
    }).length;
    out.push({
      scenario: 'propagation',
      units,
      profile: 'gateway',
      gateways,
      online_doors: online.length,
      first_sync: { doors: first.reduce((s, r) => s + r.results.length, 0), modelled_ms_slowest_gateway: round(Math.max(...first.map((r) => r.results.reduce((s, x) => s + x.elapsedMs, 0)))), cpu_ms: Math.round(firstCpu) },
      doors_changed: perGateway.reduce((s, x) => s + x.doors, 0),
      revoke_to_enforced_modelled_ms: Math.max(...perGateway.map((x) => x.modelled_ms)),
      per_gateway: perGateway,
      doors_behind_after: behind,
      cpu_ms: Math.round(cpu),
    });
    log(`[${units}]   revoke reached ${perGateway.reduce((s, x) => s + x.doors, 0)} doors; enforced after ${Math.max(...perGateway.map((x) => x.modelled_ms))} ms modelled (slowest gateway); ${behind} doors behind`);
  } finally {
    for (const e of engines) await e.close().catch(() => undefined);
    for (const s of served.values()) await s.stop().catch(() => undefined);
    await air.close();
  }
}
