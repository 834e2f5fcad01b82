/**
 * Advertising as a lock does it: the schedule restarts when advertising is re-enabled (after a
 * disconnect), an idle interval with a fast burst after a wake trigger, and the average
 * current each policy costs.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialSpec } from '@latchkit/protocol';
import { ADVERTISING_CURRENT_UA, advertisingAverageCurrentUa, DEFAULT_ADVERTISING_POLICY, serveLock } from '../../../simulator/src/lock/index.js';
import { Phone } from '../../../simulator/src/phone/index.js';
import { createAir } from '../../../simulator/src/radio/index.js';
import { crypto, phoneKeyOf, resident, testLock } from '../lock/fixtures.js';
import { airPerTest } from '../phone/air-per-test.js';

const env = airPerTest();
const cleanup = env.cleanup;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const specs: CredentialSpec[] = [...resident(1000, '100010'), ...resident(1001, '100011')];

describe('advertising policy', () => {
  it('models the average current from per-interval figures only', () => {
    expect(advertisingAverageCurrentUa(DEFAULT_ADVERTISING_POLICY, 0)).toBe(ADVERTISING_CURRENT_UA[1000]);
    // 100 bursts of 30 s a day at 600 µA, the rest at 10 µA.
    expect(advertisingAverageCurrentUa(DEFAULT_ADVERTISING_POLICY, 100)).toBeCloseTo((600 * 3_000_000 + 10 * (86_400_000 - 3_000_000)) / 86_400_000, 6);
    expect(() => advertisingAverageCurrentUa({ ...DEFAULT_ADVERTISING_POLICY, idleIntervalMs: 500 }, 1)).toThrow(/current figure/);
  });

  it('restarts the advertising schedule when advertising is re-enabled after a disconnect', async () => {
    const air = (env.air = createAir({ seed: 3 }));
    const t = testLock({ specs });
    const lockRadio = await air.addPeripheral({ advertisingIntervalMs: 1000 });
    cleanup.push(() => lockRadio.close());
    const served = await serveLock({ addPeripheral: async () => lockRadio }, t.device);
    cleanup.push(() => served.stop());
    const gaps: number[] = [];
    for (let i = 0; i < 6; i++) {
      const phone = await Phone.create({ radio: air, key: phoneKeyOf(1000), crypto });
      cleanup.push(() => phone.close());
      const from = lockRadio.now();
      (air.device(phone.address) as { idleUntil(ms: number): void }).idleUntil(from);
      const r = await phone.visit(t.device.lockId, { readEvents: false });
      expect(r.unlock?.granted).toBe(true);
      // Found within the first advertising event after re-enabling (advDelay ≤ 10 ms), not at a
      // phase left over from the lock's creation (up to a whole 1 s interval).
      gaps.push(r.timing.scanMs);
    }
    expect(Math.max(...gaps)).toBeLessThanOrEqual(12);
  });

  it('a wake trigger makes an arriving phone connect in tens of ms; without it the idle interval decides', async () => {
    const air = (env.air = createAir({ seed: 4 }));
    const t = testLock({ specs });
    const served = await serveLock(air, t.device, { advertising: DEFAULT_ADVERTISING_POLICY });
    cleanup.push(() => served.stop());
    const phone = await Phone.create({ radio: air, key: phoneKeyOf(1000), crypto });
    cleanup.push(() => phone.close());
    const phoneDevice = air.device(phone.address) as { idleUntil(ms: number): void; now(): number };
    await phone.visit(t.device.lockId, { readEvents: false });
    const woken: number[] = [];
    const idle: number[] = [];
    let at = phoneDevice.now();
    for (let i = 0; i < 10; i++) {
      // Residents arrive about a minute apart (the last burst is long over), at no particular
      // phase of the lock's idle advertising grid.
      at += 60_000 + ((i * 7919) % 1000);
      phoneDevice.idleUntil(at);
      const wake = i % 2 === 0;
      if (wake) served.wake(at);
      const r = await phone.visit(t.device.lockId, { readEvents: false });
      expect(r.unlock?.granted).toBe(true);
      (wake ? woken : idle).push(r.timing.doorOpenMs!);
      at = phoneDevice.now();
    }
    expect(median(woken)).toBeLessThan(150);
    expect(median(idle)).toBeGreaterThan(median(woken) + 150);
  });
});
