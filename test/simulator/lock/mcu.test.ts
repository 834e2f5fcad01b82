/**
 * The lock MCU cost model: the meter charges what the firmware does (a phone verify, a card's
 * keyed hashes, flash writes of the event record), and on the virtual radio the lock's answer
 * leaves only after that time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { unlockSigningInput } from '@latchkit/protocol';
import { MCU_PROFILES, McuMeter, mcuProfile, serveLock } from '../../../simulator/src/lock/index.js';
import { Phone } from '../../../simulator/src/phone/index.js';
import { createAir, type Air } from '../../../simulator/src/radio/index.js';
import { crypto, phoneKeyOf, resident, testLock } from './fixtures.js';

const NRF = MCU_PROFILES.nrf52840;
const verifyMs = NRF.ed25519VerifyCycles / (NRF.clockMhz * 1000);

let air: Air | undefined;
afterEach(async () => {
  await air?.close();
  air = undefined;
});

describe('lock MCU meter', () => {
  it('charges one Ed25519 verify, keyed-hash lookups and the event record to a phone unlock', () => {
    const t = testLock({ specs: resident(1000, '123456') });
    const fw = t.device.firmware;
    const meter = t.device.mcu!;
    const before = { ...meter.breakdown };
    const challenge = fw.createChallenge();
    const key = phoneKeyOf(1000);
    const outcome = fw.unlockPhone(challenge, key.publicKey, crypto.ed25519Sign(key.seed, unlockSigningInput(fw.lockId, challenge.nonce)));
    expect(outcome.granted).toBe(true);
    expect(meter.breakdown.ed25519Verify - before.ed25519Verify).toBeCloseTo(verifyMs, 6);
    expect(meter.breakdown.hmac - before.hmac).toBeGreaterThan(0);
    // The event record: 32 bytes = 8 words at 41 µs (a sector erase only when the ring enters a new sector).
    expect(meter.breakdown.flashWrite - before.flashWrite).toBeGreaterThanOrEqual((8 * NRF.flashWordWriteUs) / 1000 - 1e-9);
  });

  it('counts nothing with the cost model off, and refuses a profile with a bad figure', () => {
    const t = testLock({ mcu: null });
    expect(t.device.mcu).toBeNull();
    expect(() => mcuProfile({ ...NRF, clockMhz: 0 })).toThrow(/clockMhz/);
    expect(() => mcuProfile('z80' as never)).toThrow(/nrf52840/);
  });

  it('charges the Ed25519 sign of each receipt (an upper bound: X25519 ladder plus five SHA-512 blocks)', () => {
    const t = testLock({ specs: resident(1000, '123456') });
    const meter = t.device.mcu!;
    expect(NRF.ed25519SignCycles).toBe(NRF.x25519Cycles + 5 * 128 * 2 * NRF.sha256CyclesPerByte);
    const before = meter.breakdown.ed25519Sign;
    t.device.firmware.receipt();
    expect(meter.breakdown.ed25519Sign - before).toBeCloseTo(NRF.ed25519SignCycles / (NRF.clockMhz * 1000), 6);
    expect(() => mcuProfile({ ...NRF, ed25519SignCycles: Number.NaN })).toThrow(/ed25519SignCycles/);
  });

  it('work off the air counts in the total and idleCompaction, and no answer waits for it', () => {
    const m = new McuMeter(NRF);
    m.ed25519Verify();
    m.offAir(() => m.flashErase(4096));
    expect(m.breakdown.idleCompaction).toBeCloseTo(85, 6);
    expect(m.breakdown.flashErase).toBe(0);
    expect(m.total).toBeCloseTo(verifyMs + 85, 6);
    expect(m.take()).toBeCloseTo(verifyMs, 6);
  });

  it('hands out pending time once (take) and keeps the total', () => {
    const m = new McuMeter(NRF);
    m.ed25519Verify();
    m.flashErase(4096);
    expect(m.take()).toBeCloseTo(verifyMs + 85, 6);
    expect(m.take()).toBe(0);
    expect(m.total).toBeCloseTo(verifyMs + 85, 6);
  });
});

describe('lock MCU time on the air', () => {
  async function unlockExchangeMs(mcu: 'nrf52840' | null): Promise<{ ms: number; mcuMs: number }> {
    air = createAir({ seed: 5 });
    const t = testLock({ specs: resident(1000, '123456'), mcu });
    const served = await serveLock(air, t.device);
    const phone = await Phone.create({ radio: air, key: phoneKeyOf(1000), profile: 'ios', crypto });
    try {
      const client = await phone.connect(t.device.lockId);
      const nonce = await client.challenge();
      const signature = crypto.ed25519Sign(phoneKeyOf(1000).seed, unlockSigningInput(t.device.lockId, nonce));
      const at0 = air.device(served.peripheral.address)!.now();
      const mcu0 = t.device.mcu?.total ?? 0;
      const { result } = await client.unlockWith(phoneKeyOf(1000).publicKey, signature, false);
      expect(result.result).toBe(0);
      const ms = air.device(phone.address)!.now() - at0;
      await client.disconnect();
      return { ms, mcuMs: (t.device.mcu?.total ?? 0) - mcu0 };
    } finally {
      await phone.close();
      await served.stop();
      await air.close();
      air = undefined;
    }
  }

  it('delays the unlock answer by the MCU time it cost (within one connection interval)', async () => {
    const free = await unlockExchangeMs(null);
    const costed = await unlockExchangeMs('nrf52840');
    expect(free.mcuMs).toBe(0);
    expect(costed.mcuMs).toBeGreaterThanOrEqual(verifyMs);
    // The answer waits for the MCU, then for the next connection event (15 ms on ios).
    expect(costed.ms - free.ms).toBeGreaterThanOrEqual(costed.mcuMs - 15);
    expect(costed.ms - free.ms).toBeLessThanOrEqual(costed.mcuMs + 15);
  });
});
