/**
 * End to end over the virtual radio with the real noble (phone) and bleno (lock) stacks:
 * phone unlock with passive sync, fallback from delta to full set, a link dropped mid-relay and
 * resumed on the next visit, replayed unlock answers, a power cut during a relayed commit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CredentialSpec, EventRecord } from '@latchkit/protocol';
import { openReceipt, toHex, unlockSigningInput, verifyEventChain } from '@latchkit/protocol';
import { SimulatorError } from '../../../simulator/src/errors.js';
import { serveLock, type ServedLock } from '../../../simulator/src/lock/index.js';
import { connectLock, deliverSet, LockClient, Phone } from '../../../simulator/src/phone/index.js';
import { createAir, type Air } from '../../../simulator/src/radio/index.js';
import { crypto, phoneKeyOf, resident, testLock, type TestLock } from '../lock/fixtures.js';

let air: Air | undefined;
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await air?.close();
  air = undefined;
});

async function setup(specs: CredentialSpec[], seed = 7): Promise<{ t: TestLock; served: ServedLock }> {
  air = createAir({ seed });
  const t = testLock({ specs });
  const served = await serveLock(air, t.device);
  cleanup.push(() => served.stop());
  return { t, served };
}

async function phoneFor(holder: number, profile: 'ios' | 'android' = 'ios'): Promise<Phone> {
  const phone = await Phone.create({ radio: air!, key: phoneKeyOf(holder), profile, crypto });
  cleanup.push(() => phone.close());
  return phone;
}

function residents(from: number, n: number): CredentialSpec[] {
  const out: CredentialSpec[] = [];
  for (let h = from; h < from + n; h++) out.push(...resident(h, String(100000 + h)));
  return out;
}

describe('resident phone on the virtual radio', () => {
  for (const profile of ['ios', 'android'] as const) {
    it(`${profile}: relays a one-resident delta, unlocks as the new resident, brings back receipt and events`, async () => {
      const specs1 = residents(1000, 5);
      const { t } = await setup(specs1);
      const base = t.backend.full(1, specs1);
      const specs2 = [...specs1, ...resident(2000, '200020')];
      const phone = await phoneFor(2000, profile);
      phone.carry({ lockId: t.device.lockId, delta: t.backend.delta(base, 2, specs2).bytes, full: t.backend.full(2, specs2).bytes });
      // The classic exchange (relay, then unlock); test/simulator/phone/fast.test.ts has the fast one.
      const r = await phone.visit(t.device.lockId, { path: 'classic' });
      expect(r.info.seq).toBe(1);
      expect(r.relay).toMatchObject({ sent: 'delta', fellBack: false, seq: 2, resumedFrom: 0 });
      expect(r.unlock).toMatchObject({ granted: true, holder: 2000 });
      expect(t.device.firmware.seq).toBe(2);
      const receipt = openReceipt(r.receipt, { lockId: t.device.lockId, devicePublicKey: t.backend.device.signing.publicKey, provider: crypto });
      expect(receipt.seq).toBe(2);
      // The events it brought back are the whole log, chained to the signed head in the receipt.
      verifyEventChain(t.device.firmware.events.chainBefore(0)!, 0, r.events, { index: receipt.eventIndex, hash: receipt.eventHash }, crypto);
      expect(r.events.map((e) => e.type)).toEqual(['boot', 'commissioned', 'syncApplied', 'syncApplied', 'granted']);
      expect(r.timing.modelled).toBe(true);
      expect(r.timing.connectMs).toBeGreaterThan(0);
      expect(r.timing.exchangeMs).toBeGreaterThan(0);
      // Second visit: nothing to relay, still unlocks.
      const again = await phone.visit(t.device.lockId, { path: 'classic' });
      expect(again.relay).toBeNull();
      expect(again.unlock?.granted).toBe(true);
    });
  }

  it('falls back to the full set when the lock refuses the delta, and a stranger phone is denied', async () => {
    const specs1 = residents(1000, 3);
    const { t } = await setup(specs1);
    const specs5 = [...specs1, ...resident(3000, '300030')];
    // A delta that claims base 1 but was computed from another body fails the digest check.
    const wrongBody = t.backend.delta(t.backend.full(1, residents(5000, 2)), 5, specs5);
    const phone = await phoneFor(3000);
    phone.carry({ lockId: t.device.lockId, delta: wrongBody.bytes, full: t.backend.full(5, specs5).bytes });
    const r = await phone.visit(t.device.lockId);
    expect(r.relay).toMatchObject({ sent: 'full', fellBack: true, seq: 5 });
    expect(r.unlock?.granted).toBe(true);
    const stranger = await phoneFor(9999);
    const s = await stranger.visit(t.device.lockId);
    expect(s.unlock).toMatchObject({ granted: false, reason: 'unknownCredential' });
  });

  it('reports a refused relay (a set for another lock) and still unlocks', async () => {
    const specs1 = residents(1000, 2);
    const { t } = await setup(specs1);
    const phone = await phoneFor(1000);
    const other = Uint8Array.from([0x4c, 0x4b, 0, 0, 0, 0, 0, 99]);
    phone.carry({ lockId: t.device.lockId, full: t.backend.full(9, specs1, undefined, other).bytes });
    const r = await phone.visit(t.device.lockId);
    expect(r.relayError).toBe('WRONG_LOCK');
    expect(r.unlock?.granted).toBe(true);
    expect(t.device.firmware.seq).toBe(1);
  });

  it('a link dropped mid-relay resumes at the acknowledged offset on the next visit', async () => {
    const specs1 = residents(1000, 2);
    const { t, served } = await setup(specs1);
    const specs2 = residents(1000, 400);
    const full = t.backend.full(2, specs2).bytes;
    expect(full.length).toBeGreaterThan(8000);
    const phone = await phoneFor(1001, 'android');
    phone.carry({ lockId: t.device.lockId, full });
    const fault = air!.injectFault({ kind: 'drop-at-byte', peripheral: served.peripheral.address, byte: 5000, direction: 'central-to-peripheral' });
    let err: unknown;
    try {
      await phone.visit(t.device.lockId);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimulatorError);
    expect((err as SimulatorError).code).toBe('NOT_CONNECTED');
    expect(fault.firings).toHaveLength(1);
    expect(t.device.firmware.seq).toBe(1);
    const r = await phone.visit(t.device.lockId);
    expect(r.relay?.resumedFrom).toBeGreaterThan(1000);
    expect(r.relay!.resumedFrom + r.relay!.bytes).toBe(full.length);
    expect(t.device.firmware.seq).toBe(2);
    expect(r.unlock?.granted).toBe(true);
  });

  it('dropped at several points across a transfer, each next visit resumes where the lock acknowledged', async () => {
    const specs1 = residents(1000, 2);
    const { t, served } = await setup(specs1, 31);
    const phone = await phoneFor(1001, 'ios');
    let seq = 1;
    for (const byte of [200, 1500, 3500, 6000, 9000]) {
      seq++;
      const full = t.backend.full(seq, residents(1000, 400 + seq)).bytes;
      phone.carry({ lockId: t.device.lockId, full });
      air!.injectFault({ kind: 'drop-at-byte', peripheral: served.peripheral.address, byte, direction: 'central-to-peripheral' });
      await expect(phone.visit(t.device.lockId)).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
      expect(t.device.firmware.seq).toBe(seq - 1);
      const r = await phone.visit(t.device.lockId);
      // Byte 200 of the link is still GATT discovery: nothing of the set had arrived yet.
      if (byte >= 1500) expect(r.relay!.resumedFrom, `drop at byte ${byte}`).toBeGreaterThan(0);
      else expect(r.relay!.resumedFrom).toBe(0);
      expect(r.relay!.resumedFrom + r.relay!.bytes).toBe(full.length);
      expect(t.device.firmware.seq).toBe(seq);
      expect(r.unlock?.granted).toBe(true);
    }
  });

  it('a replayed unlock answer is refused over the air, and events are notified as they happen', async () => {
    const { t } = await setup(residents(1000, 2));
    const phone = await phoneFor(1000);
    const key = phone.key;
    const notified: EventRecord[] = [];
    const first = await phone.connect(t.device.lockId);
    const nonce = await first.challenge();
    const signature = crypto.ed25519Sign(key.seed, unlockSigningInput(t.device.lockId, nonce));
    expect((await first.unlockWith(key.publicKey, signature, false)).result.result).toBe(0);
    expect((await first.unlockWith(key.publicKey, signature, false)).result.result).toBe(7);
    await first.disconnect();
    // A minute later: replays within a minute of the last one are counted into one record, not
    // logged (and notified) one by one (simulator/LOCK.md, "Unauthenticated noise").
    t.clock.advance(61_000);
    const peripheral = await (async () => {
      const c = await phone.connect(t.device.lockId);
      await c.disconnect();
      return c.peripheral;
    })();
    await peripheral.connectAsync();
    const second = await LockClient.open(peripheral, { crypto, onEvent: (e) => notified.push(e) });
    const replay = await second.unlockWith(key.publicKey, signature, true);
    expect(replay.result.result).toBe(7); // staleNonce
    const granted = await second.unlock(key, t.device.lockId);
    expect(granted.result).toBe(0);
    // Notifications are asynchronous: wait for both records to arrive.
    for (let i = 0; i < 100 && notified.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(notified.map((e) => [e.type, e.reason])).toEqual([
      ['denied', 'staleNonce'],
      ['granted', 'none'],
    ]);
    await second.disconnect();
  });

  it('a power cut during a relayed commit drops the link; after a reboot the next visit applies the set', async () => {
    const specs1 = residents(1000, 2);
    const { t } = await setup(specs1);
    const specs2 = [...specs1, ...resident(4000, '400040')];
    const phone = await phoneFor(4000);
    phone.carry({ lockId: t.device.lockId, full: t.backend.full(2, specs2).bytes });
    t.device.flash.cutAt({ atWrite: t.device.flash.writes + 1 });
    let err: unknown;
    try {
      await phone.visit(t.device.lockId);
    } catch (e) {
      err = e;
    }
    expect((err as SimulatorError).code).toBe('NOT_CONNECTED');
    expect(t.device.firmware.isHalted).toBe(true);
    t.device.powerCycle();
    expect(t.device.firmware.seq).toBe(1);
    const r = await phone.visit(t.device.lockId);
    expect(r.relay?.seq).toBe(2);
    expect(r.unlock?.granted).toBe(true);
    expect(toHex(t.device.firmware.persisted.set!.digest)).toBe(toHex(t.backend.full(2, specs2).digest));
  });
});

describe('gateway path (what the sync engine uses)', () => {
  it('commissions a fresh lock over the air, pushes a full set, then a delta, and reads the events', async () => {
    air = createAir({ seed: 21 });
    const t = testLock({ commission: false });
    const served = await serveLock(air, t.device);
    cleanup.push(() => served.stop());
    const gateway = await air.addCentral({ profile: 'gateway', name: 'gw' });
    cleanup.push(() => gateway.close());
    const client = await connectLock(gateway.noble, t.device.lockId, { crypto });
    try {
      const info = await client.info();
      expect(info.commissioned).toBe(false);
      expect(toHex(info.deviceEncryptionPublic)).toBe(toHex(t.backend.device.encryptionPublic));
      const commissioned = openReceipt((await client.push(t.backend.commission())).receipt, { lockId: t.device.lockId, devicePublicKey: info.deviceSigningPublic, provider: crypto });
      expect(commissioned.seq).toBe(0);
      const specs1 = residents(1000, 20);
      const full = t.backend.full(1, specs1);
      const progress: number[] = [];
      const first = await deliverSet(client, 0, { full: full.bytes }, (p) => progress.push(p.sent));
      expect(first).toMatchObject({ sent: 'full', seq: 1, fellBack: false });
      expect(progress.at(-1)).toBe(full.bytes.length);
      const specs2 = [...specs1.filter((s) => s.holder !== 1000), ...resident(5000, '500050')];
      const second = await deliverSet(client, (await client.info()).seq, { delta: t.backend.delta(full, 2, specs2).bytes, full: t.backend.full(2, specs2).bytes });
      expect(second).toMatchObject({ sent: 'delta', seq: 2 });
      expect(await deliverSet(client, 2, { full: t.backend.full(2, specs2).bytes })).toBeNull();
      const receipt = openReceipt(second!.receipt, { lockId: t.device.lockId, devicePublicKey: info.deviceSigningPublic, provider: crypto });
      const events = await client.readEvents(0);
      verifyEventChain(t.device.firmware.events.chainBefore(0)!, 0, events, { index: receipt.eventIndex, hash: receipt.eventHash }, crypto);
      expect(events.map((e) => e.type)).toEqual(['boot', 'commissioned', 'syncApplied', 'syncApplied']);
    } finally {
      await client.disconnect();
    }
  });
});
