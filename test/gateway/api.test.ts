import { afterEach, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { apiFixture } from './api-helpers.js';
import { resident } from './helpers.js';

type Api = Awaited<ReturnType<typeof apiFixture>>;
const apps: Api[] = [];
async function api(): Promise<Api> {
  const a = await apiFixture();
  apps.push(a);
  return a;
}
afterEach(async () => {
  while (apps.length) {
    const a = apps.pop()!;
    await a.app.close();
    a.db.close();
  }
});

const invite = (a: Api, over: Record<string, unknown> = {}) => ({
  email: 'jane@example.com',
  firstName: 'Jane',
  lastName: 'Doe',
  accessType: 'app',
  isResident: true,
  mayShare: true,
  keyIds: [a.entrances.id, a.key4b.id],
  expiresAt: '2026-05-31',
  ...over,
});

describe('authentication', () => {
  it('requires a valid, unrevoked bearer token', async () => {
    const a = await api();
    expect((await a.call(null, 'GET', '/properties')).code).toBe('UNAUTHENTICATED');
    const bad = await a.app.inject({ method: 'GET', url: '/properties', headers: { authorization: 'Bearer lk_nope' } });
    expect(bad.statusCode).toBe(401);
    expect(JSON.parse(bad.body).error.code).toBe('INVALID_TOKEN');
    const basic = await a.app.inject({ method: 'GET', url: '/properties', headers: { authorization: `Basic ${a.tokens.portfolio}` } });
    expect(JSON.parse(basic.body).error.code).toBe('INVALID_TOKEN');
    const t = g.listTokens(a.db).find((x) => x.name === 'auditor')!;
    expect((await a.call('readOnly', 'GET', '/properties')).status).toBe(200);
    g.revokeToken(a.db, t.tokenId);
    expect((await a.call('readOnly', 'GET', '/properties')).code).toBe('INVALID_TOKEN');
  });

  it('stores only token hashes', () => {
    return api().then((a) => {
      const rows = a.db.prepare('SELECT token_hash AS h FROM api_tokens').all() as { h: string }[];
      for (const secret of Object.values(a.tokens)) {
        expect(rows.some((r) => r.h === secret)).toBe(false);
        expect(rows.some((r) => r.h === g.hashToken(secret))).toBe(true);
      }
    });
  });

  it('serves /health and /openapi.json without a token', async () => {
    const a = await api();
    expect((await a.call(null, 'GET', '/health')).body).toEqual({ ok: true, schemaVersion: g.MIGRATIONS.length });
    expect((await a.call(null, 'GET', '/openapi.json')).status).toBe(200);
  });
});

describe('roles and Key Management permission', () => {
  it('a property manager without Key Management cannot invite, edit, revoke or delete (403 KEY_MANAGEMENT_REQUIRED)', async () => {
    const a = await api();
    const p = resident(a).person;
    const grant = g.listGrants(a.db, p.id)[0]!;
    const attempts: [string, string, unknown?][] = [
      ['POST', `${a.base}/people`, invite(a, { email: 'new@example.com' })],
      ['PATCH', `${a.base}/people/${p.id}`, { phone: '555' }],
      ['POST', `${a.base}/people/${p.id}/grants`, { keyIds: [a.amenities.id] }],
      ['PATCH', `${a.base}/people/${p.id}/grants/${grant.id}`, { expiresAt: '2026-01-01' }],
      ['DELETE', `${a.base}/people/${p.id}/grants/${grant.id}`],
      ['POST', `${a.base}/people/${p.id}/revoke-all`],
      ['DELETE', `${a.base}/people/${p.id}`],
      ['POST', `${a.base}/people/${p.id}/guests`, { email: 'g@example.com', firstName: 'G', lastName: 'G', keyIds: [a.entrances.id] }],
      ['POST', `${a.base}/people/${p.id}/keycards`, { uid: '04a1b2c3' }],
      ['POST', `${a.base}/people/${p.id}/doorcode/reset`],
      ['PUT', `${a.base}/people/${p.id}/daily-doorcode`, { enabled: true }],
      ['POST', `${a.base}/keys`, { name: 'K', kind: 'communal', doorIds: [a.lobby.id] }],
      ['PATCH', `${a.base}/keys/${a.entrances.id}`, { mayShare: false }],
      ['DELETE', `${a.base}/keys/${a.entrances.id}`],
    ];
    for (const [method, url, body] of attempts) {
      const r = await a.call('pm', method as 'GET', url, body);
      expect([method, url, r.status, r.code]).toEqual([method, url, 403, 'KEY_MANAGEMENT_REQUIRED']);
      const ro = await a.call('readOnly', method as 'GET', url, body);
      expect([method, url, ro.status, ro.code]).toEqual([method, url, 403, 'READ_ONLY_TOKEN']);
    }
    // Nothing changed.
    expect(g.getPerson(a.db, p.id, a.ctx).status).toBe('active');
    expect(g.listGrants(a.db, p.id)).toHaveLength(2);
  });

  it('the same actions succeed for a property manager with Key Management and for a portfolio manager', async () => {
    const a = await api();
    for (const who of ['km', 'portfolio'] as const) {
      const email = `${who}@example.com`;
      const r = await a.call(who, 'POST', `${a.base}/people`, invite(a, { email }));
      expect(r.status).toBe(201);
      const id = r.body.person.id as number;
      expect((await a.call(who, 'PATCH', `${a.base}/people/${id}`, { phone: '555' })).status).toBe(200);
      expect((await a.call(who, 'POST', `${a.base}/people/${id}/revoke-all`)).status).toBe(200);
      expect((await a.call(who, 'DELETE', `${a.base}/people/${id}`)).status).toBe(200);
    }
  });

  it('a property manager without Key Management still configures doors and units and reads everything', async () => {
    const a = await api();
    const d = await a.call('pm', 'POST', `${a.base}/doors`, { name: 'Roof', lockId: '00000000000000c1', connectivity: 'offline' });
    expect(d.status).toBe(201);
    expect((await a.call('pm', 'PATCH', `${a.base}/doors/${d.body.id}`, { name: 'Roof deck' })).body.name).toBe('Roof deck');
    expect((await a.call('pm', 'POST', `${a.base}/units`, { name: '5A' })).status).toBe(201);
    expect((await a.call('pm', 'GET', `${a.base}/people`)).status).toBe(200);
    expect((await a.call('readOnly', 'POST', `${a.base}/units`, { name: '5B' })).code).toBe('READ_ONLY_TOKEN');
  });

  it('only portfolio managers create properties and manage tokens', async () => {
    const a = await api();
    expect((await a.call('km', 'POST', '/properties', { name: 'New', utcOffsetMin: 0 })).code).toBe('PORTFOLIO_MANAGER_REQUIRED');
    expect((await a.call('km', 'GET', '/tokens')).code).toBe('PORTFOLIO_MANAGER_REQUIRED');
    const created = await a.call('portfolio', 'POST', '/tokens', { name: 'desk', role: 'property_manager', propertyId: a.prop.id, keyManagement: true });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^lk_/);
    expect(created.body.token).toMatchObject({ role: 'property_manager', keyManagement: true, propertyId: a.prop.id, revokedAt: null });
    const list = await a.call('portfolio', 'GET', '/tokens');
    expect(JSON.stringify(list.body)).not.toContain(created.body.secret);
    expect((await a.call('portfolio', 'POST', '/tokens', { name: 'x', role: 'property_manager' })).code).toBe('INVALID_ARGUMENT');
    expect((await a.call('portfolio', 'DELETE', `/tokens/${created.body.token.id}`)).body.revokedAt).not.toBeNull();
    expect((await a.call('portfolio', 'DELETE', '/tokens/9999')).code).toBe('TOKEN_NOT_FOUND');
    const p = await a.call('portfolio', 'POST', '/properties', { name: 'New', utcOffsetMin: 0 });
    expect(p.status).toBe(201);
  });

  it('property-scoped tokens cannot reach another property', async () => {
    const a = await api();
    expect((await a.call('otherPm', 'GET', `${a.base}/people`)).code).toBe('PROPERTY_OUT_OF_SCOPE');
    expect((await a.call('otherPm', 'POST', `${a.base}/people`, invite(a))).code).toBe('PROPERTY_OUT_OF_SCOPE');
    expect((await a.call('otherPm', 'GET', '/properties')).body.map((p: { id: number }) => p.id)).toEqual([a.other.id]);
    expect((await a.call('readOnly', 'GET', '/properties')).body).toHaveLength(2);
  });
});

describe('bad requests', () => {
  it('schema failures are 400 VALIDATION_FAILED and name the problem', async () => {
    const a = await api();
    const typo = await a.call('km', 'POST', `${a.base}/people`, invite(a, { expiresAT: '2026-01-01' }));
    expect(typo.status).toBe(400);
    expect(typo.code).toBe('VALIDATION_FAILED');
    expect(typo.body.error.message).toContain('expiresAT');
    const missing = await a.call('km', 'POST', `${a.base}/people`, { email: 'x@example.com' });
    expect([missing.status, missing.code]).toEqual([400, 'VALIDATION_FAILED']);
    const wrongEnum = await a.call('km', 'POST', `${a.base}/people`, invite(a, { accessType: 'carrier pigeon' }));
    expect(wrongEnum.code).toBe('VALIDATION_FAILED');
    const emptyKeys = await a.call('km', 'POST', `${a.base}/people`, invite(a, { keyIds: [] }));
    expect(emptyKeys.code).toBe('VALIDATION_FAILED');
    expect((await a.call('km', 'GET', '/properties/abc/people')).code).toBe('INVALID_ID');
    expect((await a.call('km', 'GET', `${a.base}/people?limit=0`)).code).toBe('VALIDATION_FAILED');
    expect((await a.call('km', 'GET', `${a.base}/people?colour=red`)).code).toBe('VALIDATION_FAILED');
    expect((await a.call('km', 'PATCH', `${a.base}/people/1`, {})).code).toBe('VALIDATION_FAILED');
  });

  it('malformed JSON, wrong media type, unknown routes', async () => {
    const a = await api();
    const headers = { authorization: `Bearer ${a.tokens.km}`, 'content-type': 'application/json' };
    const bad = await a.app.inject({ method: 'POST', url: `${a.base}/units`, headers, payload: '{"name": ' });
    expect([bad.statusCode, JSON.parse(bad.body).error.code]).toEqual([400, 'MALFORMED_JSON']);
    const text = await a.app.inject({ method: 'POST', url: `${a.base}/units`, headers: { ...headers, 'content-type': 'text/plain' }, payload: 'name=5A' });
    expect([text.statusCode, JSON.parse(text.body).error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const nowhere = await a.call('km', 'GET', '/nowhere');
    expect([nowhere.status, nowhere.code]).toEqual([404, 'ROUTE_NOT_FOUND']);
  });

  it('model rule violations keep their codes: bad times, windows, lock ids, emails', async () => {
    const a = await api();
    expect((await a.call('km', 'POST', `${a.base}/people`, invite(a, { expiresAt: 'next tuesday' }))).code).toBe('INVALID_TIME');
    expect((await a.call('km', 'POST', `${a.base}/people`, invite(a, { startsAt: '2026-02-01', expiresAt: '2026-01-01' }))).code).toBe('INVALID_WINDOW');
    expect((await a.call('km', 'POST', `${a.base}/people`, invite(a, { expiresAt: '2020-01-01' }))).code).toBe('EXPIRATION_IN_PAST');
    expect((await a.call('km', 'POST', `${a.base}/people`, invite(a, { email: 'nope' }))).code).toBe('INVALID_EMAIL');
    const lock = await a.call('km', 'POST', `${a.base}/doors`, { name: 'X', lockId: 'xx00000000000000', connectivity: 'offline' });
    expect([lock.status, lock.code]).toEqual([400, 'INVALID_LOCK_ID']);
  });

  it('unknown ids are 404, including ids that belong to another property', async () => {
    const a = await api();
    const p = resident(a).person;
    expect((await a.call('km', 'GET', `${a.base}/people/9999`)).code).toBe('PERSON_NOT_FOUND');
    expect((await a.call('portfolio', 'GET', `/properties/${a.other.id}/people/${p.id}`)).code).toBe('PERSON_NOT_FOUND');
    expect((await a.call('portfolio', 'GET', '/properties/9999')).code).toBe('PROPERTY_NOT_FOUND');
    expect((await a.call('km', 'GET', `${a.base}/doors/9999`)).code).toBe('DOOR_NOT_FOUND');
    expect((await a.call('km', 'GET', `${a.base}/keys/9999`)).code).toBe('KEY_NOT_FOUND');
    expect((await a.call('km', 'GET', `${a.base}/units/9999`)).code).toBe('UNIT_NOT_FOUND');
    expect((await a.call('km', 'DELETE', `${a.base}/people/${p.id}/grants/9999`)).code).toBe('GRANT_NOT_FOUND');
    expect((await a.call('km', 'DELETE', `${a.base}/people/${p.id}/keycards/9999`)).code).toBe('KEYCARD_NOT_FOUND');
    expect((await a.call('km', 'DELETE', `${a.base}/people/${p.id}/phone-keys/9999`)).code).toBe('PHONE_KEY_NOT_FOUND');
    expect((await a.call('km', 'DELETE', `${a.base}/people/${p.id}/guests/9999`)).code).toBe('GUEST_NOT_FOUND');
    expect((await a.call('km', 'POST', `${a.base}/people`, invite(a, { email: 'new@example.com', keyIds: [9999] }))).code).toBe('KEY_NOT_FOUND');
    // A grant id of someone else is not this person's grant.
    const other = resident(a, { email: 'bob@example.com' }).person;
    const theirs = g.listGrants(a.db, other.id)[0]!;
    expect((await a.call('km', 'DELETE', `${a.base}/people/${p.id}/grants/${theirs.id}`)).code).toBe('GRANT_NOT_FOUND');
  });

  it('duplicates are 409, sharing-rule refusals 422', async () => {
    const a = await api();
    const p = resident(a).person;
    resident(a, { email: 'bob@example.com' });
    expect((await a.call('km', 'PATCH', `${a.base}/people/${p.id}`, { email: 'BOB@example.com' })).code).toBe('EMAIL_TAKEN');
    const dup = await a.call('pm', 'POST', `${a.base}/doors`, { name: 'X', lockId: '00000000000000a1', connectivity: 'offline' });
    expect([dup.status, dup.code]).toEqual([409, 'LOCK_ID_TAKEN']);
    expect((await a.call('pm', 'DELETE', `${a.base}/doors/${a.lobby.id}`)).code).toBe('DOOR_IN_USE');
    expect((await a.call('km', 'POST', `${a.base}/keys`, { name: 'Amenities', kind: 'communal', doorIds: [a.gym.id] })).code).toBe('KEY_NAME_TAKEN');
    const guest = await a.call('km', 'POST', `${a.base}/people/${p.id}/guests`, { email: 'g@example.com', firstName: 'G', lastName: 'G', keyIds: [a.amenities.id] });
    expect([guest.status, guest.code]).toEqual([422, 'KEY_NOT_SHAREABLE']);
  });
});

describe('flows over HTTP', () => {
  it('invite → edit → guest → revoke-all → re-grant → delete, with activity kept', async () => {
    const a = await api();
    const inv = await a.call('km', 'POST', `${a.base}/people`, invite(a, { startsAt: '2025-06-10T09:00', expiresAt: null }));
    expect(inv.status).toBe(201);
    expect(inv.body.person.status).toBe('scheduled');
    expect(inv.body.warnings.map((w: { code: string }) => w.code)).toEqual(['EXPIRATION_RECOMMENDED']);
    // Local 09:00 at UTC-5 is 14:00Z.
    expect(inv.body.grants[0].startsAt).toBe('2025-06-10T14:00:00.000Z');
    const id = inv.body.person.id as number;
    const again = await a.call('km', 'POST', `${a.base}/people`, invite(a, { email: 'Jane@Example.com', keyIds: [a.amenities.id] }));
    expect([again.status, again.body.created, again.body.person.id]).toEqual([200, false, id]);

    const grants = (await a.call('readOnly', 'GET', `${a.base}/people/${id}/grants`)).body as { id: number; keyId: number }[];
    expect(grants.map((x) => x.keyId).sort()).toEqual([a.entrances.id, a.amenities.id, a.key4b.id].sort());
    const ent = grants.find((x) => x.keyId === a.entrances.id)!;
    const edited = await a.call('km', 'PATCH', `${a.base}/people/${id}/grants/${ent.id}`, { expiresAt: '2026-06-30T23:59:30Z' });
    expect(edited.body).toMatchObject({ expiresAt: '2026-06-30T23:59:00.000Z', affectedDoors: [a.lobby.id] });

    const guest = await a.call('km', 'POST', `${a.base}/people/${id}/guests`, { email: 'gus@example.com', firstName: 'Gus', lastName: 'Guest', keyIds: [a.entrances.id] });
    expect(guest.status).toBe(201);
    const guests = await a.call('readOnly', 'GET', `${a.base}/people/${id}/guests`);
    expect(guests.body.map((e: { guest: { email: string } }) => e.guest.email)).toEqual(['gus@example.com']);

    const revoked = await a.call('km', 'POST', `${a.base}/people/${id}/revoke-all`);
    expect(revoked.body.status).toBe('revoked');
    expect((await a.call('readOnly', 'GET', `${a.base}/people/${guest.body.guest.id}/grants`)).body).toEqual([]);
    expect((await a.call('readOnly', 'GET', `${a.base}/people`)).body).toEqual([]);
    expect((await a.call('readOnly', 'GET', `${a.base}/people?includeExpired=true`)).body.map((p: { id: number }) => p.id).sort()).toEqual(
      [id, guest.body.guest.id].sort(),
    );
    const regrant = await a.call('km', 'POST', `${a.base}/people/${id}/grants`, { keyIds: [a.entrances.id] });
    expect(regrant.status).toBe(200);
    expect((await a.call('readOnly', 'GET', `${a.base}/people/${id}`)).body.person.status).toBe('active');

    const holderRef = inv.body.person.holderRef as number;
    expect((await a.call('km', 'DELETE', `${a.base}/people/${id}`)).body.affectedDoors).toEqual([a.lobby.id]);
    expect((await a.call('km', 'GET', `${a.base}/people/${id}`)).code).toBe('PERSON_NOT_FOUND');
    const activity = await a.call('readOnly', 'GET', `${a.base}/activity?holderRef=${holderRef}`);
    expect(activity.body.entries.map((e: { action: string }) => e.action)).toContain('person.deleted');
    expect(activity.body.entries.every((e: { holderName: string }) => e.holderName === 'Jane Doe')).toBe(true);
    expect((await a.call('readOnly', 'GET', `${a.base}/activity?personId=${id}`)).code).toBe('PERSON_NOT_FOUND');
  });

  it('credentials: keycards, phone keys, doorcode reset, daily flag; codes only shown to Key Management', async () => {
    const a = await api();
    const p = resident(a, { keyIds: [a.entrances.id] }).person;
    const base = `${a.base}/people/${p.id}`;
    const card = await a.call('km', 'POST', `${base}/keycards`, { uid: '04A1B2C3D4E5F6' });
    expect(card.body).toMatchObject({ uid: '04a1b2c3d4e5f6', affectedDoors: [a.lobby.id] });
    expect((await a.call('km', 'POST', `${base}/keycards`, { uid: '04a1b2c3d4e5f6' })).code).toBe('KEYCARD_IN_USE');
    const phone = await a.call('km', 'POST', `${base}/phone-keys`, { publicKey: 'cd'.repeat(32), label: 'iPhone' });
    expect(phone.status).toBe(201);
    const reset = await a.call('km', 'POST', `${base}/doorcode/reset`);
    expect(reset.body.doorcode).toMatch(/^\d{6}$/);
    expect((await a.call('km', 'PUT', `${base}/daily-doorcode`, { enabled: true })).body.affectedDoors).toEqual([a.lobby.id]);
    const asKm = (await a.call('km', 'GET', `${base}/credentials`)).body;
    expect(asKm).toMatchObject({ doorcode: reset.body.doorcode, hasDoorcode: true, dailyDoorcode: true });
    expect(asKm.keycards).toHaveLength(1);
    expect(asKm.phoneKeys).toHaveLength(1);
    const asPm = (await a.call('pm', 'GET', `${base}/credentials`)).body;
    expect(asPm).toMatchObject({ doorcode: null, hasDoorcode: true });
    const door = (await a.call('readOnly', 'GET', `${a.base}/doors/${a.lobby.id}/credentials`)).body as { kind: string; hint: string | null }[];
    expect(door.map((c) => c.kind)).toEqual(['doorcode', 'daily', 'keycard', 'phone']);
    expect(JSON.stringify(door)).not.toContain(reset.body.doorcode);
    expect(door[0]!.hint).toBe(`••••${reset.body.doorcode.slice(-2)}`);
    expect((await a.call('km', 'DELETE', `${base}/keycards/${card.body.id}`)).body.affectedDoors).toEqual([a.lobby.id]);
    expect((await a.call('km', 'DELETE', `${base}/phone-keys/${phone.body.id}`)).status).toBe(200);
    expect((await a.call('km', 'DELETE', `${base}/doorcode`)).status).toBe(200);
    const left = (await a.call('readOnly', 'GET', `${a.base}/doors/${a.lobby.id}/credentials`)).body;
    expect(left.map((c: { kind: string }) => c.kind)).toEqual(['daily']);
  });

  it('sync tasks and door sync state show what each door still has to receive', async () => {
    const a = await api();
    const tasks = await a.call('readOnly', 'GET', `${a.base}/sync-tasks?connectivity=offline`);
    expect(tasks.body.map((t: { doorId: number }) => t.doorId)).toEqual([a.lobby.id, a.door4b.id]);
    const p = resident(a, { keyIds: [a.entrances.id] }).person;
    g.revokeAllKeys(a.db, p.id, a.ctx);
    const state = await a.call('readOnly', 'GET', `${a.base}/doors/${a.lobby.id}/sync-state`);
    expect(state.body).toMatchObject({ compiledSeq: 0, enforcedSeq: 0, pendingChanges: 3 });
    expect(state.body.changes[0].reason).toBe('revoked all keys of Jane Doe');
  });

  it('keys, units and doors CRUD', async () => {
    const a = await api();
    const u = await a.call('pm', 'POST', `${a.base}/units`, { name: '7C' });
    expect((await a.call('pm', 'PATCH', `${a.base}/units/${u.body.id}`, { name: '7D' })).body.name).toBe('7D');
    const d = await a.call('pm', 'POST', `${a.base}/doors`, { name: '7D door', lockId: '00000000000000d7', connectivity: 'online', gatewayRadio: 'gw-2', unitId: u.body.id });
    expect(d.body).toMatchObject({ lockId: '00000000000000d7', connectivity: 'online', affectedDoors: [d.body.id] });
    const k = await a.call('km', 'POST', `${a.base}/keys`, { name: 'Unit 7D', kind: 'residential', doorIds: [d.body.id], unitId: u.body.id });
    expect(k.body).toMatchObject({ mayShare: false, doorcodesDisabled: false, doorIds: [d.body.id] });
    expect((await a.call('readOnly', 'GET', `${a.base}/keys`)).body).toHaveLength(4);
    expect((await a.call('readOnly', 'GET', `${a.base}/doors?connectivity=online`)).body.map((x: { id: number }) => x.id)).toEqual([a.gym.id, d.body.id]);
    expect((await a.call('km', 'DELETE', `${a.base}/keys/${k.body.id}`)).status).toBe(200);
    expect((await a.call('pm', 'DELETE', `${a.base}/doors/${d.body.id}`)).status).toBe(204);
    expect((await a.call('pm', 'DELETE', `${a.base}/units/${u.body.id}`)).status).toBe(204);
    const prop = await a.call('pm', 'PATCH', a.base, { utcOffsetMin: -240 });
    expect(prop.body.affectedDoors).toHaveLength(3);
  });
});

describe('OpenAPI document', () => {
  it('describes every route with its parameters, body and responses, and every listed route exists', async () => {
    const a = await api();
    const doc = (await a.call(null, 'GET', '/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    // Relative, so it holds for whatever host and port the gateway listens on.
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    const ops: [string, string, Record<string, unknown>][] = [];
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>)) {
      for (const [method, op] of Object.entries(methods)) ops.push([path, method, op]);
    }
    expect(ops.length).toBeGreaterThanOrEqual(40);
    const ids = ops.map(([, , op]) => op.operationId);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [path, method, op] of ops) {
      const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters as { name: string; in: string }[]).filter((p) => p.in === 'path').map((p) => p.name);
      expect(declared.sort(), `${method} ${path}`).toEqual(pathParams.sort());
      const responses = op.responses as Record<string, { content?: unknown }>;
      expect(Object.keys(responses).some((s) => s.startsWith('2')), `${method} ${path}`).toBe(true);
      expect(responses['4XX'], `${method} ${path}`).toBeDefined();
      if (['post', 'put', 'patch'].includes(method) && !['revokeAllKeys', 'resetDoorcode', 'beginIssuerRotation', 'completeIssuerRotation', 'simulateDoorSync', 'simulateInstallPhone'].includes(op.operationId as string)) {
        expect(op.requestBody, `${method} ${path}`).toBeDefined();
      }
      // The route exists: filling path params with 1 never yields ROUTE_NOT_FOUND.
      const url = path.replace(/\{\w+\}/g, '1');
      const r = await a.call('portfolio', method.toUpperCase() as 'GET', url, ['post', 'put', 'patch'].includes(method) ? {} : undefined);
      expect(r.code, `${method} ${url}`).not.toBe('ROUTE_NOT_FOUND');
    }
    expect(doc.paths['/properties/{propertyId}/people'].post.requestBody.content['application/json'].schema.required).toContain('keyIds');
    expect(Object.keys(doc.components['x-error-codes'])).toEqual(Object.keys(g.ERROR_CATALOGUE));
  });
});
