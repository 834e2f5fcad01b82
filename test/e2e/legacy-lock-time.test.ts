/**
 * A lock on firmware from before the optional `transition` claim (PROTOCOL.md §3.4) at a property
 * with daylight saving: its decoder refuses an unknown claim, so the gateway learns that from its
 * answer, commissions and time-syncs it without the claim, and pushes a time sync right after
 * each offset change instead (§7.4). A current lock keeps getting the transition.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex, openTimeSync } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createAir, LockDevice, serveLock, type Air } from '@latchkit/simulator';
import * as g from '../../gateway/src/index.js';

const crypto = nodeCryptoProvider;
let air: Air | undefined;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await air?.close();
  air = undefined;
});

async function property() {
  let now = Date.parse('2027-03-13T17:00:00Z'); // Saturday noon EST; EDT from 2027-03-14T07:00Z
  const clock = () => now;
  const ctx: g.Ctx = { actor: 'e2e', now: clock };
  const db = g.openStore({ file: ':memory:' });
  cleanup.push(() => {
    db.close();
  });
  const prop = g.createProperty(db, { name: 'Elm Court', timeZone: 'America/New_York' }, ctx);
  const oldDoor = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '4c4b0000000000c1', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
  const newDoor = g.createDoor(db, prop.id, { name: 'Gym', lockId: '4c4b0000000000c2', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
  air = createAir({ seed: 12 });
  const devices = new Map<number, LockDevice>();
  for (const [d, before] of [[oldDoor, true], [newDoor, false]] as const) {
    const device = new LockDevice({ identity: { lockId: fromHex(d.lockId), deviceSeed: crypto.sha256(new TextEncoder().encode(d.lockId)) }, crypto, clock, beforeTransitionClaim: before });
    const served = await serveLock(air, device);
    cleanup.push(() => served.stop());
    devices.set(d.id, device);
  }
  const gw = await g.SyncEngine.create({ db, radio: air, name: 'gw-1', provider: crypto, ctx, sleep: async () => undefined });
  cleanup.push(() => gw.close());
  return { db, prop, oldDoor, newDoor, devices, gw, advanceTo: (iso: string) => void (now = Date.parse(iso)) };
}

describe('a lock from before the transition claim', () => {
  it('is commissioned and time-synced without it, and gets a time sync right after the offset changes', async () => {
    const f = await property();
    const oldLock = () => f.devices.get(f.oldDoor.id)!.firmware;
    const newLock = () => f.devices.get(f.newDoor.id)!.firmware;
    const first = await f.gw.pushPending(f.prop.id);
    expect(first.failures).toEqual([]);
    expect(first.results.map((r) => [r.doorId, r.commissioned])).toEqual([[f.oldDoor.id, true], [f.newDoor.id, true]]);
    expect([oldLock().utcOffset, oldLock().offsetTransition]).toEqual([-300, null]);
    expect([newLock().utcOffset, newLock().offsetTransition]).toEqual([-300, { at: Date.parse('2027-03-14T07:00:00Z') / 1000, offset: -240 }]);
    expect(g.transitionSupport(f.db, f.oldDoor.id)).toBe(false);
    expect(g.transitionSupport(f.db, f.newDoor.id)).toBe(true);
    // Told no transition, the old lock is not due a time sync before the change...
    expect(f.gw.doorsToPush(f.prop.id)).toEqual([]);
    // ...and a phone's relay bundle carries it none either (a relay cannot fall back).
    const relayed = openTimeSync(g.timeSyncFor(f.db, f.oldDoor.id, { provider: crypto }), { lockId: fromHex(f.oldDoor.lockId), anchors: g.trustAnchors(f.db, f.prop.id), provider: crypto });
    expect(relayed.transition).toBeUndefined();
    expect(oldLock().timeSync(g.timeSyncFor(f.db, f.oldDoor.id, { provider: crypto }))).toBeUndefined();

    f.advanceTo('2027-03-14T07:00:30Z');
    expect(newLock().utcOffset).toBe(-240); // on its own, at the instant
    expect(oldLock().utcOffset).toBe(-300);
    // Both are due: the old lock for its offset, the current one for the autumn change it was never told.
    expect(f.gw.doorsToPush(f.prop.id)).toEqual([f.oldDoor.id, f.newDoor.id]);
    const after = await f.gw.pushPending(f.prop.id);
    expect(after.results.map((r) => [r.doorId, r.timeSynced])).toEqual([[f.oldDoor.id, true], [f.newDoor.id, true]]);
    expect([oldLock().utcOffset, oldLock().offsetTransition]).toEqual([-240, null]);
    expect(f.gw.doorsToPush(f.prop.id)).toEqual([]);
  }, 60_000);

  it('is asked again once it reports other firmware (an update)', async () => {
    const f = await property();
    await f.gw.pushPending(f.prop.id);
    expect(g.transitionSupport(f.db, f.oldDoor.id)).toBe(false);
    expect(g.transitionSupport(f.db, f.oldDoor.id, 'latchkit-sim/9.9.9')).toBeNull();
  }, 60_000);
});
