import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { DAY, HOUR, codeOf, fixture, minute, resident } from './helpers.js';

describe('credentialsForDoor', () => {
  it('lists every credential kind of every holder with the grant window', () => {
    const f = fixture();
    const end = minute(f.clock.t + 30 * DAY);
    const p = resident(f, { keyIds: [f.entrances.id], end }).person;
    g.setDailyDoorcode(f.db, p.id, true, f.ctx);
    g.activateKeycard(f.db, p.id, '04:A1:B2:C3:D4:E5:F6', f.ctx);
    g.addPhoneKey(f.db, p.id, { publicKey: '11'.repeat(32), label: 'iPhone' }, f.ctx);
    const code = g.personDoorcode(f.db, p.id)!;
    const w = { holder: p.holderRef, start: null, end, schedule: null };
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)).toEqual([
      { kind: 'doorcode', code, ...w },
      { kind: 'daily', ...w },
      { kind: 'keycard', uid: Uint8Array.from([0x04, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6]), ...w },
      { kind: 'phone', publicKey: new Uint8Array(32).fill(0x11), ...w },
    ]);
    expect(g.credentialsForDoor(f.db, f.gym.id, f.ctx)).toEqual([]);
  });

  it('keys with doorcodes disabled contribute keycards and phones, never doorcode or daily', () => {
    const f = fixture();
    const p = resident(f, { keyIds: [f.amenities.id], dailyDoorcode: true }).person;
    g.activateKeycard(f.db, p.id, '04a1b2c3', f.ctx);
    expect(g.credentialsForDoor(f.db, f.gym.id, f.ctx).map((c) => c.kind)).toEqual(['keycard']);
    // A second key to the same door with codes enabled brings the codes back, with that key's window.
    const end = minute(f.clock.t + 5 * DAY);
    const k = g.createKey(f.db, f.prop.id, { name: 'Gym codes', kind: 'communal', doorIds: [f.gym.id], mayShare: false, doorcodesDisabled: false }, f.ctx);
    g.addGrants(f.db, p.id, { keyIds: [k.id], end }, f.ctx);
    const creds = g.credentialsForDoor(f.db, f.gym.id, f.ctx);
    expect(creds.map((c) => [c.kind, c.end])).toEqual([
      ['doorcode', end],
      ['daily', end],
      ['keycard', null],
    ]);
  });

  it('includes future starts, drops grants that expired before now, and keeps them until then', () => {
    const f = fixture();
    const start = minute(f.clock.t + 2 * DAY);
    const future = resident(f, { email: 'future@example.com', keyIds: [f.entrances.id], start }).person;
    const endsSoon = minute(f.clock.t + HOUR);
    const soon = resident(f, { email: 'soon@example.com', keyIds: [f.entrances.id], end: endsSoon }).person;
    const holders = () => g.credentialsForDoor(f.db, f.lobby.id, f.ctx).map((c) => c.holder);
    expect(holders()).toEqual([future.holderRef, soon.holderRef]);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)[0]).toMatchObject({ start, end: null });
    f.clock.t = endsSoon * 60_000 - 1; // last millisecond of the last valid minute
    expect(holders()).toEqual([future.holderRef, soon.holderRef]);
    f.clock.t = endsSoon * 60_000;
    expect(holders()).toEqual([future.holderRef]);
  });

  it('merges overlapping windows from several keys into one entry per credential', () => {
    const f = fixture();
    const k2 = g.createKey(f.db, f.prop.id, { name: 'Lobby too', kind: 'communal', doorIds: [f.lobby.id], mayShare: false, doorcodesDisabled: false }, f.ctx);
    const t = minute(f.clock.t);
    const p = resident(f, { keyIds: [f.entrances.id], end: t + 100 }).person;
    g.addGrants(f.db, p.id, { keyIds: [k2.id], start: t + 50, end: t + 300 }, f.ctx);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)).toEqual([
      expect.objectContaining({ kind: 'doorcode', holder: p.holderRef, start: null, end: t + 300 }),
    ]);
  });

  it('with disjoint windows, picks the earliest that has not ended (never bridges the gap)', () => {
    const f = fixture();
    const k2 = g.createKey(f.db, f.prop.id, { name: 'Lobby too', kind: 'communal', doorIds: [f.lobby.id], mayShare: false, doorcodesDisabled: false }, f.ctx);
    const t = minute(f.clock.t);
    const p = resident(f, { keyIds: [f.entrances.id], end: t + 100 }).person;
    g.addGrants(f.db, p.id, { keyIds: [k2.id], start: t + 200, end: t + 300 }, f.ctx);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)[0]).toMatchObject({ start: null, end: t + 100 });
    f.clock.t = (t + 150) * 60_000;
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)[0]).toMatchObject({ start: t + 200, end: t + 300 });
  });

  it('leaves out deactivated keycards and revoked phone keys', () => {
    const f = fixture();
    const p = resident(f, { keyIds: [f.entrances.id] }).person;
    const card = g.activateKeycard(f.db, p.id, '04a1b2c3', f.ctx);
    const phone = g.addPhoneKey(f.db, p.id, { publicKey: '22'.repeat(32) }, f.ctx);
    g.deactivateKeycard(f.db, card.id, f.ctx);
    g.revokePhoneKey(f.db, phone.id, f.ctx);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).map((c) => c.kind)).toEqual(['doorcode']);
  });

  it('is deterministic: same store, same list, sorted by kind then holder', () => {
    const f = fixture();
    for (let i = 0; i < 12; i++) {
      const p = resident(f, { email: `p${i}@example.com`, keyIds: [f.entrances.id], accessType: i % 3 === 0 ? 'doorcode' : 'app' }).person;
      if (i % 2 === 0) g.activateKeycard(f.db, p.id, (0x04000000 + i).toString(16).padStart(8, '0'), f.ctx);
    }
    const a = g.credentialsForDoor(f.db, f.lobby.id, f.ctx);
    const b = g.credentialsForDoor(f.db, f.lobby.id, f.ctx);
    expect(a).toEqual(b);
    const order = { doorcode: 0, daily: 1, keycard: 2, phone: 3 };
    const keys = a.map((c) => [order[c.kind], c.holder]);
    expect(keys).toEqual([...keys].sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!));
  });

  it('credentialsForProperty gives every door exactly what credentialsForDoor gives it', () => {
    const f = fixture();
    const host = resident(f, { dailyDoorcode: true, keyIds: [f.entrances.id, f.amenities.id, f.key4b.id], end: minute(f.clock.t + 9 * DAY) }).person;
    g.activateKeycard(f.db, host.id, '04a1b2c3', f.ctx);
    g.addPhoneKey(f.db, host.id, { publicKey: '33'.repeat(32) }, f.ctx);
    g.inviteGuest(f.db, host.id, { email: 'g@example.com', firstName: 'G', lastName: 'G', keyIds: [f.key4b.id], start: minute(f.clock.t + DAY) }, f.ctx);
    resident(f, { email: 'old@example.com', keyIds: [f.entrances.id], end: minute(f.clock.t + HOUR) });
    resident(f, { email: 'code@example.com', accessType: 'doorcode', keyIds: [f.amenities.id, f.entrances.id] });
    f.clock.t += 2 * HOUR;
    const bulk = g.credentialsForProperty(f.db, f.prop.id, f.ctx);
    expect([...bulk.keys()]).toEqual([f.lobby.id, f.gym.id, f.door4b.id]);
    for (const [doorId, creds] of bulk) expect(creds, `door ${doorId}`).toEqual(g.credentialsForDoor(f.db, doorId, f.ctx));
    expect(bulk.get(f.door4b.id)!.length).toBeGreaterThan(0);
    expect(codeOf(() => g.credentialsForProperty(f.db, 999, f.ctx))).toBe('PROPERTY_NOT_FOUND');
  });

  it('throws DOOR_NOT_FOUND for an unknown door', () => {
    const f = fixture();
    expect(codeOf(() => g.credentialsForDoor(f.db, 9999, f.ctx))).toBe('DOOR_NOT_FOUND');
  });
});

describe('effectiveWindow (property)', () => {
  const bound = fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null });
  const interval = fc.tuple(bound, bound).map(([a, b]) => (a !== null && b !== null && a > b ? { start: b, end: a } : { start: a, end: b }));
  const inside = (t: number, i: { start: number | null; end: number | null }) => (i.start === null || i.start <= t) && (i.end === null || t < i.end);

  it('never grants a minute no interval grants, and keeps every granted minute from now until its first gap', () => {
    fc.assert(
      fc.property(fc.array(interval, { maxLength: 6 }), fc.integer({ min: 0, max: 1000 }), (intervals, now) => {
        const w = g.effectiveWindow(intervals, now);
        for (let t = now; t <= 1001; t++) {
          const covered = intervals.some((i) => inside(t, i));
          if (w && inside(t, w)) expect(covered).toBe(true);
        }
        if (intervals.some((i) => inside(now, i))) {
          // Access that works now must keep working until the union of windows has a gap.
          expect(w).not.toBeNull();
          let t = now;
          while (t <= 1001 && intervals.some((i) => inside(t, i))) {
            expect(inside(t, w!)).toBe(true);
            t++;
          }
        }
      }),
    );
  });
});

describe('window boundaries: when a door must compile again for a window its set cannot hold', () => {
  it('the end of the chosen window when the same person has a later one; null when windows merge or nothing follows', () => {
    const f = fixture();
    const t0 = f.clock.t;
    const t = (d: number) => minute(t0 + d * DAY);
    const boundary = () => g.doorWindowBoundary(f.db, f.lobby.id, f.ctx);
    const both = () => {
      const m = new Map<number, number | null>();
      g.credentialsForProperty(f.db, f.prop.id, f.ctx, m);
      return m.get(f.lobby.id);
    };
    const p = resident(f, { keyIds: [f.entrances.id], start: t(1), end: t(2) }).person;
    expect(boundary()).toBeNull();
    // A second key to the lobby, its window two days after the first: disjoint.
    const later = g.createKey(f.db, f.prop.id, { name: 'Lobby later', kind: 'communal', doorIds: [f.lobby.id], mayShare: false, doorcodesDisabled: false }, f.ctx);
    g.addGrants(f.db, p.id, { keyIds: [later.id], start: t(4), end: t(5) }, f.ctx);
    expect(boundary()).toBe(t(2));
    expect(both()).toBe(t(2));
    // The set holds the first window, never the gap.
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).filter((c) => c.holder === p.holderRef).map((c) => [c.start, c.end])).toEqual([[t(1), t(2)]]);
    // After the first ends, the next is the one compiled and nothing follows it.
    f.clock.t = t0 + 3 * DAY;
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).filter((c) => c.holder === p.holderRef).map((c) => [c.start, c.end])).toEqual([[t(4), t(5)]]);
    expect(boundary()).toBeNull();
    // Touching windows merge into one entry: no boundary.
    const q = resident(f, { email: 'q@example.com', keyIds: [f.entrances.id], start: t(6), end: t(7) }).person;
    g.addGrants(f.db, q.id, { keyIds: [later.id], start: t(7), end: t(8) }, f.ctx);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).filter((c) => c.holder === q.holderRef).map((c) => [c.start, c.end])).toEqual([[t(6), t(8)]]);
    expect(boundary()).toBeNull();
  });

  it('a scheduled window valid now is kept over a later unscheduled one, which is compiled in when it starts', () => {
    const f = fixture();
    const cleaning = g.createKey(f.db, f.prop.id, { name: 'Cleaning', kind: 'communal', doorIds: [f.lobby.id], mayShare: false, doorcodesDisabled: false, schedule: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' } }, f.ctx);
    const now = minute(f.clock.t);
    const p = resident(f, { keyIds: [cleaning.id], start: now, end: now + 30 * 1440 }).person;
    g.addGrants(f.db, p.id, { keyIds: [f.entrances.id], start: now + 10 * 1440, end: now + 20 * 1440 }, f.ctx);
    const windows = () => g.credentialsForDoor(f.db, f.lobby.id, f.ctx).filter((c) => c.holder === p.holderRef).map((c) => [c.start, c.end, c.schedule === null]);
    // The person keeps the access valid now (the unscheduled grant used to win and start in 10 days).
    expect(windows()[0]).toEqual([now, now + 30 * 1440, false]);
    // The door compiles again when the unscheduled window starts, and then that one is chosen.
    expect(g.doorWindowBoundary(f.db, f.lobby.id, f.ctx)).toBe(now + 10 * 1440);
    f.clock.t += 10 * DAY;
    expect(windows()[0]).toEqual([now + 10 * 1440, now + 20 * 1440, true]);
    expect(g.doorWindowBoundary(f.db, f.lobby.id, f.ctx)).toBe(now + 20 * 1440);
  });

  it('a due boundary journals the door once and clears it', () => {
    const f = fixture();
    f.db.prepare('UPDATE door_sync_state SET window_boundary_min = ? WHERE door_id = ?').run(minute(f.clock.t) + 10, f.lobby.id);
    expect(g.journalDueWindows(f.db, { ctx: f.ctx })).toEqual([]);
    f.clock.t += 10 * 60_000;
    expect(g.journalDueWindows(f.db, { ctx: f.ctx })).toEqual([f.lobby.id]);
    expect(g.journalDueWindows(f.db, { ctx: f.ctx })).toEqual([]);
    expect(g.doorChanges(f.db, f.lobby.id)[0]!.reason).toMatch(/^a window ended/);
  });
});
