import { afterEach, describe, expect, it } from 'vitest';
import { openReceipt } from '@latchkit/protocol';
import { createAir, type Air } from '../../../simulator/src/radio/index.js';
import { serveLock } from '../../../simulator/src/lock/index.js';
import { Phone } from '../../../simulator/src/phone/index.js';
import { crypto, phoneKeyOf, resident, testLock } from '../lock/fixtures.js';

let air: Air | undefined;
afterEach(async () => {
  await air?.close();
  air = undefined;
});

describe('phone over the virtual radio', () => {
  it('unlocks and relays a delta', async () => {
    air = createAir({ seed: 7 });
    const specs1 = [...resident(1001, '123456'), ...resident(1002, '222222')];
    const t = testLock({ specs: specs1 });
    const served = await serveLock(air, t.device);
    const phone = await Phone.create({ radio: air, key: phoneKeyOf(1003), profile: 'ios', crypto });
    const base = t.backend.full(1, specs1);
    const specs2 = [...specs1, ...resident(1003, '333333')];
    phone.carry({ lockId: t.device.lockId, delta: t.backend.delta(base, 2, specs2).bytes, full: t.backend.full(2, specs2).bytes });
    const r = await phone.visit(t.device.lockId);
    console.log(JSON.stringify({ relay: r.relay, unlock: r.unlock, timing: r.timing, events: r.events.length }));
    expect(r.relay?.sent).toBe('delta');
    expect(r.unlock?.granted).toBe(true);
    const receipt = openReceipt(r.receipt, { lockId: t.device.lockId, devicePublicKey: t.backend.device.signing.publicKey, provider: crypto });
    expect(receipt.seq).toBe(2);
    await served.stop();
    await phone.close();
  });
});
