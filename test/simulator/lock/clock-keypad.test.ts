/**
 * The lock clock (forward only, from signed sources; drift; RTC loss) and the keypad lockout
 * (brute force, doubling, surviving a reboot).
 */
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../../simulator/src/cli/format.js';
import { LockDevice } from '../../../simulator/src/lock/index.js';
import { crypto, DAY, resident, seededRandom, T0, testLock } from './fixtures.js';

describe('the clock moves forward only, and only from signed sources', () => {
  it('a relayed old set or an old time sync cannot wind it back to revive an expired credential', () => {
    const t = testLock({ specs: [] });
    const fw = t.device.firmware;
    const endMin = (T0 + 5 * DAY) / 60;
    fw.applySetMessage(t.backend.full(2, resident(10, '101010', { end: endMin })).bytes);
    expect(fw.enterCode('101010').granted).toBe(true);
    // A signed time sync ten days on (the lock was asleep): the credential has expired.
    fw.timeSync(t.backend.timeSync(T0 + 10 * DAY));
    expect(fw.now()).toBe(T0 + 10 * DAY);
    expect(fw.enterCode('101010').reason).toBe('expired');
    // Wind-back attempts a relaying phone could make with genuine, older signed messages:
    fw.timeSync(t.backend.timeSync(T0)); // a replayed old time sync
    expect(fw.now()).toBe(T0 + 10 * DAY);
    fw.applySetMessage(t.backend.full(3, resident(10, '101010', { end: endMin }), T0).bytes); // newer seq, old issue time
    expect(fw.seq).toBe(3);
    expect(fw.now()).toBe(T0 + 10 * DAY);
    expect(fw.enterCode('101010').reason).toBe('expired');
    // A time sync carrying last season's UTC offset but an older time does not change the offset.
    fw.timeSync(t.backend.timeSync(T0 + DAY, 60));
    expect(fw.utcOffset).toBe(0);
    fw.timeSync(t.backend.timeSync(T0 + 11 * DAY, 60));
    expect(fw.utcOffset).toBe(60);
    expect(t.device.powerCycle().utcOffset).toBe(60);
  });

  it('signed times move it forward; an RTC that lost power boots at the newest committed signed time, not 1970', () => {
    const t = testLock({ specs: resident(11, '111111') });
    t.device.firmware.applySetMessage(t.backend.full(2, resident(11, '111111'), T0 + 3 * DAY).bytes);
    expect(t.device.firmware.now()).toBe(T0 + 3 * DAY);
    // Same flash cells, fresh RTC (battery swapped): it reads 0 until the firmware sets the floor.
    const swapped = new LockDevice({ identity: { lockId: t.device.lockId, deviceSeed: t.backend.deviceSeed }, profile: 'compact', storage: t.device.storage, clock: t.clock.now, crypto, random: seededRandom('swap') });
    expect(swapped.firmware.now()).toBe(T0 + 3 * DAY);
    expect(swapped.firmware.enterCode('111111').granted).toBe(true);
  });

  it('drifts at its crystal rate until a signed time arrives (which can only correct a slow clock)', () => {
    const fast = testLock({ specs: [], driftPpm: 100 });
    fast.clock.advance(10 * DAY * 1000);
    expect(fast.device.firmware.now()).toBe(T0 + 10 * DAY + 86);
    fast.device.firmware.timeSync(fast.backend.timeSync(T0 + 10 * DAY));
    expect(fast.device.firmware.now()).toBe(T0 + 10 * DAY + 86);
    const slow = testLock({ n: 2, specs: [], driftPpm: -100 });
    slow.clock.advance(10 * DAY * 1000);
    expect(slow.device.firmware.now()).toBe(T0 + 10 * DAY - 87);
    slow.device.firmware.timeSync(slow.backend.timeSync(T0 + 10 * DAY));
    expect(slow.device.firmware.now()).toBe(T0 + 10 * DAY);
  });
});

describe('daylight saving announced ahead is applied offline at its instant', () => {
  it('the offset changes exactly at the transition with no further sync, survives a reboot, and a replay cannot undo it', () => {
    const t = testLock({ specs: [] });
    const fw = t.device.firmware;
    const at = T0 + 2 * DAY + 3600;
    fw.timeSync(t.backend.timeSync(T0 + 60, -300, { at, offset: -240 }));
    expect([fw.utcOffset, fw.offsetTransition]).toEqual([-300, { at, offset: -240 }]);
    expect(formatSummary(fw.summary()).find((l) => l.startsWith('commission'))).toContain(`UTC offset -300 min (-240 min from ${new Date(at * 1000).toISOString().slice(0, 19)}`);
    t.clock.advance((at - fw.now() - 1) * 1000);
    expect(fw.utcOffset).toBe(-300);
    t.clock.advance(1000);
    expect(fw.now()).toBe(at);
    expect(fw.utcOffset).toBe(-240);
    const rebooted = t.device.powerCycle();
    expect([rebooted.utcOffset, rebooted.offsetTransition]).toEqual([-240, { at, offset: -240 }]);
    // A replayed older sync (no transition) changes nothing; a newer one replaces both values.
    rebooted.timeSync(t.backend.timeSync(T0 + 30, -300));
    expect([rebooted.utcOffset, rebooted.offsetTransition]).toEqual([-240, { at, offset: -240 }]);
    rebooted.timeSync(t.backend.timeSync(at + 60, -240));
    expect([rebooted.utcOffset, rebooted.offsetTransition]).toEqual([-240, null]);
  });
});

describe('the replay rule for the offset (PROTOCOL.md §7.4) across reboots and same-second syncs', () => {
  it('an older sync cannot bring back its offset after a reboot, though the newer one only confirmed the offset', () => {
    const t = testLock({ specs: [] });
    const fw = t.device.firmware;
    const a = t.backend.timeSync(T0 + 100, -300); // zone X
    const b = t.backend.timeSync(T0 + 200, -360); // zone changed by mistake (carried by a phone)
    const c = t.backend.timeSync(T0 + 300, -300); // zone reverted
    fw.timeSync(a);
    fw.timeSync(c); // same offset as stored: no state commit, only the guard journal
    fw.timeSync(b);
    expect(fw.utcOffset).toBe(-300);
    const rebooted = t.device.powerCycle();
    rebooted.timeSync(b); // iat T0+200 < T0+300, accepted before the reboot
    expect(rebooted.utcOffset).toBe(-300);
    // A newer sync still changes it.
    rebooted.timeSync(t.backend.timeSync(T0 + 400, -360));
    expect(rebooted.utcOffset).toBe(-360);
  });

  it('of two syncs signed the same second, the one taken first stays, before and after a reboot', () => {
    const t = testLock({ specs: [] });
    const fw = t.device.firmware;
    const old = t.backend.timeSync(T0 + 100, -360); // issued first (old zone), carried by a phone
    const cur = t.backend.timeSync(T0 + 100, -300); // issued the same second after the zone change
    fw.timeSync(cur);
    fw.timeSync(old);
    expect(fw.utcOffset).toBe(-300);
    const rebooted = t.device.powerCycle();
    rebooted.timeSync(old);
    expect(rebooted.utcOffset).toBe(-300);
    // A set signed that same second does not count as the offset's message: a sync then still applies.
    rebooted.applySetMessage(t.backend.full(2, resident(10, '101010'), T0 + 150).bytes);
    rebooted.timeSync(t.backend.timeSync(T0 + 150, -240));
    expect(rebooted.utcOffset).toBe(-240);
  });
});

describe('keypad lockout', () => {
  it('locks out after repeated wrong codes, refuses even the right code meanwhile, and lets it in afterwards', () => {
    const t = testLock({ specs: resident(20, '202020') });
    const fw = t.device.firmware;
    const limit = fw.profile.lockoutThreshold;
    for (let i = 0; i < limit - 1; i++) expect(fw.enterCode(String(900000 + i)).reason).toBe('unknownCredential');
    expect(fw.lockedOut).toBe(false);
    expect(fw.enterCode('999999').reason).toBe('unknownCredential');
    expect(fw.lockedOut).toBe(true);
    expect(fw.events.tail(1)[0]).toMatchObject({ type: 'lockout', detail: limit });
    expect(fw.info().lockedOut).toBe(true);
    expect(fw.enterCode('202020').reason).toBe('lockedOut');
    t.clock.advance(fw.profile.lockoutSeconds * 1000 - 1000);
    expect(fw.enterCode('202020').reason).toBe('lockedOut');
    t.clock.advance(1000);
    expect(fw.enterCode('202020').granted).toBe(true);
  });

  it('doubles each lockout until a success, and a reboot neither clears a lockout nor the failures counted so far', () => {
    const t = testLock({ specs: resident(21, '212121') });
    let fw = t.device.firmware;
    const limit = fw.profile.lockoutThreshold;
    const wrong = (n: number): void => {
      for (let i = 0; i < n; i++) fw.enterCode('000000');
    };
    wrong(limit);
    t.clock.advance(fw.profile.lockoutSeconds * 1000);
    wrong(limit); // second lockout: twice as long
    fw = t.device.powerCycle();
    expect(fw.lockedOut).toBe(true);
    t.clock.advance(fw.profile.lockoutSeconds * 1000);
    expect(fw.lockedOut).toBe(true);
    t.clock.advance(fw.profile.lockoutSeconds * 1000);
    expect(fw.lockedOut).toBe(false);
    wrong(limit - 2);
    fw = t.device.powerCycle();
    wrong(2);
    expect(fw.lockedOut).toBe(true);
    t.clock.advance(4 * fw.profile.lockoutSeconds * 1000);
    expect(fw.enterCode('212121').granted).toBe(true);
    // The success reset the ladder: the next lockout is back to the first length.
    wrong(limit);
    t.clock.advance(fw.profile.lockoutSeconds * 1000);
    expect(fw.lockedOut).toBe(false);
  });

  it('makes brute force of a 6-digit code take days of lock time for a few hundred guesses', () => {
    const t = testLock({ specs: resident(22, '222222') });
    const fw = t.device.firmware;
    const start = fw.now();
    let guesses = 0;
    let grants = 0;
    let lockouts = 0;
    while (guesses < 300) {
      if (fw.lockedOut) {
        lockouts++;
        t.clock.advance(fw.profile.maxLockoutSeconds * 1000);
        continue;
      }
      const guess = String(100000 + ((guesses * 7919) % 900000));
      if (guess === '222222') continue;
      if (fw.enterCode(guess).granted) grants++;
      guesses++;
    }
    expect(grants).toBe(0);
    expect(lockouts).toBeGreaterThanOrEqual(300 / fw.profile.lockoutThreshold - 1);
    expect(fw.now() - start).toBeGreaterThan(2 * DAY);
  });

  it('takes key presses: # submits, * clears, an idle pause drops typed digits', () => {
    const t = testLock({ specs: resident(23, '232323') });
    const fw = t.device.firmware;
    const type = (keys: string) => [...keys].map((k) => fw.pressKey(k)).filter((r) => r !== null);
    expect(type('2323')).toEqual([]);
    type('*');
    expect(type('232323#')[0]).toMatchObject({ granted: true, holder: 23 });
    type('232');
    t.clock.advance((fw.profile.keypadIdleSeconds + 1) * 1000);
    expect(type('323#')[0]).toMatchObject({ granted: false, reason: 'unknownCredential' });
    expect(() => fw.pressKey('x')).toThrow(/a digit/);
  });
});
