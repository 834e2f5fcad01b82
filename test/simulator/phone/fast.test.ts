/**
 * The fast unlock path over the virtual radio with the real noble and bleno stacks (PROTOCOL.md
 * §9.8): first visit scans and discovers, repeat visits connect by address on cached handles and
 * answer a ticket; the fallbacks (layout moved, lock without the fast path, lost ticket) end
 * in the challenge path; the pipelined relay survives a lost chunk and applies nothing half-way.
 */
import { describe, expect, it, vi } from 'vitest';
import type { CredentialSpec } from '@latchkit/protocol';
import { openReceipt } from '@latchkit/protocol';
import { serveLock, type ServedLock } from '../../../simulator/src/lock/index.js';
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

async function setup(specs: CredentialSpec[], fastPath = true): Promise<{ t: TestLock; served: ServedLock; address: string }> {
  const air = (env.air = createAir({ seed: 21 }));
  const t = testLock({ specs });
  const served = await serveLock(air, t.device, { hooks: { fastPath } });
  env.cleanup.push(() => served.stop());
  return { t, served, address: served.peripheral.address };
}

async function phoneFor(holder: number, profile: 'ios' | 'android' = 'ios'): Promise<Phone> {
  const phone = await Phone.create({ radio: env.air!, key: phoneKeyOf(holder), profile, crypto });
  env.cleanup.push(() => phone.close());
  return phone;
}

describe('fast unlock path', () => {
  it('first visit scans and discovers; the next connects by address on cached handles and answers its ticket', async () => {
    const { t } = await setup(residents(1000, 3));
    const phone = await phoneFor(1000);
    const first = await phone.visit(t.device.lockId);
    expect(first).toMatchObject({ path: 'fast', unlock: { granted: true, holder: 1000 }, timing: { scanned: true, cached: false } });
    const challenge = vi.spyOn(LockClient.prototype, 'unlock');
    const scans = vi.spyOn(phone.noble, 'startScanningAsync');
    const second = await phone.visit(t.device.lockId);
    expect(second).toMatchObject({ unlock: { granted: true, holder: 1000 }, timing: { scanned: false, cached: true, scanMs: 0 } });
    expect(challenge).not.toHaveBeenCalled();
    expect(scans).not.toHaveBeenCalled();
    // The door opened well before the visit ended (receipt and events come after).
    expect(second.timing.doorOpenMs!).toBeLessThan(first.timing.doorOpenMs!);
    expect(second.timing.doorOpenMs!).toBeLessThan(second.timing.totalMs);
    const types = t.device.firmware.events.read(0, 100).map((e) => e.type);
    expect(types.filter((x) => x === 'granted')).toHaveLength(2);
    expect(types).not.toContain('denied');
  });

  it('falls back to discovery and the challenge when the cached layout no longer matches', async () => {
    const { t, served, address } = await setup(residents(1000, 2));
    const phone = await phoneFor(1000);
    await phone.visit(t.device.lockId);
    // A firmware update to a layout without the layout characteristic, same address.
    await served.stop();
    env.cleanup.splice(0, 1);
    const older = await serveLock(env.air!, t.device, { address, hooks: { fastPath: false } });
    env.cleanup.push(() => older.stop());
    const open = vi.spyOn(LockClient, 'open');
    const r = await phone.visit(t.device.lockId);
    expect(r.unlock).toMatchObject({ granted: true, holder: 1000 });
    expect(r.timing.cached).toBe(false);
    expect(open).toHaveBeenCalledTimes(1);
    // Nothing reliable to cache on that lock: the next visit scans and discovers again.
    const again = await phone.visit(t.device.lockId);
    expect(again).toMatchObject({ unlock: { granted: true }, timing: { scanned: true, cached: false } });
  });

  it('a new phone at a lock without the fast path (version negotiation) still opens the door', async () => {
    const { t } = await setup(residents(1000, 2), false);
    const phone = await phoneFor(1001, 'android');
    for (let i = 0; i < 2; i++) {
      const r = await phone.visit(t.device.lockId);
      expect(r).toMatchObject({ path: 'fast', unlock: { granted: true, holder: 1001 }, timing: { scanned: true, cached: false } });
    }
  });

  it('a ticket lost to a reboot costs one challenge on the same link, not access', async () => {
    const { t } = await setup(residents(1000, 2));
    const phone = await phoneFor(1000);
    await phone.visit(t.device.lockId);
    t.device.powerCycle();
    const challenge = vi.spyOn(LockClient.prototype, 'unlock');
    const r = await phone.visit(t.device.lockId);
    expect(r.unlock).toMatchObject({ granted: true, holder: 1000 });
    expect(challenge).toHaveBeenCalledTimes(1);
    const last = t.device.firmware.events.read(0, 100).slice(-2);
    expect(last.map((e) => [e.type, e.reason])).toEqual([
      ['denied', 'staleNonce'],
      ['granted', 'none'],
    ]);
  });

  it('a phone holding a ticket the lock replaced (the answer with its successor was lost) falls back to the challenge', async () => {
    const { t } = await setup(residents(1000, 12));
    const phone = await phoneFor(1000, 'android');
    await phone.visit(t.device.lockId, { readEvents: false });
    const tickets = (phone as unknown as { tickets: Map<string, Uint8Array> }).tickets;
    const [hex, first] = [...tickets.entries()][0]!;
    // The next visit spends `first` and hands out a successor; the phone never hears of it.
    await phone.visit(t.device.lockId, { readEvents: false });
    tickets.set(hex, first);
    // Nine others come through, so `first` is no longer among the lock's recently used nonces:
    // the lock answers badProof, not staleNonce.
    for (let h = 1001; h <= 1009; h++) await (await phoneFor(h, 'android')).visit(t.device.lockId, { readEvents: false });
    const challenge = vi.spyOn(LockClient.prototype, 'unlock');
    const r = await phone.visit(t.device.lockId, { readEvents: false });
    expect(r.unlock).toMatchObject({ granted: true, holder: 1000 });
    expect(challenge).toHaveBeenCalledTimes(1);
    expect(t.device.firmware.events.read(0, 1000).slice(-2).map((e) => [e.type, e.reason])).toEqual([
      ['denied', 'badProof'],
      ['granted', 'none'],
    ]);
  }, 60_000);

  it('unlocks first, then relays the delta pipelined; the commit returns the receipt', async () => {
    const specs1 = residents(1000, 3);
    const { t } = await setup(specs1);
    const phone = await phoneFor(1000);
    await phone.visit(t.device.lockId);
    const base = t.backend.full(1, specs1);
    const specs2 = [...specs1, ...resident(2000, '200020')];
    phone.carry({ lockId: t.device.lockId, delta: t.backend.delta(base, 2, specs2).bytes, full: t.backend.full(2, specs2).bytes });
    const receiptReads = vi.spyOn(LockClient.prototype, 'receipt');
    const r = await phone.visit(t.device.lockId);
    expect(r.relay).toMatchObject({ sent: 'delta', seq: 2, fellBack: false });
    expect(r.unlock).toMatchObject({ granted: true, holder: 1000 });
    expect(receiptReads).not.toHaveBeenCalled();
    expect(openReceipt(r.receipt, { lockId: t.device.lockId, devicePublicKey: t.backend.device.signing.publicKey, provider: crypto }).seq).toBe(2);
    const types = t.device.firmware.events.read(0, 100).map((e) => e.type);
    expect(types.slice(-2)).toEqual(['granted', 'syncApplied']);
  });

  it('a resident whose key arrives in the carried delta is let in after the relay', async () => {
    const specs1 = residents(1000, 2);
    const { t } = await setup(specs1);
    const specs2 = [...specs1, ...resident(3000, '300030')];
    const phone = await phoneFor(3000);
    phone.carry({ lockId: t.device.lockId, delta: t.backend.delta(t.backend.full(1, specs1), 2, specs2).bytes });
    const r = await phone.visit(t.device.lockId);
    expect(r.relay).toMatchObject({ sent: 'delta', seq: 2 });
    expect(r.unlock).toMatchObject({ granted: true, holder: 3000 });
  });

  it('a pipelined push whose chunk is lost: the lock refuses the commit, the phone resends, nothing half-applied', async () => {
    const specs1 = residents(1000, 2);
    const { t } = await setup(specs1);
    const phone = await phoneFor(1000);
    const full = t.backend.full(2, residents(1000, 40));
    const client = await phone.connect(t.device.lockId);
    try {
      const applied = vi.spyOn(t.device.firmware, 'applyMessage');
      const r = await client.pushPipelined(full.bytes, { skipChunks: new Set([1]) });
      expect(r.retries).toBe(1);
      expect(applied).toHaveBeenCalledTimes(1);
      expect(t.device.firmware.seq).toBe(2);
      expect(openReceipt(r.receipt, { lockId: t.device.lockId, devicePublicKey: t.backend.device.signing.publicKey, provider: crypto }).seq).toBe(2);
      // Without a loss: one wait, no retry.
      const again = await client.pushPipelined(t.backend.full(3, residents(1000, 40)).bytes);
      expect(again.retries).toBe(0);
      expect(t.device.firmware.seq).toBe(3);
    } finally {
      await client.disconnect();
    }
  });
});
