/**
 * Fixtures for lock and phone tests: a backend (issuer, content key, property secrets) that
 * signs real messages, and locks on in-memory flash with a manual clock.
 */
import type { CredentialSpec, CryptoProvider, Entry, SetSecrets } from '@latchkit/protocol';
import {
  deriveIndexKey,
  deviceKeysFromSeed,
  entriesFromSpecs,
  issueCommission,
  issueDelta,
  issueFullSet,
  issueTimeSync,
  signingKeyFromSeed,
  verifyEventChain,
  type IssuedSet,
} from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createHash } from 'node:crypto';
import type { IndicatorEvent, LockDeviceOptions, LockFirmware } from '../../../simulator/src/lock/index.js';
import { LockDevice, ManualClock } from '../../../simulator/src/lock/index.js';

/** Deterministic bytes from a label. */
export function det(label: string, n = 32): Uint8Array {
  const out = new Uint8Array(n);
  let block = createHash('sha256').update(label).digest();
  for (let at = 0; at < n; at += 32) {
    out.set(block.subarray(0, Math.min(32, n - at)), at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Counter-mode deterministic randomness, so tests replay identically. */
export function seededRandom(seed: string): (n: number) => Uint8Array {
  let i = 0;
  return (n) => det(`${seed}/${i++}`, n);
}

/** 2026-11-23T12:00:00Z. */
export const T0 = 1_795_435_200;
export const MIN = 60;
export const HOUR = 3600;
export const DAY = 86400;

export const crypto: CryptoProvider = nodeCryptoProvider;
export const issuer = signingKeyFromSeed(det('issuer'), crypto);
export const issuer2 = signingKeyFromSeed(det('issuer-2'), crypto);
export const secrets: SetSecrets = { daily: det('daily-secret'), cardMaster: det('card-master') };
export const contentKey = det('content-key');

export function lockIdOf(n: number): Uint8Array {
  return Uint8Array.from([0x4c, 0x4b, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff]);
}

export const phoneSeed = (holder: number): Uint8Array => det(`phone-${holder}`);
export const phoneKeyOf = (holder: number) => signingKeyFromSeed(phoneSeed(holder), crypto);
export const cardUid = (holder: number): Uint8Array => det(`uid-${holder}`, 7);

/** Every credential kind for one resident, sharing a window. */
export function resident(holder: number, code: string, window: Partial<Pick<CredentialSpec, 'start' | 'end' | 'schedule'>> = {}): CredentialSpec[] {
  const common = { holder, start: window.start ?? null, end: window.end ?? null, schedule: window.schedule ?? null };
  return [
    { ...common, kind: 'phone', publicKey: phoneKeyOf(holder).publicKey },
    { ...common, kind: 'doorcode', code },
    { ...common, kind: 'keycard', uid: cardUid(holder) },
    { ...common, kind: 'daily' },
  ];
}

/** The backend side for one lock. */
export class Backend {
  readonly indexKey: Uint8Array;
  constructor(
    readonly lockId: Uint8Array,
    readonly deviceSeed: Uint8Array = det(`device-${Array.from(lockId).join('.')}`),
  ) {
    this.indexKey = deriveIndexKey(contentKey, lockId);
  }

  get device() {
    return deviceKeysFromSeed(this.deviceSeed, crypto);
  }

  commission(issuedAt = T0, generation = 1, utcOffset = 0, key = contentKey): Uint8Array {
    return issueCommission({
      issuer,
      lockId: this.lockId,
      issuedAt,
      anchors: [issuer.publicKey],
      lockEncryptionPublic: this.device.encryptionPublic,
      contentKey: key,
      utcOffset,
      generation,
      provider: crypto,
    });
  }

  entries(specs: CredentialSpec[]): Entry[] {
    return entriesFromSpecs(specs, this.indexKey, crypto);
  }

  full(seq: number, specs: CredentialSpec[], issuedAt = T0, lockId = this.lockId): IssuedSet {
    return issueFullSet({ issuer, lockId, contentKey, seq, entries: entriesFromSpecs(specs, deriveIndexKey(contentKey, lockId), crypto), secrets, issuedAt, provider: crypto });
  }

  delta(base: IssuedSet, seq: number, specs: CredentialSpec[], issuedAt = T0, lockId = this.lockId): IssuedSet {
    return issueDelta({
      issuer,
      lockId,
      contentKey,
      seq,
      entries: entriesFromSpecs(specs, deriveIndexKey(contentKey, lockId), crypto),
      secrets,
      issuedAt,
      base: { seq: base.seq, body: base.body },
      provider: crypto,
    });
  }

  timeSync(time: number, utcOffset = 0, transition?: { at: number; offset: number }): Uint8Array {
    return issueTimeSync({ issuer, lockId: this.lockId, issuedAt: time, utcOffset, ...(transition ? { transition } : {}), provider: crypto });
  }
}

export interface TestLock {
  device: LockDevice;
  clock: ManualClock;
  backend: Backend;
  indicators: IndicatorEvent[];
  bolt: boolean[];
}

/** A lock on in-memory flash, RTC at T0, manual host clock. Optionally commissioned with a first set. */
export function testLock(o: { n?: number; profile?: LockDeviceOptions['profile']; commission?: boolean; specs?: CredentialSpec[]; driftPpm?: number; mcu?: LockDeviceOptions['mcu']; beforeTransitionClaim?: boolean; mutant?: LockDeviceOptions['mutant'] } = {}): TestLock {
  const lockId = lockIdOf(o.n ?? 1);
  const backend = new Backend(lockId);
  const clock = new ManualClock(1_000_000);
  const indicators: IndicatorEvent[] = [];
  const bolt: boolean[] = [];
  const device = new LockDevice({
    identity: { lockId, deviceSeed: backend.deviceSeed },
    profile: o.profile ?? 'compact',
    clock: clock.now,
    rtc: { lockMs: T0 * 1000, hostMs: clock.ms },
    driftPpm: o.driftPpm ?? 0,
    crypto,
    random: seededRandom(`lock-${o.n ?? 1}`),
    indicator: (e) => indicators.push(e),
    bolt: (locked) => bolt.push(locked),
    ...(o.mcu !== undefined ? { mcu: o.mcu } : {}),
    ...(o.beforeTransitionClaim ? { beforeTransitionClaim: true } : {}),
    ...(o.mutant !== undefined ? { mutant: o.mutant } : {}),
  });
  if (o.commission !== false) {
    device.firmware.commission(backend.commission());
    if (o.specs) device.firmware.applySetMessage(backend.full(1, o.specs).bytes);
  }
  return { device, clock, backend, indicators, bolt };
}

/** The lock's kept event log is one unbroken chain (from genesis when it still holds record 0). */
export function verifyLog(fw: LockFirmware): void {
  const events = fw.events.read(0, 100_000);
  if (events.length === 0) return;
  const first = events[0]!;
  if (first.index === 0) verifyEventChain(fw.events.chainBefore(0)!, 0, events, undefined, crypto);
  else verifyEventChain(first.chain, first.index + 1, events.slice(1), undefined, crypto);
}
