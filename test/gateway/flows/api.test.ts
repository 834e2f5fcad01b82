/**
 * The flows through the HTTP API: routes, schemas, roles (import and approval need Key
 * Management), text/csv downloads, and the PMS talking to a real HTTP server on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as g from '../../../gateway/src/index.js';
import { apiFixture, apiFixturesClosedAfterEach } from '../api-helpers.js';
import { csv, f, HEADER, jane } from './flow-helpers.js';

type Api = Awaited<ReturnType<typeof apiFixture>>;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const openApi = apiFixturesClosedAfterEach();

async function api() {
  const a = await openApi();
  g.createKey(a.db, a.prop.id, { name: 'Resident Amenities', kind: 'communal', doorIds: [a.gym.id], mayShare: false, doorcodesDisabled: false }, a.ctx);
  return a;
}

async function withPms(a: Api) {
  const pms = new f.SimulatedPms({ now: () => a.clock.t });
  const server = await pms.listen();
  cleanups.push(() => server.close());
  return { pms, server };
}

const rows = [
  ['Ann', 'Doe', 'ann@example.com', '', '4B', 'Unit 4B'],
  ['Bob', 'Doe', 'bob@example', '', '4B', 'Unit 4B'],
];

describe('CSV import over the API', () => {
  it('downloads the template as text/csv, for any role', async () => {
    const a = await api();
    const res = await a.app.inject({ url: `${a.base}/imports/template`, headers: { authorization: `Bearer ${a.tokens.readOnly}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toContain('attachment');
    expect(res.body).toBe('First Name,Last Name,Email,Phone,Unit,Keys,Start,Expiration\r\n');
  });

  it('upload → preview with per-row errors → apply with communal keys and a window → error report', async () => {
    const a = await api();
    const up = await a.call('km', 'POST', `${a.base}/imports`, { csv: csv(HEADER, rows), fileName: 'residents.csv' });
    expect(up.status).toBe(201);
    expect(up.body.import).toMatchObject({ fileName: 'residents.csv', status: 'previewed', counts: { total: 2, ready: 1, error: 1 } });
    expect(up.body.errors).toEqual([expect.objectContaining({ line: 3, email: 'bob@example', errorCode: 'INVALID_EMAIL' })]);
    expect(up.body.rows.map((r: { status: string }) => r.status)).toEqual(['ready', 'error']);
    expect(g.listPeople(a.db, a.prop.id)).toEqual([]);
    const id = up.body.import.id;
    const applied = await a.call('km', 'POST', `${a.base}/imports/${id}/apply`, { communalKeyIds: [a.entrances.id], startsAt: '2025-07-01', expiresAt: '2026-06-30' });
    expect(applied.status).toBe(200);
    expect(applied.body.import).toMatchObject({ status: 'applied', communalKeyIds: [a.entrances.id], startsAt: '2025-07-01T05:00:00.000Z', counts: { imported: 1 } });
    expect(applied.body.affectedDoors.length).toBe(2);
    const ann = g.findPersonByEmail(a.db, a.prop.id, 'ann@example.com')!;
    expect(g.listGrants(a.db, ann.id).map((x) => x.keyName).sort()).toEqual(['Resident Entrances', 'Unit 4B']);
    const report = await a.app.inject({ url: `${a.base}/imports/${id}/error-report`, headers: { authorization: `Bearer ${a.tokens.km}` } });
    expect(report.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(report.body).toContain('bob@example,,4B,Unit 4B,"line 3: INVALID_EMAIL: Email ""bob@example"" is not an email address"');
    const listed = await a.call('readOnly', 'GET', `${a.base}/imports`);
    expect(listed.body.map((i: { id: number }) => i.id)).toEqual([id]);
    expect((await a.call('readOnly', 'GET', `${a.base}/imports/${id}/rows?status=imported`)).body.map((r: { email: string }) => r.email)).toEqual(['ann@example.com']);
    expect((await a.call('km', 'POST', `${a.base}/imports/${id}/apply`, {})).code).toBe('IMPORT_ALREADY_APPLIED');
    // The welcome messages are readable through the API.
    const notes = await a.call('readOnly', 'GET', `${a.base}/notifications?personId=${ann.id}`);
    expect(notes.body).toEqual([expect.objectContaining({ email: 'ann@example.com', kind: 'welcome', sentAt: null, subject: 'Welcome to Elm Court: set up the DOOR App' })]);
    const sent = await a.call('pm', 'POST', `${a.base}/notifications/${notes.body[0].id}/sent`, { sentAt: '2025-06-01T12:30:00Z' });
    expect(sent.body.sentAt).toBe('2025-06-01T12:30:00.000Z');
    expect((await a.call('pm', 'POST', `${a.base}/notifications/${notes.body[0].id}/sent`)).body.sentAt).toBe('2025-06-01T12:30:00.000Z');
  });

  it('import and apply need Key Management; other properties\' imports are not found', async () => {
    const a = await api();
    const body = { csv: csv(HEADER, rows) };
    expect((await a.call('pm', 'POST', `${a.base}/imports`, body)).code).toBe('KEY_MANAGEMENT_REQUIRED');
    expect((await a.call('readOnly', 'POST', `${a.base}/imports`, body)).code).toBe('READ_ONLY_TOKEN');
    expect((await a.call('otherPm', 'POST', `${a.base}/imports`, body)).code).toBe('PROPERTY_OUT_OF_SCOPE');
    const up = await a.call('km', 'POST', `${a.base}/imports`, body);
    const id = up.body.import.id;
    expect((await a.call('pm', 'POST', `${a.base}/imports/${id}/apply`, {})).code).toBe('KEY_MANAGEMENT_REQUIRED');
    expect((await a.call('portfolio', 'GET', `/properties/${a.other.id}/imports/${id}`)).code).toBe('IMPORT_NOT_FOUND');
    expect((await a.call('km', 'POST', `${a.base}/imports`, { csv: csv(HEADER, rows), extra: 1 })).code).toBe('VALIDATION_FAILED');
  });

  it('a bad file is refused with its code; a file larger than the default 1 MiB body limit is accepted', async () => {
    const a = await api();
    const bad = await a.call('km', 'POST', `${a.base}/imports`, { csv: 'Name,Mail\nA,a@example.com\n' });
    expect([bad.status, bad.code]).toEqual([400, 'CSV_BAD_HEADER']);
    expect(bad.body.error.details.missing).toEqual(['firstName', 'lastName', 'email']);
    const big = csv(
      HEADER,
      Array.from({ length: 20_000 }, (_, i) => [`First${i}`, `Last${i}`, `resident${i}@example.com`, `+1 555 ${i}`, '4B', 'Unit 4B']),
    );
    expect(big.length).toBeGreaterThan(1024 * 1024);
    const up = await a.call('km', 'POST', `${a.base}/imports`, { csv: big });
    expect(up.status).toBe(201);
    expect(up.body.import.counts).toMatchObject({ total: 20_000, ready: 20_000 });
    expect(up.body.rows).toHaveLength(100);
  });
});

describe('PMS integration over the API', () => {
  it('configure → Sync Now → suggestions → Update Access; last sync time and the alert count visible', async () => {
    const a = await api();
    const { pms, server } = await withPms(a);
    expect((await a.call('readOnly', 'GET', `${a.base}/pms`)).code).toBe('INTEGRATION_NOT_FOUND');
    const refused = await a.call('km', 'PUT', `${a.base}/pms`, { feedKind: 'http', feedSource: server.url, userSync: false, automatedAccess: true });
    expect([refused.status, refused.code]).toEqual([422, 'USER_SYNC_REQUIRED']);
    expect((await a.call('pm', 'PUT', `${a.base}/pms`, { feedKind: 'http', feedSource: server.url })).code).toBe('KEY_MANAGEMENT_REQUIRED');
    const put = await a.call('km', 'PUT', `${a.base}/pms`, { feedKind: 'http', feedSource: server.url, automatedAccess: true, timeoutMs: 500 });
    expect(put.body).toMatchObject({ mode: 'approval_required', userSync: true, automatedAccess: true, intervalMin: 5, lastSyncAt: null });

    pms.add({ ...jane, leaseStatus: 'current' });
    // Sync Now is a People-tab action: a property manager without Key Management may run it.
    const run = await a.call('pm', 'POST', `${a.base}/pms/sync`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'ok', trigger: 'manual', report: { received: 1, userSync: { created: 1 }, automatedAccess: { suggestions: 3 } } });
    const status = (await a.call('readOnly', 'GET', `${a.base}/pms`)).body;
    expect(status).toMatchObject({ lastSyncAt: new Date(a.clock.t).toISOString(), pendingSuggestions: 3, openAlerts: 0 });

    const list = await a.call('readOnly', 'GET', `${a.base}/access-suggestions`);
    expect(list.body.map((s: { color: string; keyName: string }) => `${s.color} ${s.keyName}`).sort()).toEqual(['green Resident Amenities', 'green Resident Entrances', 'green Unit 4B']);
    expect(list.body[0].startsAt).toBe(new Date(a.clock.t + 15 * 60_000).toISOString());
    const ids = list.body.map((s: { id: number }) => s.id);
    expect((await a.call('pm', 'POST', `${a.base}/access-suggestions/approve`, { ids })).code).toBe('KEY_MANAGEMENT_REQUIRED');
    expect((await a.call('km', 'POST', `${a.base}/access-suggestions/approve`, { ids: Array.from({ length: 51 }, (_, i) => i + 1) })).code).toBe('APPROVAL_BATCH_TOO_LARGE');
    const discarded = await a.call('km', 'DELETE', `${a.base}/access-suggestions/${ids[2]}`);
    expect(discarded.body.state).toBe('discarded');
    const approved = await a.call('km', 'POST', `${a.base}/access-suggestions/approve`, { ids });
    expect(approved.body.results.map((r: { outcome: string }) => r.outcome)).toEqual(['applied', 'applied', 'skipped']);
    expect(approved.body.affectedDoors.length).toBeGreaterThan(0);
    expect((await a.call('readOnly', 'GET', `${a.base}/access-suggestions?state=applied`)).body).toHaveLength(2);
    expect((await a.call('readOnly', 'GET', `${a.base}/pms/runs`)).body).toHaveLength(1);
    expect(pms.requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it('Sync Now answers 504 PMS_TIMEOUT / 502 PMS_FEED_INVALID when the PMS fails, with nothing applied', async () => {
    const a = await api();
    const { pms, server } = await withPms(a);
    await a.call('km', 'PUT', `${a.base}/pms`, { feedKind: 'http', feedSource: server.url, timeoutMs: 200 });
    pms.add({ ...jane, leaseStatus: 'current' });
    pms.fail({ kind: 'hang' });
    const timeout = await a.call('km', 'POST', `${a.base}/pms/sync`, {});
    expect([timeout.status, timeout.code]).toEqual([504, 'PMS_TIMEOUT']);
    pms.fail({ kind: 'garbage' });
    const garbage = await a.call('km', 'POST', `${a.base}/pms/sync`);
    expect([garbage.status, garbage.code]).toEqual([502, 'PMS_FEED_INVALID']);
    expect(g.listPeople(a.db, a.prop.id, { includeExpired: true })).toEqual([]);
    const status = (await a.call('readOnly', 'GET', `${a.base}/pms`)).body;
    expect(status).toMatchObject({ lastSyncAt: null, lastErrorCode: 'PMS_FEED_INVALID' });
    expect((await a.call('readOnly', 'GET', `${a.base}/pms/runs`)).body.map((r: { errorCode: string }) => r.errorCode)).toEqual(['PMS_FEED_INVALID', 'PMS_TIMEOUT']);
  });

  it('alerts are listed and resolved; resident status is read and overridden', async () => {
    const a = await api();
    const { pms, server } = await withPms(a);
    await a.call('km', 'PUT', `${a.base}/pms`, { feedKind: 'http', feedSource: server.url, automatedAccess: true, mode: 'automatic' });
    g.invitePerson(a.db, a.prop.id, { email: 'sam@example.com', firstName: 'Samuel', lastName: 'Roe', accessType: 'app', keyIds: [a.entrances.id] }, a.ctx);
    pms.add({ ...jane, leaseStatus: 'current' });
    pms.add({ id: 't-200', firstName: 'Sam', lastName: 'Roe', email: 'sam@example.com', unit: '4B', leaseStatus: 'current' });
    await a.call('km', 'POST', `${a.base}/pms/sync`);
    const alerts = (await a.call('readOnly', 'GET', `${a.base}/alerts`)).body;
    expect(alerts.map((x: { kind: string; externalRef: string }) => [x.kind, x.externalRef])).toEqual([['partial_match', 't-200']]);
    expect(alerts[0].record).toMatchObject({ firstName: 'Sam', email: 'sam@example.com', canonical: 'current' });
    expect((await a.call('km', 'POST', `${a.base}/alerts/${alerts[0].id}/resolve`, { action: 'nope' })).code).toBe('VALIDATION_FAILED');
    const resolved = await a.call('km', 'POST', `${a.base}/alerts/${alerts[0].id}/resolve`, { action: 'link' });
    expect(resolved.body).toMatchObject({ state: 'resolved', resolution: expect.stringContaining('linked to person') });

    const janeId = f.personByExternalRef(a.db, a.prop.id, jane.id)!.id;
    const rs = await a.call('readOnly', 'GET', `${a.base}/people/${janeId}/resident-status`);
    expect(rs.body).toMatchObject({ status: 'current', source: 'pms', externalRef: 't-100', pms: { leaseStatus: 'current', unit: '4B' } });
    expect((await a.call('pm', 'PUT', `${a.base}/people/${janeId}/resident-status`, { status: 'past' })).code).toBe('KEY_MANAGEMENT_REQUIRED');
    const past = await a.call('km', 'PUT', `${a.base}/people/${janeId}/resident-status`, { status: 'past' });
    expect(past.body).toMatchObject({ status: 'past', source: 'manual' });
    expect(past.body.affectedDoors.length).toBe(3);
    expect(g.listGrants(a.db, janeId)).toEqual([]);
    expect((await a.call('portfolio', 'GET', `/properties/${a.other.id}/people/${janeId}/resident-status`)).code).toBe('PERSON_NOT_FOUND');
  });
});
