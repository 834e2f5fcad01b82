/**
 * A lock whose RTC lost power boots at its flash clock floor, behind the world, and is given
 * signed time by whoever connects next: a resident's phone (the time in its bundle) or a Door
 * Sync / gateway (pushed when the lock's reported clock is more than a minute behind).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { openDemoWorld, type DemoWorld } from './demo-world.js';

let w: DemoWorld;
let world: g.World;
let demo: g.DemoProperty;

beforeAll(async () => {
  w = await openDemoWorld({ units: 10, seed: 4 });
  ({ world, demo } = w);
}, 60_000);

afterAll(async () => {
  await w?.close();
});

const lockSeconds = (doorId: number): number => world.door(doorId).device.firmware.now();
const worldSeconds = (): number => Math.floor(world.clock.now() / 1000);

describe('signed time after an RTC loss', () => {
  it('a phone visit brings the lock clock back to the present, and so does a Door Sync', async () => {
    const pid = demo.propertyId;
    const resident = demo.residents[0]!;
    const door = resident.unitDoorId;
    const first = await g.doorSync(world, pid, door);
    expect(first.result.timeSynced).toBe(false); // a fresh lock learns the time from its commissioning
    // The lock sits without power (batteries out, RTC cell flat) for six hours; when power is
    // back it boots at the clock floor it last wrote to flash.
    world.clock.advance(6 * 60 * 60_000);
    world.door(door).device.loseRtcPower();
    expect(worldSeconds() - lockSeconds(door)).toBeGreaterThan(3_600);

    const visit = await g.phoneUnlock(world, pid, door, resident.personId);
    expect(visit.outcome).toBe('granted');
    expect(Math.abs(worldSeconds() - lockSeconds(door))).toBeLessThan(120);

    world.clock.advance(6 * 60 * 60_000);
    world.door(door).device.loseRtcPower();
    expect(worldSeconds() - lockSeconds(door)).toBeGreaterThan(3_600);
    const sync = await g.doorSync(world, pid, door);
    expect(sync.result.timeSynced).toBe(true);
    expect(Math.abs(worldSeconds() - lockSeconds(door))).toBeLessThan(120);
    // With the clock right, nothing more is pushed.
    expect((await g.doorSync(world, pid, door)).result.timeSynced).toBe(false);
  }, 60_000);
});
