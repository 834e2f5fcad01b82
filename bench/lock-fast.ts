/**
 * The lock bench's fast-unlock figures (issue 13): door open on repeat and first visits, unlock
 * plus a relayed one-resident delta, the lock MCU time inside an unlock, a 24-phone rush at the
 * lobby door, and the host CPU of an unlock with thousands of locks in range.
 *
 * All times are modelled ms on the virtual radio with the lock MCU cost model (nrf52840,
 * simulator/LOCK.md) charged to the lock's answers. Visits are spaced like real arrivals (about a
 * minute apart, at no particular phase of the lock's advertising), so no visit profits from the
 * advertising restart that follows the previous disconnect; the lock runs the default
 * advertising policy (1 s idle, 20 ms for 30 s) and its wake trigger fires when the phone starts
 * to connect (a proximity sensor seeing the resident at the door: the latest moment a sensor
 * could fire, so the least favourable for the figure).
 */
import type { CredentialSpec, IssuedSet, SigningKey } from '@latchkit/protocol';
import { deriveIndexKey, entriesFromSpecs, issueDelta, issueFullSet, signingKeyFromSeed } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import {
  advertisingAverageCurrentUa,
  createAir,
  DEFAULT_ADVERTISING_POLICY,
  deliverSet,
  KnownLocks,
  LockDevice,
  MAINS_ADVERTISING_POLICY,
  Phone,
  serveLock,
  type AdvertisingPolicy,
  type Air,
  type LockFirmware,
  type ServedLock,
} from '@latchkit/simulator';
import { commission, nextSpecs, type Door } from './lock.js';
import { prng } from './lobby.js';

const NOW = 1_795_435_200;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** p50 of each series, rounded. */
function p50(xs: number[]): number {
  return round(quantile(xs, 0.5));
}

/** `n` residents of the door given real phone keys (the generator's phone keys are random bytes). */
function realPhones(d: Door, n: number): { specs: CredentialSpec[]; keys: SigningKey[] } {
  const now = NOW / 60;
  const open = (s: CredentialSpec): boolean => (s.start === null || s.start <= now) && (s.end === null || s.end > now) && s.schedule === null;
  const picked = d.holders.filter((h) => h.role === 'resident' && h.holder !== d.probeHolder && h.specs.some((s) => s.kind === 'phone') && h.specs.every(open)).slice(0, n);
  if (picked.length < n) throw new Error(`bench setup: only ${picked.length} residents with an open phone credential`);
  const keys = picked.map((_, i) => signingKeyFromSeed(Uint8Array.from({ length: 32 }, (_, j) => (i * 31 + j + 101) & 0xff), nodeCryptoProvider));
  const keyOf = new Map(picked.map((h, i) => [h.holder, keys[i]!]));
  const specs = d.specs.map((s) => (s.kind === 'phone' && keyOf.has(s.holder) ? { ...s, publicKey: keyOf.get(s.holder)!.publicKey } : s));
  return { specs, keys };
}

function fullSet(d: Door, specs: CredentialSpec[], seq: number): IssuedSet {
  return issueFullSet({ issuer: d.issuer, lockId: d.lockId, contentKey: d.contentKey, seq, entries: entriesFromSpecs(specs, deriveIndexKey(d.contentKey, d.lockId), nodeCryptoProvider), secrets: d.secrets, issuedAt: NOW, provider: nodeCryptoProvider });
}

interface Stage {
  air: Air;
  device: LockDevice;
  served: ServedLock;
  /** MCU ms of the lock's most recent phone unlock check (verify, lookup, event record). */
  lastUnlockMcuMs(): number;
  close(): Promise<void>;
}

/** A lobby lock with the door's set, the MCU model and the advertising policy, on a fresh air. */
async function stage(d: Door, set: IssuedSet, seed: number, advertising: AdvertisingPolicy = DEFAULT_ADVERTISING_POLICY): Promise<Stage> {
  const air = createAir({ seed });
  const device = new LockDevice({ identity: { lockId: d.lockId, deviceSeed: d.deviceSeed }, profile: 'lobby', clock: Date.now, rtc: { lockMs: NOW * 1000, hostMs: Date.now() }, crypto: nodeCryptoProvider, mcu: 'nrf52840' });
  device.firmware.commission(commission(d, device.firmware.device.encryptionPublic));
  device.firmware.applySetMessage(set.bytes);
  // Measurement only: the MCU time charged while the firmware checks a phone answer (every
  // proof, challenge signature, ticket signature or ticket MAC, goes through unlockPhoneWith;
  // the ticket MAC's X25519, when K is not cached yet, is charged inside it).
  const fw: LockFirmware = device.firmware;
  const check = fw.unlockPhoneWith.bind(fw);
  let last = 0;
  fw.unlockPhoneWith = (...args: Parameters<LockFirmware['unlockPhoneWith']>) => {
    const m0 = device.mcu!.total;
    try {
      return check(...args);
    } finally {
      last = device.mcu!.total - m0;
    }
  };
  const served = await serveLock(air, device, { advertising });
  return {
    air,
    device,
    served,
    lastUnlockMcuMs: () => last,
    close: async () => {
      await served.stop();
      await air.close();
    },
  };
}

/** Idle the phone until its arrival and fire the lock's wake trigger then. */
function arrive(s: Stage, phone: Phone, at: number): void {
  (s.air.device(phone.address) as { idleUntil(ms: number): void }).idleUntil(at);
  s.served.wake(at);
}

const GAP_MS = 60_000;

interface RepeatFigures {
  door_open_ms: number[];
  unlock_mcu_ms: number[];
  relay_commit_ms: number[];
  relay_mcu_ms: number[];
  granted: number;
  relayed: number;
  host_cpu_ms: number[];
  /** Lock MCU ms by operation over the last relayed visit (where a commit's time goes). */
  relay_mcu_breakdown: Record<string, number> | null;
}

/**
 * Repeat visits of one resident (after one first visit that is not counted), optionally each
 * carrying a one-resident delta, with `crowd` other latchkit locks advertising in range.
 */
async function repeatVisits(d: Door, set: IssuedSet, profile: 'ios' | 'android', visits: number, o: { relay?: boolean; crowd?: number; seed: number }): Promise<RepeatFigures> {
  const s = await stage(d, set, o.seed);
  const out: RepeatFigures = { door_open_ms: [], unlock_mcu_ms: [], relay_commit_ms: [], relay_mcu_ms: [], granted: 0, relayed: 0, host_cpu_ms: [], relay_mcu_breakdown: null };
  try {
    for (let i = 0; i < (o.crowd ?? 0); i++) {
      const p = await s.air.addPeripheral({ name: `crowd-${i}` });
      p.bleno.startAdvertising(`LK-ffff${i.toString(16).padStart(12, '0')}`, ['6c6b0001a0b14d6f8c3b2f1e5d4c3b2a']);
    }
    const phone = await Phone.create({ radio: s.air, key: d.phone, profile, crypto: nodeCryptoProvider });
    const rand = prng(o.seed);
    let at = 0;
    arrive(s, phone, at);
    await phone.visit(d.lockId, { readEvents: false });
    let base = set;
    let specs = d.specs;
    for (let i = 0; i < visits; i++) {
      at = s.air.device(phone.address)!.now() + GAP_MS + rand() * 1000;
      if (o.relay) {
        specs = nextSpecs(d, specs, i);
        const delta = issueDelta({ issuer: d.issuer, lockId: d.lockId, contentKey: d.contentKey, seq: base.seq + 1, entries: entriesFromSpecs(specs, deriveIndexKey(d.contentKey, d.lockId), nodeCryptoProvider), secrets: d.secrets, issuedAt: NOW, base: { seq: base.seq, body: base.body }, provider: nodeCryptoProvider });
        phone.carry({ lockId: d.lockId, delta: delta.bytes, eventsFrom: s.device.firmware.events.nextIndex });
        base = delta;
      } else {
        phone.carry({ lockId: d.lockId, eventsFrom: s.device.firmware.events.nextIndex });
      }
      arrive(s, phone, at);
      const mcu0 = s.device.mcu!.total;
      const by0 = { ...s.device.mcu!.breakdown };
      const c0 = process.cpuUsage();
      const r = await phone.visit(d.lockId);
      const c = process.cpuUsage(c0);
      out.host_cpu_ms.push((c.user + c.system) / 1000);
      if (r.unlock?.granted) out.granted++;
      if (r.timing.doorOpenMs !== null) out.door_open_ms.push(r.timing.doorOpenMs);
      out.unlock_mcu_ms.push(s.lastUnlockMcuMs());
      if (r.relay?.sent === 'delta') {
        out.relayed++;
        out.relay_commit_ms.push(r.timing.relayCommittedMs!);
        // Unlock, then the delta's open and commit: what the lock computes before the receipt.
        out.relay_mcu_ms.push(s.device.mcu!.total - mcu0);
        const by = s.device.mcu!.breakdown;
        out.relay_mcu_breakdown = Object.fromEntries(Object.entries(by).map(([k, v]) => [k, round(v - by0[k as keyof typeof by0], 1)]));
      }
    }
    await phone.close();
  } finally {
    await s.close();
  }
  return out;
}

/** First visits: each a different resident's phone that never saw the lock (scan, discovery, challenge). */
async function firstVisits(d: Door, set: IssuedSet, keys: SigningKey[], seed: number): Promise<{ door_open_ms: number[]; unlock_mcu_ms: number[]; granted: number }> {
  const s = await stage(d, set, seed);
  const out = { door_open_ms: [] as number[], unlock_mcu_ms: [] as number[], granted: 0 };
  const rand = prng(seed);
  let at = 0;
  try {
    for (const key of keys) {
      const phone = await Phone.create({ radio: s.air, key, profile: 'ios', crypto: nodeCryptoProvider });
      at += GAP_MS + rand() * 1000;
      arrive(s, phone, at);
      const r = await phone.visit(d.lockId, { readEvents: false });
      if (r.unlock?.granted) out.granted++;
      // From the start of the scan: a first visit has to find the lock.
      out.door_open_ms.push(r.timing.scanMs + r.timing.doorOpenMs!);
      out.unlock_mcu_ms.push(s.lastUnlockMcuMs());
      at = s.air.device(phone.address)!.now();
      await phone.close();
    }
  } finally {
    await s.close();
  }
  return out;
}

/**
 * 24 residents who have been at the door before arrive within 10 s (seeded uniform times); the
 * lock serves one link at a time, so later phones queue. Door open is measured from each
 * phone's arrival. Each phone's earlier first visit happened long before the rush.
 */
async function rush(d: Door, set: IssuedSet, keys: SigningKey[], seed: number): Promise<{ door_open_ms: number[]; granted: number }> {
  const s = await stage(d, set, seed);
  const phones: Phone[] = [];
  try {
    let at = 0;
    for (const key of keys) {
      const phone = await Phone.create({ radio: s.air, key, profile: 'ios', crypto: nodeCryptoProvider, timeoutMs: 120_000 });
      phones.push(phone);
      at += GAP_MS;
      arrive(s, phone, at);
      await phone.visit(d.lockId, { readEvents: false });
      at = s.air.device(phone.address)!.now();
    }
    const start = at + 10 * GAP_MS;
    const rand = prng(seed + 1);
    const arrivals = phones.map(() => start + rand() * 10_000);
    // The lobby's sensor sees the first resident; the 30 s burst covers the whole rush.
    s.served.wake(Math.min(...arrivals));
    // Served in arrival order, one visit after the other: the lock holds one link at a time, so
    // a phone that arrives while it is busy connects at its next advertising event after the
    // previous visit's disconnect (the air's clocks see to that). Run concurrently, the air
    // would serve phones in the order the host happens to run them, not by modelled arrival.
    // FIFO is the kindest order for the tail; random service among waiting phones lengthens it.
    const order = phones.map((_, i) => i).sort((a, b) => arrivals[a]! - arrivals[b]!);
    const results: Awaited<ReturnType<Phone['visit']>>[] = [];
    for (const i of order) {
      (s.air.device(phones[i]!.address) as { idleUntil(ms: number): void }).idleUntil(arrivals[i]!);
      results[i] = await phones[i]!.visit(d.lockId, { readEvents: false });
    }
    return { door_open_ms: results.map((r) => r.timing.doorOpenMs!), granted: results.filter((r) => r.unlock?.granted).length };
  } finally {
    for (const p of phones) await p.close().catch(() => undefined);
    await s.close();
  }
}

/**
 * A gateway pushing a one-resident delta to the online lobby door it has synced before: what
 * `SyncEngine.syncOnce` puts on the air for a commissioned, known door (KnownLocks direct
 * connect, getInfo in the first connection event, the delta pipelined, the receipt with the
 * commit), at the gateway's 15 ms interval. The engine's database work is host CPU, not air
 * time, and is left out. The lobby reader is on mains and advertises at 20 ms continuously.
 */
async function gatewayPush(d: Door, set: IssuedSet, pushes: number, seed: number): Promise<{ push_ms: number[]; mcu_ms: number[]; applied: number }> {
  const s = await stage(d, set, seed, MAINS_ADVERTISING_POLICY);
  const out = { push_ms: [] as number[], mcu_ms: [] as number[], applied: 0 };
  try {
    const gw = await s.air.addCentral({ profile: { base: 'gateway', connectionIntervalMs: 15 }, name: 'gateway' });
    const known = new KnownLocks(() => gw.now());
    const opts = { timeoutMs: 120_000, crypto: nodeCryptoProvider };
    const first = await known.connect(gw.noble, d.lockId, opts);
    await known.remember(d.lockId, first.client);
    await first.client.disconnect();
    const rand = prng(seed);
    let base = set;
    let specs = d.specs;
    for (let i = 0; i < pushes; i++) {
      specs = nextSpecs(d, specs, 200 + i);
      const delta = issueDelta({ issuer: d.issuer, lockId: d.lockId, contentKey: d.contentKey, seq: base.seq + 1, entries: entriesFromSpecs(specs, deriveIndexKey(d.contentKey, d.lockId), nodeCryptoProvider), secrets: d.secrets, issuedAt: NOW, base: { seq: base.seq, body: base.body }, provider: nodeCryptoProvider });
      base = delta;
      gw.idleUntil(gw.now() + GAP_MS + rand() * 1000);
      const mcu0 = s.device.mcu!.total;
      const link = await known.connect(gw.noble, d.lockId, opts, (c) => c.controlInfo());
      try {
        const info = link.first ?? (await link.client.info());
        const r = await deliverSet(link.client, info.seq, { delta: delta.bytes }, undefined, true);
        if (r?.sent === 'delta') out.applied++;
        out.push_ms.push(gw.now() - link.connectStartedAt);
        out.mcu_ms.push(s.device.mcu!.total - mcu0);
      } finally {
        await link.client.disconnect();
      }
    }
  } finally {
    await s.close();
  }
  return out;
}

export interface FastFigures {
  keys: Record<string, number>;
  detail: Record<string, unknown>;
}

export async function fastUnlockFigures(d0: Door, quick: boolean, log: (l: string) => void): Promise<FastFigures> {
  const visits = 20;
  const { specs, keys } = realPhones(d0, 24);
  const d: Door = { ...d0, specs };
  const set = fullSet(d, specs, 1);
  const detail: Record<string, unknown> = {};
  const repeat: Record<string, RepeatFigures> = {};
  for (const profile of ['ios', 'android'] as const) {
    repeat[profile] = await repeatVisits(d, set, profile, visits, { seed: profile === 'ios' ? 31 : 32 });
    log(`  fast ${profile}: door open p50 ${p50(repeat[profile]!.door_open_ms)} ms (MCU ${p50(repeat[profile]!.unlock_mcu_ms)} ms)`);
  }
  const relay = await repeatVisits(d, set, 'ios', visits, { relay: true, seed: 33 });
  log(`  fast ios + relayed delta: committed p50 ${p50(relay.relay_commit_ms)} ms (MCU ${p50(relay.relay_mcu_ms)} ms)`);
  const first = await firstVisits(d, set, keys.slice(0, visits), 34);
  log(`  first visits ios: door open p50 ${p50(first.door_open_ms)} ms`);
  const crowd: Record<string, number> = {};
  for (const n of quick ? [0, 1000, 4000] : [0, 1000, 4000]) {
    const r = await repeatVisits(d, set, 'ios', 10, { crowd: n, seed: 35 });
    crowd[n] = round(quantile(r.host_cpu_ms, 0.5), 2);
    log(`  host CPU per repeat unlock with ${n} other locks advertising: p50 ${crowd[n]} ms`);
  }
  const gw = await gatewayPush(d, set, visits, 37);
  log(`  gateway push of a one-resident delta: p50 ${p50(gw.push_ms)} ms (MCU ${p50(gw.mcu_ms)} ms)`);
  const rushed = await rush(d, set, keys, 36);
  log(`  rush of 24 ios phones in 10 s: door open p50 ${p50(rushed.door_open_ms)} ms, p99 ${round(quantile(rushed.door_open_ms, 0.99))} ms`);

  const split = (total: number[], mcu: number[]): { total_p50_ms: number; lock_mcu_p50_ms: number; radio_p50_ms: number } => {
    const radio = total.map((t, i) => t - (mcu[i] ?? 0));
    return { total_p50_ms: p50(total), lock_mcu_p50_ms: p50(mcu), radio_p50_ms: p50(radio) };
  };
  detail['door_open_repeat'] = { visits, ios: { ...split(repeat['ios']!.door_open_ms, repeat['ios']!.unlock_mcu_ms), granted: repeat['ios']!.granted }, android: { ...split(repeat['android']!.door_open_ms, repeat['android']!.unlock_mcu_ms), granted: repeat['android']!.granted } };
  detail['door_open_first_visit_ios'] = { visits: first.door_open_ms.length, ...split(first.door_open_ms, first.unlock_mcu_ms), granted: first.granted };
  detail['relay_commit_ios'] = { visits, relayed: relay.relayed, granted: relay.granted, ...split(relay.relay_commit_ms, relay.relay_mcu_ms), lock_mcu_ms_by_operation_last_visit: relay.relay_mcu_breakdown };
  detail['gateway_delta_push'] = { pushes: visits, applied: gw.applied, interval_ms: 15, ...split(gw.push_ms, gw.mcu_ms) };
  detail['rush_ios'] = { phones: keys.length, window_s: 10, granted: rushed.granted, p50_ms: p50(rushed.door_open_ms), p99_ms: round(quantile(rushed.door_open_ms, 0.99)) };
  detail['host_cpu_ms_per_repeat_unlock_by_locks_in_range'] = crowd;
  detail['advertising'] = { policy: DEFAULT_ADVERTISING_POLICY, average_current_ua_100_triggers_per_day: round(advertisingAverageCurrentUa(DEFAULT_ADVERTISING_POLICY, 100), 1), average_current_ua_fixed_100ms: 50, average_current_ua_fixed_20ms: 600 };
  return {
    keys: {
      door_open_p50_ms_ios: p50(repeat['ios']!.door_open_ms),
      door_open_p50_ms_android: p50(repeat['android']!.door_open_ms),
      door_open_first_visit_p50_ms_ios: p50(first.door_open_ms),
      relay_commit_p50_ms_ios: p50(relay.relay_commit_ms),
      mcu_ms_per_unlock: round(quantile(repeat['ios']!.unlock_mcu_ms, 0.5), 2),
      gateway_delta_push_p50_ms: p50(gw.push_ms),
      rush_p99_ms_ios: round(quantile(rushed.door_open_ms, 0.99)),
      phone_cpu_ms_per_unlock_0_locks: crowd[0]!,
      phone_cpu_ms_per_unlock_1000_locks: crowd[1000]!,
      phone_cpu_ms_per_unlock_4000_locks: crowd[4000]!,
      advertising_average_current_ua: round(advertisingAverageCurrentUa(DEFAULT_ADVERTISING_POLICY, 100), 1),
    },
    detail,
  };
}

