/**
 * Credential checks on the lock's own clock: every kind at the edges of its window, weekly
 * schedules, daily codes changing at local midnight, keycards that must answer the challenge,
 * phone keys with single-use nonces, and auto-relock.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialKindName } from '@latchkit/protocol';
import { dailyCode, localDay, unlockSigningInput } from '@latchkit/protocol';
import type { AccessOutcome, LockFirmware } from '../../../simulator/src/lock/index.js';
import { SimulatedCard } from '../../../simulator/src/lock/index.js';
import { cardUid, crypto, det, DAY, HOUR, phoneKeyOf, resident, secrets, T0, testLock, type TestLock } from './fixtures.js';

/** Move the (drift-free) lock clock to `unixSeconds` by letting host time pass. */
function at(t: TestLock, unixSeconds: number): void {
  const delta = unixSeconds - t.device.rtc.read();
  if (delta < 0) throw new Error(`test bug: cannot go back from ${t.device.rtc.read()} to ${unixSeconds}`);
  t.clock.advance(delta * 1000);
  expect(t.device.firmware.now()).toBe(unixSeconds);
}

function phoneUnlock(fw: LockFirmware, holder: number): AccessOutcome {
  const ch = fw.createChallenge();
  const key = phoneKeyOf(holder);
  return fw.unlockPhone(ch, key.publicKey, crypto.ed25519Sign(key.seed, unlockSigningInput(fw.lockId, ch.nonce)));
}

function tryKind(fw: LockFirmware, kind: CredentialKindName, holder: number, code: string): AccessOutcome {
  switch (kind) {
    case 'doorcode':
      return fw.enterCode(code);
    case 'daily':
      return fw.enterCode(dailyCode(secrets.daily, holder, localDay(Math.floor(fw.now() / 60), fw.utcOffset), crypto));
    case 'keycard':
      return fw.tapCard(SimulatedCard.issue(secrets.cardMaster, cardUid(holder), crypto));
    case 'phone':
      return phoneUnlock(fw, holder);
  }
}

const KINDS: CredentialKindName[] = ['doorcode', 'daily', 'keycard', 'phone'];

describe('windows are enforced on the lock clock, with no sync', () => {
  for (const kind of KINDS) {
    it(`${kind}: not yet valid one second before start, valid at start and until the last second, expired at end`, () => {
      const startMin = T0 / 60 + 10;
      const endMin = startMin + 10;
      const t = testLock({ specs: [...resident(501, '505050', { start: startMin, end: endMin }), ...resident(502, '606060')] });
      const fw = t.device.firmware;
      const seen: Array<[string, boolean, string]> = [];
      for (const time of [startMin * 60 - 1, startMin * 60, endMin * 60 - 1, endMin * 60]) {
        at(t, time);
        const r = tryKind(fw, kind, 501, '505050');
        seen.push([String(time - startMin * 60), r.granted, r.reason]);
        if (r.granted || r.reason !== 'unknownCredential') expect(r.holder).toBe(501);
      }
      expect(seen).toEqual([
        ['-1', false, 'notYetValid'],
        ['0', true, 'none'],
        [String((endMin - startMin) * 60 - 1), true, 'none'],
        [String((endMin - startMin) * 60), false, 'expired'],
      ]);
      // An open-ended resident in the same set is unaffected.
      expect(tryKind(fw, kind, 502, '606060').granted).toBe(true);
    });
  }

  it('weekly schedule on property local time (UTC-5): inside, before, after and on a day off', () => {
    // Monday to Friday 08:00-18:00 local. T0 is Monday 2026-11-23 12:00Z = 07:00 local.
    const t = testLock({ commission: false, specs: [] });
    const fw = t.device.firmware;
    fw.commission(t.backend.commission(T0, 1, -300));
    fw.applySetMessage(t.backend.full(1, resident(700, '707070', { schedule: { days: 0b0011111, from: 8 * 60, to: 18 * 60 } })).bytes);
    expect(fw.enterCode('707070').reason).toBe('outsideSchedule'); // 07:00 local
    at(t, T0 + HOUR); // 08:00 local
    expect(fw.enterCode('707070').granted).toBe(true);
    at(t, T0 + 11 * HOUR - 1); // 17:59:59 local
    expect(fw.enterCode('707070').granted).toBe(true);
    at(t, T0 + 11 * HOUR); // 18:00 local
    expect(fw.enterCode('707070').reason).toBe('outsideSchedule');
    at(t, T0 + 5 * DAY + 3 * HOUR); // Saturday 10:00 local
    expect(fw.enterCode('707070').reason).toBe('outsideSchedule');
    at(t, T0 + 7 * DAY + 3 * HOUR); // next Monday 10:00 local
    expect(fw.enterCode('707070').granted).toBe(true);
  });

  it("daily codes change at the property's local midnight; yesterday's code stops working", () => {
    const t = testLock({ commission: false });
    const fw = t.device.firmware;
    fw.commission(t.backend.commission(T0, 1, 120)); // UTC+2: T0 is 14:00 local
    fw.applySetMessage(t.backend.full(1, resident(800, '808080')).bytes);
    const today = localDay(T0 / 60, 120);
    const codeToday = dailyCode(secrets.daily, 800, today, crypto);
    const codeTomorrow = dailyCode(secrets.daily, 800, today + 1, crypto);
    expect(codeToday).not.toBe(codeTomorrow);
    expect(fw.enterCode(codeToday).kind).toBe('daily');
    expect(fw.enterCode(codeToday).granted).toBe(true);
    expect(fw.enterCode(codeTomorrow).granted).toBe(false);
    at(t, T0 + 10 * HOUR - 1); // 23:59:59 local
    expect(fw.enterCode(codeToday).granted).toBe(true);
    at(t, T0 + 10 * HOUR); // 00:00 local
    expect(fw.tick()).toBeGreaterThan(t.clock.ms);
    expect(fw.enterCode(codeToday).granted).toBe(false);
    expect(fw.enterCode(codeTomorrow).granted).toBe(true);
  });
});

describe('keycards answer a challenge with their diversified key', () => {
  it('the right UID with the wrong key (a clone) is refused as badProof', () => {
    const t = testLock({ specs: resident(900, '909090') });
    const fw = t.device.firmware;
    const clone = new SimulatedCard(cardUid(900), det('not-the-card-key', 16), crypto);
    const r = fw.tapCard(clone);
    expect(r).toMatchObject({ granted: false, reason: 'badProof', holder: 900 });
    // A card answering with a replayed response to an earlier challenge fails too.
    const genuine = SimulatedCard.issue(secrets.cardMaster, cardUid(900), crypto);
    const recorded = genuine.respond(fw.lockId, new Uint8Array(16));
    expect(fw.tapCard({ uid: cardUid(900), respond: () => recorded }).reason).toBe('badProof');
    expect(fw.tapCard(genuine).granted).toBe(true);
    // A card issued under another property's master key: same UID, other key.
    expect(fw.tapCard(SimulatedCard.issue(det('other-master'), cardUid(900), crypto)).reason).toBe('badProof');
  });

  it('an unknown UID is refused without a challenge', () => {
    const t = testLock({ specs: resident(901, '919191') });
    let challenged = false;
    const r = t.device.firmware.tapCard({ uid: det('stranger', 7), respond: () => ((challenged = true), new Uint8Array(16)) });
    expect(r.reason).toBe('unknownCredential');
    expect(challenged).toBe(false);
  });
});

describe('phone keys prove possession by signing a single-use nonce', () => {
  it('a replayed unlock response is refused as staleNonce', () => {
    const t = testLock({ specs: resident(1000, '100000') });
    const fw = t.device.firmware;
    const key = phoneKeyOf(1000);
    const ch = fw.createChallenge();
    const sig = crypto.ed25519Sign(key.seed, unlockSigningInput(fw.lockId, ch.nonce));
    expect(fw.unlockPhone(ch, key.publicKey, sig).granted).toBe(true);
    // The same answer again: once with the challenge already spent, once against a new challenge.
    expect(fw.unlockPhone(null, key.publicKey, sig).reason).toBe('staleNonce');
    expect(fw.unlockPhone(fw.createChallenge(), key.publicKey, sig).reason).toBe('staleNonce');
  });

  it('a signature over another lock’s nonce, an expired challenge and an unknown phone are refused', () => {
    const t = testLock({ specs: resident(1001, '100100') });
    const fw = t.device.firmware;
    const key = phoneKeyOf(1001);
    const ch = fw.createChallenge();
    const otherLock = Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9]);
    expect(fw.unlockPhone(ch, key.publicKey, crypto.ed25519Sign(key.seed, unlockSigningInput(otherLock, ch.nonce))).reason).toBe('badProof');
    const late = fw.createChallenge();
    t.clock.advance(fw.profile.challengeSeconds * 1000 + 1);
    expect(fw.unlockPhone(late, key.publicKey, crypto.ed25519Sign(key.seed, unlockSigningInput(fw.lockId, late.nonce))).reason).toBe('staleNonce');
    const stranger = phoneKeyOf(4242);
    const ch2 = fw.createChallenge();
    expect(fw.unlockPhone(ch2, stranger.publicKey, crypto.ed25519Sign(stranger.seed, unlockSigningInput(fw.lockId, ch2.nonce))).reason).toBe('unknownCredential');
  });
});

describe('bolt, indicator and battery', () => {
  it('a grant unlocks the bolt and it relocks by itself', () => {
    const t = testLock({ specs: resident(1100, '110011') });
    const fw = t.device.firmware;
    expect(fw.enterCode('110011').granted).toBe(true);
    expect(fw.locked).toBe(false);
    expect(t.bolt).toEqual([false]);
    const deadline = fw.tick();
    expect(deadline).toBe(t.clock.ms + fw.profile.autoRelockSeconds * 1000);
    t.clock.advance(fw.profile.autoRelockSeconds * 1000 - 1);
    fw.tick();
    expect(fw.locked).toBe(false);
    t.clock.advance(1);
    fw.tick();
    expect(fw.locked).toBe(true);
    expect(t.bolt).toEqual([false, true]);
    expect(t.indicators.map((i) => i.signal)).toContain('relocked');
  });

  it('each actuation draws the battery; the lock warns once below 15%', () => {
    const t = testLock({ specs: resident(1200, '120012') });
    const fw = t.device.firmware;
    t.device.battery.setPercent(15);
    expect(fw.info().batteryPercent).toBe(15);
    const drain = t.device.battery.capacityMah * 0.006;
    const perUnlock = fw.profile.actuationMah;
    for (let i = 0; i * perUnlock < drain + perUnlock; i++) fw.enterCode('120012');
    expect(fw.info().batteryPercent).toBeLessThan(15);
    expect(t.indicators.filter((i) => i.signal === 'lowBattery')).toHaveLength(1);
  });

  it('reports firmware version and tamper events', () => {
    const t = testLock({ specs: resident(1300, '130013') });
    const fw = t.device.firmware;
    expect(fw.info().firmware).toMatch(/^latchkit-sim\//);
    const e = fw.reportTamper(1);
    expect(e.type).toBe('tamper');
    expect(t.indicators.at(-1)?.signal).toBe('tamper');
  });
});
