/**
 * Daylight saving at a simulated lock, spring and autumn (America/New_York, 2027-03-14 and
 * 2027-11-07): the manager names the zone with the CLI, invites with local start times and keys
 * with a weekly schedule; a Door Sync the day before tells the lock the offset and the coming
 * transition; the lock then changes its offset at the transition with no further contact. On both
 * sides of each change a local start time, a schedule and a daily code are checked at the keypad,
 * at instants where a lock or gateway still on the old offset would answer differently.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { cliIn } from '../gateway/helpers.js';
import { goTo as moveTo, openDemoWorld, type DemoWorld } from './demo-world.js';

let w: DemoWorld;
let world: g.World;
let demo: g.DemoProperty;
let cli: ReturnType<typeof cliIn>;
const json = (...args: string[]) => cli.json('--state-dir', w.dir, ...args);

beforeAll(async () => {
  w = await openDemoWorld({ units: 10, seed: 15 });
  ({ world, demo } = w);
  cli = cliIn(w.dir);
}, 60_000);

afterAll(async () => {
  await w?.close();
});

const goTo = (iso: string): void => moveTo(world, iso);

describe('daylight saving at a lock that is not synced again', () => {
  it('spring and autumn in New York: local start, schedule and daily code on both sides of each change', async () => {
    const pid = demo.propertyId;
    const door = demo.online[0]!.id;
    const lock = () => world.door(door).device.firmware;
    const keypad = (code: string) => g.keypad(world, pid, door, code);
    const dailyCode = async (personId: number, date: string): Promise<string> => (await json('doorcode', 'daily-code', String(personId), '--date', date)).code;

    goTo('2027-03-13T17:00:00Z'); // Saturday noon EST
    const prop = await json('property', 'update', String(pid), '--time-zone', 'America/New_York');
    expect(prop).toMatchObject({ timeZone: 'America/New_York', utcOffsetMin: -300, nextOffsetChange: { at: '2027-03-14T07:00:00.000Z', utcOffsetMin: -240 } });
    const early = await json('key', 'create', '--property', String(pid), '--name', 'Early door', '--doors', String(door), '--communal', '--schedule', 'mon-sun 08:00-10:00');
    const anyTime = await json('key', 'create', '--property', String(pid), '--name', 'Door any time', '--doors', String(door), '--communal');
    // Sam opens with a static doorcode inside the schedule; Jo with a daily code from Sunday 9:00 local (EDT by then).
    const sam = (await json('person', 'invite', '--property', String(pid), '--email', 'sam@example.com', '--first', 'Sam', '--last', 'Early', '--keys', String(early.id), '--expires', '2028-01-01')).person;
    const samCode: string = (await json('doorcode', 'show', String(sam.id))).doorcode;
    const jo = (await json('person', 'invite', '--property', String(pid), '--email', 'jo@example.com', '--first', 'Jo', '--last', 'Day', '--keys', String(anyTime.id), '--doorcode-only', '--start', '2027-03-14T09:00', '--expires', '2028-01-01')).person;
    const sync = await g.doorSync(world, pid, door);
    expect(sync.result.timeSynced || sync.result.commissioned).toBe(true);
    expect([lock().utcOffset, lock().offsetTransition]).toEqual([-300, { at: Date.parse('2027-03-14T07:00:00Z') / 1000, offset: -240 }]);
    const receiptsBefore = g.doorSyncState(w.db, door).lastReceiptAt;

    goTo('2027-03-14T12:55:00Z'); // Sunday 08:55 EDT: Jo's start is 09:00 EDT (13:00Z), not 09:00 EST (14:00Z)
    expect(lock().utcOffset).toBe(-240);
    const joSun = await dailyCode(jo.id, '2027-03-14');
    expect(keypad(joSun)).toMatchObject({ outcome: 'denied', reason: 'notYetValid' });
    goTo('2027-03-14T13:05:00Z'); // 09:05 EDT
    expect(keypad(joSun)).toMatchObject({ outcome: 'granted', personId: jo.id });
    expect(keypad(samCode)).toMatchObject({ outcome: 'granted', personId: sam.id }); // 09:05 EDT, inside 08:00-10:00
    goTo('2027-03-14T14:30:00Z'); // 10:30 EDT (a lock still on EST would read 09:30 and open)
    expect(keypad(samCode)).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' });
    goTo('2027-03-15T04:30:00Z'); // Monday 00:30 EDT (23:30 Sunday on EST): Monday's code, not Sunday's
    expect(keypad(await dailyCode(jo.id, '2027-03-15'))).toMatchObject({ outcome: 'granted', personId: jo.id });
    expect(keypad(joSun).outcome).toBe('denied');
    // Nothing reached the lock since the Saturday sync: it changed its offset on its own.
    expect(g.doorSyncState(w.db, door).lastReceiptAt).toBe(receiptsBefore);

    // Autumn. The lock passed its announced change and knows no next one: the gateway sees that
    // and a Door Sync the day before the change pushes a time sync with it.
    goTo('2027-11-06T16:00:00Z'); // Saturday noon EDT
    const kim = (await json('person', 'invite', '--property', String(pid), '--email', 'kim@example.com', '--first', 'Kim', '--last', 'Fall', '--keys', String(anyTime.id), '--doorcode-only', '--start', '2027-11-07T09:00', '--expires', '2028-01-01')).person;
    expect(g.doorsWithStaleTime(w.db, world.clock.now(), pid)).toContain(door);
    // It is a Door Sync task too (for an offline door, what tells the manager to sync it).
    const taskOf = () => g.doorSyncTasks(w.db, pid, { ctx: world.ctx('test') }).find((t) => t.doorId === door);
    expect(taskOf()).toMatchObject({ needsTimeSync: true });
    const autumn = await g.doorSync(world, pid, door);
    expect(autumn.result.timeSynced).toBe(true);
    expect(g.doorsWithStaleTime(w.db, world.clock.now(), pid)).not.toContain(door);
    expect(taskOf()?.needsTimeSync ?? false).toBe(false);
    expect([lock().utcOffset, lock().offsetTransition]).toEqual([-240, { at: Date.parse('2027-11-07T06:00:00Z') / 1000, offset: -300 }]);
    const afterAutumnSync = g.doorSyncState(w.db, door).lastReceiptAt;

    goTo('2027-11-07T13:55:00Z'); // Sunday 08:55 EST: Kim's start is 09:00 EST (14:00Z), not 09:00 EDT (13:00Z)
    expect(lock().utcOffset).toBe(-300);
    const kimSun = await dailyCode(kim.id, '2027-11-07');
    expect(keypad(kimSun)).toMatchObject({ outcome: 'denied', reason: 'notYetValid' });
    goTo('2027-11-07T14:05:00Z'); // 09:05 EST
    expect(keypad(kimSun)).toMatchObject({ outcome: 'granted', personId: kim.id });
    goTo('2027-11-07T14:30:00Z'); // 09:30 EST (a lock still on EDT would read 10:30 and refuse)
    expect(keypad(samCode)).toMatchObject({ outcome: 'granted', personId: sam.id });
    goTo('2027-11-07T15:30:00Z'); // 10:30 EST
    expect(keypad(samCode)).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' });
    goTo('2027-11-08T04:30:00Z'); // Sunday 23:30 EST (00:30 Monday on EDT): still Sunday's code
    expect(keypad(kimSun)).toMatchObject({ outcome: 'granted', personId: kim.id });
    expect(keypad(await dailyCode(kim.id, '2027-11-08')).outcome).toBe('denied');
    goTo('2027-11-08T05:30:00Z'); // Monday 00:30 EST
    expect(keypad(await dailyCode(kim.id, '2027-11-08'))).toMatchObject({ outcome: 'granted', personId: kim.id });
    expect(g.doorSyncState(w.db, door).lastReceiptAt).toBe(afterAutumnSync);
  }, 120_000);

  it('an unknown zone name is refused with INVALID_TIME_ZONE and changes nothing', async () => {
    const pid = String(demo.propertyId);
    const before = await json('property', 'show', pid);
    const r = await cli.run('--state-dir', w.dir, 'property', 'update', pid, '--time-zone', 'America/Gotham');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('INVALID_TIME_ZONE');
    expect((await json('property', 'show', pid)).timeZone).toBe(before.timeZone);
  });
});
