/**
 * Seed 002 "Automated Access — configuration and activation", one test per rule, then bad input.
 * The PMS is the simulated one (the boundary we do not own); everything on our side is real.
 */
import { describe, expect, it } from 'vitest';
import * as g from '../../../gateway/src/index.js';
import { codeOf, DAY, drainJournal, HOUR, MIN, minute, pendingDoors } from '../helpers.js';
import { f, jane, pmsFixture, type PmsFixture } from './flow-helpers.js';

const approveAll = (t: PmsFixture) => f.approveSuggestions(t.db, t.prop.id, t.pending().map((s) => s.id), t.ctx);
const summary = (s: f.Suggestion[]) => s.map((x) => [x.color, x.action, x.keyName]).sort((a, b) => String(a[2]).localeCompare(String(b[2])));

describe('seed 002: Automated Access rules', () => {
  it('"Approval Required (default)": suggestions are made, and nothing takes effect until a manager approves', async () => {
    const t = pmsFixture();
    expect(f.getIntegration(t.db, t.prop.id).mode).toBe('approval_required');
    t.pms.add({ ...jane, leaseStatus: 'current' });
    const run = await t.sync();
    expect(run.report!.automatedAccess).toMatchObject({ changes: 1, suggestions: 3, applied: 0 });
    const p = t.person(jane.id)!;
    expect(t.keysOf(p.id)).toEqual([]);
    expect(t.pending().every((s) => s.state === 'pending' && s.resolvedAt === null)).toBe(true);
    const results = approveAll(t);
    expect(results.map((r) => r.outcome)).toEqual(['applied', 'applied', 'applied']);
    expect(t.keysOf(p.id)).toEqual(['Resident Amenities', 'Resident Entrances', 'Unit 4B']);
    expect(t.pending()).toEqual([]);
  });

  it('"Current Resident: access provisioned based on unit in PMS" — the PMS unit\'s own keys, not another unit\'s', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, unit: '5C', leaseStatus: 'current' });
    await t.sync();
    expect(summary(t.pending())).toEqual([
      ['green', 'grant', 'Resident Amenities'],
      ['green', 'grant', 'Resident Entrances'],
      ['green', 'grant', 'Unit 5C'],
    ]);
    expect(t.pending().every((s) => s.reason === 'current')).toBe(true);
  });

  it('"assigns access with a start time 15 minutes after the status change" (the PMS change time, else when a pull first saw it)', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'future' });
    await t.sync();
    t.advance(DAY);
    const changedAt = t.clock.t;
    t.pms.moveIn(jane.id); // the PMS stamps the change now
    t.advance(3 * MIN); // the next pull comes a few minutes later
    await t.sync();
    const start = minute(changedAt) + 15;
    expect(t.pending().map((s) => s.start)).toEqual([start, start, start]);
    approveAll(t);
    const p = t.person(jane.id)!;
    expect(g.listGrants(t.db, p.id).map((x) => x.start)).toEqual([start, start, start]);
    expect(g.getPerson(t.db, p.id, t.ctx).status).toBe('scheduled');
    // Locks enforce the window: the credential is in the door's set with that start.
    const cred = g.credentialsForDoor(t.db, t.door4b.id, t.ctx).find((c) => c.holder === p.holderRef);
    expect(cred?.start).toBe(start);
    t.clock.t = changedAt + 15 * MIN;
    expect(g.getPerson(t.db, p.id, t.ctx).status).toBe('active');

    // A PMS that sends no change time: the pull that first sees "current" dates the change.
    const u = pmsFixture();
    u.pms.add({ ...jane, leaseStatus: 'future' });
    await u.sync();
    u.pms.setStatus(jane.id, 'current', { stamp: false });
    u.advance(HOUR);
    const seenAt = u.clock.t;
    await u.sync();
    expect(u.pending()[0]!.start).toBe(Math.ceil((seenAt + 15 * MIN) / MIN));
  });

  it('"Resident Entrances" and "Resident Amenities" are shared with every current resident', async () => {
    const t = pmsFixture({ mode: 'automatic' });
    t.pms.add({ ...jane, leaseStatus: 'current' });
    t.pms.add({ id: 't-200', firstName: 'Sam', lastName: 'Roe', email: 'sam@example.com', unit: '5C', leaseStatus: 'current' });
    t.pms.add({ id: 't-300', firstName: 'Fay', lastName: 'Ture', email: 'fay@example.com', unit: '5C', leaseStatus: 'future' });
    await t.sync();
    expect(t.keysOf(t.person('t-100')!.id)).toEqual(['Resident Amenities', 'Resident Entrances', 'Unit 4B']);
    expect(t.keysOf(t.person('t-200')!.id)).toEqual(['Resident Amenities', 'Resident Entrances', 'Unit 5C']);
    // Only current residents: a future resident gets neither.
    expect(t.keysOf(t.person('t-300')!.id)).toEqual([]);
  });

  it('common-area keys "can be configured as shareable or non-shareable keys": the key\'s own may-share setting holds for what Automated Access assigns', async () => {
    const t = pmsFixture({ mode: 'automatic' });
    t.pms.add({ ...jane, leaseStatus: 'current', statusChangedAt: new Date(t.clock.t - DAY).toISOString() });
    await t.sync();
    const p = t.person(jane.id)!;
    g.updatePerson(t.db, p.id, { mayShare: true }, t.ctx);
    const share = (keyId: number) => () => g.inviteGuest(t.db, p.id, { email: 'gus@example.com', firstName: 'Gus', lastName: 'Guest', keyIds: [keyId] }, t.ctx);
    // "Resident Entrances" is may-share in this property, "Resident Amenities" is not.
    expect(codeOf(share(t.residentAmenities.id))).toBe('KEY_NOT_SHAREABLE');
    expect(share(t.entrances.id)().grants.map((x) => x.keyName)).toEqual(['Resident Entrances']);
  });

  it('"Future Resident: No access assigned" — a grey no-change suggestion, no keys', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'future' });
    await t.sync();
    const [s] = t.pending();
    expect([s!.color, s!.action, s!.keyId, s!.reason]).toEqual(['grey', 'none', null, 'future']);
    approveAll(t);
    expect(t.keysOf(t.person(jane.id)!.id)).toEqual([]);
    expect(f.residentStatus(t.db, t.person(jane.id)!.id)).toMatchObject({ status: 'future', source: 'pms' });
  });

  it('"Unit Change: access updated based on new unit assignment" — the old unit\'s key is revoked, the new unit\'s granted, common keys stay', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    approveAll(t);
    t.advance(30 * DAY);
    t.pms.changeUnit(jane.id, '5C');
    await t.sync();
    expect(summary(t.pending())).toEqual([
      ['red', 'revoke', 'Unit 4B'],
      ['green', 'grant', 'Unit 5C'],
    ]);
    expect(t.pending().every((s) => s.reason === 'unit_change')).toBe(true);
    approveAll(t);
    expect(t.keysOf(t.person(jane.id)!.id)).toEqual(['Resident Amenities', 'Resident Entrances', 'Unit 5C']);
    // The person's unit follows too (User Sync), and the next pull of the same data changes nothing.
    expect(g.getPerson(t.db, t.person(jane.id)!.id).unitId).toBe(t.unit5c.id);
    await t.sync();
    expect(t.pending()).toEqual([]);
  });

  it('"Past Resident: All access revoked" — manually and automatically assigned keys, and what they shared with guests', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    approveAll(t);
    const p = t.person(jane.id)!;
    g.addGrants(t.db, p.id, { keyIds: [t.amenities.id] }, t.ctx); // a manual key
    g.updatePerson(t.db, p.id, { mayShare: true }, t.ctx);
    const guest = g.inviteGuest(t.db, p.id, { email: 'gus@example.com', firstName: 'Gus', lastName: 'Guest', keyIds: [t.entrances.id] }, t.ctx).guest;
    t.pms.moveOut(jane.id);
    await t.sync();
    expect(summary(t.pending())).toEqual([
      ['red', 'revoke', 'Amenities'],
      ['red', 'revoke', 'Resident Amenities'],
      ['red', 'revoke', 'Resident Entrances'],
      ['red', 'revoke', 'Unit 4B'],
    ]);
    approveAll(t);
    expect(t.keysOf(p.id)).toEqual([]);
    expect(g.listGrants(t.db, guest.id)).toEqual([]);
    // The person stays (User Sync never deletes; Automated Access only changes access).
    expect(g.getPerson(t.db, p.id).email).toBe(jane.email);
  });

  it('"When it goes past, their access is revoked within minutes" (Automatic mode, default 5-minute pull)', async () => {
    const t = pmsFixture({ mode: 'automatic' });
    const scheduler = new f.PmsScheduler({ db: t.db, now: () => t.clock.t, adapterFor: () => t.pms });
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await scheduler.tick();
    const p = t.person(jane.id)!;
    expect(t.keysOf(p.id)).toHaveLength(3);
    drainJournal(t.db);
    t.advance(2 * MIN);
    const movedOutAt = t.clock.t;
    t.pms.moveOut(jane.id);
    let revokedAt: number | null = null;
    for (let i = 0; i < 60 && revokedAt === null; i++) {
      t.advance(MIN);
      await scheduler.tick();
      if (t.keysOf(p.id).length === 0) revokedAt = t.clock.t;
    }
    expect(revokedAt).not.toBeNull();
    expect(revokedAt! - movedOutAt).toBeLessThanOrEqual(5 * MIN);
    // The revocation is in the journal for the compiler: every door Jane could open.
    expect(pendingDoors(t.db)).toEqual([t.lobby.id, t.gym.id, t.door4b.id].sort((a, b) => a - b));
  });

  it('"Automatic: access changes are applied immediately without review"', async () => {
    const t = pmsFixture({ mode: 'automatic' });
    t.pms.add({ ...jane, leaseStatus: 'current' });
    const run = await t.sync();
    expect(run.report!.automatedAccess).toMatchObject({ suggestions: 3, applied: 3, failed: 0 });
    expect(t.pending()).toEqual([]);
    const done = f.listSuggestions(t.db, t.prop.id, { state: 'applied' });
    expect(done.map((s) => [s.resolvedBy, s.result])).toEqual([
      ['automatic', 'granted'],
      ['automatic', 'granted'],
      ['automatic', 'granted'],
    ]);
    expect(t.keysOf(t.person(jane.id)!.id)).toHaveLength(3);
    expect(g.listGrants(t.db, t.person(jane.id)!.id).every((x) => x.source === 'automated')).toBe(true);
  });

  it('"Changing the operation mode": switching to Automatic applies later changes at once; suggestions already pending still wait', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const waiting = t.pending().map((s) => s.id);
    f.configureIntegration(t.db, t.prop.id, { mode: 'automatic' }, t.ctx);
    expect(g.listActivity(t.db, t.prop.id, { kind: 'access' })[0]!.message).toContain('mode automatic');
    t.pms.add({ id: 't-200', firstName: 'Sam', lastName: 'Roe', email: 'sam@example.com', unit: '5C', leaseStatus: 'current' });
    await t.sync();
    expect(t.keysOf(t.person('t-200')!.id)).toHaveLength(3);
    expect(t.pending().map((s) => s.id)).toEqual(waiting);
    f.configureIntegration(t.db, t.prop.id, { mode: 'approval_required' }, t.ctx);
    t.pms.moveOut('t-200');
    await t.sync();
    expect(t.keysOf(t.person('t-200')!.id)).toHaveLength(3);
  });

  it('"select one or more access suggestions (up to 50 at a time)": 51 is refused with nothing applied, 50 apply', async () => {
    const t = pmsFixture();
    for (let i = 0; i < 17; i++) t.pms.add({ id: `r-${i}`, firstName: `R${i}`, lastName: 'Doe', email: `r${i}@example.com`, unit: '4B', leaseStatus: 'current' });
    await t.sync();
    const ids = t.pending().map((s) => s.id);
    expect(ids).toHaveLength(51);
    expect(codeOf(() => f.approveSuggestions(t.db, t.prop.id, ids, t.ctx))).toBe('APPROVAL_BATCH_TOO_LARGE');
    expect(t.pending()).toHaveLength(51);
    expect((t.db.prepare("SELECT count(*) AS n FROM grants WHERE source = 'automated'").get() as { n: number }).n).toBe(0);
    const r = f.approveSuggestions(t.db, t.prop.id, ids.slice(0, 50), t.ctx);
    expect(r.filter((x) => x.outcome === 'applied')).toHaveLength(50);
    expect(t.pending().map((s) => s.id)).toEqual([ids[50]]);
    expect(codeOf(() => f.approveSuggestions(t.db, t.prop.id, [], t.ctx))).toBe('INVALID_ARGUMENT');
  });

  it('"To discard a suggestion … select the X button. This removes it from the pending list"', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const amen = t.pending().find((s) => s.keyName === 'Resident Amenities')!;
    const d = f.discardSuggestion(t.db, t.prop.id, amen.id, t.ctx);
    expect(d.state).toBe('discarded');
    expect(t.pending().map((s) => s.keyName).sort()).toEqual(['Resident Entrances', 'Unit 4B']);
    expect(codeOf(() => f.discardSuggestion(t.db, t.prop.id, amen.id, t.ctx))).toBe('SUGGESTION_NOT_PENDING');
    approveAll(t);
    expect(t.keysOf(t.person(jane.id)!.id)).toEqual(['Resident Entrances', 'Unit 4B']);
    // A discarded suggestion cannot be approved later.
    expect(f.approveSuggestions(t.db, t.prop.id, [amen.id], t.ctx)).toEqual([{ id: amen.id, outcome: 'skipped', result: 'already discarded', code: 'SUGGESTION_NOT_PENDING', affectedDoors: [] }]);
  });

  it('suggestions are colour-coded: green grants a key, red revokes one, grey suggests no change', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    t.pms.add({ id: 't-300', firstName: 'Fay', lastName: 'Ture', email: 'fay@example.com', unit: '5C', leaseStatus: 'future' });
    await t.sync();
    approveAll(t);
    t.pms.moveOut(jane.id);
    await t.sync();
    const all = f.listSuggestions(t.db, t.prop.id, { limit: 100 });
    const seen = new Set(all.map((s) => `${s.action}:${s.color}`));
    expect([...seen].sort()).toEqual(['grant:green', 'none:grey', 'revoke:red']);
  });

  it('a newer status change supersedes suggestions still pending, so a stale grant cannot be approved after a move-out', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const stale = t.pending().map((s) => s.id);
    t.pms.moveOut(jane.id);
    await t.sync();
    expect(f.listSuggestions(t.db, t.prop.id, { state: 'superseded' }).map((s) => s.id)).toEqual(stale);
    // She held nothing: the move-out is a grey "no change", and the old grants are not approvable.
    expect(summary(t.pending())).toEqual([['grey', 'none', null]]);
    expect(f.approveSuggestions(t.db, t.prop.id, stale, t.ctx).every((r) => r.outcome === 'skipped')).toBe(true);
    expect(t.keysOf(t.person(jane.id)!.id)).toEqual([]);
  });

  it('every applied change goes through the model and is journaled for the compiler like a manual edit', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    drainJournal(t.db);
    const r = approveAll(t);
    const doors = [t.lobby.id, t.gym.id, t.door4b.id].sort((a, b) => a - b);
    expect([...new Set(r.flatMap((x) => x.affectedDoors))].sort((a, b) => a - b)).toEqual(doors);
    expect(pendingDoors(t.db)).toEqual(doors);
    const reasons = g.dirtyDoors(t.db).flatMap((d) => d.changes.map((c) => c.reason));
    expect(reasons.every((x) => x.includes('Jane Doe'))).toBe(true);
    const p = t.person(jane.id)!;
    for (const d of doors) expect(g.credentialsForDoor(t.db, d, { now: () => t.clock.t + HOUR }).some((c) => c.holder === p.holderRef)).toBe(true);
    const log = g.listActivity(t.db, t.prop.id, { kind: 'access', holderRef: p.holderRef });
    expect(log.filter((a) => a.action === 'grant.added').map((a) => a.actor)).toEqual(['test', 'test', 'test']);
  });

  it('Manual "Future Resident → Current Resident": resident keys are assigned from the ePMS unit assignment', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, unit: '5C', leaseStatus: 'future' });
    await t.sync();
    const p = t.person(jane.id)!;
    drainJournal(t.db);
    const r = f.setResidentStatus(t.db, p.id, 'current', t.ctx);
    expect(r).toMatchObject({ status: 'current', source: 'manual' });
    expect(t.keysOf(p.id)).toEqual(['Resident Amenities', 'Resident Entrances', 'Unit 5C']);
    expect(g.listGrants(t.db, p.id).map((x) => x.start)).toEqual([null, null, null]);
    expect(r.affectedDoors).toEqual(pendingDoors(t.db));
    // The grey "future" suggestion is superseded by the manager's decision.
    expect(t.pending()).toEqual([]);
  });

  it('Manual "Current Resident → Past Resident": all keys (manually and automatically assigned) are revoked', async () => {
    const t = pmsFixture({ mode: 'automatic' });
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const p = t.person(jane.id)!;
    g.addGrants(t.db, p.id, { keyIds: [t.amenities.id] }, t.ctx);
    expect(t.keysOf(p.id)).toHaveLength(4);
    const r = f.setResidentStatus(t.db, p.id, 'past', t.ctx);
    expect(t.keysOf(p.id)).toEqual([]);
    expect(r.status).toBe('past');
    expect(g.getPerson(t.db, p.id, t.ctx).status).toBe('revoked');
  });

  it('Manual "Current Resident → Future Resident": all keys (manually and automatically assigned) are revoked', async () => {
    const t = pmsFixture({ mode: 'automatic' });
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const p = t.person(jane.id)!;
    g.addGrants(t.db, p.id, { keyIds: [t.amenities.id] }, t.ctx);
    f.setResidentStatus(t.db, p.id, 'future', t.ctx);
    expect(t.keysOf(p.id)).toEqual([]);
    expect(f.residentStatus(t.db, p.id)).toMatchObject({ status: 'future', source: 'manual' });
  });

  it('"manually override any resident\'s status … regardless of their PMS status": the next pull of unchanged PMS data does not undo it; a later PMS change is acted on', async () => {
    const t = pmsFixture({ mode: 'automatic' });
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const p = t.person(jane.id)!;
    f.setResidentStatus(t.db, p.id, 'past', t.ctx);
    t.advance(HOUR);
    await t.sync();
    await t.sync();
    expect(t.keysOf(p.id)).toEqual([]);
    expect(f.residentStatus(t.db, p.id)).toMatchObject({ status: 'past', source: 'manual', pms: { leaseStatus: 'current' } });
    // The PMS moves her to 5C: that is a new change, and Automated Access follows it.
    t.pms.changeUnit(jane.id, '5C');
    await t.sync();
    expect(t.keysOf(p.id)).toEqual(['Unit 5C']);
  });

  it('Step 1: "Automated Access requires User Sync to be active"', () => {
    const t = pmsFixture({ automatedAccess: false });
    expect(codeOf(() => f.configureIntegration(t.db, t.prop.id, { userSync: false, automatedAccess: true }, t.ctx))).toBe('USER_SYNC_REQUIRED');
    f.configureIntegration(t.db, t.prop.id, { automatedAccess: true }, t.ctx);
    expect(codeOf(() => f.configureIntegration(t.db, t.prop.id, { userSync: false }, t.ctx))).toBe('USER_SYNC_REQUIRED');
    // The store holds the rule too.
    expect(() => t.db.prepare('UPDATE pms_integrations SET user_sync = 0').run()).toThrow(/CHECK/);
    expect(f.getIntegration(t.db, t.prop.id)).toMatchObject({ userSync: true, automatedAccess: true });
  });

  it('post-activation: the last sync date and the alert icon (pending suggestions) are visible', async () => {
    const t = pmsFixture();
    expect(f.getIntegration(t.db, t.prop.id).lastSyncAt).toBeNull();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    t.advance(10 * MIN);
    await t.sync();
    expect(f.getIntegration(t.db, t.prop.id).lastSyncAt).toBe(t.clock.t);
    expect(f.pendingSuggestionCount(t.db, t.prop.id)).toBe(3);
    approveAll(t);
    expect(f.pendingSuggestionCount(t.db, t.prop.id)).toBe(0);
  });
});

describe('Automated Access: bad input', () => {
  it('a current resident in a PMS unit DOOR does not know is a record issue, retried until the unit exists; other records go on', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, unit: '9Z', leaseStatus: 'current' });
    t.pms.add({ id: 't-200', firstName: 'Sam', lastName: 'Roe', email: 'sam@example.com', unit: '5C', leaseStatus: 'current' });
    const r1 = await t.sync();
    expect(r1.report!.issues).toEqual([{ ref: jane.id, code: 'UNIT_NOT_FOUND', message: 'PMS unit "9Z" has no DOOR unit of that name' }]);
    expect(t.person(jane.id)).toBeUndefined();
    expect(t.pending().map((s) => s.personName)).toEqual(['Sam Roe', 'Sam Roe', 'Sam Roe']);
    const u = g.createUnit(t.db, t.prop.id, { name: '9Z' }, t.ctx);
    const d = g.createDoor(t.db, t.prop.id, { name: '9Z door', lockId: '00000000000000f9', connectivity: 'offline', unitId: u.id }, t.ctx);
    g.createKey(t.db, t.prop.id, { name: 'Unit 9Z', kind: 'residential', doorIds: [d.id], mayShare: false, doorcodesDisabled: false, unitId: u.id }, t.ctx);
    const r2 = await t.sync();
    expect(r2.report!.issues).toEqual([]);
    expect(t.pending().filter((s) => s.personName === 'Jane Doe').map((s) => s.keyName).sort()).toEqual(['Resident Amenities', 'Resident Entrances', 'Unit 9Z']);
  });

  it('an approval that cannot apply is marked failed with its reason, and the others in the batch still apply', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const ids = t.pending().map((s) => s.id);
    const unitKey = t.pending().find((s) => s.keyName === 'Unit 4B')!;
    // No ordinary edit makes a suggestion unappliable (deleting its key or person deletes it, see
    // below), so one row is corrupted to prove that a failure stays inside its own savepoint.
    t.db.prepare('UPDATE access_suggestions SET start_min = ? WHERE id = ?').run(2 ** 60, unitKey.id);
    const r = f.approveSuggestions(t.db, t.prop.id, ids, t.ctx);
    expect(r.find((x) => x.id === unitKey.id)).toMatchObject({ outcome: 'failed', code: 'INVALID_WINDOW' });
    expect(r.filter((x) => x.outcome === 'applied')).toHaveLength(2);
    expect(f.getSuggestion(t.db, unitKey.id)).toMatchObject({ state: 'failed' });
    expect(t.keysOf(t.person(jane.id)!.id)).toEqual(['Resident Amenities', 'Resident Entrances']);
    // Deleting the person takes their suggestions with them: nothing is left to apply to no one.
    g.deletePerson(t.db, t.person(jane.id)!.id, t.ctx);
    expect(f.listSuggestions(t.db, t.prop.id, { state: 'applied' })).toEqual([]);
  });

  it('a resident deleted in DOOR while still current in the PMS comes back as a new contact with no access (only PMS changes move access)', async () => {
    const t = pmsFixture({ mode: 'automatic' });
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const first = t.person(jane.id)!;
    g.deletePerson(t.db, first.id, t.ctx);
    const run = await t.sync();
    expect(run.report!.userSync).toMatchObject({ created: 1 });
    const again = t.person(jane.id)!;
    expect(again.holderRef).not.toBe(first.holderRef); // a new person (row ids may be reused, holder references never)
    expect(t.keysOf(again.id)).toEqual([]);
    t.pms.changeUnit(jane.id, '5C');
    await t.sync();
    expect(t.keysOf(again.id)).toEqual(['Unit 5C']);
  });

  it('suggestions of another property, unknown ids, and manual "current" without a PMS unit are refused', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await t.sync();
    const other = g.createProperty(t.db, { name: 'Other', utcOffsetMin: 0 }, t.ctx);
    const id = t.pending()[0]!.id;
    expect(codeOf(() => f.approveSuggestions(t.db, other.id, [id], t.ctx))).toBe('SUGGESTION_NOT_FOUND');
    expect(codeOf(() => f.approveSuggestions(t.db, t.prop.id, [id, 99_999], t.ctx))).toBe('SUGGESTION_NOT_FOUND');
    expect(t.pending()[0]!.state).toBe('pending');
    expect(codeOf(() => f.discardSuggestion(t.db, other.id, id, t.ctx))).toBe('SUGGESTION_NOT_FOUND');
    const walkIn = g.invitePerson(t.db, t.prop.id, { email: 'walk@example.com', firstName: 'Walk', lastName: 'In', accessType: 'app', keyIds: [t.entrances.id] }, t.ctx).person;
    expect(codeOf(() => f.setResidentStatus(t.db, walkIn.id, 'current', t.ctx))).toBe('NO_PMS_UNIT');
    expect(t.keysOf(walkIn.id)).toEqual(['Resident Entrances']);
  });
});
