/**
 * Set sync must-rejects at the firmware: another lock's set or delta, rollback and replay,
 * tampered ciphertext, wrong content key, a delta on the wrong base (fallback to full), a set
 * too large for flash. Each leaves the enforced set untouched and is logged as syncRejected.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialSpec } from '@latchkit/protocol';
import { issueFullSet, openReceipt, ProtocolError, ProtocolErrorCodes, toHex } from '@latchkit/protocol';
import { SimulatorError } from '../../../simulator/src/errors.js';
import type { LockFirmware } from '../../../simulator/src/lock/index.js';
import { crypto, det, issuer, issuer2, lockIdOf, resident, secrets, T0, testLock, verifyLog } from './fixtures.js';

const specs1 = [...resident(1, '111111'), ...resident(2, '222222')];
const specs2 = [...resident(1, '111111'), ...resident(3, '333333')];

function rejectCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError || e instanceof SimulatorError) return e.code;
    throw e;
  }
  return 'accepted';
}

/** The enforced state, to compare before and after a rejected message. */
function enforced(fw: LockFirmware): string {
  return JSON.stringify({ seq: fw.seq, digest: toHex(fw.persisted.set?.digest ?? new Uint8Array(0)), codes: ['111111', '222222', '333333'].map((c) => fw.enterCode(c).granted) });
}

function lastRejection(fw: LockFirmware): number | undefined {
  return fw.events.tail(50).filter((e) => e.type === 'syncRejected').at(-1)?.detail;
}

describe('a lock refuses', () => {
  it('a full set or a delta addressed to another lock', () => {
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    const before = enforced(fw);
    const other = lockIdOf(2);
    expect(rejectCode(() => fw.applySetMessage(t.backend.full(5, specs2, T0, other).bytes))).toBe('WRONG_LOCK');
    const otherBase = t.backend.full(1, specs1, T0, other);
    expect(rejectCode(() => fw.applySetMessage(t.backend.delta(otherBase, 2, specs2, T0, other).bytes))).toBe('WRONG_LOCK');
    expect(lastRejection(fw)).toBe(ProtocolErrorCodes.WRONG_LOCK.wire);
    expect(enforced(fw)).toBe(before);
  });

  it('a rolled-back or replayed sequence', () => {
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    const v1 = t.backend.full(1, specs1);
    const v3 = t.backend.full(3, specs2);
    expect(fw.applySetMessage(v3.bytes).seq).toBe(3);
    const before = enforced(fw);
    expect(rejectCode(() => fw.applySetMessage(v1.bytes))).toBe('STALE_SEQUENCE');
    expect(rejectCode(() => fw.applySetMessage(t.backend.full(2, specs1).bytes))).toBe('STALE_SEQUENCE');
    expect(rejectCode(() => fw.applySetMessage(v3.bytes))).toBe('STALE_SEQUENCE');
    expect(enforced(fw)).toBe(before);
    // Also after a reboot: the sequence is in the committed image, not in RAM.
    const rebooted = t.device.powerCycle();
    expect(rejectCode(() => rebooted.applySetMessage(v1.bytes))).toBe('STALE_SEQUENCE');
    expect(rebooted.seq).toBe(3);
  });

  it('tampered ciphertext (before decrypting anything) and a body sealed under another content key', () => {
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    const before = enforced(fw);
    const good = t.backend.full(2, specs2);
    for (const at of [good.bytes.length - 100, Math.floor(good.bytes.length / 2), 60]) {
      const bad = good.bytes.slice();
      bad[at]! ^= 0x01;
      expect(['BAD_SIGNATURE', 'MALFORMED', 'TRUNCATED']).toContain(rejectCode(() => fw.applySetMessage(bad)));
    }
    const foreignKey = issueFullSet({ issuer, lockId: fw.lockId, contentKey: det('not-this-lock-key'), seq: 2, entries: t.backend.entries(specs2), secrets, issuedAt: T0, provider: crypto });
    expect(rejectCode(() => fw.applySetMessage(foreignKey.bytes))).toBe('DECRYPTION_FAILED');
    const stranger = issueFullSet({ issuer: issuer2, lockId: fw.lockId, contentKey: det('content-key'), seq: 2, entries: t.backend.entries(specs2), secrets, issuedAt: T0, provider: crypto });
    expect(rejectCode(() => fw.applySetMessage(stranger.bytes))).toBe('UNKNOWN_KEY_ID');
    expect(enforced(fw)).toBe(before);
    expect(fw.applySetMessage(good.bytes).seq).toBe(2);
  });

  it('a delta on another base: DELTA_BASE_MISMATCH with needsFullSet, and the full set then applies', () => {
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    const v2 = t.backend.full(2, specs2);
    const v3 = t.backend.full(3, specs1);
    const deltaFrom2 = t.backend.delta(v2, 3, specs1);
    let err: unknown;
    try {
      fw.applySetMessage(deltaFrom2.bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('DELTA_BASE_MISMATCH');
    expect((err as ProtocolError).needsFullSet).toBe(true);
    expect(fw.seq).toBe(1);
    expect(fw.applySetMessage(v3.bytes).seq).toBe(3);
    // A correct delta from the held base applies and gives the same digest as the full set.
    const v4full = t.backend.full(4, specs2);
    const v4delta = t.backend.delta(v3, 4, specs2);
    const r = fw.applySetMessage(v4delta.bytes);
    expect(r.kind).toBe('delta');
    expect(toHex(r.digest)).toBe(toHex(v4full.digest));
  });

  it('a set larger than the flash slot: OVERSIZE before any byte is stored; a delta that would overflow it: FLASH_CAPACITY; the old set stays', () => {
    const t = testLock({ profile: 'compact', specs: specs1 });
    const fw = t.device.firmware;
    const before = enforced(fw);
    // Three credentials per holder pack to ~31 bytes; the compact profile's slot is 64 KiB.
    const holders = (from: number, n: number): CredentialSpec[] => {
      const out: CredentialSpec[] = [];
      for (let h = from; h < from + n; h++) {
        const common = { holder: h, start: null, end: null, schedule: null };
        out.push({ ...common, kind: 'doorcode', code: String(300000 + h) }, { ...common, kind: 'phone', publicKey: det(`pk-${h}`) }, { ...common, kind: 'keycard', uid: det(`uid-${h}`, 7) });
      }
      return out;
    };
    const tooBig = t.backend.full(2, holders(10_000, 2_500));
    expect(rejectCode(() => fw.applySetMessage(tooBig.bytes))).toBe('OVERSIZE');
    expect(lastRejection(fw)).toBe(ProtocolErrorCodes.OVERSIZE.wire);
    expect(enforced(fw)).toBe(before);

    const baseSpecs = [...specs1, ...holders(10_000, 1_800)];
    const base = t.backend.full(3, baseSpecs);
    expect(fw.applySetMessage(base.bytes).seq).toBe(3);
    const grown = t.backend.delta(base, 4, [...baseSpecs, ...holders(20_000, 600)]);
    expect(grown.bytes.length).toBeLessThan(fw.profile.slotBytes);
    let err: unknown;
    try {
      fw.applySetMessage(grown.bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimulatorError);
    expect((err as SimulatorError).code).toBe('FLASH_CAPACITY');
    expect((err as SimulatorError).message).toMatch(/does not fit the compact profile's 65536-byte flash slot; the current set stays in force/);
    expect((err as SimulatorError).wire).toBe(ProtocolErrorCodes.CAPACITY_EXCEEDED.wire);
    expect(lastRejection(fw)).toBe(ProtocolErrorCodes.CAPACITY_EXCEEDED.wire);
    expect(fw.seq).toBe(3);
    expect(fw.enterCode('111111').granted).toBe(true);
    expect(t.device.powerCycle().seq).toBe(3);
    // The standard profile (1 MiB slots) takes the large set.
    const roomy = testLock({ n: 2, profile: 'standard' });
    expect(roomy.device.firmware.applySetMessage(roomy.backend.full(2, holders(10_000, 2_500)).bytes).seq).toBe(2);
  });

  it('anything before commissioning, with NOT_COMMISSIONED', () => {
    const t = testLock({ commission: false });
    expect(rejectCode(() => t.device.firmware.applySetMessage(t.backend.full(1, specs1).bytes))).toBe('NOT_COMMISSIONED');
  });
});

describe('an applied set', () => {
  it('returns a receipt signed with the device key naming seq, digest and the event head', () => {
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    const v2 = t.backend.full(2, specs2);
    const out = fw.applySetMessage(v2.bytes);
    const r = openReceipt(out.receipt, { lockId: fw.lockId, devicePublicKey: t.backend.device.signing.publicKey, provider: crypto });
    expect(r.seq).toBe(2);
    expect(toHex(r.digest)).toBe(toHex(v2.digest));
    expect(r.eventIndex).toBe(fw.events.head!.index);
    expect(toHex(r.eventHash)).toBe(toHex(fw.events.head!.chain));
    expect(fw.events.tail(1)[0]).toMatchObject({ type: 'syncApplied', detail: 2 });
    verifyLog(fw);
  });

  it('is what the lock enforces after a restart', () => {
    const t = testLock({ specs: specs1 });
    t.device.firmware.applySetMessage(t.backend.full(2, specs2).bytes);
    const fw = t.device.powerCycle();
    expect(fw.seq).toBe(2);
    expect(fw.enterCode('333333').granted).toBe(true);
    expect(fw.enterCode('222222').granted).toBe(false);
  });
});

describe('commissioning and anchor rotation', () => {
  it('re-commissioning needs a current anchor and a higher generation', () => {
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    expect(rejectCode(() => fw.commission(t.backend.commission(T0, 1)))).toBe('STALE_SEQUENCE');
    expect(fw.commission(t.backend.commission(T0 + 10, 2))).toBeUndefined();
    expect(fw.summary().generation).toBe(2);
    // Same content key: the set stays in force.
    expect(fw.enterCode('111111').granted).toBe(true);
  });

  it('re-commissioning with a new content key orphans the old set but keeps its sequence as the floor', () => {
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    fw.commission(t.backend.commission(T0 + 10, 2, 0, det('new-content-key')));
    expect(fw.seq).toBe(1);
    expect(fw.set).toBeNull();
    expect(fw.enterCode('111111').reason).toBe('noSet');
    expect(rejectCode(() => fw.applySetMessage(t.backend.full(1, specs1).bytes))).toBe('STALE_SEQUENCE');
  });

  it('after an anchor rotation, sets signed by the retired anchor are refused', async () => {
    const { issueAnchorRotation } = await import('@latchkit/protocol');
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    fw.rotateAnchors(issueAnchorRotation({ issuer, lockId: fw.lockId, issuedAt: T0, anchors: [issuer2.publicKey], seq: 1, provider: crypto }));
    expect(rejectCode(() => fw.applySetMessage(t.backend.full(2, specs2).bytes))).toBe('UNKNOWN_KEY_ID');
    const bySecond = issueFullSet({ issuer: issuer2, lockId: fw.lockId, contentKey: det('content-key'), seq: 2, entries: t.backend.entries(specs2), secrets, issuedAt: T0, provider: crypto });
    expect(fw.applySetMessage(bySecond.bytes).seq).toBe(2);
    // A replayed rotation (same counter) is refused; the old issuer cannot rotate any more.
    expect(rejectCode(() => fw.rotateAnchors(issueAnchorRotation({ issuer, lockId: fw.lockId, issuedAt: T0, anchors: [issuer.publicKey], seq: 2, provider: crypto })))).toBe('UNKNOWN_KEY_ID');
    expect(t.device.powerCycle().summary().anchors).toBe(1);
  });
});
