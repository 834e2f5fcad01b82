/**
 * A stranger in radio range floods the lock with unauthenticated requests (junk bulk commits,
 * unlocks with unknown phone keys, bad proofs for a known key) and then pulls the batteries:
 * the keypad lockout and its escalation survive, the noise is coalesced into a few counted
 * records, and it never pushes access records out of the event log.
 */
import { describe, expect, it } from 'vitest';
import type { EventRecord } from '@latchkit/protocol';
import {
  bulkChunks,
  decodeResponse,
  decodeUnlockChallenge,
  decodeUnlockResult,
  DenyReason,
  encodeBulkBegin,
  encodeRequest,
  encodeUnlockPhone,
  signingKeyFromSeed,
  transferId,
  unlockSigningInput,
  type OpcodeName,
} from '@latchkit/protocol';
import { LockSession, type LockFirmware } from '../../../simulator/src/lock/index.js';
import { crypto, det, MIN, phoneKeyOf, resident, testLock, verifyLog, type TestLock } from './fixtures.js';

/** A stranger's connection, driven at the level of whole control-point messages. */
class Stranger {
  private readonly session: LockSession;
  private token = 0;
  private n = 0;

  constructor(private readonly t: TestLock) {
    this.session = new LockSession(t.device.firmware, { notify: () => undefined, mtu: () => 185 });
  }

  private call(opcode: OpcodeName, payload: Uint8Array = new Uint8Array(0)): { status: number; payload: Uint8Array } {
    this.token = (this.token + 1) & 0xff;
    const res = decodeResponse(this.session.handle(encodeRequest({ opcode, token: this.token, payload }))!);
    return { status: res.status, payload: res.payload };
  }

  /** A complete bulk transfer of junk bytes, then bulkCommit: the lock rejects it. Returns the status. */
  junkCommit(): number {
    const junk = det(`junk-${this.n++}`, 24);
    const id = transferId(junk, crypto);
    expect(this.call('bulkBegin', encodeBulkBegin({ id, total: junk.length })).status).toBe(0);
    for (const c of bulkChunks(junk, 0, 185)) this.session.onBulkWrite(c);
    return this.call('bulkCommit', id).status;
  }

  /** Challenge, then an answer signed by a key the lock has never heard of. */
  unknownPhone(): number {
    const { nonce } = decodeUnlockChallenge(this.call('unlockChallenge').payload);
    const key = signingKeyFromSeed(det(`stranger-key-${this.n++}`), crypto);
    const sig = crypto.ed25519Sign(key.seed, unlockSigningInput(this.t.device.lockId, nonce));
    return decodeUnlockResult(this.call('unlockPhone', encodeUnlockPhone({ publicKey: key.publicKey, signature: sig })).payload).result;
  }

  /** A resident's (public) key with a signature that does not verify. */
  badProof(holder: number): number {
    this.call('unlockChallenge');
    const sig = det(`forged-${this.n++}`, 64);
    return decodeUnlockResult(this.call('unlockPhone', encodeUnlockPhone({ publicKey: phoneKeyOf(holder).publicKey, signature: sig })).payload).result;
  }
}

function wrong(fw: LockFirmware, n: number): void {
  for (let i = 0; i < n; i++) expect(fw.enterCode('000000').reason).toBe('unknownCredential');
}

/** How many failures a coalesced noise record stands for (itself plus the ones counted into it). */
const standsFor = (e: EventRecord): number => 1 + (e.detail >>> 8);

describe('a flood of unauthenticated requests, then a battery pull', () => {
  it('keeps the lockout in force and its escalation, and keeps every access record logged before the flood', () => {
    const t = testLock({ specs: [...resident(1, '123456'), ...resident(2, '222222')] });
    let fw = t.device.firmware;
    const limit = fw.profile.lockoutThreshold;
    const first = fw.profile.lockoutSeconds;
    expect(fw.enterCode('123456').granted).toBe(true);
    // Ten wrong codes (two rounds): the second lockout is twice as long.
    wrong(fw, limit);
    t.clock.advance(first * 1000);
    wrong(fw, limit);
    expect(fw.lockedOut).toBe(true);
    const until = fw.lockedOutUntil!;
    expect(until - fw.now()).toBe(2 * first);
    const before = fw.events.read(0, 1e6);

    // 10,000 junk commits and 600 forged unlocks within 50 s of the lockout.
    const s = new Stranger(t);
    for (let i = 0; i < 10_000; i++) {
      expect(s.junkCommit()).not.toBe(0);
      if (i % 50 === 0) expect(s.unknownPhone()).toBe(DenyReason.unknownCredential);
      if (i % 50 === 25) expect(s.badProof(2)).toBe(DenyReason.badProof);
      t.clock.advance(5);
    }

    fw = t.device.powerCycle();
    expect(fw.lockedOut).toBe(true);
    expect(fw.lockedOutUntil).toBe(until);
    expect(fw.enterCode('123456').reason).toBe('lockedOut');
    // Every record from before the flood is still there, unchanged, and the chain holds.
    for (const r of before) expect(fw.events.read(r.index, 1)[0]).toEqual(r);
    verifyLog(fw);

    // The lockout ends when it was going to; the next one is longer again (escalation kept).
    t.clock.advance((until - fw.now()) * 1000);
    expect(fw.lockedOut).toBe(false);
    wrong(fw, limit);
    expect(fw.lockedOutUntil! - fw.now()).toBe(4 * first);
    t.clock.advance(4 * first * 1000);
    expect(fw.enterCode('123456').granted).toBe(true);
  });

  it('coalesces each kind of noise into one record per minute that counts the failures', () => {
    const t = testLock({ specs: resident(2, '222222') });
    const fw = t.device.firmware;
    const start = fw.events.nextIndex;
    const s = new Stranger(t);
    const junk = 2_000;
    const phones = 300;
    for (let i = 0; i < junk; i++) s.junkCommit();
    for (let i = 0; i < phones; i++) s.unknownPhone();
    // The window closes; the lock's timer writes what it counted.
    t.clock.advance(61_000);
    fw.tick();
    const noise = fw.events.read(start, 1e6);
    const rejected = noise.filter((e) => e.type === 'syncRejected');
    const denied = noise.filter((e) => e.type === 'denied');
    expect(noise.length).toBe(rejected.length + denied.length);
    // Per kind (a rejection's wire status is part of its kind: junk fails as MALFORMED or
    // TRUNCATED) a leading record written at once and one written at the window's close that
    // carries the count. The low byte of a syncRejected is still the wire status.
    const statuses = new Set(rejected.map((e) => e.detail & 0xff));
    expect(statuses.size).toBeLessThanOrEqual(3);
    for (const st of statuses) expect(rejected.filter((e) => (e.detail & 0xff) === st).length).toBe(2);
    expect(denied.length).toBe(2);
    expect(rejected.reduce((n, e) => n + standsFor(e), 0)).toBe(junk);
    expect(denied.reduce((n, e) => n + standsFor(e), 0)).toBe(phones);
    for (const e of denied) expect(e).toMatchObject({ reason: 'unknownCredential', kind: 4 });

    // The record written at the window's close opens the next window; after a quiet minute
    // the next failure is logged at once, as before.
    t.clock.advance(61_000);
    fw.tick();
    const next = fw.events.nextIndex;
    s.unknownPhone();
    expect(fw.events.read(next, 10).map((e) => [e.type, e.reason, e.detail])).toEqual([['denied', 'unknownCredential', 0]]);
  });

  it('never lets noise take more than one erase sector of the log: later noise is counted, not written', () => {
    const t = testLock({ specs: resident(1, '111111') });
    let fw = t.device.firmware;
    const sector = fw.profile.eventSectorRecords;
    const capacity = fw.profile.eventRecords;
    for (let i = 0; i < 20; i++) fw.enterCode(i % 2 ? '111111' : '000001');
    const access = fw.events.read(0, 1e6);
    const s = new Stranger(t);
    // Paced noise: one junk commit every 61 s, so none is coalesced with the one before.
    for (let i = 0; i < 2 * capacity; i++) {
      s.junkCommit();
      t.clock.advance(61_000);
      fw.tick();
    }
    const kept = fw.events.read(0, 1e6);
    expect(kept.filter((e) => e.type === 'syncRejected').length).toBeLessThanOrEqual(sector);
    for (const r of access) expect(fw.events.read(r.index, 1)[0]).toEqual(r);
    const dropped = fw.summary().droppedNoise;
    expect(dropped).toBeGreaterThan(2 * capacity - 2 * sector);
    // Access records still go in (the log is not frozen), and the counter survives a reboot
    // (persisted at the clock checkpoint at the latest).
    expect(fw.enterCode('111111').granted).toBe(true);
    t.clock.advance(10 * MIN * 1000);
    fw.tick();
    fw = t.device.powerCycle();
    expect(fw.summary().droppedNoise).toBe(dropped);
    verifyLog(fw);
    // Noise took no capacity from access records either: the oldest one is still there after
    // capacity - 2 sectors newer access records (the grant and the boot above included).
    for (let i = 0; i < capacity - 2 * sector - 2; i++) fw.enterCode('111111');
    expect(fw.events.read(0, 1)[0]).toEqual(access[0]);
    verifyLog(fw);
  });
});
