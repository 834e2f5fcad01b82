/**
 * Power cuts while the keypad lockout is being recorded, and at every flash write the lock makes
 * while a lockout is in force: a cut never hands a brute-forcer a free guess, never lifts a
 * lockout that was signalled, and never loses one that was recorded.
 */
import { describe, expect, it } from 'vitest';
import { SimulatorError } from '../../../simulator/src/errors.js';
import type { FlashDevice, FlashRegion, IndicatorEvent, LockFirmware } from '../../../simulator/src/lock/index.js';
import { deviceProfile, flashSizes, LockDevice, ManualClock, MemoryFlash } from '../../../simulator/src/lock/index.js';
import { Backend, crypto, lockIdOf, MIN, resident, seededRandom, T0, verifyLog } from './fixtures.js';

// Small pages and sectors, so journal page erases and event sector erases fall inside the loops.
const PROFILE = deviceProfile({ base: 'compact', pageBytes: 128, slotBytes: 8 * 1024, eventSectorRecords: 4, eventRecords: 64, lockoutSeconds: 60, maxLockoutSeconds: 86_400 });
const lockId = lockIdOf(91);
const backend = new Backend(lockId);
const set = backend.full(1, resident(1, '111111'));

/** Counts program/erase operations per region (to see that the loops cover page erases). */
class Ops implements FlashDevice {
  readonly seen: string[] = [];
  constructor(private readonly inner: FlashDevice) {}
  size(r: FlashRegion): number {
    return this.inner.size(r);
  }
  read(r: FlashRegion, o: number, l: number): Uint8Array {
    return this.inner.read(r, o, l);
  }
  program(r: FlashRegion, o: number, d: Uint8Array): void {
    this.seen.push(`program ${r}`);
    this.inner.program(r, o, d);
  }
  erase(r: FlashRegion, o: number, l: number): void {
    this.seen.push(`erase ${r}`);
    this.inner.erase(r, o, l);
  }
}

/** A device on `storage` whose RTC reads `at` (lock time, seconds): the board's clock kept running. */
function deviceOn(storage: FlashDevice, at = T0, indicators: IndicatorEvent[] = []): { d: LockDevice; clock: ManualClock } {
  const clock = new ManualClock(5_000);
  const d = new LockDevice({
    identity: { lockId, deviceSeed: backend.deviceSeed },
    profile: PROFILE,
    storage,
    clock: clock.now,
    rtc: { lockMs: at * 1000, hostMs: clock.ms },
    crypto,
    random: seededRandom('lockout-cut'),
    indicator: (e) => indicators.push(e),
  });
  return { d, clock };
}

/**
 * A commissioned lock with `before` steps behind it, then `failures` wrong codes. A step is a
 * wrong code and then the right one, or ten minutes of running (a clock checkpoint), so that the
 * next write lands at each position of a journal page in turn. Returns the flash and lock time.
 */
function baseline(before: number, failures: number): { storage: MemoryFlash; at: number; d: LockDevice; clock: ManualClock } {
  const storage = new MemoryFlash(flashSizes(PROFILE));
  const { d, clock } = deviceOn(storage);
  d.firmware.commission(backend.commission());
  d.firmware.applySetMessage(set.bytes);
  for (let i = 0; i < before; i++) {
    if (i % 2 === 1) {
      clock.advance(10 * MIN * 1000);
      d.firmware.tick();
    } else {
      expect(d.firmware.enterCode('000000').reason).toBe('unknownCredential');
      expect(d.firmware.enterCode('111111').granted).toBe(true);
    }
  }
  for (let i = 0; i < failures; i++) d.firmware.enterCode('000000');
  return { storage, at: d.firmware.now(), d, clock };
}

function cut(run: () => void): void {
  let thrown: unknown;
  try {
    run();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(SimulatorError);
  expect((thrown as SimulatorError).code).toBe('POWER_CUT');
}

describe('power cut during the keypad lockout', () => {
  it('at every write of the guess that starts a lockout: locked out after the reboot, or the guess left no trace and was not counted', () => {
    const limit = PROFILE.lockoutThreshold;
    let erasesCovered = 0;
    const outcomes = { locked: 0, untouched: 0 };
    for (let before = 0; before < 12; before++) {
      const { storage: clean, at } = baseline(before, limit - 1);
      const probeOps = new Ops(clean.clone());
      const probe = deviceOn(probeOps, at).d;
      const w0 = probe.flash.writes;
      const opsBefore = probeOps.seen.length;
      expect(probe.firmware.enterCode('000000').reason).toBe('unknownCredential');
      expect(probe.firmware.lockedOut).toBe(true);
      const writes = probe.flash.writes - w0;
      if (probeOps.seen.slice(opsBefore).includes('erase journal')) erasesCovered++;
      for (let atWrite = 0; atWrite < writes; atWrite++) {
        for (const torn of [0, 0.5, 0.99]) {
          const storage = clean.clone();
          const indicators: IndicatorEvent[] = [];
          const { d } = deviceOn(storage, at, indicators);
          const next = d.firmware.events.nextIndex;
          d.flash.cutAt({ atWrite: d.flash.writes + atWrite, torn });
          cut(() => d.firmware.enterCode('000000'));
          const shown = indicators.some((e) => e.signal === 'denied' || e.signal === 'lockedOut');
          const fw: LockFirmware = d.powerCycle();
          verifyLog(fw);
          const logged = fw.events.read(next, 100).some((e) => e.type === 'denied' || e.type === 'lockout');
          if (fw.lockedOut) {
            outcomes.locked++;
            expect(fw.enterCode('111111').reason).toBe('lockedOut');
          } else {
            // Nothing of the guess reached the person at the door or the log, and it did not
            // count: exactly one more wrong code locks the keypad.
            outcomes.untouched++;
            expect(shown, `before ${before}, cut at ${atWrite}/${torn}: a result was shown`).toBe(false);
            expect(logged, `before ${before}, cut at ${atWrite}/${torn}: the guess was logged`).toBe(false);
            fw.enterCode('000000');
            expect(fw.lockedOut).toBe(true);
          }
        }
      }
    }
    expect(erasesCovered).toBeGreaterThan(0);
    expect(outcomes.locked).toBeGreaterThan(0);
    expect(outcomes.untouched).toBeGreaterThan(0);
  });

  it('at every flash write made during a lockout (clock checkpoints across journal page erases), the lockout survives', () => {
    const limit = PROFILE.lockoutThreshold;
    // Seven lockouts in a row without a success: the seventh lasts 64 minutes.
    const { storage: clean, d: setup, clock: setupClock } = baseline(0, 0);
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < limit; i++) setup.firmware.enterCode('000000');
      setupClock.advance((setup.firmware.lockedOutUntil! - setup.firmware.now()) * 1000);
    }
    for (let i = 0; i < limit; i++) setup.firmware.enterCode('000000');
    expect(setup.firmware.lockedOutUntil! - setup.firmware.now()).toBe(64 * 60);
    const at = setup.firmware.now();
    // 50 minutes of running inside a 64-minute lockout: a checkpoint every 10 minutes, plus a
    // signed time sync each minute that moves the clock (each is written).
    const steps = (fw: LockFirmware, clock: ManualClock): void => {
      for (let m = 1; m <= 50; m++) {
        clock.advance(MIN * 1000);
        fw.tick();
        if (m % 5 === 0) fw.applyMessage(backend.timeSync(fw.now() + 30));
      }
    };
    const probeOps = new Ops(clean.clone());
    const probe = deviceOn(probeOps, at);
    const until = probe.d.firmware.lockedOutUntil!;
    expect(probe.d.firmware.lockedOut).toBe(true);
    const w0 = probe.d.flash.writes;
    steps(probe.d.firmware, probe.clock);
    const writes = probe.d.flash.writes - w0;
    expect(writes).toBeGreaterThan(10);
    expect(probeOps.seen.filter((op) => op === 'erase journal').length).toBeGreaterThan(1);
    for (let atWrite = 0; atWrite < writes; atWrite++) {
      for (const torn of [0, 0.5, 0.99]) {
        const { d, clock } = deviceOn(clean.clone(), at);
        d.flash.cutAt({ atWrite: d.flash.writes + atWrite, torn });
        cut(() => steps(d.firmware, clock));
        const fw = d.powerCycle();
        expect(fw.lockedOut, `cut at write ${atWrite}/${torn}`).toBe(true);
        expect(fw.lockedOutUntil).toBe(until);
        expect(fw.enterCode('111111').reason).toBe('lockedOut');
        // And the escalation level survived too: after this lockout, the next is twice as long.
        clock.advance((until - fw.now()) * 1000);
        for (let i = 0; i < limit; i++) fw.enterCode('000000');
        expect(fw.lockedOutUntil! - fw.now()).toBe(2 * 64 * 60);
      }
    }
  });
});
