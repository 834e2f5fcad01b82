import { afterEach, describe, expect, it } from 'vitest';
import { dailyCode, localDay } from '@latchkit/protocol';
import * as g from '../../gateway/src/index.js';
import { dailyCodeMessages, listNotifications } from '../../gateway/src/flows/notifications.js';
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
  });
});
