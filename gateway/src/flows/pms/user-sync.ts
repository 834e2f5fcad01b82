import { createHash } from 'node:crypto';
import type { Db } from '../../store/db.js';
import { GatewayError } from '../../errors.js';
import { all, nowOf, one, run, type Ctx } from '../../model/base.js';
import { logAccess } from '../../model/activity.js';
import { createPersonRecord, updatePerson, type PersonPatch } from '../../model/people.js';
import { personRef } from '../../model/refs.js';
import type { PmsRecord } from './feed.js';

/**
 * User Sync (seed 003): a one-way copy of resident records from the PMS into DOOR people.
 * It creates, links and updates contacts; it never deletes anyone, never grants or revokes a key
 * (it calls no grant function, and the person edits it makes touch no flag that cascades into
 * access), and never writes to the PMS (adapters only read).
 */

export type UserSyncOutcome = 'created' | 'linked' | 'updated' | 'unchanged' | 'partial_match' | 'email_mismatch' | 'not_candidate';

/** Seed 003: "Resident records with a pending or current lease status in the PMS are candidates to sync." */
export function isUserSyncCandidate(rec: PmsRecord): boolean {
  return rec.canonical === 'future' || rec.canonical === 'current';
}

/** PMS unit → DOOR unit by name: exact first, else the one unit matching without regard to case. */
export function unitIdByName(db: Db, propertyId: number, name: string): number {
  const units = all<{ id: number; name: string }>(db, 'SELECT id, name FROM units WHERE property_id = ? AND lower(name) = lower(?)', propertyId, name);
  const exact = units.find((u) => u.name === name);
  if (exact) return exact.id;
  if (units.length === 1) return units[0]!.id;
  throw new GatewayError('UNIT_NOT_FOUND', units.length === 0 ? `PMS unit ${JSON.stringify(name)} has no DOOR unit of that name` : `PMS unit ${JSON.stringify(name)} matches several DOOR units`);
}

interface Linked {
  id: number;
  email: string;
  emailNorm: string;
  firstName: string;
  lastName: string;
  phone: string | null;
  unitId: number | null;
  externalRef: string | null;
}

const PERSON_COLS = `id, email, email_norm AS emailNorm, first_name AS firstName, last_name AS lastName, phone, unit_id AS unitId,
  external_ref AS externalRef`;

export function personByExternalRef(db: Db, propertyId: number, ref: string): Linked | undefined {
  return one<Linked>(db, `SELECT ${PERSON_COLS} FROM people WHERE property_id = ? AND external_ref = ?`, propertyId, ref);
}

const same = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

function alertFingerprint(rec: PmsRecord): string {
  return createHash('sha256').update(JSON.stringify([rec.firstName.toLowerCase(), rec.lastName.toLowerCase(), rec.emailNorm]), 'utf8').digest('hex');
}

/**
 * Raises an alert once per record content: the same PMS data does not raise it again on every
 * pull, also after a manager dismissed it; changed data (a corrected email) raises a new one.
 */
export function raiseAlert(
  db: Db,
  propertyId: number,
  kind: 'partial_match' | 'email_mismatch',
  rec: PmsRecord,
  personId: number | null,
  message: string,
  at: number,
): boolean {
  const r = run(
    db,
    `INSERT OR IGNORE INTO pms_alerts (property_id, kind, external_ref, person_id, record, fingerprint, message, state, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)`,
    propertyId,
    kind,
    rec.externalRef,
    personId,
    JSON.stringify(rec),
    alertFingerprint(rec),
    message,
    at,
  );
  return r.changes > 0;
}

function upsertLease(db: Db, personId: number, rec: PmsRecord, at: number): boolean {
  const before = one<{ a: string | null; b: string | null; c: string | null; d: string | null }>(
    db,
    'SELECT lease_start AS a, lease_end AS b, move_in AS c, move_out AS d FROM person_leases WHERE person_id = ?',
    personId,
  );
  if (before && before.a === rec.leaseStart && before.b === rec.leaseEnd && before.c === rec.moveIn && before.d === rec.moveOut) return false;
  run(
    db,
    `INSERT INTO person_leases (person_id, lease_start, lease_end, move_in, move_out, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (person_id) DO UPDATE SET lease_start = excluded.lease_start, lease_end = excluded.lease_end,
       move_in = excluded.move_in, move_out = excluded.move_out, updated_at = excluded.updated_at`,
    personId,
    rec.leaseStart,
    rec.leaseEnd,
    rec.moveIn,
    rec.moveOut,
    at,
  );
  return true;
}

/**
 * Copies the PMS fields onto a linked person, except the email (identity changes go through the
 * Email Mismatch alert). Returns whether anything changed.
 */
export function applyRecordFields(db: Db, propertyId: number, p: Linked, rec: PmsRecord, ctx: Ctx, extra: PersonPatch = {}): boolean {
  const unitId = rec.unit === null ? null : unitIdByName(db, propertyId, rec.unit);
  const patch: PersonPatch = { ...extra };
  if (p.firstName !== rec.firstName) patch.firstName = rec.firstName;
  if (p.lastName !== rec.lastName) patch.lastName = rec.lastName;
  if (p.phone !== rec.phone) patch.phone = rec.phone;
  if (p.unitId !== unitId) patch.unitId = unitId;
  let changed = false;
  if (Object.keys(patch).length > 0) {
    updatePerson(db, p.id, patch, ctx);
    changed = true;
  }
  return upsertLease(db, p.id, rec, nowOf(ctx)) || changed;
}

/** Creates a DOOR contact from PMS values: no keys (User Sync grants nothing), linked by the PMS id. */
export function createContact(db: Db, propertyId: number, rec: PmsRecord, ctx: Ctx): number {
  const unitId = rec.unit === null ? null : unitIdByName(db, propertyId, rec.unit);
  const at = nowOf(ctx);
  const id = createPersonRecord(
    db,
    propertyId,
    { email: rec.email, firstName: rec.firstName, lastName: rec.lastName, phone: rec.phone, accessType: 'app', isResident: true, unitId, externalRef: rec.externalRef },
    at,
  );
  upsertLease(db, id, rec, at);
  logAccess(db, propertyId, { action: 'person.synced', holderRef: personRef(db, id).holderRef, message: `User Sync created ${rec.firstName} ${rec.lastName} from PMS record ${rec.externalRef}` }, ctx);
  return id;
}

/**
 * One PMS record → DOOR, per seed 003. The caller holds a savepoint: a record that throws leaves
 * nothing behind. Matching for a record not yet linked to a person:
 * - same first name, last name and email as an unlinked contact → linked and synced as one user;
 * - email matches but the name differs, or the email belongs to a person synced from another
 *   record, or the name matches an unlinked contact with another email → partial match alert;
 * - otherwise → a new contact from the PMS values.
 */
export function syncUserRecord(db: Db, propertyId: number, rec: PmsRecord, ctx: Ctx): UserSyncOutcome {
  if (!isUserSyncCandidate(rec)) return 'not_candidate';
  const at = nowOf(ctx);
  const linked = personByExternalRef(db, propertyId, rec.externalRef);
  if (linked) {
    if (linked.emailNorm !== rec.emailNorm) {
      // Seed 003: "if the email address changed in the PMS, the update will not complete".
      raiseAlert(db, propertyId, 'email_mismatch', rec, linked.id, `PMS record ${rec.externalRef} now has email ${rec.email}; DOOR has ${linked.email}`, at);
      return 'email_mismatch';
    }
    return applyRecordFields(db, propertyId, linked, rec, ctx) ? 'updated' : 'unchanged';
  }
  const byEmail = one<Linked>(db, `SELECT ${PERSON_COLS} FROM people WHERE property_id = ? AND email_norm = ?`, propertyId, rec.emailNorm);
  if (byEmail) {
    if (byEmail.externalRef === null && same(byEmail.firstName, rec.firstName) && same(byEmail.lastName, rec.lastName)) {
      applyRecordFields(db, propertyId, byEmail, rec, ctx, { externalRef: rec.externalRef });
      return 'linked';
    }
    const why =
      byEmail.externalRef !== null
        ? `email ${rec.email} belongs to ${byEmail.firstName} ${byEmail.lastName}, already synced from PMS record ${byEmail.externalRef}`
        : `email ${rec.email} matches ${byEmail.firstName} ${byEmail.lastName}, but the PMS name is ${rec.firstName} ${rec.lastName}`;
    raiseAlert(db, propertyId, 'partial_match', rec, byEmail.id, why, at);
    return 'partial_match';
  }
  const byName = all<Linked>(
    db,
    `SELECT ${PERSON_COLS} FROM people WHERE property_id = ? AND external_ref IS NULL AND lower(first_name) = lower(?) AND lower(last_name) = lower(?) ORDER BY id`,
    propertyId,
    rec.firstName,
    rec.lastName,
  );
  if (byName.length > 0) {
    const p = byName[0]!;
    raiseAlert(db, propertyId, 'partial_match', rec, p.id, `${rec.firstName} ${rec.lastName} matches a contact with email ${p.email}, but the PMS email is ${rec.email}`, at);
    return 'partial_match';
  }
  createContact(db, propertyId, rec, ctx);
  return 'created';
}
