/**
 * A phone carries the lock's signed local time (PROTOCOL.md §7.4) and pushes it when the backend
 * marked it due, whatever the lock's clock says; a lock from before the `transition` claim
 * refuses the message carrying it (MALFORMED), and the phone falls back to the plain one it
 * carries too. The visit reports what the lock took, for the backend's record.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialSpec } from '@latchkit/protocol';
import { serveLock } from '../../../simulator/src/lock/index.js';
import { Phone } from '../../../simulator/src/phone/index.js';
import { createAir } from '../../../simulator/src/radio/index.js';
import { crypto, phoneKeyOf, resident, testLock, type TestLock } from '../lock/fixtures.js';
import { airPerTest } from './air-per-test.js';

const env = airPerTest();

const specs: CredentialSpec[] = [...resident(1000, '100010')];

async function served(o: { beforeTransitionClaim?: boolean } = {}): Promise<{ t: TestLock; phone: Phone }> {
  const air = (env.air = createAir({ seed: 31 }));
  const t = testLock({ specs, ...o });
  const s = await serveLock(air, t.device);
  env.cleanup.push(() => s.stop());
  const phone = await Phone.create({ radio: air, key: phoneKeyOf(1000), profile: 'android', crypto });
  env.cleanup.push(() => phone.close());
  return { t, phone };
}

/** A signed time a minute ahead of the lock (its clock is not "behind" by the phone's rule). */
function times(t: TestLock) {
  const iat = Math.floor(t.device.firmware.now()) + 30;
  const transition = { at: iat + 86_400, offset: -240 };
  return { iat, transition, withIt: t.backend.timeSync(iat, -300, transition), plain: t.backend.timeSync(iat, -300) };
}

describe('signed local time relayed by a phone', () => {
  it('pushes a due time sync and reports it; the lock learns the coming change', async () => {
    const { t, phone } = await served();
    const m = times(t);
    phone.carry({ lockId: t.device.lockId, timeSync: m.withIt, timeSyncPlain: m.plain, timeSyncDue: true });
    const r = await phone.visit(t.device.lockId);
    expect(r.unlock).toMatchObject({ granted: true });
    expect(r.timeSyncTold).toEqual({ iat: m.iat, transition: true, transitionRefused: false, firmware: expect.any(String) });
    expect([t.device.firmware.utcOffset, t.device.firmware.offsetTransition]).toEqual([-300, m.transition]);
  });

  it('falls back to the plain time sync at a lock from before the transition claim, and says so', async () => {
    const { t, phone } = await served({ beforeTransitionClaim: true });
    const m = times(t);
    phone.carry({ lockId: t.device.lockId, timeSync: m.withIt, timeSyncPlain: m.plain, timeSyncDue: true });
    const r = await phone.visit(t.device.lockId);
    expect(r.unlock).toMatchObject({ granted: true });
    expect(r.relayError).toBeNull();
    expect(r.timeSyncTold).toEqual({ iat: m.iat, transition: false, transitionRefused: true, firmware: expect.any(String) });
    expect([t.device.firmware.utcOffset, t.device.firmware.offsetTransition]).toEqual([-300, null]);
  });

  it('pushes nothing when the time is not due and the lock clock is not behind', async () => {
    const { t, phone } = await served();
    const m = times(t);
    phone.carry({ lockId: t.device.lockId, timeSync: m.withIt });
    const r = await phone.visit(t.device.lockId);
    expect(r).toMatchObject({ timeSynced: false, timeSyncTold: null });
    expect(t.device.firmware.offsetTransition).toBeNull();
  });
});
