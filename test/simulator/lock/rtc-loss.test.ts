/**
 * The RTC loses power (battery swap with a flat backup cell): the lock boots at the clock floor
 * it persisted, at most ten minutes behind the time it lost, and an access grant that had ended
 * before the loss does not open again.
 */
import { describe, expect, it } from 'vitest';
import type { LockFirmware } from '../../../simulator/src/lock/index.js';
import { HOUR, MIN, resident, T0, testLock, type TestLock } from './fixtures.js';

const K = 10 * MIN;

/** Run the lock for `seconds` of host time the way the runtime does: tick() at each deadline it asks for. */
function run(t: TestLock, seconds: number): void {
  const end = t.clock.ms + seconds * 1000;
  while (t.clock.ms < end) {
    const deadline = t.device.firmware.tick();
    t.clock.advance(Math.max(1, Math.min(deadline, end) - t.clock.ms));
  }
  t.device.firmware.tick();
}

const endAt = (unixSeconds: number) => ({ end: Math.floor(unixSeconds / 60) });

describe('RTC power loss', () => {
  it('a grant that ended 20 minutes ago does not open after an RTC loss and a reboot', () => {
    const end = T0 + HOUR + 5 * MIN;
    const t = testLock({ specs: [...resident(1, '111111'), ...resident(2, '222222', endAt(end))] });
    let fw: LockFirmware = t.device.firmware;
    expect(fw.enterCode('222222').granted).toBe(true);
    // Lost between two checkpoints (they fall every 10 minutes of lock time).
    run(t, HOUR + 25 * MIN);
    const lost = fw.now();
    expect(lost).toBe(end + 20 * MIN);
    expect(fw.enterCode('222222').reason).toBe('expired');

    fw = t.device.loseRtcPower();
    // The clock restarts from the persisted floor: behind, but by at most the checkpoint interval.
    expect(fw.now()).toBeLessThanOrEqual(lost);
    expect(fw.now()).toBeGreaterThanOrEqual(lost - K);
    expect(fw.enterCode('222222').reason).toBe('expired');
    expect(fw.enterCode('111111').granted).toBe(true);
    expect(fw.summary().clockUncertainUntil).toBeGreaterThan(fw.now());
  });

  it('refuses every grant that ended before the loss, also one that ended after the last checkpoint; later ends still open', () => {
    // The RTC loses power 7 minutes after a checkpoint (lock time T0 + 90 min).
    const lostAt = T0 + HOUR + 37 * MIN;
    const ends = { a: lostAt - 20 * MIN, b: lostAt - 9 * MIN, c: lostAt - MIN, d: lostAt + 11 * MIN, e: lostAt + 2 * HOUR };
    const specs = [
      ...resident(10, '101010', endAt(ends.a)),
      ...resident(11, '111111', endAt(ends.b)),
      ...resident(12, '121212', endAt(ends.c)),
      ...resident(13, '131313', endAt(ends.d)),
      ...resident(14, '141414', endAt(ends.e)),
    ];
    const t = testLock({ specs });
    run(t, HOUR + 37 * MIN);
    expect(t.device.firmware.now()).toBe(lostAt);

    const fw = t.device.loseRtcPower();
    const floor = fw.now();
    expect(floor).toBeGreaterThanOrEqual(lostAt - K);
    expect(floor).toBeLessThan(ends.c);
    expect(fw.summary().clockUncertainUntil).toBe(floor + K);
    // a, b, c ended before the loss: refused, c although it ends after the floor.
    for (const code of ['101010', '111111', '121212']) expect(fw.enterCode(code).reason, code).toBe('expired');
    // e ends long after; d ends 11 minutes after the loss, past floor + K: both open.
    expect(fw.enterCode('141414').granted).toBe(true);
    expect(fw.enterCode('131313').granted).toBe(true);

    // The margin lasts until the lock's clock passes floor + K.
    run(t, K);
    expect(fw.now()).toBeGreaterThanOrEqual(floor + K);
    expect(fw.summary().clockUncertainUntil).toBeNull();
    for (const code of ['101010', '111111', '121212']) expect(fw.enterCode(code).reason, code).toBe('expired');
    expect(fw.enterCode('131313').granted).toBe(true);
  });

  it('a reboot keeps the margin; a signed time no later than floor + K (it could be a replay) keeps it, a later one ends it', () => {
    const end = T0 + 2 * HOUR;
    const t = testLock({ specs: resident(1, '111111', endAt(end)) });
    run(t, 2 * HOUR - 5 * MIN);
    const lost = t.device.firmware.now();
    let fw = t.device.loseRtcPower();
    const until = fw.summary().clockUncertainUntil!;
    expect(until).toBeGreaterThanOrEqual(end);
    // Still valid in truth for 5 minutes, but the lock cannot rule out that it ended: refused.
    expect(fw.enterCode('111111').reason).toBe('expired');
    // A battery pull that the RTC survives does not forget the margin.
    fw = t.device.powerCycle();
    expect(fw.summary().clockUncertainUntil).toBe(until);
    expect(fw.enterCode('111111').reason).toBe('expired');
    fw.timeSync(t.backend.timeSync(lost));
    expect(fw.summary().clockUncertainUntil).toBe(until);
    fw.timeSync(t.backend.timeSync(until + 60));
    expect(fw.summary().clockUncertainUntil).toBeNull();
    expect(fw.now()).toBe(until + 60);
  });

  it('persists accepted signed time at once: a reboot with a lost RTC right after a time sync starts from it', () => {
    const t = testLock({ specs: resident(1, '111111') });
    const fw = t.device.firmware;
    fw.timeSync(t.backend.timeSync(T0 + 5 * HOUR));
    expect(fw.now()).toBe(T0 + 5 * HOUR);
    expect(t.device.loseRtcPower().now()).toBe(T0 + 5 * HOUR);
  });
});
