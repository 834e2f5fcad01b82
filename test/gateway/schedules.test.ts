/**
 * Weekly schedules on keys and grants: validation (INVALID_SCHEDULE, nothing stored), the journal
 * (a schedule change recompiles the doors), and a simulated lock enforcing the compiled schedule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { credentialsForDoor } from '../../gateway/src/model/compile-input.js';
import { parseScheduleText, scheduleToRow } from '../../gateway/src/model/keys.js';

import { openDemoWorld, type DemoWorld } from '../e2e/demo-world.js';

let w: DemoWorld;
let db: g.Db;
let world: g.World;
let demo: g.DemoProperty;

beforeAll(async () => {
  w = await openDemoWorld({ units: 10, seed: 7 });
  ({ db, world, demo } = w);
}, 60_000);

afterAll(async () => {
  await w?.close();
});

const codeOf = (e: unknown): string | undefined => (e as { code?: string }).code;

describe('schedule input', () => {
  it('stores days as a Monday-first bitmask and minutes of the local day', () => {
    expect(scheduleToRow({ days: ['mon', 'sun'], from: '06:00', to: '24:00' })).toEqual({ days: 1 | 64, from: 360, to: 1440 });
    expect(parseScheduleText('tue 08:00-17:00')).toEqual({ days: ['tue'], from: '08:00', to: '17:00' });
    expect(parseScheduleText('mon-wed,sat 06:00-22:00')).toEqual({ days: ['mon', 'tue', 'wed', 'sat'], from: '06:00', to: '22:00' });
    expect(parseScheduleText('none')).toBeNull();
  });

  it.each([
    [{ days: [], from: '08:00', to: '17:00' }],
    [{ days: ['tuesday'], from: '08:00', to: '17:00' }],
    [{ days: ['tue', 'tue'], from: '08:00', to: '17:00' }],
    [{ days: ['tue'], from: '8:00', to: '17:00' }],
    [{ days: ['tue'], from: '08:00', to: '24:30' }],
    [{ days: ['tue'], from: '17:00', to: '17:00' }],
    [{ days: ['tue'], from: '22:00', to: '06:00' }], // across midnight: the lock cannot
  ])('refuses %j with INVALID_SCHEDULE and stores nothing', (schedule) => {
    const before = g.listKeys(db, demo.propertyId).length;
    let err: unknown;
    try {
      g.createKey(db, demo.propertyId, { name: 'Bad', kind: 'communal', doorIds: [demo.online[0]!.id], mayShare: false, doorcodesDisabled: false, schedule: schedule as g.Schedule });
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe('INVALID_SCHEDULE');
    expect(g.listKeys(db, demo.propertyId).length).toBe(before);
  });
});

describe('a scheduled key at a simulated lock', () => {
  it('opens inside the schedule only, and a schedule change recompiles the door', async () => {
    const pid = demo.propertyId;
    const door = demo.online[2]!.id; // Fitness Center
    const ctx = world.ctx('test');
    const key = g.createKey(db, pid, { name: 'Amenity Tue', kind: 'communal', doorIds: [door], mayShare: false, doorcodesDisabled: false, schedule: { days: ['tue'], from: '08:00', to: '17:00' } }, ctx);
    expect(key.schedule).toEqual({ days: ['tue'], from: '08:00', to: '17:00' });
    const inv = g.invitePerson(db, pid, { email: 'cleaner@example.com', firstName: 'Cleo', lastName: 'Ner', accessType: 'app', keyIds: [key.id] }, ctx);
    const code = g.personDoorcode(db, inv.person.id)!;
    expect(code).toMatch(/^\d+$/);
    const spec = credentialsForDoor(db, door, ctx).find((c) => c.holder === inv.person.holderRef && c.kind === 'doorcode')!;
    expect(spec.schedule).toEqual({ days: 0b10, from: 480, to: 1020 });
    await g.doorSync(world, pid, door);

    // Move the world (the demo property is UTC+0) to a coming Monday, then step through the week.
    const now = new Date(world.clock.now());
    const monday0 = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + ((8 - now.getUTCDay()) % 7 || 7));
    const at = (day: number, hhmm: string): number => monday0 + day * 86_400_000 + (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))) * 60_000;
    // Half a minute into the minute: the lock's clock may trail the world's by a second.
    const tryAt = (ms: number) => {
      world.clock.advance(ms + 30_000 - world.clock.now());
      return g.keypad(world, pid, door, code);
    };
    expect(tryAt(at(0, '12:00'))).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' }); // Mon
    expect(tryAt(at(1, '07:59'))).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' });
    expect(tryAt(at(1, '08:00'))).toMatchObject({ outcome: 'granted', personId: inv.person.id }); // Tue
    expect(tryAt(at(1, '16:59')).outcome).toBe('granted');
    expect(tryAt(at(1, '17:00'))).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' });
    expect(tryAt(at(2, '12:00'))).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' }); // Wed

    // Every day 06:00-24:00: the door is journalled and recompiles; the night stays shut.
    const upd = g.updateKey(db, key.id, { schedule: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '06:00', to: '24:00' } }, ctx);
    expect(upd.affectedDoors).toContain(door);
    expect(g.getKey(db, key.id).schedule).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '06:00', to: '24:00' });
    await g.doorSync(world, pid, door);
    expect(tryAt(at(7, '23:59')).outcome).toBe('granted'); // Mon 23:59
    expect(tryAt(at(8, '00:00'))).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' }); // Tue 00:00
    expect(tryAt(at(8, '05:59'))).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' });
    expect(tryAt(at(8, '06:00')).outcome).toBe('granted');

    // The person's own grant overrides the key's schedule: Saturdays 10:00-12:00 only.
    const grant = g.listGrants(db, inv.person.id)[0]!;
    const gu = g.updateGrant(db, grant.id, { schedule: { days: ['sat'], from: '10:00', to: '12:00' } }, ctx);
    expect(gu.schedule).toEqual({ days: ['sat'], from: '10:00', to: '12:00' });
    expect(gu.affectedDoors).toContain(door);
    expect(g.grantView(gu).schedule).toEqual({ days: ['sat'], from: '10:00', to: '12:00' });
    await g.doorSync(world, pid, door);
    expect(tryAt(at(9, '10:00'))).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' }); // Wed
    expect(tryAt(at(12, '10:30')).outcome).toBe('granted'); // Sat
    expect(tryAt(at(12, '12:00'))).toMatchObject({ outcome: 'denied', reason: 'outsideSchedule' });

    // A bad grant schedule changes nothing.
    expect(() => g.updateGrant(db, grant.id, { schedule: { days: ['sat'], from: '12:00', to: '10:00' } }, ctx)).toThrow(/cannot span midnight/);
    expect(g.getGrant(db, grant.id).schedule).toEqual({ days: ['sat'], from: '10:00', to: '12:00' });
  }, 60_000);
});

describe('schedules through the API and the CLI', () => {
  it('API: create, show, patch a schedule on a key and a grant; bad input is 400 INVALID_SCHEDULE', async () => {
    const { apiFixture } = await import('./api-helpers.js');
    const f = await apiFixture();
    try {
      const body = { name: 'Cleaners', kind: 'communal', doorIds: [f.lobby.id], schedule: { days: ['tue'], from: '08:00', to: '17:00' } };
      const made = await f.call('km', 'POST', `${f.base}/keys`, body);
      expect(made.status).toBe(201);
      expect(made.body.schedule).toEqual({ days: ['tue'], from: '08:00', to: '17:00' });
      expect((await f.call('pm', 'GET', `${f.base}/keys/${made.body.id}`)).body.schedule).toEqual(made.body.schedule);
      expect((await f.call('pm', 'GET', `${f.base}/keys/${f.entrances.id}`)).body.schedule).toBeNull();
      for (const schedule of [
        { days: ['tue'], from: '17:00', to: '08:00' },
        { days: [], from: '08:00', to: '17:00' },
        { days: ['tues'], from: '08:00', to: '17:00' },
        { days: ['tue'], from: '8am', to: '17:00' },
      ]) {
        const bad = await f.call('km', 'POST', `${f.base}/keys`, { ...body, name: 'Nope', schedule });
        expect([bad.status, bad.code]).toEqual([400, 'INVALID_SCHEDULE']);
        const badPatch = await f.call('km', 'PATCH', `${f.base}/keys/${made.body.id}`, { schedule });
        expect([badPatch.status, badPatch.code]).toEqual([400, 'INVALID_SCHEDULE']);
      }
      expect((await f.call('pm', 'GET', `${f.base}/keys`)).body.map((k: { name: string }) => k.name)).not.toContain('Nope');
      expect((await f.call('pm', 'GET', `${f.base}/keys/${made.body.id}`)).body.schedule).toEqual(body.schedule);

      const inv = await f.call('km', 'POST', `${f.base}/people`, { email: 'cleo@example.com', firstName: 'Cleo', lastName: 'Ner', accessType: 'app', keyIds: [made.body.id] });
      expect(inv.status).toBe(201);
      const grant = inv.body.grants[0];
      expect(grant.schedule).toBeNull();
      const url = `${f.base}/people/${inv.body.person.id}/grants/${grant.id}`;
      const patched = await f.call('km', 'PATCH', url, { schedule: { days: ['sat', 'sun'], from: '09:00', to: '12:00' } });
      expect(patched.status).toBe(200);
      expect(patched.body.schedule).toEqual({ days: ['sat', 'sun'], from: '09:00', to: '12:00' });
      expect(patched.body.affectedDoors).toEqual([f.lobby.id]);
      expect((await f.call('km', 'PATCH', url, { schedule: { days: ['sat'], from: '25:00', to: '26:00' } })).code).toBe('INVALID_SCHEDULE');
      expect((await f.call('km', 'PATCH', url, { schedule: null })).body.schedule).toBeNull();

      const off = await f.call('km', 'PATCH', `${f.base}/keys/${made.body.id}`, { schedule: null });
      expect(off.body.schedule).toBeNull();
      expect(off.body.affectedDoors).toEqual([f.lobby.id]);
    } finally {
      await f.app.close();
    }
  });

  it('CLI: key create/update --schedule and --days/--from/--to', async () => {
    const { tempDir } = await import('./helpers.js');
    const t = tempDir();
    try {
      const run = async (...args: string[]) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await g.runCli(['--json', ...args], { out: (s) => out.push(s), err: (s) => err.push(s), cwd: t.dir, env: {} });
        return { code, out: out.join('\n'), err: err.join('\n') };
      };
      const prop = JSON.parse((await run('property', 'create', '--name', 'Elm', '--utc-offset', '0')).out);
      const door = JSON.parse((await run('door', 'create', '--property', String(prop.id), '--name', 'Gym', '--lock-id', '00000000000000a2')).out);
      const made = await run('key', 'create', '--property', String(prop.id), '--name', 'Cleaner', '--doors', String(door.id), '--schedule', 'tue 08:00-17:00');
      expect(JSON.parse(made.out).schedule).toEqual({ days: ['tue'], from: '08:00', to: '17:00' });
      const id = String(JSON.parse(made.out).id);
      const upd = await run('key', 'update', id, '--days', 'mon,tue,wed,thu,fri,sat,sun', '--from', '06:00', '--to', '22:00');
      expect(JSON.parse(upd.out).schedule).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '06:00', to: '22:00' });
      const bad = await run('key', 'update', id, '--schedule', 'tue 22:00-06:00');
      expect(bad.code).not.toBe(0);
      expect(bad.err).toContain('INVALID_SCHEDULE');
      expect(JSON.parse((await run('key', 'show', id)).out).schedule.from).toBe('06:00');
      expect(JSON.parse((await run('key', 'update', id, '--schedule', 'none')).out).schedule).toBeNull();
    } finally {
      t.cleanup();
    }
  });
});
