import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, bit, bool, nowOf, one, run, tx, uniq, type Ctx } from './base.js';
import { logAccess } from './activity.js';
import { newDoorcode, revokeAllPhoneKeys } from './credentials.js';
import { grantKeys, revokeSharedGrants, type Window } from './grants.js';
import { affectedDoors, doorsForPerson, journalDoors } from './journal.js';
import { getProperty } from './properties.js';
import type { AccessType, AffectsDoors, Grant, GrantSource, Person, PersonStatus } from './types.js';
import { personRef } from './refs.js';
import { requireUnitIn } from './units.js';
import { normalizeEmail, requireName } from './validate.js';
import { minuteOf } from '../time.js';

interface PersonRow {
  id: number;
  propertyId: number;
  holderRef: number;
  email: string;
  firstName: string;
  lastName: string;
  phone: string | null;
  isResident: number;
  mayShare: number;
  accessType: AccessType;
  hasDoorcode: number;
  dailyDoorcode: number;
  unitId: number | null;
  externalRef: string | null;
  createdAt: number;
  revokedAt: number | null;
  status: PersonStatus;
}

/** Status is computed, not stored, so it can never disagree with the grants (see PersonStatus). */
const SELECT_PEOPLE = `SELECT p.id, p.property_id AS propertyId, p.holder_ref AS holderRef, p.email, p.first_name AS firstName,
  p.last_name AS lastName, p.phone, p.is_resident AS isResident, p.may_share AS mayShare, p.access_type AS accessType,
  (p.doorcode IS NOT NULL) AS hasDoorcode, p.daily_doorcode AS dailyDoorcode, p.unit_id AS unitId,
  p.external_ref AS externalRef, p.created_at AS createdAt, p.revoked_at AS revokedAt,
  CASE
    WHEN EXISTS (SELECT 1 FROM grants g WHERE g.person_id = p.id AND (g.start_min IS NULL OR g.start_min <= @now)
                 AND (g.end_min IS NULL OR g.end_min > @now)) THEN 'active'
    WHEN EXISTS (SELECT 1 FROM grants g WHERE g.person_id = p.id AND g.start_min > @now) THEN 'scheduled'
    WHEN EXISTS (SELECT 1 FROM grants g WHERE g.person_id = p.id) THEN 'expired'
    WHEN p.revoked_at IS NOT NULL THEN 'revoked'
    ELSE 'no_access'
  END AS status
  FROM people p`;

function toPerson(r: PersonRow): Person {
  return { ...r, isResident: bool(r.isResident), mayShare: bool(r.mayShare), hasDoorcode: bool(r.hasDoorcode), dailyDoorcode: bool(r.dailyDoorcode) };
}

export function getPerson(db: Db, id: number, ctx: Ctx = {}): Person {
  const r = one<PersonRow>(db, `${SELECT_PEOPLE} WHERE p.id = @id`, { id, now: minuteOf(nowOf(ctx)) });
  if (!r) throw new GatewayError('PERSON_NOT_FOUND', `person ${id} does not exist`);
  return toPerson(r);
}

export function findPersonByEmail(db: Db, propertyId: number, email: string, ctx: Ctx = {}): Person | undefined {
  const { norm } = normalizeEmail(email);
  const r = one<PersonRow>(db, `${SELECT_PEOPLE} WHERE p.property_id = @pid AND p.email_norm = @norm`, {
    pid: propertyId,
    norm,
    now: minuteOf(nowOf(ctx)),
  });
  return r ? toPerson(r) : undefined;
}

export interface PeopleQuery {
  /** "Show Expired Users": also list people whose access is expired, revoked or empty. */
  includeExpired?: boolean;
  /** Case-insensitive match on name or email. */
  search?: string;
  residentsOnly?: boolean;
  limit?: number;
  offset?: number;
}

/** The People tab's selection (status is computed in SQL, so lists and counts share it). */
function peopleSelection(propertyId: number, q: PeopleQuery, ctx: Ctx): { sql: string; params: Record<string, unknown> } {
  return {
    sql: `SELECT * FROM (${SELECT_PEOPLE} WHERE p.property_id = @pid
        AND (@search IS NULL OR p.email_norm LIKE @search ESCAPE '\\' OR lower(p.first_name || ' ' || p.last_name) LIKE @search ESCAPE '\\')
        AND (@residents = 0 OR p.is_resident = 1))
      WHERE @all = 1 OR status IN ('active', 'scheduled')`,
    params: {
      pid: propertyId,
      now: minuteOf(nowOf(ctx)),
      search: q.search ? `%${q.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null,
      residents: bit(q.residentsOnly ?? false),
      all: bit(q.includeExpired ?? false),
    },
  };
}

export function listPeople(db: Db, propertyId: number, q: PeopleQuery = {}, ctx: Ctx = {}): Person[] {
  const sel = peopleSelection(propertyId, q, ctx);
  const rows = all<PersonRow>(db, `${sel.sql} ORDER BY lastName, firstName, id LIMIT @limit OFFSET @offset`, { ...sel.params, limit: q.limit ?? 1000, offset: q.offset ?? 0 });
  return rows.map(toPerson);
}

/** How many people listPeople would list without a limit. */
export function countPeople(db: Db, propertyId: number, q: Omit<PeopleQuery, 'limit' | 'offset'> = {}, ctx: Ctx = {}): number {
  const sel = peopleSelection(propertyId, q, ctx);
  return one<{ n: number }>(db, `SELECT count(*) AS n FROM (${sel.sql})`, sel.params)!.n;
}

export interface NewPersonInput {
  email: string;
  firstName: string;
  lastName: string;
  phone?: string | null;
  /** `app`: DOOR app (phone keys) plus a static doorcode; `doorcode`: a daily doorcode only. */
  accessType: AccessType;
  isResident?: boolean;
  /** Whether the person may share keys with guests (each key must also be may-share). */
  mayShare?: boolean;
  /** Issue a static doorcode. Default: yes for app users, no for doorcode-only people. */
  doorcode?: boolean;
  /** Default: on for doorcode-only people. */
  dailyDoorcode?: boolean;
  unitId?: number | null;
  externalRef?: string | null;
}

/**
 * Creates the person row with a fresh holder reference. Holder references come from the
 * `holders` registry, which keeps every reference ever issued, so max+1 never reuses one.
 */
export function createPersonRecord(db: Db, propertyId: number, input: NewPersonInput, at: number): number {
  const { email, norm } = normalizeEmail(input.email);
  const firstName = requireName(input.firstName, 'first name');
  const lastName = requireName(input.lastName, 'last name');
  requireUnitIn(db, propertyId, input.unitId);
  if (one(db, 'SELECT 1 FROM people WHERE property_id = ? AND email_norm = ?', propertyId, norm)) {
    throw new GatewayError('EMAIL_TAKEN', `${email} already belongs to a person in property ${propertyId}`);
  }
  if (input.externalRef != null && one(db, 'SELECT 1 FROM people WHERE property_id = ? AND external_ref = ?', propertyId, input.externalRef)) {
    throw new GatewayError('CONFLICT', `external reference ${input.externalRef} already belongs to a person in property ${propertyId}`);
  }
  const holderRef = one<{ next: number }>(db, 'SELECT coalesce(max(holder_ref), 0) + 1 AS next FROM holders WHERE property_id = ?', propertyId)!.next;
  if (holderRef > 0xffffffff) throw new GatewayError('HOLDER_REFS_EXHAUSTED', `property ${propertyId} has issued every holder reference`);
  run(db, 'INSERT INTO holders (property_id, holder_ref, name, email, created_at) VALUES (?, ?, ?, ?, ?)', propertyId, holderRef, `${firstName} ${lastName}`, email, at);
  const wantsCode = input.doorcode ?? input.accessType === 'app';
  const code = wantsCode ? newDoorcode(db, propertyId) : null;
  const { lastInsertRowid: id } = run(
    db,
    `INSERT INTO people (property_id, holder_ref, email, email_norm, first_name, last_name, phone, is_resident, may_share,
       access_type, doorcode, daily_doorcode, unit_id, external_ref, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    propertyId,
    holderRef,
    email,
    norm,
    firstName,
    lastName,
    input.phone ?? null,
    bit(input.isResident ?? true),
    bit(input.mayShare ?? false),
    input.accessType,
    code,
    bit(input.dailyDoorcode ?? input.accessType === 'doorcode'),
    input.unitId ?? null,
    input.externalRef ?? null,
    at,
  );
  // Sent today even when access starts later, so the person can install the app beforehand (seed 001).
  run(db, "INSERT INTO notifications (property_id, person_id, kind, email, created_at) VALUES (?, ?, 'welcome', ?, ?)", propertyId, id, email, at);
  return id;
}

export interface InviteInput extends NewPersonInput, Partial<Window> {
  keyIds: number[];
  source?: Exclude<GrantSource, 'guest'>;
}

export interface Warning {
  code: 'EXPIRATION_RECOMMENDED';
  message: string;
}

export interface InviteResult extends AffectsDoors {
  person: Person;
  /** false when the email already belonged to someone: the keys were added to that person. */
  created: boolean;
  grants: Grant[];
  warnings: Warning[];
}

/**
 * Invite (seed 001/004). Email is the identity: inviting an address that already exists in the
 * property adds the keys to that person instead of creating a second one (seed 000), and leaves
 * their details and flags as they were.
 */
export function invitePerson(db: Db, propertyId: number, input: InviteInput, ctx: Ctx = {}): InviteResult {
  return tx(db, () => {
    getProperty(db, propertyId);
    const at = nowOf(ctx);
    const existing = findPersonByEmail(db, propertyId, input.email, ctx);
    const personId = existing?.id ?? createPersonRecord(db, propertyId, input, at);
    const holderRef = existing?.holderRef ?? personRef(db, personId).holderRef;
    const r = grantKeys(db, personId, propertyId, holderRef, input, at, ctx, existing ? 'granted' : 'invited');
    const warnings: Warning[] = [];
    if ((input.end ?? null) === null) {
      warnings.push({ code: 'EXPIRATION_RECOMMENDED', message: 'no expiration set: access will not end by itself when the lease does' });
    }
    return { person: getPerson(db, personId, ctx), created: !existing, grants: r.grants, warnings, affectedDoors: r.affectedDoors };
  });
}

export interface PersonPatch {
  email?: string;
  firstName?: string;
  lastName?: string;
  phone?: string | null;
  isResident?: boolean;
  mayShare?: boolean;
  accessType?: AccessType;
  unitId?: number | null;
  externalRef?: string | null;
}

/**
 * Edits a person's details. Rules that cascade: someone who stops being a resident, or loses the
 * right to share, takes back what they shared with guests; a switch to doorcode-only withdraws
 * their phone keys.
 */
export function updatePerson(db: Db, id: number, patch: PersonPatch, ctx: Ctx = {}): Person & AffectsDoors {
  return tx(db, () => {
    const p = getPerson(db, id, ctx);
    const at = nowOf(ctx);
    let email = p.email;
    let norm = p.email.toLowerCase();
    if (patch.email !== undefined) {
      ({ email, norm } = normalizeEmail(patch.email));
      if (one(db, 'SELECT 1 FROM people WHERE property_id = ? AND email_norm = ? AND id <> ?', p.propertyId, norm, id)) {
        throw new GatewayError('EMAIL_TAKEN', `${email} already belongs to another person in property ${p.propertyId}`);
      }
    }
    const firstName = patch.firstName === undefined ? p.firstName : requireName(patch.firstName, 'first name');
    const lastName = patch.lastName === undefined ? p.lastName : requireName(patch.lastName, 'last name');
    const unitId = patch.unitId === undefined ? p.unitId : patch.unitId;
    requireUnitIn(db, p.propertyId, unitId);
    const externalRef = patch.externalRef === undefined ? p.externalRef : patch.externalRef;
    if (externalRef !== null && one(db, 'SELECT 1 FROM people WHERE property_id = ? AND external_ref = ? AND id <> ?', p.propertyId, externalRef, id)) {
      throw new GatewayError('CONFLICT', `external reference ${externalRef} already belongs to another person`);
    }
    const isResident = patch.isResident ?? p.isResident;
    const mayShare = patch.mayShare ?? p.mayShare;
    const accessType = patch.accessType ?? p.accessType;
    run(
      db,
      `UPDATE people SET email = ?, email_norm = ?, first_name = ?, last_name = ?, phone = ?, is_resident = ?, may_share = ?,
         access_type = ?, unit_id = ?, external_ref = ? WHERE id = ?`,
      email,
      norm,
      firstName,
      lastName,
      patch.phone === undefined ? p.phone : patch.phone,
      bit(isResident),
      bit(mayShare),
      accessType,
      unitId,
      externalRef,
      id,
    );
    // The registry mirrors the living person so lock events keep the current name.
    run(db, 'UPDATE holders SET name = ?, email = ? WHERE property_id = ? AND holder_ref = ?', `${firstName} ${lastName}`, email, p.propertyId, p.holderRef);
    const name = `${firstName} ${lastName}`;
    const affected = new Set<number>();
    if ((p.isResident && !isResident) || (p.mayShare && !mayShare)) {
      const why = p.isResident && !isResident ? 'is no longer a resident' : 'may no longer share keys';
      for (const d of revokeSharedGrants(db, { hostId: id }, `guests of ${name} revoked: host ${why}`, at)) affected.add(d);
    }
    if (p.accessType === 'app' && accessType === 'doorcode' && revokeAllPhoneKeys(db, id, at) > 0) {
      for (const d of journalDoors(db, doorsForPerson(db, id), `${name} switched to doorcode-only: phone keys revoked`, at)) affected.add(d);
    }
    logAccess(db, p.propertyId, { action: 'person.updated', holderRef: p.holderRef, message: `edited ${name}` }, ctx);
    return { ...getPerson(db, id, ctx), affectedDoors: [...affected].sort((a, b) => a - b) };
  });
}

/**
 * Revoke All Keys (seed 001/004): every grant goes, including the keys the person shared with
 * guests; the person record stays, so keys can be granted again later.
 */
export function revokeAllKeys(db: Db, id: number, ctx: Ctx = {}): Person & AffectsDoors {
  return tx(db, () => {
    const p = getPerson(db, id, ctx);
    const at = nowOf(ctx);
    const name = `${p.firstName} ${p.lastName}`;
    const guestDoors = revokeSharedGrants(db, { hostId: id }, `guest access revoked: host ${name} revoked`, at);
    const own = doorsForPerson(db, id);
    run(db, 'DELETE FROM grants WHERE person_id = ?', id);
    run(db, 'UPDATE people SET revoked_at = ? WHERE id = ?', at, id);
    const ownDoors = journalDoors(db, own, `revoked all keys of ${name}`, at);
    logAccess(db, p.propertyId, { action: 'person.revoked', holderRef: p.holderRef, message: `revoked all keys of ${name} and their guests` }, ctx);
    return { ...getPerson(db, id, ctx), affectedDoors: uniq([...guestDoors, ...ownDoors]) };
  });
}

/**
 * Delete Person (seed 001/004): the record goes, with its grants, keycards and phone keys; their
 * guests lose what was shared; the activity log and the holder registry keep the name.
 */
export function deletePerson(db: Db, id: number, ctx: Ctx = {}): AffectsDoors {
  return tx(db, () => {
    const p = getPerson(db, id, ctx);
    const at = nowOf(ctx);
    const name = `${p.firstName} ${p.lastName}`;
    const guestDoors = revokeSharedGrants(db, { hostId: id }, `guest access revoked: host ${name} deleted`, at);
    const own = affectedDoors(db, { personId: id });
    logAccess(db, p.propertyId, { action: 'person.deleted', holderRef: p.holderRef, message: `deleted ${name}` }, ctx);
    run(db, 'DELETE FROM people WHERE id = ?', id);
    const ownDoors = journalDoors(db, own, `deleted ${name}`, at);
    return { affectedDoors: uniq([...guestDoors, ...ownDoors]) };
  });
}

