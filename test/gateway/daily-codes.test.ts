import { afterEach, describe, expect, it, vi } from 'vitest';
import * as credentials from '../../gateway/src/model/credentials.js';
import { dailyCode, localDay } from '@latchkit/protocol';
import * as g from '../../gateway/src/index.js';
import { DailyMessageScheduler, dailyCodeMessages, listNotifications, queueDailyMessages } from '../../gateway/src/flows/notifications.js';
import { apiFixture } from './api-helpers.js';
import { cliIn, codeOf, fixture, resident, tempDir, T0 } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('daily doorcodes', () => {
  it("gives a doorcode-only invitee today's code in the property's time, as the lock derives it", () => {
    const f = fixture();
    const r = resident(f, { accessType: 'doorcode' });
    const p = r.person;
    // T0 is 2025-06-01T12:00Z; the property is UTC-5, so its local day is still 2025-06-01.
    const d = g.personDailyDoorcode(f.db, p.id, undefined, f.ctx);
    expect(d.date).toBe('2025-06-01');
    const secret = g.propertySecrets(f.db, f.prop.id).daily;
    expect(d.code).toBe(dailyCode(secret, p.holderRef, localDay(Math.floor(T0 / 60_000), -300)));
    expect(d.doorIds).toEqual([f.lobby.id, f.door4b.id]);
    // Just after midnight UTC it is still the evening before at the property.
    f.clock.t = Date.UTC(2025, 5, 2, 3, 0);
    expect(g.personDailyDoorcode(f.db, p.id, undefined, f.ctx).date).toBe('2025-06-01');
    const next = g.personDailyDoorcode(f.db, p.id, '2025-06-02', f.ctx);
    expect(next.code).toBe(dailyCode(secret, p.holderRef, localDay(Math.floor(Date.UTC(2025, 5, 2, 12) / 60_000), -300)));
    expect(codeOf(() => g.personDailyDoorcode(f.db, p.id, '2025-02-30', f.ctx))).toBe('INVALID_TIME');
  });

  it('refuses a person without a daily code with a stable code', () => {
    const f = fixture();
    const p = resident(f).person;
    expect(codeOf(() => g.personDailyDoorcode(f.db, p.id, undefined, f.ctx))).toBe('NO_DAILY_DOORCODE');
  });

  it('renders one daily message per daily-code person with the code and the doors, the same each time', () => {
    const f = fixture();
    const jane = resident(f, { accessType: 'doorcode' }).person;
    resident(f, { email: 'bob@example.com', firstName: 'Bob' });
    const msgs = dailyCodeMessages(f.db, f.prop.id, undefined, f.ctx);
    expect(msgs).toHaveLength(1);
    const code = g.personDailyDoorcode(f.db, jane.id, undefined, f.ctx).code;
    expect(msgs[0]).toMatchObject({ personId: jane.id, email: 'jane@example.com', date: '2025-06-01', code });
    expect(msgs[0]!.body).toContain(code);
    expect(msgs[0]!.body).toContain('Lobby, 4B front door');
    expect(dailyCodeMessages(f.db, f.prop.id, undefined, f.ctx)).toEqual(msgs);
  });

  it('names only doors whose weekly schedule includes that local weekday', () => {
    const f = fixture();
    const weekdays = g.createKey(f.db, f.prop.id, { name: 'Weekdays', kind: 'communal', doorIds: [f.lobby.id], mayShare: false, doorcodesDisabled: false, schedule: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' } }, f.ctx);
    const jane = resident(f, { accessType: 'doorcode', keyIds: [weekdays.id] }).person;
    // 2025-06-01 is a Sunday: the schedule opens nothing, so there is no message.
    expect(dailyCodeMessages(f.db, f.prop.id, '2025-06-01', f.ctx)).toEqual([]);
    expect(dailyCodeMessages(f.db, f.prop.id, '2025-06-02', f.ctx)).toMatchObject([{ personId: jane.id, doorIds: [f.lobby.id] }]);
  });

  it('tells a doorcode-only invitee in the welcome message how they get their code', () => {
    const f = fixture();
    resident(f, { accessType: 'doorcode' });
    resident(f, { email: 'bob@example.com', firstName: 'Bob' });
    const [jane, bob] = listNotifications(f.db, f.prop.id);
    expect(jane!.body).toContain('daily doorcode');
    expect(jane!.body).toContain("Each day's code is sent to this email address");
    expect(jane!.body).not.toContain('Install the DOOR App');
    expect(bob!.body).toContain('Install the DOOR App');
  });
});

describe('daily messages in the outbox', () => {
  it('queues one message per daily-code person whose grant opens a door that local day; a repeat queues nothing', () => {
    const f = fixture();
    const jane = resident(f, { accessType: 'doorcode' }).person;
    // Kim's access starts on 2025-06-03 at 09:00 local (UTC-5), Lee's ended on 2025-05-31.
    const kim = resident(f, { email: 'kim@example.com', firstName: 'Kim', accessType: 'doorcode', start: Date.UTC(2025, 5, 3, 14) / 60_000 }).person;
    const lee = resident(f, { email: 'lee@example.com', firstName: 'Lee', accessType: 'doorcode' }).person;
    for (const gr of g.listGrants(f.db, lee.id)) g.updateGrant(f.db, gr.id, { end: Date.UTC(2025, 4, 31) / 60_000 }, f.ctx);
    resident(f, { email: 'bob@example.com', firstName: 'Bob' }); // an app user: no daily code
    const daily = () => listNotifications(f.db, f.prop.id, { kind: 'daily' });
    expect(queueDailyMessages(f.db, f.prop.id, undefined, f.ctx)).toEqual({ date: '2025-06-01', queued: 1, already: 0 });
    expect(queueDailyMessages(f.db, f.prop.id, undefined, f.ctx)).toEqual({ date: '2025-06-01', queued: 0, already: 1 });
    const [today] = daily();
    const code = g.personDailyDoorcode(f.db, jane.id, '2025-06-01', f.ctx).code;
    expect(today).toMatchObject({ kind: 'daily', localDay: '2025-06-01', personId: jane.id, email: 'jane@example.com', sentAt: null });
    expect(today!.body).toContain(`is ${code}.`);
    expect(today!.body).toContain('It opens: Lobby, 4B front door.');
    expect(daily()).toHaveLength(1);
    // Kim's first day: the day her access starts, not before.
    expect(queueDailyMessages(f.db, f.prop.id, '2025-06-02', f.ctx).queued).toBe(1);
    expect(queueDailyMessages(f.db, f.prop.id, '2025-06-03', f.ctx).queued).toBe(2);
    expect(daily().filter((n) => n.personId === kim.id).map((n) => n.localDay)).toEqual(['2025-06-03']);
    // A bad date is refused and queues nothing.
    expect(codeOf(() => queueDailyMessages(f.db, f.prop.id, '2025-06-31', f.ctx))).toBe('INVALID_TIME');
    expect(daily()).toHaveLength(4);
    // A person whose daily code is turned off later: the queued message reads as withdrawn.
    g.setDailyDoorcode(f.db, jane.id, false, f.ctx);
    expect(listNotifications(f.db, f.prop.id, { kind: 'daily', personId: jane.id })[0]!.subject).toMatch(/^Withdrawn/);
  });

  it('a repeat for the same day derives no code: people with a message for the day are not looked at again', () => {
    const f = fixture();
    for (let i = 0; i < 3; i++) resident(f, { email: `d${i}@example.com`, accessType: 'doorcode' });
    expect(queueDailyMessages(f.db, f.prop.id, undefined, f.ctx)).toMatchObject({ queued: 3, already: 0 });
    const derive = vi.spyOn(credentials, 'personDailyDoorcode');
    cleanups.push(() => derive.mockRestore());
    expect(queueDailyMessages(f.db, f.prop.id, undefined, f.ctx)).toEqual({ date: '2025-06-01', queued: 0, already: 3 });
    expect(derive).not.toHaveBeenCalled();
    // Someone invited later that day is still queued on the next tick.
    resident(f, { email: 'late@example.com', accessType: 'doorcode' });
    expect(queueDailyMessages(f.db, f.prop.id, undefined, f.ctx)).toEqual({ date: '2025-06-01', queued: 1, already: 3 });
  });

  it('the scheduler queues each local day once, in the property time zone', () => {
    const f = fixture();
    const jane = resident(f, { accessType: 'doorcode' }).person;
    const s = new DailyMessageScheduler({ db: f.db, ctx: f.ctx });
    expect(s.tick()).toEqual([{ propertyId: f.prop.id, date: '2025-06-01', queued: 1 }]);
    f.clock.t = Date.UTC(2025, 5, 2, 4, 59); // 23:59 on 2025-06-01 at UTC-5
    expect(s.tick()).toEqual([{ propertyId: f.prop.id, date: '2025-06-01', queued: 0 }]);
    f.clock.t = Date.UTC(2025, 5, 2, 5, 0); // local midnight
    expect(s.tick()).toEqual([{ propertyId: f.prop.id, date: '2025-06-02', queued: 1 }]);
    expect(listNotifications(f.db, f.prop.id, { kind: 'daily', personId: jane.id }).map((n) => n.localDay)).toEqual(['2025-06-01', '2025-06-02']);
  });

  it('API: Key Management queues and reads the codes; other tokens see the messages without the code', async () => {
    const a = await apiFixture();
    try {
      const p = resident(a, { accessType: 'doorcode' }).person;
      const url = `${a.base}/notifications/daily`;
      expect((await a.call('pm', 'POST', url, {})).code).toBe('KEY_MANAGEMENT_REQUIRED');
      expect((await a.call('km', 'POST', url, { date: '2025-13-01' })).code).toBe('INVALID_TIME');
      expect(listNotifications(a.db, a.prop.id, { kind: 'daily' })).toHaveLength(0);
      const q = await a.call('km', 'POST', url, { date: '2025-06-02' });
      expect([q.status, q.body]).toEqual([200, { date: '2025-06-02', queued: 1, already: 0 }]);
      expect((await a.call('km', 'POST', url, { date: '2025-06-02' })).body).toEqual({ date: '2025-06-02', queued: 0, already: 1 });
      const code = g.personDailyDoorcode(a.db, p.id, '2025-06-02', a.ctx).code;
      const km = await a.call('km', 'GET', `${a.base}/notifications?kind=daily`);
      expect(km.body).toHaveLength(1);
      expect(km.body[0]).toMatchObject({ kind: 'daily', localDay: '2025-06-02', personId: p.id });
      expect(km.body[0].body).toContain(code);
      const pm = await a.call('pm', 'GET', `${a.base}/notifications?kind=daily`);
      expect(pm.body[0].subject).toBe(km.body[0].subject);
      expect(pm.body[0].body).not.toContain(code);
      const welcome = await a.call('pm', 'GET', `${a.base}/notifications?kind=welcome`);
      expect(welcome.body.map((n: { kind: string }) => n.kind)).toEqual(['welcome']);
    } finally {
      await a.app.close();
    }
  });
});

describe('daily doorcode API', () => {
  it('shows the code to Key Management tokens only', async () => {
    const a = await apiFixture();
    const p = resident(a, { accessType: 'doorcode' }).person;
    const url = `${a.base}/people/${p.id}/daily-doorcode`;
    const ok = await a.call('km', 'GET', `${url}?date=2025-06-03`);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual(g.personDailyDoorcode(a.db, p.id, '2025-06-03', a.ctx));
    expect((await a.call('pm', 'GET', url)).code).toBe('KEY_MANAGEMENT_REQUIRED');
    expect((await a.call('readOnly', 'GET', url)).status).toBe(403);
    expect((await a.call('km', 'GET', `${url}?date=tomorrow`)).status).toBe(400);
    const app = resident(a, { email: 'bob@example.com' }).person;
    const none = await a.call('km', 'GET', `${a.base}/people/${app.id}/daily-doorcode`);
    expect([none.status, none.code]).toEqual([422, 'NO_DAILY_DOORCODE']);
    await a.app.close();
  });
});

describe('daily doorcode CLI', () => {
  it('prints the daily code and the daily messages', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const { run, json } = cliIn(t.dir);
    const prop = await json('property', 'create', '--name', 'Elm Court', '--utc-offset', '0');
    const lobby = await json('door', 'create', '--property', String(prop.id), '--name', 'Lobby', '--lock-id', '00000000000000a1');
    const key = await json('key', 'create', '--property', String(prop.id), '--name', 'Entrances', '--doors', String(lobby.id), '--communal');
    const inv = await json('person', 'invite', '--property', String(prop.id), '--email', 'jo@example.com', '--first', 'Jo', '--last', 'Lee', '--keys', String(key.id), '--doorcode-only');
    const pid = String(inv.person.id);
    const d = await json('doorcode', 'daily-code', pid, '--date', '2026-01-05');
    expect(d).toMatchObject({ personId: inv.person.id, date: '2026-01-05', doorIds: [lobby.id] });
    expect(d.code).toMatch(/^[0-9]{6}$/);
    const shown = await json('doorcode', 'show', pid);
    expect(shown.dailyDoorcode).toBe(true);
    expect(shown.dailyCodeToday).toMatch(/^[0-9]{6}$/);
    const msgs = await json('doorcode', 'send-daily', '--property', String(prop.id), '--date', '2026-01-05');
    expect(msgs).toHaveLength(1);
    expect(msgs[0].body).toContain(d.code);
    const text = await run('doorcode', 'send-daily', '--property', String(prop.id), '--date', '2026-01-05');
    expect(text.out).toContain('To: jo@example.com');
    expect(await json('doorcode', 'queue-daily', '--property', String(prop.id), '--date', '2026-01-05')).toEqual({ date: '2026-01-05', queued: 1, already: 0 });
    expect((await run('doorcode', 'queue-daily', '--property', String(prop.id), '--date', '2026-01-05')).out).toBe('2026-01-05: queued 0 daily message(s), 1 already queued');
    const outbox = await json('notification', 'list', '--property', String(prop.id), '--full');
    expect(outbox.filter((n: { kind: string }) => n.kind === 'daily').map((n: { body: string }) => n.body.includes(d.code))).toEqual([true]);
  });
});
