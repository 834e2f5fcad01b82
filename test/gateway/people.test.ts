import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { DAY, HOUR, codeOf, drainJournal, fixture, minute, pendingDoors, resident } from './helpers.js';

describe('invite (seeds 001/004)', () => {
  it('creates a DOOR-app person with a unique static doorcode, holder reference, grants and a welcome email', () => {
    const f = fixture();
    drainJournal(f.db);
    const r = resident(f, { end: minute(f.clock.t + 365 * DAY) });
    expect(r.created).toBe(true);
    expect(r.person).toMatchObject({ email: 'jane@example.com', accessType: 'app', isResident: true, mayShare: true, hasDoorcode: true, dailyDoorcode: false, status: 'active' });
    expect(r.person.holderRef).toBe(1);
    expect(g.personDoorcode(f.db, r.person.id)).toMatch(/^\d{6}$/);
    expect(r.grants.map((x) => x.keyId).sort()).toEqual([f.entrances.id, f.key4b.id].sort());
    expect(r.warnings).toEqual([]);
    expect(r.affectedDoors).toEqual([f.lobby.id, f.door4b.id].sort((a, b) => a - b));
    expect(pendingDoors(f.db)).toEqual(r.affectedDoors);
    const mail = f.db.prepare('SELECT kind, email, created_at AS at FROM notifications WHERE person_id = ?').all(r.person.id);
    expect(mail).toEqual([{ kind: 'welcome', email: 'jane@example.com', at: f.clock.t }]);
  });

  it('creates a doorcode-only person with a daily doorcode and no static code', () => {
    const f = fixture();
    const r = resident(f, { accessType: 'doorcode' });
    expect(r.person).toMatchObject({ accessType: 'doorcode', dailyDoorcode: true, hasDoorcode: false });
    expect(g.personDoorcode(f.db, r.person.id)).toBeNull();
  });

  it('recommends an expiration when none is set', () => {
    const f = fixture();
    const r = resident(f);
    expect(r.warnings.map((w) => w.code)).toEqual(['EXPIRATION_RECOMMENDED']);
  });

  it('with a future start: the welcome email goes today, access shows as scheduled, then active at the start', () => {
    const f = fixture();
    const start = minute(f.clock.t + 3 * DAY);
    const r = resident(f, { start, end: start + 60 * 24 * 365 });
    expect(r.person.status).toBe('scheduled');
    expect(f.db.prepare('SELECT count(*) AS n FROM notifications WHERE person_id = ?').get(r.person.id)).toEqual({ n: 1 });
    // Default People tab shows scheduled people too.
    expect(g.listPeople(f.db, f.prop.id, {}, f.ctx).map((p) => p.id)).toEqual([r.person.id]);
    f.clock.t += 3 * DAY;
    expect(g.getPerson(f.db, r.person.id, f.ctx).status).toBe('active');
  });

  it('email is the identity: inviting an existing email (any case) adds keys to that person, no duplicate', () => {
    const f = fixture();
    const first = resident(f, { keyIds: [f.entrances.id] });
    const again = resident(f, { email: '  JANE@Example.COM ', firstName: 'Janet', keyIds: [f.amenities.id] });
    expect(again.created).toBe(false);
    expect(again.person.id).toBe(first.person.id);
    expect(again.person.firstName).toBe('Jane');
    expect(g.listGrants(f.db, first.person.id).map((x) => x.keyId).sort()).toEqual([f.entrances.id, f.amenities.id].sort());
    expect(g.listPeople(f.db, f.prop.id, { includeExpired: true }, f.ctx)).toHaveLength(1);
  });

  it('re-inviting with a key already held replaces its window instead of adding a second grant', () => {
    const f = fixture();
    const end1 = minute(f.clock.t + 10 * DAY);
    const end2 = minute(f.clock.t + 20 * DAY);
    const a = resident(f, { keyIds: [f.entrances.id], end: end1 });
    resident(f, { keyIds: [f.entrances.id], end: end2 });
    const grants = g.listGrants(f.db, a.person.id);
    expect(grants).toHaveLength(1);
    expect(grants[0]!.end).toBe(end2);
  });

  it('refuses an invite that is already expired, a start after the expiration, unknown or foreign keys, bad emails', () => {
    const f = fixture();
    expect(codeOf(() => resident(f, { end: minute(f.clock.t - HOUR) }))).toBe('EXPIRATION_IN_PAST');
    expect(codeOf(() => resident(f, { start: minute(f.clock.t + 2 * DAY), end: minute(f.clock.t + DAY) }))).toBe('INVALID_WINDOW');
    expect(codeOf(() => resident(f, { keyIds: [999] }))).toBe('KEY_NOT_FOUND');
    const other = g.createProperty(f.db, { name: 'Other', utcOffsetMin: 0 }, f.ctx);
    const d = g.createDoor(f.db, other.id, { name: 'X', lockId: '00000000000000f1', connectivity: 'offline' }, f.ctx);
    const k = g.createKey(f.db, other.id, { name: 'X', kind: 'communal', doorIds: [d.id], mayShare: false, doorcodesDisabled: false }, f.ctx);
    expect(codeOf(() => resident(f, { keyIds: [k.id] }))).toBe('KEY_NOT_FOUND');
    expect(codeOf(() => resident(f, { email: 'not-an-email' }))).toBe('INVALID_EMAIL');
    expect(codeOf(() => resident(f, { keyIds: [] }))).toBe('INVALID_ARGUMENT');
    // Nothing of the failed invites was kept: no person, no holder reference, no journal rows.
    expect(g.listPeople(f.db, f.prop.id, { includeExpired: true }, f.ctx)).toEqual([]);
    expect(f.db.prepare('SELECT count(*) AS n FROM holders WHERE property_id = ?').get(f.prop.id)).toEqual({ n: 0 });
  });

  it('the same email may exist in two properties as two people', () => {
    const f = fixture();
    const other = g.createProperty(f.db, { name: 'Other', utcOffsetMin: 0 }, f.ctx);
    const d = g.createDoor(f.db, other.id, { name: 'X', lockId: '00000000000000f1', connectivity: 'offline' }, f.ctx);
    const k = g.createKey(f.db, other.id, { name: 'X', kind: 'communal', doorIds: [d.id], mayShare: false, doorcodesDisabled: false }, f.ctx);
    const a = resident(f);
    const b = g.invitePerson(f.db, other.id, { email: 'jane@example.com', firstName: 'Jane', lastName: 'Doe', accessType: 'app', keyIds: [k.id] }, f.ctx);
    expect(b.created).toBe(true);
    expect(b.person.id).not.toBe(a.person.id);
    expect(b.person.holderRef).toBe(1);
  });
});

describe('people list', () => {
  it('searches name and email case-insensitively, treating % and _ literally, and filters residents', () => {
    const f = fixture();
    resident(f);
    resident(f, { email: 'bob_smith@example.com', firstName: 'Bob', lastName: 'Smith', isResident: false });
    const emails = (q: g.PeopleQuery) => g.listPeople(f.db, f.prop.id, q, f.ctx).map((p) => p.email);
    expect(emails({ search: 'JANE' })).toEqual(['jane@example.com']);
    expect(emails({ search: 'bob smith' })).toEqual(['bob_smith@example.com']);
    expect(emails({ search: 'b_s' })).toEqual(['bob_smith@example.com']);
    expect(emails({ search: 'e_e' })).toEqual([]);
    expect(emails({ search: '%' })).toEqual([]);
    expect(emails({ residentsOnly: true })).toEqual(['jane@example.com']);
    expect(emails({ limit: 1, offset: 1 })).toEqual(['bob_smith@example.com']); // sorted by last name
  });
});

describe('edit (add/remove keys, change expiration)', () => {
  it('adds a key, changes its expiration and removes it, journaling the key doors each time', () => {
    const f = fixture();
    const p = resident(f, { keyIds: [f.entrances.id] }).person;
    drainJournal(f.db);
    const added = g.addGrants(f.db, p.id, { keyIds: [f.amenities.id], end: minute(f.clock.t + 30 * DAY) }, f.ctx);
    expect(added.affectedDoors).toEqual([f.gym.id]);
    expect(pendingDoors(f.db)).toEqual([f.gym.id]);
    drainJournal(f.db);
    const grant = added.grants[0]!;
    const later = minute(f.clock.t + 60 * DAY);
    const updated = g.updateGrant(f.db, grant.id, { end: later }, f.ctx);
    expect(updated.end).toBe(later);
    expect(updated.start).toBeNull();
    expect(pendingDoors(f.db)).toEqual([f.gym.id]);
    drainJournal(f.db);
    expect(g.removeGrant(f.db, grant.id, f.ctx).affectedDoors).toEqual([f.gym.id]);
    expect(g.listGrants(f.db, p.id).map((x) => x.keyId)).toEqual([f.entrances.id]);
    expect(codeOf(() => g.removeGrant(f.db, grant.id, f.ctx))).toBe('GRANT_NOT_FOUND');
  });

  it('an edit may end access in the past (cut short) but not invert the window', () => {
    const f = fixture();
    const grant = resident(f, { keyIds: [f.entrances.id] }).grants[0]!;
    const past = minute(f.clock.t - HOUR);
    expect(g.updateGrant(f.db, grant.id, { end: past }, f.ctx).end).toBe(past);
    expect(g.getPerson(f.db, grant.personId, f.ctx).status).toBe('expired');
    expect(codeOf(() => g.updateGrant(f.db, grant.id, { start: past + 10 }, f.ctx))).toBe('INVALID_WINDOW');
  });

  it('edits contact details; a new email must be free; the holder registry follows the name', () => {
    const f = fixture();
    const a = resident(f).person;
    const b = resident(f, { email: 'bob@example.com', firstName: 'Bob' }).person;
    expect(codeOf(() => g.updatePerson(f.db, b.id, { email: 'JANE@example.com' }, f.ctx))).toBe('EMAIL_TAKEN');
    const renamed = g.updatePerson(f.db, a.id, { lastName: 'Smith', phone: '+1 555 0100' }, f.ctx);
    expect(renamed).toMatchObject({ lastName: 'Smith', phone: '+1 555 0100' });
    expect(f.db.prepare('SELECT name FROM holders WHERE property_id = ? AND holder_ref = ?').get(f.prop.id, a.holderRef)).toEqual({ name: 'Jane Smith' });
  });

  it('switching to doorcode-only revokes phone keys (and journals their doors)', () => {
    const f = fixture();
    const p = resident(f, { keyIds: [f.entrances.id] }).person;
    g.addPhoneKey(f.db, p.id, { publicKey: 'ab'.repeat(32) }, f.ctx);
    drainJournal(f.db);
    const r = g.updatePerson(f.db, p.id, { accessType: 'doorcode' }, f.ctx);
    expect(r.affectedDoors).toEqual([f.lobby.id]);
    expect(g.listPhoneKeys(f.db, p.id)).toEqual([]);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).some((c) => c.kind === 'phone')).toBe(false);
  });
});

describe('revoke all keys', () => {
  it('keeps the person, removes every grant, shows them only with Show Expired Users, and re-grant works', () => {
    const f = fixture();
    const p = resident(f).person;
    drainJournal(f.db);
    const r = g.revokeAllKeys(f.db, p.id, f.ctx);
    expect(r.status).toBe('revoked');
    expect(r.revokedAt).toBe(f.clock.t);
    expect(r.affectedDoors).toEqual([f.lobby.id, f.door4b.id].sort((a, b) => a - b));
    expect(pendingDoors(f.db)).toEqual(r.affectedDoors);
    expect(g.listGrants(f.db, p.id)).toEqual([]);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)).toEqual([]);
    expect(g.listPeople(f.db, f.prop.id, {}, f.ctx)).toEqual([]);
    expect(g.listPeople(f.db, f.prop.id, { includeExpired: true }, f.ctx).map((x) => x.id)).toEqual([p.id]);
    const reasons = g.dirtyDoors(f.db).flatMap((d) => d.changes.map((c) => c.reason));
    expect(reasons).toContain('revoked all keys of Jane Doe');

    // Same record, same holder reference and doorcode: the old credentials come back with the key.
    const code = g.personDoorcode(f.db, p.id);
    const again = g.addGrants(f.db, p.id, { keyIds: [f.entrances.id] }, f.ctx);
    expect(again.grants).toHaveLength(1);
    expect(g.getPerson(f.db, p.id, f.ctx).status).toBe('active');
    const creds = g.credentialsForDoor(f.db, f.lobby.id, f.ctx);
    expect(creds).toEqual([{ kind: 'doorcode', code: code!, holder: p.holderRef, start: null, end: null, schedule: null }]);
  });

  it("also revokes the guests' access the person shared", () => {
    const f = fixture();
    const host = resident(f).person;
    const guest = g.inviteGuest(f.db, host.id, { email: 'guest@example.com', firstName: 'Gus', lastName: 'Guest', keyIds: [f.entrances.id] }, f.ctx).guest;
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).map((c) => c.holder)).toContain(guest.holderRef);
    g.revokeAllKeys(f.db, host.id, f.ctx);
    expect(g.listGrants(f.db, guest.id)).toEqual([]);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)).toEqual([]);
    // The guest record stays (it is a person); re-granting the host does not bring the guest back.
    g.addGrants(f.db, host.id, { keyIds: [f.entrances.id] }, f.ctx);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx).map((c) => c.holder)).toEqual([host.holderRef]);
  });
});

describe('delete person', () => {
  it('removes the record and credentials, cuts their guests, keeps past activity by name, never reuses the holder reference', () => {
    const f = fixture();
    const p = resident(f).person;
    g.activateKeycard(f.db, p.id, '04a1b2c3', f.ctx);
    const guest = g.inviteGuest(f.db, p.id, { email: 'guest@example.com', firstName: 'Gus', lastName: 'Guest', keyIds: [f.entrances.id] }, f.ctx).guest;
    g.recordLockEvents(f.db, f.lobby.id, [{ at: f.clock.t, holder: p.holderRef, credentialKind: 'doorcode', result: 'granted', lockSeq: 1 }]);
    drainJournal(f.db);

    const r = g.deletePerson(f.db, p.id, f.ctx);
    expect(r.affectedDoors).toEqual([f.lobby.id, f.door4b.id].sort((a, b) => a - b));
    expect(codeOf(() => g.getPerson(f.db, p.id, f.ctx))).toBe('PERSON_NOT_FOUND');
    expect(g.listPeople(f.db, f.prop.id, { includeExpired: true }, f.ctx).map((x) => x.id)).toEqual([guest.id]);
    expect(g.listGrants(f.db, guest.id)).toEqual([]);
    expect(g.credentialsForDoor(f.db, f.lobby.id, f.ctx)).toEqual([]);
    expect(f.db.prepare('SELECT count(*) AS n FROM keycards WHERE person_id = ?').get(p.id)).toEqual({ n: 0 });

    const history = g.listActivity(f.db, f.prop.id, { holderRef: p.holderRef });
    expect(history.find((a) => a.kind === 'unlock')).toMatchObject({ holderName: 'Jane Doe', result: 'granted', doorName: 'Lobby' });
    expect(history.find((a) => a.action === 'person.deleted')).toMatchObject({ holderName: 'Jane Doe' });

    // The lock still runs the old set until synced; its uploads still resolve to the deleted person.
    g.recordLockEvents(f.db, f.lobby.id, [{ at: f.clock.t + 1000, holder: p.holderRef, credentialKind: 'doorcode', result: 'granted', lockSeq: 2 }]);
    expect(g.listActivity(f.db, f.prop.id, { kind: 'unlock' })[0]).toMatchObject({ holderName: 'Jane Doe' });

    // "To restore access later, send a new invitation": a new person with a new holder reference.
    const back = resident(f);
    expect(back.created).toBe(true);
    expect(back.person.id).not.toBe(p.id);
    expect(back.person.holderRef).toBe(Math.max(p.holderRef, guest.holderRef) + 1);
  });
});
