/**
 * The phone checks each carried message's audience (`aud`, PROTOCOL.md §12.3) before relaying:
 * a bundle compiled for lock A and carried to lock B puts nothing on the air (no bulk transfer,
 * no bytes beyond a visit with nothing to relay), is reported in the visit, and the unlock
 * still happens. A bundle for the right lock still relays.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CredentialSpec } from '@latchkit/protocol';
import { BulkReceiver, issueAnchorRotation, toHex } from '@latchkit/protocol';
import { serveLock } from '../../../simulator/src/lock/index.js';
import { audienceOf, LockClient, Phone } from '../../../simulator/src/phone/index.js';
import { createAir, type Air, type LinkStats } from '../../../simulator/src/radio/index.js';
import { crypto, issuer, issuer2, lockIdOf, phoneKeyOf, resident, T0, testLock, type TestLock } from '../lock/fixtures.js';

let air: Air | undefined;
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0).reverse()) await f();
  await air?.close();
  air = undefined;
});

const LOCK_A = lockIdOf(1);
const specs: CredentialSpec[] = [...resident(1000, '100010'), ...resident(1001, '100110')];
const specs2: CredentialSpec[] = [...specs, ...resident(2000, '200020')];

/** Lock B (n = 2) on the air; `stats()` is the link statistics of the newest connection to it. */
async function lockB(): Promise<{ t: TestLock; stats: () => LinkStats }> {
  air = createAir({ seed: 11 });
  const t = testLock({ n: 2, specs });
  let last: LinkStats | null = null;
  const served = await serveLock(air, t.device, {
    hooks: {
      connect: () => {
        last = (served.peripheral as { link?: { stats: LinkStats } }).link?.stats ?? null;
      },
    },
  });
  cleanup.push(() => served.stop());
  return { t, stats: () => last ?? expect.fail('no link to lock B was seen') };
}

async function phoneFor(holder: number): Promise<Phone> {
  const phone = await Phone.create({ radio: air!, key: phoneKeyOf(holder), crypto });
  cleanup.push(() => phone.close());
  return phone;
}

describe('the phone checks aud before relaying', () => {
  it('audienceOf reads the aud claim of every carried message kind without any key', () => {
    const t = testLock({ n: 2, specs });
    const full = t.backend.full(2, specs2, T0, LOCK_A);
    expect(toHex(audienceOf(full.bytes))).toBe(toHex(LOCK_A));
    expect(toHex(audienceOf(t.backend.delta(full, 3, specs, T0, LOCK_A).bytes))).toBe(toHex(LOCK_A));
    expect(toHex(audienceOf(t.backend.full(2, specs2).bytes))).toBe(toHex(t.device.lockId));
    const rotation = issueAnchorRotation({ issuer, lockId: LOCK_A, issuedAt: T0, anchors: [issuer.publicKey, issuer2.publicKey], seq: 1, provider: crypto });
    expect(toHex(audienceOf(rotation))).toBe(toHex(LOCK_A));
    expect(() => audienceOf(Uint8Array.of(0xff, 0x00))).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
  });

  it('a bundle for lock A carried to lock B: nothing pushed, reported, the unlock proceeds', async () => {
    const { t, stats } = await lockB();
    const phone = await phoneFor(1000);
    // Baseline: the same visit with nothing to relay (classic path both times, so the two
    // visits differ only in what is relayed; the fast path's second visit sends fewer bytes).
    await phone.visit(t.device.lockId, { path: 'classic' });
    const baseline = { ...stats() };

    const fullA = t.backend.full(2, specs2, T0, LOCK_A);
    const rotationA = issueAnchorRotation({ issuer, lockId: LOCK_A, issuedAt: T0, anchors: [issuer.publicKey, issuer2.publicKey], seq: 1, provider: crypto });
    // Labelled for B (that is where the phone takes it), but every message inside is for A.
    phone.carry({ lockId: t.device.lockId, anchorUpdates: [rotationA], delta: t.backend.delta(t.backend.full(1, specs, T0, LOCK_A), 2, specs2, T0, LOCK_A).bytes, full: fullA.bytes });
    const push = vi.spyOn(LockClient.prototype, 'push');
    const begin = vi.spyOn(BulkReceiver.prototype, 'begin');
    const eventsBefore = t.device.firmware.events.read(0, 1000).length;

    const r = await phone.visit(t.device.lockId, { path: 'classic' });
    expect(push).not.toHaveBeenCalled();
    expect(begin).not.toHaveBeenCalled();
    // Not one more byte to the lock than the visit with nothing to relay.
    expect(stats().bytesToPeripheral).toBe(baseline.bytesToPeripheral);
    expect(r.relay).toBeNull();
    expect(r.relayError).toBe('WRONG_LOCK');
    expect(r.withheld).toEqual([
      { message: 'anchorUpdate', index: 0, aud: toHex(LOCK_A), reason: 'WRONG_AUDIENCE' },
      { message: 'delta', aud: toHex(LOCK_A), reason: 'WRONG_AUDIENCE' },
      { message: 'full', aud: toHex(LOCK_A), reason: 'WRONG_AUDIENCE' },
    ]);
    expect(r.anchorsApplied).toBe(0);
    expect(r.unlock).toMatchObject({ granted: true, holder: 1000 });
    expect(t.device.firmware.seq).toBe(1);
    // The lock logged the unlock and nothing else: it never saw (and so never rejected) a message.
    expect(t.device.firmware.events.read(eventsBefore, 1000).map((e) => e.type)).toEqual(['granted']);
  });

  it('a correct bundle still relays; a wrong-audience delta does not stop the right full set', async () => {
    const { t } = await lockB();
    const phone = await phoneFor(2000);
    const full2 = t.backend.full(2, specs2);
    phone.carry({ lockId: t.device.lockId, delta: t.backend.delta(t.backend.full(1, specs), 2, specs2).bytes, full: full2.bytes });
    const push = vi.spyOn(LockClient.prototype, 'pushPipelined');
    const r = await phone.visit(t.device.lockId);
    // The fast path relays pipelined (bulkBegin, chunks, bulkCommit back to back).
    expect(push).toHaveBeenCalledTimes(1);
    expect(r).toMatchObject({ relay: { sent: 'delta', fellBack: false, seq: 2 }, relayError: null, withheld: [], unlock: { granted: true, holder: 2000 } });
    expect(t.device.firmware.seq).toBe(2);

    // Next: a delta mislabelled (compiled for A) next to the full set for B. Only the full set goes.
    const specs3 = [...specs2, ...resident(3000, '300030')];
    phone.carry({ lockId: t.device.lockId, delta: t.backend.delta(full2, 3, specs3, T0, LOCK_A).bytes, full: t.backend.full(3, specs3).bytes });
    const r3 = await phone.visit(t.device.lockId);
    expect(r3.relay).toMatchObject({ sent: 'full', seq: 3 });
    expect(r3.withheld).toEqual([{ message: 'delta', aud: toHex(LOCK_A), reason: 'WRONG_AUDIENCE' }]);
    expect(r3.relayError).toBe('WRONG_LOCK');
    expect(r3.unlock?.granted).toBe(true);
    expect(t.device.firmware.seq).toBe(3);
  });
});
