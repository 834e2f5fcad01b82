/**
 * Every list route says its total in `X-Total-Count` (the body stays a JSON array for existing
 * clients); routes that used to return everything take limit/offset and still return all without.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { apiFixture } from './api-helpers.js';

let f: Awaited<ReturnType<typeof apiFixture>>;

beforeAll(async () => {
  f = await apiFixture();
  for (let i = 0; i < 7; i++) g.createUnit(f.db, f.prop.id, { name: `U${i}` }, f.ctx);
  for (let i = 0; i < 5; i++) g.createKey(f.db, f.prop.id, { name: `K${i}`, kind: 'communal', doorIds: [f.lobby.id], mayShare: false, doorcodesDisabled: false }, f.ctx);
  for (let i = 0; i < 12; i++) {
    g.invitePerson(f.db, f.prop.id, { email: `p${i}@example.com`, firstName: 'P', lastName: `N${String(i).padStart(2, '0')}`, accessType: 'app', keyIds: [f.entrances.id] }, f.ctx);
  }
});

afterAll(async () => {
  await f?.app.close();
});

async function get(url: string) {
  const res = await f.app.inject({ method: 'GET' as InjectOptions['method'], url, headers: { authorization: `Bearer ${f.tokens.km}` } });
  return { status: res.statusCode, body: JSON.parse(res.body), total: res.headers['x-total-count'] };
}

describe('X-Total-Count and limit/offset', () => {
  it('people: a page smaller than the total', async () => {
    const all = await get(`${f.base}/people`);
    expect(all.total).toBe('12');
    expect(all.body).toHaveLength(12);
    const page = await get(`${f.base}/people?limit=5&offset=10`);
    expect(page.status).toBe(200);
    expect(page.total).toBe('12');
    expect(page.body.map((p: { lastName: string }) => p.lastName)).toEqual(['N10', 'N11']);
  });

  it('units and keys: all without limit (as before), a page with it, the total either way', async () => {
    const units = await get(`${f.base}/units`);
    expect(Array.isArray(units.body)).toBe(true);
    expect(units.body).toHaveLength(8);
    expect(units.total).toBe('8');
    const page = await get(`${f.base}/units?limit=3&offset=2`);
    expect(page.body.map((u: { id: number }) => u.id)).toEqual(units.body.slice(2, 5).map((u: { id: number }) => u.id));
    expect(page.total).toBe('8');

    const keys = await get(`${f.base}/keys?limit=2`);
    expect(keys.body).toHaveLength(2);
    expect(keys.total).toBe('8');
    expect((await get(`${f.base}/keys?offset=7`)).body).toHaveLength(1);
  });

  it('doors keep their filters; grants, properties and sync tasks carry the total', async () => {
    const doors = await get(`${f.base}/doors?connectivity=offline&limit=1`);
    expect(doors.body).toHaveLength(1);
    expect(doors.total).toBe('2');
    const person = (await get(`${f.base}/people?limit=1`)).body[0];
    const grants = await get(`${f.base}/people/${person.id}/grants`);
    expect(grants.total).toBe(String(grants.body.length));
    expect((await get('/properties')).total).toBe('1'); // this token sees its own property only
    const tasks = await get(`${f.base}/sync-tasks`);
    expect(tasks.total).toBe(String(tasks.body.length));
  });

  it('activity pages with a cursor; the total is every matching entry', async () => {
    const first = await get(`${f.base}/activity?limit=5`);
    expect(first.body.entries).toHaveLength(5);
    const total = Number(first.total);
    expect(total).toBeGreaterThan(5);
    const next = await get(`${f.base}/activity?limit=5&before=${first.body.nextBefore}`);
    expect(next.total).toBe(String(total));
    const access = await get(`${f.base}/activity?kind=access&limit=1`);
    expect(Number(access.total)).toBe(g.countActivity(f.db, f.prop.id, { kind: 'access' }));
  });

  it('notifications, suggestions and alerts carry the total of their filters', async () => {
    const n = await get(`${f.base}/notifications?limit=2`);
    expect(n.body).toHaveLength(2);
    expect(Number(n.total)).toBeGreaterThanOrEqual(12);
    const s = await get(`${f.base}/access-suggestions?limit=1`);
    expect(s.total).toBe(String(s.body.length));
    const a = await get(`${f.base}/alerts?limit=1`);
    expect(a.total).toBe(String(a.body.length));
  });

  it('tokens and CSV imports (and an import\'s rows) carry their total and page', async () => {
    const asPortfolio = async (url: string) => {
      const res = await f.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${f.tokens.portfolio}` } });
      return { body: JSON.parse(res.body), total: res.headers['x-total-count'] };
    };
    const tokens = await asPortfolio('/tokens');
    expect(tokens.total).toBe(String(tokens.body.length));
    expect(tokens.body.length).toBeGreaterThan(2);
    const page = await asPortfolio('/tokens?limit=2&offset=1');
    expect(page.body.map((t: { id: number }) => t.id)).toEqual(tokens.body.slice(1, 3).map((t: { id: number }) => t.id));
    expect(page.total).toBe(tokens.total);

    for (let i = 0; i < 3; i++) g.createImport(f.db, f.prop.id, { csv: `First Name,Last Name,Email\nA,B,imp${i}@example.com\nC,D,bad-email\n` }, f.ctx);
    const imports = await get(`${f.base}/imports?limit=2`);
    expect(imports.body).toHaveLength(2);
    expect(imports.total).toBe('3');
    const rest = await get(`${f.base}/imports?limit=2&offset=2`);
    expect(rest.body).toHaveLength(1);
    expect(rest.body[0].id).toBeLessThan(imports.body[1].id); // newest first
    const rows = await get(`${f.base}/imports/${rest.body[0].id}/rows?limit=1`);
    expect([rows.body.length, rows.total]).toEqual([1, '2']);
    expect((await get(`${f.base}/imports/${rest.body[0].id}/rows?status=error`)).total).toBe('1');
  });

  it('a bad limit or offset is refused', async () => {
    expect((await get(`${f.base}/keys?limit=0`)).status).toBe(400);
    expect((await get(`${f.base}/units?offset=-1`)).status).toBe(400);
  });
});
