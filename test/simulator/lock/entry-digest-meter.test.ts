/**
 * The lock's MCU meter sees the entry-digest key derivation: dk = HKDF-SHA256(content key, lock
 * id, …) is two HMACs (8 SHA-256 blocks, ~1.6 ms on the modelled nRF52840) that the lock computes
 * for an entry-form set message, charged through the metered provider like every other hash.
 */
import { describe, expect, it } from 'vitest';
import { resident, testLock } from './fixtures.js';

describe('entry-digest key derivation on the lock', () => {
  it('the HKDF of dk (two HMACs) is charged somewhere between power-on and an entry-form delta', () => {
    const specs = [...resident(1, '100001'), ...resident(2, '100002')];
    const t = testLock({ n: 71, mcu: 'nrf52840', commission: false });
    const mcu = t.device.mcu!;
    const hmacBefore = mcu.breakdown.hmac;
    t.device.firmware.commission(t.backend.commission());
    const v1 = t.backend.full(1, specs);
    t.device.firmware.applySetMessage(v1.bytes);
    const d = t.backend.delta(v1, 2, [...specs, ...resident(3, '100003')]);
    expect(d.digestForm).toBe('entries');
    t.device.firmware.applySetMessage(d.bytes);
    // HKDF extract: HMAC over a 32-byte ikm; expand: HMAC over 29 bytes of info. Each is 4 blocks.
    const oneHmacMs = (4 * 64 * 195) / 64_000;
    expect(mcu.breakdown.hmac - hmacBefore).toBeGreaterThanOrEqual(2 * oneHmacMs - 1e-9);
  });
});
