/**
 * An offline door learns a coming daylight-saving change from a resident's phone, with no Door
 * Sync: the gateway marks the door's signed time as due in the relay bundle (the lock does not
 * know its zone's next change), the phone pushes it after the unlock and reports it with the
 * visit, and the lock changes its offset at the transition on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { cliIn } from '../gateway/helpers.js';
import { goTo as moveTo, openDemoWorld, type DemoWorld } from './demo-world.js';

let w: DemoWorld;
let world: g.World;
let demo: g.DemoProperty;

beforeAll(async () => {
  w = await openDemoWorld({ units: 10, seed: 16 });
  ({ world, demo } = w);
}, 60_000);

afterAll(async () => {
  await w?.close();
});

const goTo = (iso: string): void => moveTo(world, iso);

describe('daylight saving carried by phones (passive sync)', () => {
  it('a resident\'s visit tells an offline lock the coming change; the lock applies it with no further contact', async () => {
    const pid = demo.propertyId;
    const resident = demo.residents[0]!;
    const door = resident.unitDoorId;
    const lock = () => world.door(door).device.firmware;
    const stale = () => g.doorsWithStaleTime(w.db, world.clock.now(), pid).includes(door);

    goTo('2027-03-10T17:00:00Z');
    await g.doorSync(world, pid, door); // commissioned under the demo's fixed zone: no change to announce
    expect(stale()).toBe(false);
    await cliIn(w.dir).json('--state-dir', w.dir, 'property', 'update', String(pid), '--time-zone', 'America/New_York');
    expect(stale()).toBe(true);
    // A lock takes an offset only from a signed time newer than its last one (PROTOCOL.md §7.4):
    // the visit comes an hour after the commissioning, as it would.
    world.clock.advance(60 * 60_000);
    const [bundle] = (await g.relayBundlesFor(w.db, resident.personId, { ctx: world.ctx('test'), onlyOffline: true })).filter((b) => b.doorId === door);
    expect(bundle).toMatchObject({ timeSyncDue: true });

    const visit = await g.phoneUnlock(world, pid, door, resident.personId);
    expect(visit.outcome).toBe('granted');
    expect([lock().utcOffset, lock().offsetTransition]).toEqual([-300, { at: Date.parse('2027-03-14T07:00:00Z') / 1000, offset: -240 }]);
    // The visit's report is the gateway's record: nothing is due any more, so no Door Sync task.
    expect(stale()).toBe(false);
    expect(g.transitionSupport(w.db, door)).toBe(true);
    expect((await g.relayBundlesFor(w.db, resident.personId, { ctx: world.ctx('test'), onlyOffline: true })).some((b) => b.doorId === door)).toBe(false);

    goTo('2027-03-14T08:00:00Z'); // 04:00 EDT: the lock switched at 07:00Z on its own
    expect(lock().utcOffset).toBe(-240);
    // It knows no further change now, so the autumn one is due, and the next visit brings it.
    expect(stale()).toBe(true);
    await g.phoneUnlock(world, pid, door, resident.personId);
    expect([lock().utcOffset, lock().offsetTransition]).toEqual([-240, { at: Date.parse('2027-11-07T06:00:00Z') / 1000, offset: -300 }]);
    expect(stale()).toBe(false);
  }, 60_000);
});
