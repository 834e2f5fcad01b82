/**
 * Seed 003 "How does the User Sync integration work in DOOR OS?", one test per rule, then bad
 * input. Automated Access is off here unless a test turns it on, so what happens is User Sync's.
 */
import { describe, expect, it } from 'vitest';
import * as g from '../../../gateway/src/index.js';
import { codeOf, drainJournal, HOUR, MIN, pendingDoors } from '../helpers.js';
import { f, jane, pmsFixture, type PmsFixture } from './flow-helpers.js';

const userSync = () => pmsFixture({ automatedAccess: false });
const lease = { leaseStart: '2025-06-01', leaseEnd: '2026-05-31', moveIn: '2025-06-02', moveOut: null };
const accessSnapshot = (t: PmsFixture) => ({
  grants: t.db.prepare('SELECT * FROM grants ORDER BY id').all(),
  journal: t.db.prepare('SELECT count(*) AS n FROM door_changes').get(),
  keycards: t.db.prepare('SELECT * FROM keycards').all(),
});

describe('seed 003: User Sync rules', () => {
  it('"pulls resident records … at least once per hour": the scheduler pulls when the interval (≤ 60 min) has passed, not before', async () => {
    const t = userSync();
    expect(codeOf(() => f.configureIntegration(t.db, t.prop.id, { intervalMin: 61 }, t.ctx))).toBe('INVALID_ARGUMENT');
    f.configureIntegration(t.db, t.prop.id, { intervalMin: 60 }, t.ctx);
    const scheduler = new f.PmsScheduler({ db: t.db, now: () => t.clock.t, adapterFor: () => t.pms });
    t.pms.add({ ...jane, leaseStatus: 'current' });
    expect((await scheduler.tick()).map((r) => r.run?.trigger)).toEqual(['schedule']);
    t.advance(59 * MIN);
    expect(await scheduler.tick()).toEqual([]);
    t.advance(1 * MIN);
    t.pms.update(jane.id, { phone: '+1 555 0199' });
    expect(await scheduler.tick()).toHaveLength(1);
    expect(t.person(jane.id)!.phone).toBe('+1 555 0199');
    expect(t.pms.pulls).toBe(2);
    // Over a day the scheduler pulls once per hour.
    for (let i = 0; i < 24 * 6; i++) {
      t.advance(10 * MIN);
      await scheduler.tick();
    }
    expect(t.pms.pulls).toBe(2 + 24);
  });

  it('the scheduler starts and stops on a timer, and a failing PMS does not stop it', async () => {
    const t = userSync();
    const results: { error?: Error }[] = [];
    const scheduler = new f.PmsScheduler({ db: t.db, now: () => t.clock.t, adapterFor: () => t.pms, checkEveryMs: 5, onResult: (r) => results.push(r) });
    t.pms.fail({ kind: 'http_error', status: 503 });
    scheduler.start();
    expect(scheduler.running).toBe(true);
    while (results.length < 1) await new Promise((r) => setTimeout(r, 5));
    t.advance(HOUR);
    while (results.length < 2) await new Promise((r) => setTimeout(r, 5));
    await scheduler.stop();
    expect(scheduler.running).toBe(false);
    expect(results.map((r) => (r.error as g.GatewayError | undefined)?.code ?? 'ok')).toEqual(['PMS_FETCH_FAILED', 'ok']);
    const pulls = t.pms.pulls;
    t.advance(HOUR);
    await new Promise((r) => setTimeout(r, 30));
    expect(t.pms.pulls).toBe(pulls);
  });

  it('"Sync Now" pulls on demand; "the last sync timestamp … updates when the sync completes"', async () => {
    const t = userSync();
    expect(f.getIntegration(t.db, t.prop.id).lastSyncAt).toBeNull();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    // The clock moves while the pull is in flight: the timestamp is the completion, not the start.
    t.pms.fail({ kind: 'delay', ms: 20 });
    const started = t.clock.t;
    const pending = f.runPmsSync(t.db, t.prop.id, { adapter: t.pms, trigger: 'manual', ctx: t.ctx });
    t.advance(2 * MIN);
    const run = await pending;
    expect(run).toMatchObject({ trigger: 'manual', status: 'ok', startedAt: started, finishedAt: started + 2 * MIN });
    expect(f.getIntegration(t.db, t.prop.id).lastSyncAt).toBe(started + 2 * MIN);
    expect(f.listSyncRuns(t.db, t.prop.id)[0]!.id).toBe(run.id);
  });

  it('"What gets synced": first and last name, email, phone, lease start and end, move-in and move-out, unit', async () => {
    const t = userSync();
    t.pms.add({ ...jane, ...lease, leaseStatus: 'current' });
    const run = await t.sync();
    expect(run.report!.userSync).toMatchObject({ created: 1 });
    const p = t.person(jane.id)!;
    expect([p.firstName, p.lastName, p.email, p.phone, p.unitId, p.externalRef]).toEqual(['Jane', 'Doe', 'jane@example.com', '+1 555 0100', t.unit4b.id, 't-100']);
    expect(f.residentStatus(t.db, p.id).lease).toEqual(lease);
  });

  it('"Resident records with a pending or current lease status … are candidates to sync"; others are not pulled in as contacts', async () => {
    const t = userSync();
    t.pms.add({ ...jane, leaseStatus: 'Pending' });
    t.pms.add({ id: 't-2', firstName: 'Cur', lastName: 'Rent', email: 'cur@example.com', leaseStatus: 'Current Resident' });
    t.pms.add({ id: 't-3', firstName: 'Pas', lastName: 'T', email: 'past@example.com', leaseStatus: 'past' });
    t.pms.add({ id: 't-4', firstName: 'App', lastName: 'Licant', email: 'app@example.com', leaseStatus: 'applicant' });
    const run = await t.sync();
    expect(run.report!.userSync).toMatchObject({ created: 2, not_candidate: 2 });
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true }).map((p) => p.externalRef).sort()).toEqual(['t-100', 't-2']);
  });

  it('"Lease statuses you added to the exclusion list during setup are not pulled into DOOR"', async () => {
    const t = pmsFixture({ automatedAccess: false, excludedStatuses: ['Pending', 'notice'] });
    t.pms.add({ ...jane, leaseStatus: 'pending' });
    t.pms.add({ id: 't-2', firstName: 'No', lastName: 'Tice', email: 'notice@example.com', leaseStatus: 'NOTICE' });
    t.pms.add({ id: 't-3', firstName: 'Cur', lastName: 'Rent', email: 'cur@example.com', leaseStatus: 'current' });
    const run = await t.sync();
    expect(run.report!.excluded).toBe(2);
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true }).map((p) => p.externalRef)).toEqual(['t-3']);
    // Not even the mirror holds them: nothing of an excluded record enters DOOR.
    expect(t.db.prepare('SELECT external_ref AS r FROM pms_residents').all()).toEqual([{ r: 't-3' }]);
  });

  it('"Already-synced users: updates any changed fields (name, phone, lease dates, unit, move-in/out)"', async () => {
    const t = userSync();
    t.pms.add({ ...jane, ...lease, leaseStatus: 'current' });
    await t.sync();
    t.pms.update(jane.id, { firstName: 'Janet', lastName: 'Doe-Ray', phone: '+1 555 0111', unit: '5C', leaseEnd: '2027-05-31', moveOut: '2027-05-30' });
    const run = await t.sync();
    expect(run.report!.userSync).toMatchObject({ updated: 1 });
    const p = t.person(jane.id)!;
    expect([p.firstName, p.lastName, p.phone, p.unitId]).toEqual(['Janet', 'Doe-Ray', '+1 555 0111', t.unit5c.id]);
    expect(f.residentStatus(t.db, p.id).lease).toMatchObject({ leaseEnd: '2027-05-31', moveOut: '2027-05-30' });
    // The holder registry follows, so lock events are logged under the new name.
    expect(g.personRef(t.db, p.id).name).toBe('Janet Doe-Ray');
    expect((await t.sync()).report!.userSync).toMatchObject({ unchanged: 1, updated: 0 });
  });

  it('"if the email address changed in the PMS, the update will not complete — resolve the email change through the Email Mismatch alert"', async () => {
    const t = userSync();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    t.pms.update(jane.id, { email: 'jane.doe@newmail.com', phone: '+1 555 0222' });
    const run = await t.sync();
    expect(run.report!.userSync).toMatchObject({ email_mismatch: 1, updated: 0 });
    let p = t.person(jane.id)!;
    expect([p.email, p.phone]).toEqual(['jane@example.com', '+1 555 0100']);
    const [alert] = f.listAlerts(t.db, t.prop.id);
    expect(alert).toMatchObject({ kind: 'email_mismatch', personId: p.id, state: 'open' });
    // Pulling again does not raise it again.
    await t.sync();
    expect(f.listAlerts(t.db, t.prop.id)).toHaveLength(1);
    f.resolveAlert(t.db, t.prop.id, alert!.id, { action: 'accept_pms_email' }, t.ctx);
    p = t.person(jane.id)!;
    expect([p.email, p.phone]).toEqual(['jane.doe@newmail.com', '+1 555 0222']);
    expect(f.getAlert(t.db, alert!.id)).toMatchObject({ state: 'resolved', resolution: 'email changed to jane.doe@newmail.com' });
    expect((await t.sync()).report!.userSync).toMatchObject({ unchanged: 1, email_mismatch: 0 });
    // Dismissing keeps DOOR's email, and the same PMS data does not raise the alert again.
    t.pms.update(jane.id, { email: 'third@example.com' });
    await t.sync();
    const [second] = f.listAlerts(t.db, t.prop.id, { state: 'open' });
    f.resolveAlert(t.db, t.prop.id, second!.id, { action: 'dismiss' }, t.ctx);
    await t.sync();
    expect(f.listAlerts(t.db, t.prop.id, { state: 'open' })).toEqual([]);
    expect(t.person(jane.id)!.email).toBe('jane.doe@newmail.com');
  });

  it('"a contact with the same first name, last name, and email … the two are matched and synced as one user"', async () => {
    const t = userSync();
    const existing = g.invitePerson(t.db, t.prop.id, { email: 'JANE@example.com', firstName: 'jane', lastName: 'DOE', accessType: 'app', keyIds: [t.entrances.id] }, t.ctx).person;
    t.pms.add({ ...jane, ...lease, leaseStatus: 'current' });
    const run = await t.sync();
    expect(run.report!.userSync).toMatchObject({ linked: 1, created: 0 });
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true })).toHaveLength(1);
    const p = t.person(jane.id)!;
    expect(p.id).toBe(existing.id);
    expect([p.firstName, p.lastName, p.phone, p.unitId]).toEqual(['Jane', 'Doe', '+1 555 0100', t.unit4b.id]);
    // Linking changed nothing about access.
    expect(g.listGrants(t.db, p.id).map((x) => x.keyName)).toEqual(['Resident Entrances']);
  });

  it('"If there is a partial match … the record is flagged for your review. You resolve it from the alerts panel"', async () => {
    const t = userSync();
    const byEmail = g.invitePerson(t.db, t.prop.id, { email: jane.email, firstName: 'Janet', lastName: 'Doe', accessType: 'app', keyIds: [t.entrances.id] }, t.ctx).person;
    const byName = g.invitePerson(t.db, t.prop.id, { email: 'sam.roe@old.example', firstName: 'Sam', lastName: 'Roe', accessType: 'app', keyIds: [t.entrances.id] }, t.ctx).person;
    t.pms.add({ ...jane, leaseStatus: 'current' });
    t.pms.add({ id: 't-200', firstName: 'Sam', lastName: 'Roe', email: 'sam@example.com', unit: '5C', leaseStatus: 'current' });
    const run = await t.sync();
    expect(run.report!.userSync).toMatchObject({ partial_match: 2, created: 0, linked: 0 });
    const alerts = f.listAlerts(t.db, t.prop.id);
    expect(alerts.map((a) => [a.kind, a.externalRef, a.personId])).toEqual([
      ['partial_match', 't-100', byEmail.id],
      ['partial_match', 't-200', byName.id],
    ]);
    expect(alerts[0]!.message).toContain('PMS name is Jane Doe');
    // Nobody was changed or created while the alerts are open.
    expect(g.getPerson(t.db, byEmail.id).firstName).toBe('Janet');
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true })).toHaveLength(2);
    await t.sync();
    expect(f.listAlerts(t.db, t.prop.id)).toHaveLength(2);
    // Resolve: Jane is the same person (link); the PMS Sam is someone else (create).
    f.resolveAlert(t.db, t.prop.id, alerts[0]!.id, { action: 'link' }, t.ctx);
    expect(t.person('t-100')!.id).toBe(byEmail.id);
    expect(t.person('t-100')!.firstName).toBe('Jane');
    const created = f.resolveAlert(t.db, t.prop.id, alerts[1]!.id, { action: 'create' }, t.ctx);
    expect(created.personId).not.toBe(byName.id);
    expect(t.person('t-200')!.email).toBe('sam@example.com');
    expect(codeOf(() => f.resolveAlert(t.db, t.prop.id, alerts[1]!.id, { action: 'dismiss' }, t.ctx))).toBe('ALERT_NOT_OPEN');
    expect((await t.sync()).report!.userSync).toMatchObject({ unchanged: 2, partial_match: 0 });
  });

  it('"If there is no match, a new contact is created in DOOR OS using the PMS values" — with no keys', async () => {
    const t = userSync();
    t.pms.add({ ...jane, leaseStatus: 'future' });
    await t.sync();
    const p = t.person(jane.id)!;
    expect(p).toMatchObject({ email: jane.email, firstName: 'Jane', lastName: 'Doe', isResident: true, externalRef: jane.id, status: 'no_access' });
    expect(g.listGrants(t.db, p.id)).toEqual([]);
    expect(g.listActivity(t.db, t.prop.id, { holderRef: p.holderRef })[0]!.message).toContain('User Sync created Jane Doe');
  });

  it('"It does not push data back to your PMS": only GET requests reach it, and a rename in DOOR stays in DOOR', async () => {
    const t = userSync();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    const server = await t.pms.listen();
    try {
      f.configureIntegration(t.db, t.prop.id, { feedKind: 'http', feedSource: server.url }, t.ctx);
      await f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx });
      const p = t.person(jane.id)!;
      g.updatePerson(t.db, p.id, { firstName: 'Jay' }, t.ctx);
      f.setResidentStatus(t.db, p.id, 'past', t.ctx);
      await f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx });
      expect(t.pms.requests).toEqual([
        { method: 'GET', url: '/feed' },
        { method: 'GET', url: '/feed' },
      ]);
      expect(t.pms.residents.get(jane.id)!.firstName).toBe('Jane');
    } finally {
      await server.close();
    }
  });

  it('"It does not delete residents in DOOR OS when they are deleted in the PMS"', async () => {
    const t = userSync();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const p = t.person(jane.id)!;
    t.pms.remove(jane.id);
    const run = await t.sync();
    expect(run.report!.received).toBe(0);
    expect(g.getPerson(t.db, p.id).email).toBe(jane.email);
    // An empty feed (a PMS glitch) deletes nothing either.
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true })).toHaveLength(1);
  });

  it('"It does not create or edit doors, units, or keys"', async () => {
    const t = userSync();
    const shape = () => [g.listDoors(t.db, t.prop.id), g.listUnits(t.db, t.prop.id), g.listKeys(t.db, t.prop.id)];
    const before = shape();
    t.pms.add({ ...jane, unit: '4B', leaseStatus: 'current' });
    t.pms.add({ id: 't-9', firstName: 'New', lastName: 'Unit', email: 'nu@example.com', unit: '12A', leaseStatus: 'current' });
    const run = await t.sync();
    expect(run.report!.issues.map((i) => [i.ref, i.code])).toEqual([['t-9', 'UNIT_NOT_FOUND']]);
    expect(shape()).toEqual(before);
  });

  it('"It does not automatically grant or revoke access": a full cycle of User Sync leaves grants, journal and credentials untouched', async () => {
    const t = userSync();
    g.invitePerson(t.db, t.prop.id, { email: jane.email, firstName: 'Jane', lastName: 'Doe', accessType: 'app', keyIds: [t.entrances.id, t.key4b.id] }, t.ctx);
    drainJournal(t.db);
    const before = accessSnapshot(t);
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    t.pms.changeUnit(jane.id, '5C');
    await t.sync();
    t.pms.moveOut(jane.id);
    await t.sync();
    t.pms.add({ id: 't-2', firstName: 'Cur', lastName: 'Rent', email: 'cur@example.com', unit: '5C', leaseStatus: 'current' });
    await t.sync();
    expect(accessSnapshot(t)).toEqual(before);
    expect(pendingDoors(t.db)).toEqual([]);
    expect(f.listSuggestions(t.db, t.prop.id, { limit: 1000 })).toEqual([]);
  });
});

describe('User Sync: bad input', () => {
  it('records missing fields, with wrong types, bad dates or repeated ids/emails are reported one by one; the rest sync', async () => {
    const t = userSync();
    const raw = {
      residents: [
        { id: 'ok-1', firstName: 'Ok', lastName: 'One', email: 'ok1@example.com', leaseStatus: 'current' },
        { id: 'no-mail', firstName: 'No', lastName: 'Mail', leaseStatus: 'current' },
        { id: 'bad-mail', firstName: 'Bad', lastName: 'Mail', email: 'not an email', leaseStatus: 'current' },
        { id: 'bad-date', firstName: 'Bad', lastName: 'Date', email: 'bd@example.com', leaseStatus: 'current', leaseEnd: '2026-02-30' },
        { id: 'bad-type', firstName: 42, lastName: 'Type', email: 'bt@example.com', leaseStatus: 'current' },
        { id: 'no-zone', firstName: 'No', lastName: 'Zone', email: 'nz@example.com', leaseStatus: 'current', statusChangedAt: '2025-06-01T10:00:00' },
        { id: 'dup', firstName: 'Dup', lastName: 'A', email: 'dupa@example.com', leaseStatus: 'current' },
        { id: 'dup', firstName: 'Dup', lastName: 'B', email: 'dupb@example.com', leaseStatus: 'current' },
        { id: 'same-1', firstName: 'Same', lastName: 'One', email: 'shared@example.com', leaseStatus: 'current' },
        { id: 'same-2', firstName: 'Same', lastName: 'Two', email: 'SHARED@example.com', leaseStatus: 'current' },
        'just a string',
        { id: 7, firstName: 'Numeric', lastName: 'Id', email: 'num@example.com', leaseStatus: 'current', moveIn: '2025-06-01' },
      ],
    };
    const adapter: f.PmsAdapter = { description: 'raw', fetchFeed: async () => raw };
    const run = await f.runPmsSync(t.db, t.prop.id, { adapter, ctx: t.ctx });
    expect(run.status).toBe('ok');
    expect(run.report!.received).toBe(12);
    expect(run.report!.issues.map((i) => i.ref).sort()).toEqual(['#10', 'bad-date', 'bad-mail', 'bad-type', 'dup', 'dup', 'no-mail', 'no-zone', 'same-1', 'same-2'].sort());
    expect(new Set(run.report!.issues.map((i) => i.code))).toEqual(new Set(['PMS_RECORD_INVALID']));
    expect(run.report!.issues.find((i) => i.ref === 'bad-date')!.message).toContain('leaseEnd');
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true }).map((p) => p.externalRef).sort()).toEqual(['7', 'ok-1']);
  });

  it('a feed that is not a feed is refused whole: nothing applied, the last sync time kept, the failure recorded', async () => {
    const t = userSync();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const last = f.getIntegration(t.db, t.prop.id).lastSyncAt;
    t.pms.update(jane.id, { phone: '+1 555 0999' });
    t.advance(HOUR);
    for (const body of ['<html>maintenance</html>', '{"residents": "none"}', '[1,2,3]', 'null']) {
      t.pms.fail({ kind: 'garbage', body });
      await expect(t.sync()).rejects.toMatchObject({ code: 'PMS_FEED_INVALID' });
    }
    expect(t.person(jane.id)!.phone).toBe('+1 555 0100');
    const integ = f.getIntegration(t.db, t.prop.id);
    expect(integ.lastSyncAt).toBe(last);
    expect(integ.lastErrorCode).toBe('PMS_FEED_INVALID');
    expect(f.listSyncRuns(t.db, t.prop.id, { limit: 4 }).map((r) => [r.status, r.errorCode, r.report])).toEqual(Array(4).fill(['failed', 'PMS_FEED_INVALID', null]));
    await t.sync();
    expect(f.getIntegration(t.db, t.prop.id).lastErrorCode).toBeNull();
  });

  it('alerts of another property, unknown alerts and actions that do not fit the alert are refused', async () => {
    const t = userSync();
    g.invitePerson(t.db, t.prop.id, { email: jane.email, firstName: 'Janet', lastName: 'Doe', accessType: 'app', keyIds: [t.entrances.id] }, t.ctx);
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const [a] = f.listAlerts(t.db, t.prop.id);
    const other = g.createProperty(t.db, { name: 'Other', utcOffsetMin: 0 }, t.ctx);
    expect(codeOf(() => f.resolveAlert(t.db, other.id, a!.id, { action: 'dismiss' }, t.ctx))).toBe('ALERT_NOT_FOUND');
    expect(codeOf(() => f.resolveAlert(t.db, t.prop.id, 999, { action: 'dismiss' }, t.ctx))).toBe('ALERT_NOT_FOUND');
    expect(codeOf(() => f.resolveAlert(t.db, t.prop.id, a!.id, { action: 'accept_pms_email' }, t.ctx))).toBe('INVALID_ARGUMENT');
    // "create" with the email already taken by the partially matching contact: refused, nothing half-made.
    expect(codeOf(() => f.resolveAlert(t.db, t.prop.id, a!.id, { action: 'create' }, t.ctx))).toBe('EMAIL_TAKEN');
    expect(f.getAlert(t.db, a!.id).state).toBe('open');
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true })).toHaveLength(1);
  });
});
