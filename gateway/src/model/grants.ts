import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx, uniq, type Ctx } from './base.js';
import { logAccess } from './activity.js';
import { doorsOfKeys, journalDoors } from './journal.js';
import { personRef } from './refs.js';
import { scheduleFromRow, scheduleToRow } from './keys.js';
import type { AffectsDoors, Grant, GrantSource, ScheduleInput } from './types.js';
import { checkWindow } from './validate.js';
import { minuteOf } from '../time.js';

const COLS = `g.id, g.person_id AS personId, g.key_id AS keyId, k.name AS keyName, g.shared_by AS sharedBy,
  g.start_min AS start, g.end_min AS end, g.source, g.created_at AS createdAt, g.updated_at AS updatedAt,
  g.schedule_days AS sDays, g.schedule_from AS sFrom, g.schedule_to AS sTo`;

type GrantRow = Omit<Grant, 'schedule'> & { sDays: number | null; sFrom: number | null; sTo: number | null };

function toGrant(r: GrantRow): Grant {
  const { sDays, sFrom, sTo, ...rest } = r;
  return { ...rest, schedule: scheduleFromRow(sDays, sFrom, sTo) };
}

/** Every grant the person holds: direct ones and those shared with them as a guest. */
export function listGrants(db: Db, personId: number): Grant[] {
  return all<GrantRow>(db, `SELECT ${COLS} FROM grants g JOIN keys k ON k.id = g.key_id WHERE g.person_id = ? ORDER BY g.id`, personId).map(toGrant);
}

export function getGrant(db: Db, id: number): Grant {
  const g = one<GrantRow>(db, `SELECT ${COLS} FROM grants g JOIN keys k ON k.id = g.key_id WHERE g.id = ?`, id);
  if (!g) throw new GatewayError('GRANT_NOT_FOUND', `grant ${id} does not exist`);
  return toGrant(g);
}

export interface Window {
  start: number | null;
  end: number | null;
}

/** New access must not be born expired: that is always a typo in a date. */
export function checkNewWindow(w: Window, nowMs: number): void {
  checkWindow(w.start, w.end);
  if (w.end !== null && w.end <= minuteOf(nowMs)) {
    throw new GatewayError('EXPIRATION_IN_PAST', `expiration ${new Date(w.end * 60_000).toISOString()} is not in the future`);
  }
}

/**
 * Creates or re-windows one grant. Granting a key the person already holds (from the same
 * sharer) replaces its window instead of duplicating it: the latest invite states the intent.
 */
export function upsertGrant(
  db: Db,
  g: { personId: number; keyId: number; sharedBy: number | null; source: GrantSource } & Window,
  at: number,
): { grantId: number; created: boolean } {
  const existing = one<{ id: number }>(
    db,
    'SELECT id FROM grants WHERE person_id = ? AND key_id = ? AND coalesce(shared_by, 0) = ?',
    g.personId,
    g.keyId,
    g.sharedBy ?? 0,
  );
  if (existing) {
    run(db, 'UPDATE grants SET start_min = ?, end_min = ?, updated_at = ? WHERE id = ?', g.start, g.end, at, existing.id);
    return { grantId: existing.id, created: false };
  }
  const { lastInsertRowid } = run(
    db,
    'INSERT INTO grants (person_id, key_id, shared_by, start_min, end_min, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    g.personId,
    g.keyId,
    g.sharedBy,
    g.start,
    g.end,
    g.source,
    at,
    at,
  );
  return { grantId: lastInsertRowid, created: true };
}

/**
 * Deletes grants that residents shared with guests, filtered by host, key and/or guest, and
 * journals their doors. This is the cascade behind revoke-all, delete, removing a key from a host,
 * and turning sharing off. Returns the affected doors.
 */
export function revokeSharedGrants(
  db: Db,
  filter: { hostId?: number; keyId?: number; guestId?: number },
  reason: string,
  at: number,
): number[] {
  const where = `shared_by IS NOT NULL AND (@host IS NULL OR shared_by = @host) AND (@key IS NULL OR key_id = @key)
    AND (@guest IS NULL OR person_id = @guest)`;
  const params = { host: filter.hostId ?? null, key: filter.keyId ?? null, guest: filter.guestId ?? null };
  const doors = all<{ id: number }>(
    db,
    `SELECT DISTINCT kd.door_id AS id FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id WHERE g.id IN (SELECT id FROM grants WHERE ${where})`,
    params,
  ).map((r) => r.id);
  const { changes } = run(db, `DELETE FROM grants WHERE ${where}`, params);
  return changes > 0 ? journalDoors(db, doors, reason, at) : [];
}

export interface AddGrantsInput extends Partial<Window> {
  keyIds: number[];
  source?: Exclude<GrantSource, 'guest'>;
}

/** Edit → add keys. Keys must be in the person's property; the window applies to each key. */
export function addGrants(db: Db, personId: number, input: AddGrantsInput, ctx: Ctx = {}): { grants: Grant[]; created: number[] } & AffectsDoors {
  return tx(db, () => {
    const at = nowOf(ctx);
    const person = personRef(db, personId);
    return grantKeys(db, personId, person.propertyId, person.holderRef, input, at, ctx);
  });
}

/** Shared by invite and add-keys; the caller has checked the person and holds the transaction. */
export function grantKeys(
  db: Db,
  personId: number,
  propertyId: number,
  holderRef: number,
  input: AddGrantsInput,
  at: number,
  ctx: Ctx,
  verb = 'granted',
): { grants: Grant[]; created: number[] } & AffectsDoors {
  const w: Window = { start: input.start ?? null, end: input.end ?? null };
  checkNewWindow(w, at);
  const keyIds = uniq(input.keyIds);
  if (keyIds.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'name at least one key to grant');
  const keys = keyIds.map((id) => {
    const k = one<{ propertyId: number; name: string }>(db, 'SELECT property_id AS propertyId, name FROM keys WHERE id = ?', id);
    if (!k || k.propertyId !== propertyId) throw new GatewayError('KEY_NOT_FOUND', `key ${id} does not exist in property ${propertyId}`);
    return { id, name: k.name };
  });
  const created: number[] = [];
  const grantIds: number[] = [];
  for (const k of keys) {
    const r = upsertGrant(db, { personId, keyId: k.id, sharedBy: null, source: input.source ?? 'manual', ...w }, at);
    grantIds.push(r.grantId);
    if (r.created) created.push(r.grantId);
  }
  const name = personRef(db, personId).name;
  const keyNames = keys.map((k) => k.name).join(', ');
  const affected = journalDoors(db, doorsOfKeys(db, keyIds), `${verb} ${name}: ${keyNames}`, at);
  logAccess(db, propertyId, { action: verb === 'invited' ? 'person.invited' : 'grant.added', holderRef, message: `${verb} ${name}: key(s) ${keyNames}` }, ctx);
  const grants = grantIds.map((id) => getGrant(db, id));
  return { grants, created, affectedDoors: affected };
}

/** Edit → change a key's start or expiration (`undefined` keeps, `null` opens that side). */
/**
 * Edit → change one key's window and/or weekly schedule (`schedule`: this grant's own, which
 * overrides the key's; null = back to the key's schedule).
 */
export function updateGrant(db: Db, grantId: number, patch: Partial<Window> & { schedule?: ScheduleInput | null }, ctx: Ctx = {}): Grant & AffectsDoors {
  return tx(db, () => {
    const g = getGrant(db, grantId);
    const start = patch.start === undefined ? g.start : patch.start;
    const end = patch.end === undefined ? g.end : patch.end;
    // An edit may end access now or in the past: that is how a manager cuts a key short.
    checkWindow(start, end);
    const sched = scheduleToRow(patch.schedule === undefined ? g.schedule : patch.schedule);
    const at = nowOf(ctx);
    run(
      db,
      'UPDATE grants SET start_min = ?, end_min = ?, schedule_days = ?, schedule_from = ?, schedule_to = ?, updated_at = ? WHERE id = ?',
      start,
      end,
      sched?.days ?? null,
      sched?.from ?? null,
      sched?.to ?? null,
      at,
      grantId,
    );
    const p = personRef(db, g.personId);
    const what = `changed ${p.name}'s ${patch.schedule === undefined ? 'window' : 'window/schedule'} for key ${g.keyName}`;
    // Guests' windows are clipped to this one when compiled, so the same doors cover them.
    const affected = journalDoors(db, doorsOfKeys(db, [g.keyId]), what, at);
    logAccess(db, p.propertyId, { action: 'grant.updated', holderRef: p.holderRef, message: what }, ctx);
    return { ...getGrant(db, grantId), affectedDoors: affected };
  });
}

/** Edit → remove a key. A host losing a key takes it from the guests they shared it with. */
export function removeGrant(db: Db, grantId: number, ctx: Ctx = {}): AffectsDoors {
  return tx(db, () => {
    const g = getGrant(db, grantId);
    const at = nowOf(ctx);
    const p = personRef(db, g.personId);
    const affected = new Set<number>();
    if (g.sharedBy === null) {
      for (const d of revokeSharedGrants(db, { hostId: g.personId, keyId: g.keyId }, `key ${g.keyName} removed from host ${p.name}`, at)) affected.add(d);
    }
    run(db, 'DELETE FROM grants WHERE id = ?', grantId);
    for (const d of journalDoors(db, doorsOfKeys(db, [g.keyId]), `removed key ${g.keyName} from ${p.name}`, at)) affected.add(d);
    logAccess(db, p.propertyId, { action: 'grant.removed', holderRef: p.holderRef, message: `removed key ${g.keyName} from ${p.name}` }, ctx);
    return { affectedDoors: [...affected].sort((a, b) => a - b) };
  });
}
