import { afterEach, describe, expect, it, vi } from 'vitest';
import * as notifications from '../../gateway/src/flows/notifications.js';
import { buildProgram, type CliIo } from '../../gateway/src/cli/main.js';
import * as g from '../../gateway/src/index.js';
import { cliIn, fixture, resident, tempDirPerTest } from './helpers.js';
import type { Command } from 'commander';

const tempDirFor = tempDirPerTest();
afterEach(() => {
  vi.restoreAllMocks();
});

function cli() {
  const c = cliIn(tempDirFor());
  return { dir: c.dir, run: c.run, json: c.jsonWithErr };
}

describe('CLI help and lists', () => {
  it('every command and subcommand has a description, and so has every option', () => {
    const io: CliIo = { out: () => {}, err: () => {}, cwd: '.', env: {} };
    const missing: string[] = [];
    const walk = (c: Command, path: string) => {
      for (const sub of c.commands) {
        const name = `${path} ${sub.name()}`.trim();
        if (!sub.description()) missing.push(name);
        for (const o of sub.options) if (!o.description) missing.push(`${name} ${o.flags}`);
        walk(sub, name);
      }
    };
    walk(buildProgram(io), '');
    expect(missing).toEqual([]);
  });

  it('pages person, door and activity lists and says how many more there are', async () => {
    const c = cli();
    const prop = (await c.json('property', 'create', '--name', 'Elm Court', '--utc-offset', '0')).data;
    const p = String(prop.id);
    for (let i = 0; i < 5; i++) await c.json('door', 'create', '--property', p, '--name', `Door ${i}`, '--lock-id', `00000000000000a${i}`);
    const key = (await c.json('key', 'create', '--property', p, '--name', 'All', '--doors', '1,2,3,4,5', '--communal')).data;
    for (let i = 0; i < 7; i++) {
      await c.json('person', 'invite', '--property', p, '--email', `p${i}@example.com`, '--first', `P${i}`, '--last', `L${i}`, '--keys', String(key.id));
    }
    const first = await c.run('person', 'list', '--property', p, '--limit', '3');
    expect(first.code).toBe(0);
    expect(first.out).toContain('4 more; use --offset 3');
    const last = await c.json('person', 'list', '--property', p, '--limit', '3', '--offset', '6');
    expect(last.data.map((r: { email: string }) => r.email)).toEqual(['p6@example.com']);
    expect(last.err).toBe('');
    const mid = await c.json('person', 'list', '--property', p, '--limit', '3', '--offset', '3');
    expect(mid.data).toHaveLength(3);
    expect(mid.err).toContain('1 more; use --offset 6');
    const doors = await c.run('door', 'list', '--property', p, '--limit', '2', '--offset', '1');
    expect(doors.out).toContain('Door 1');
    expect(doors.out).not.toContain('Door 0');
    expect(doors.out).toContain('2 more; use --offset 3');
    const act = await c.run('activity', '--property', p, '--limit', '2');
    expect(act.out).toMatch(/\d+ more; use --offset 2/);
    const all = await c.run('person', 'list', '--property', p);
    expect(all.out).not.toContain('more; use --offset');
  });

  it('summarises a long list of doors to sync', async () => {
    const c = cli();
    const p = String((await c.json('property', 'create', '--name', 'Big', '--utc-offset', '0')).data.id);
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) ids.push((await c.json('door', 'create', '--property', p, '--name', `D${i}`, '--lock-id', `00000000000001${i.toString(16).padStart(2, '0')}`)).data.id);
    const key = (await c.json('key', 'create', '--property', p, '--name', 'All', '--doors', ids.join(','), '--communal')).data;
    const r = await c.run('person', 'invite', '--property', p, '--email', 'a@example.com', '--first', 'A', '--last', 'B', '--keys', String(key.id));
    expect(r.out).toContain(`12 doors to sync: ${ids.slice(0, 10).join(', ')}, …`);
    expect(r.out).not.toContain(`, ${ids[11]}`);
  });
});

describe('grey Automated Access suggestions', () => {
  it('are listed but not counted as pending', () => {
    const f = fixture();
    const { db, prop } = f;
    const person = resident(f).person;
    const k = f.entrances;
    const add = (action: string, keyId: number | null) =>
      db
        .prepare(
          "INSERT INTO access_suggestions (property_id, person_id, key_id, action, reason, detail, start_min, state, created_at) VALUES (?, ?, ?, ?, 'current', 'x', NULL, 'pending', 0)",
        )
        .run(prop.id, person.id, keyId, action);
    add('none', null);
    expect(g.pendingSuggestionCount(db, prop.id)).toBe(0);
    add('grant', k.id);
    expect(g.pendingSuggestionCount(db, prop.id)).toBe(1);
    expect(g.listSuggestions(db, prop.id, { state: 'pending' })).toHaveLength(2);
  });

  it('notification list counts the rest in SQL instead of rendering every remaining message', async () => {
    const c = cli();
    const p = String((await c.json('property', 'create', '--name', 'Elm Court', '--time-zone', 'UTC')).data.id);
    await c.json('door', 'create', '--property', p, '--name', 'Lobby', '--lock-id', '00000000000000b1');
    const key = String((await c.json('key', 'create', '--property', p, '--name', 'All', '--doors', '1', '--communal')).data.id);
    for (let i = 0; i < 4; i++) await c.json('person', 'invite', '--property', p, '--email', `p${i}@example.com`, '--first', 'P', '--last', `N${i}`, '--keys', key);
    const list = vi.spyOn(notifications, 'listNotifications');
    const out = await c.run('notification', 'list', '--property', p, '--limit', '1');
    expect(out.out).toContain('3 more; use --offset 1');
    // One page (limit + 1 rows to see that more exist), never the unbounded rest.
    expect(list.mock.calls.map((call) => call[2]?.limit)).toEqual([2]);
  });

  it('token and import lists, and an import\'s rows, stop with "N more; use --offset"', async () => {
    const c = cli();
    const prop = (await c.json('property', 'create', '--name', 'Elm Court', '--time-zone', 'Europe/Paris')).data;
    expect(prop.timeZone).toBe('Europe/Paris');
    const p = String(prop.id);
    for (let i = 0; i < 3; i++) await c.json('token', 'create', '--name', `t${i}`, '--role', 'read_only', '--property', p);
    const tokens = await c.run('token', 'list', '--limit', '2');
    expect(tokens.out).toContain('1 more; use --offset 2');
    const json = await c.json('token', 'list', '--limit', '2', '--offset', '2');
    expect(json.data).toHaveLength(1);
    expect(json.err).toBe('');

    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(c.dir, `f${i}.csv`), `First Name,Last Name,Email\nA,B,a${i}@example.com\nC,D,c${i}@example.com\nE,F,e${i}@example.com\n`);
      await c.json('import', 'upload', '--property', p, join(c.dir, `f${i}.csv`));
    }
    expect((await c.run('import', 'list', '--property', p, '--limit', '1')).out).toContain('2 more; use --offset 1');
    const id = String((await c.json('import', 'list', '--property', p, '--limit', '1')).data[0].id);
    const shown = await c.run('import', 'show', id, '--limit', '2');
    expect(shown.out).toContain('1 more rows; use --offset 2');
    expect((await c.json('import', 'show', id, '--limit', '2', '--offset', '2')).data).toMatchObject({ moreRows: 0, rows: [{ line: 4 }] });
  });
});
