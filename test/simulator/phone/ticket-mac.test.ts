/**
 * The ticket MAC over the virtual radio (PROTOCOL.md §9.8): the phone learns the lock's X25519
 * key from the info it reads on a visit and answers later tickets with `unlockTicketMac`; a lock
 * whose firmware predates the opcode answers UNKNOWN_OPCODE and the phone answers the same ticket
 * with the signature on the same link (and remembers); old phones keep signing; a forged lock key
 * costs one challenge, not access.
 */
import { describe, expect, it, vi } from 'vitest';
import type { CredentialSpec } from '@latchkit/protocol';
import { phoneTicketMacKey, toHex, x25519PublicKey } from '@latchkit/protocol';
import { serveLock } from '../../../simulator/src/lock/index.js';
import { LockClient, Phone } from '../../../simulator/src/phone/index.js';
import { createAir } from '../../../simulator/src/radio/index.js';
import { crypto, phoneKeyOf, resident, testLock, type TestLock } from '../lock/fixtures.js';
import { airPerTest } from './air-per-test.js';

const env = airPerTest();

function residents(from: number, n: number): CredentialSpec[] {
  const out: CredentialSpec[] = [];
  for (let h = from; h < from + n; h++) out.push(...resident(h, String(100000 + h)));
  return out;
}

async function setup(hooks: { ticketMac?: boolean } = {}): Promise<TestLock> {
  const air = (env.air = createAir({ seed: 23 }));
  const t = testLock({ specs: residents(1000, 3) });
  const served = await serveLock(air, t.device, { hooks });
  env.cleanup.push(() => served.stop());
  return t;
}

async function phoneFor(holder: number, options: { ticketMac?: boolean } = {}): Promise<Phone> {
  const phone = await Phone.create({ radio: env.air!, key: phoneKeyOf(holder), profile: 'android', crypto, ...options });
  env.cleanup.push(() => phone.close());
  return phone;
}

const phoneEvents = (t: TestLock): [string, string][] =>
  t.device.firmware.events
    .read(0, 100)
    .filter((e) => e.kind === 4)
    .map((e) => [e.type, e.reason]);

describe('ticket MAC over the air', () => {
  it('from the second repeat visit on, the ticket is answered with a MAC; no challenge, no Ed25519 verify at the lock', async () => {
    const t = await setup();
    const phone = await phoneFor(1000);
    const first = await phone.visit(t.device.lockId);
    expect(first).toMatchObject({ unlock: { granted: true }, ticketProof: null });
    const challenge = vi.spyOn(LockClient.prototype, 'unlock');
    const signed = vi.spyOn(LockClient.prototype, 'unlockTicket');
    const meter = t.device.mcu!;
    for (let i = 0; i < 2; i++) {
      const verifies = meter.breakdown.ed25519Verify;
      const r = await phone.visit(t.device.lockId, { readEvents: false });
      expect(r).toMatchObject({ unlock: { granted: true, holder: 1000 }, ticketProof: 'mac', timing: { cached: true } });
      // The receipt read after the unlock signs, the lock verifies nothing.
      expect(meter.breakdown.ed25519Verify - verifies).toBe(0);
    }
    expect(challenge).not.toHaveBeenCalled();
    expect(signed).not.toHaveBeenCalled();
    expect(phoneEvents(t).every(([type]) => type === 'granted')).toBe(true);
  });

  it('fast-path firmware without the ticket MAC: UNKNOWN_OPCODE, the same ticket signed on the same link, and remembered', async () => {
    const t = await setup({ ticketMac: false });
    const phone = await phoneFor(1000);
    await phone.visit(t.device.lockId);
    const challenge = vi.spyOn(LockClient.prototype, 'unlock');
    const macs = vi.spyOn(LockClient.prototype, 'unlockTicketMac');
    const second = await phone.visit(t.device.lockId);
    expect(second).toMatchObject({ unlock: { granted: true, holder: 1000 }, ticketProof: 'signature', timing: { cached: true } });
    expect(macs).toHaveBeenCalledTimes(1);
    const third = await phone.visit(t.device.lockId);
    expect(third).toMatchObject({ unlock: { granted: true }, ticketProof: 'signature' });
    // Remembered for this lock: no second MAC attempt, and never a challenge.
    expect(macs).toHaveBeenCalledTimes(1);
    expect(challenge).not.toHaveBeenCalled();
    expect(phoneEvents(t)).toEqual([
      ['granted', 'none'],
      ['granted', 'none'],
      ['granted', 'none'],
    ]);
    // One round trip later than the MAC, but the door opened on that visit.
    expect(third.timing.doorOpenMs!).toBeLessThan(second.timing.doorOpenMs!);
  });

  it('an old phone keeps answering tickets with the signature at a lock with the ticket MAC', async () => {
    const t = await setup();
    const phone = await phoneFor(1001, { ticketMac: false });
    await phone.visit(t.device.lockId);
    const macs = vi.spyOn(LockClient.prototype, 'unlockTicketMac');
    for (let i = 0; i < 2; i++) expect(await phone.visit(t.device.lockId)).toMatchObject({ unlock: { granted: true, holder: 1001 }, ticketProof: 'signature' });
    expect(macs).not.toHaveBeenCalled();
  });

  it('a forged lock X25519 key (unauthenticated info) costs one challenge on the same link, and the next info read repairs it', async () => {
    const t = await setup();
    const phone = await phoneFor(1000);
    await phone.visit(t.device.lockId);
    // What a forged info read would have left: K for an attacker's X25519 key.
    const forged = x25519PublicKey(new Uint8Array(32).fill(9));
    const macKeys = (phone as unknown as { macKeys: Map<string, { lockPublic: Uint8Array; key: Uint8Array }> }).macKeys;
    macKeys.set(toHex(t.device.lockId), { lockPublic: forged, key: phoneTicketMacKey(phoneKeyOf(1000), t.device.lockId, forged, crypto) });
    const challenge = vi.spyOn(LockClient.prototype, 'unlock');
    const r = await phone.visit(t.device.lockId);
    expect(r).toMatchObject({ unlock: { granted: true, holder: 1000 }, ticketProof: 'mac' });
    expect(challenge).toHaveBeenCalledTimes(1);
    expect(phoneEvents(t).slice(-2)).toEqual([
      ['denied', 'badProof'],
      ['granted', 'none'],
    ]);
    // The info read of that visit gave the real key: the next MAC opens at once.
    const next = await phone.visit(t.device.lockId);
    expect(next).toMatchObject({ unlock: { granted: true }, ticketProof: 'mac' });
    expect(challenge).toHaveBeenCalledTimes(1);
  });
});
