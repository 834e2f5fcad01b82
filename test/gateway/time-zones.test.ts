/**
 * Property time zones through the API: create and change a zone, what a property shows, local
 * times read with the zone's rules, and bad zones refused with nothing stored.
 */
import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { apiFixturesClosedAfterEach } from './api-helpers.js';
import { resident } from './helpers.js';

const api = apiFixturesClosedAfterEach();

describe('property time zones (API)', () => {
  it('creates a property in an IANA zone and shows its offset now and its next change', async () => {
    const a = await api();
    // The fixture clock is 2025-06-01T12:00Z: New York is on daylight time until 2025-11-02.
    const made = await a.call('portfolio', 'POST', '/properties', { name: 'Hudson Yards', timeZone: 'america/new_york' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ timeZone: 'America/New_York', utcOffsetMin: -240, nextOffsetChange: { at: '2025-11-02T06:00:00.000Z', utcOffsetMin: -300 } });
    const fixed = await a.call('portfolio', 'POST', '/properties', { name: 'Fixed', utcOffsetMin: 330 });
    expect(fixed.body).toMatchObject({ timeZone: 'UTC+05:30', utcOffsetMin: 330, nextOffsetChange: null });
    expect((await a.call('readOnly', 'GET', a.base)).body).toMatchObject({ timeZone: 'UTC-05:00', utcOffsetMin: -300, nextOffsetChange: null });
  });

  it('refuses an unknown zone, a zone and an offset together, and no zone at all; nothing is stored', async () => {
    const a = await api();
    const count = () => g.listProperties(a.db).length;
    const journal = () => a.db.prepare('SELECT count(*) AS n FROM door_changes').get();
    const before = count();
    const journalBefore = journal();
    for (const [body, code] of [
      [{ name: 'Gotham', timeZone: 'America/Gotham' }, 'INVALID_TIME_ZONE'],
      [{ name: 'Offset string', timeZone: '+05:00' }, 'INVALID_TIME_ZONE'],
      [{ name: 'Both', timeZone: 'Europe/Paris', utcOffsetMin: 60 }, 'INVALID_ARGUMENT'],
      [{ name: 'Neither' }, 'INVALID_TIME_ZONE'],
    ] as const) {
      const r = await a.call('portfolio', 'POST', '/properties', body);
      expect([r.status, r.code], JSON.stringify(body)).toEqual([400, code]);
    }
    expect(count()).toBe(before);
    const bad = await a.call('pm', 'PATCH', a.base, { timeZone: 'Mars/Olympus_Mons' });
    expect([bad.status, bad.code]).toEqual([400, 'INVALID_TIME_ZONE']);
    expect(g.getProperty(a.db, a.prop.id).timeZone).toBe('UTC-05:00');
    expect(journal()).toEqual(journalBefore);
  });

  it('a zone change journals every door; local start times then read with daylight saving', async () => {
    const a = await api();
    const changed = await a.call('pm', 'PATCH', a.base, { timeZone: 'America/New_York' });
    expect(changed.status).toBe(200);
    expect(changed.body.affectedDoors.sort()).toEqual([a.lobby.id, a.gym.id, a.door4b.id].sort());
    // Another name for the same rules (offset now and next change) journals no door; the name is kept.
    const journal = () => a.db.prepare('SELECT count(*) AS n FROM door_changes').get();
    const journalBefore = journal();
    const same = await a.call('pm', 'PATCH', a.base, { timeZone: 'America/Detroit' });
    expect([same.status, same.body.timeZone, same.body.affectedDoors]).toEqual([200, 'America/Detroit', []]);
    expect(journal()).toEqual(journalBefore);
    expect(g.doorsWithStaleTime(a.db, a.ctx.now!(), a.prop.id)).toEqual([]);
    const other = await a.call('pm', 'PATCH', a.base, { timeZone: 'America/Chicago' });
    expect(other.body.affectedDoors).toHaveLength(3);
    await a.call('pm', 'PATCH', a.base, { timeZone: 'America/New_York' });
    const p = resident(a).person;
    const summer = await a.call('km', 'POST', `${a.base}/people/${p.id}/grants`, { keyIds: [a.amenities.id], startsAt: '2025-07-01T09:00', expiresAt: '2025-12-01T09:00' });
    expect(summer.status).toBe(200);
    const grant = g.listGrants(a.db, p.id).find((x) => x.keyId === a.amenities.id)!;
    // 09:00 EDT is 13:00Z in July; 09:00 EST is 14:00Z in December.
    expect(g.grantView(grant)).toMatchObject({ startsAt: '2025-07-01T13:00:00.000Z', expiresAt: '2025-12-01T14:00:00.000Z' });
  });

  it("a door's sync state shows what its lock was told of local time, and when it needs a time sync", async () => {
    const a = await api();
    const url = `${a.base}/doors/${a.lobby.id}/sync-state`;
    expect((await a.call('pm', 'GET', url)).body).toMatchObject({ lockLocalTime: null, needsTimeSync: false });
    // Commissioned at the fixed offset: told UTC-05:00 and no change, which is what the zone says.
    await g.commissionDoor(a.db, a.lobby.id, { signingPublic: new Uint8Array(32).fill(1), encryptionPublic: new Uint8Array(32).fill(2) }, { ctx: a.ctx });
    expect((await a.call('pm', 'GET', url)).body).toMatchObject({
      lockLocalTime: { utcOffsetMin: -300, nextOffsetChange: null, toldAt: '2025-06-01T12:00:00.000Z' },
      needsTimeSync: false,
    });
    expect(g.doorSyncTasks(a.db, a.prop.id, { ctx: a.ctx }).find((t) => t.doorId === a.lobby.id)?.needsTimeSync).toBe(false);
    // New York is on daylight time now (-240) and changes on 2025-11-02: the lock must be told.
    await a.call('pm', 'PATCH', a.base, { timeZone: 'America/New_York' });
    expect((await a.call('pm', 'GET', url)).body).toMatchObject({ lockLocalTime: { utcOffsetMin: -300 }, needsTimeSync: true });
    const task = (await a.call('pm', 'GET', `${a.base}/sync-tasks`)).body.find((t: { doorId: number }) => t.doorId === a.lobby.id);
    expect(task).toMatchObject({ needsTimeSync: true });
    // Told now: the offset and the coming change.
    const told = g.zoneTimeAt('America/New_York', a.clock.t);
    g.recordDoorTime(a.db, a.lobby.id, told, a.clock.t);
    expect((await a.call('pm', 'GET', url)).body).toMatchObject({
      lockLocalTime: { utcOffsetMin: -240, nextOffsetChange: { at: '2025-11-02T06:00:00.000Z', utcOffsetMin: -300 } },
      needsTimeSync: false,
    });
    // Once the lock passes that change it knows no further one: stale again.
    a.clock.t = Date.UTC(2025, 10, 2, 7);
    expect((await a.call('pm', 'GET', url)).body).toMatchObject({ needsTimeSync: true });
  });
});
