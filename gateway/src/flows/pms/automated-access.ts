import type { Db } from '../../store/db.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import { all, nowOf, one, run, tx, uniq, type Ctx } from '../../model/base.js';
import { logAccess } from '../../model/activity.js';
import { addGrants, removeGrant } from '../../model/grants.js';
import { getPerson, revokeAllKeys } from '../../model/people.js';
import { personRef } from '../../model/refs.js';
import { minuteOf, MS_PER_MINUTE } from '../../time.js';
import type { CanonicalStatus, PmsRecord } from './feed.js';
import type { PmsIntegration } from './integration.js';
import { personByExternalRef, unitIdByName } from './user-sync.js';

/**
 * Automated Access (seed 002): lease status changes in the PMS become access suggestions — grant
 * a key (green), revoke a key (red), or no change (grey) — which a manager approves (Approval
 * Required, the default) or which are applied at once (Automatic). Applying goes through the
 * model's addGrants/removeGrant/revokeAllKeys, so every change is journaled for the compiler
 * exactly like a manual edit.
 *
 * It reacts to changes of the PMS data (status, or unit while current) against what it last
 * acted on, never to differences between the PMS and DOOR's grants: a manager's manual override
 * therefore stands until the PMS itself changes again.
 */

export type SuggestionAction = 'grant' | 'revoke' | 'none';
export type SuggestionReason = 'future' | 'current' | 'unit_change' | 'past';
export type SuggestionState = 'pending' | 'applied' | 'discarded' | 'superseded' | 'failed';

export interface Suggestion {
  id: number;
  propertyId: number;
  personId: number;
  personName: string;
  keyId: number | null;
  keyName: string | null;
  action: SuggestionAction;
  /** Seed 002's colour coding: green grants, red revokes, grey no change. */
  color: 'green' | 'red' | 'grey';
  reason: SuggestionReason;
  detail: string;
  /** For grants: when the access starts (Unix minute). */
  start: number | null;
  state: SuggestionState;
  createdAt: number;
  resolvedAt: number | null;
  resolvedBy: string | null;
  result: string | null;
}

/** Seed 002 step 2: keys with these names are shared with every current resident. */
export const COMMON_AREA_KEY_NAMES = ['Resident Entrances', 'Resident Amenities'] as const;
/** Seed 002: access starts 15 minutes after the status change. */
export const START_DELAY_MIN = 15;
/** Seed 002: "select one or more access suggestions (up to 50 at a time)". */
export const MAX_APPROVAL_BATCH = 50;

const COLOR = { grant: 'green', revoke: 'red', none: 'grey' } as const;

const SELECT = `SELECT s.id, s.property_id AS propertyId, s.person_id AS personId, p.first_name || ' ' || p.last_name AS personName,
  s.key_id AS keyId, k.name AS keyName, s.action, s.reason, s.detail, s.start_min AS start, s.state, s.created_at AS createdAt,
  s.resolved_at AS resolvedAt, s.resolved_by AS resolvedBy, s.result
  FROM access_suggestions s JOIN people p ON p.id = s.person_id LEFT JOIN keys k ON k.id = s.key_id`;

type Row = Omit<Suggestion, 'color'>;
const toSuggestion = (r: Row): Suggestion => ({ ...r, color: COLOR[r.action] });

export function getSuggestion(db: Db, id: number): Suggestion {
  const r = one<Row>(db, `${SELECT} WHERE s.id = ?`, id);
  if (!r) throw new GatewayError('SUGGESTION_NOT_FOUND', `access suggestion ${id} does not exist`);
  return toSuggestion(r);
}

type SuggestionFilter = { state?: SuggestionState; personId?: number };

const SUGGESTION_WHERE = 'WHERE s.property_id = ? AND (? IS NULL OR s.state = ?) AND (? IS NULL OR s.person_id = ?)';
const suggestionParams = (propertyId: number, q: SuggestionFilter): unknown[] => [propertyId, q.state ?? null, q.state ?? null, q.personId ?? null, q.personId ?? null];

export function listSuggestions(db: Db, propertyId: number, q: SuggestionFilter & { limit?: number; offset?: number } = {}): Suggestion[] {
  return all<Row>(db, `${SELECT} ${SUGGESTION_WHERE} ORDER BY s.id LIMIT ? OFFSET ?`, ...suggestionParams(propertyId, q), q.limit ?? 100, q.offset ?? 0).map(toSuggestion);
}

/** How many suggestions listSuggestions would list without a limit. */
export function countSuggestions(db: Db, propertyId: number, q: SuggestionFilter = {}): number {
  return one<{ n: number }>(db, `SELECT count(*) AS n FROM access_suggestions s JOIN people p ON p.id = s.person_id ${SUGGESTION_WHERE}`, ...suggestionParams(propertyId, q))!.n;
}

/**
 * Suggestions awaiting a decision. Grey ones (no change) are listed but need none, so they are
 * not counted: otherwise a property whose every resident already holds their keys would show
 * pending work forever. A newer status change supersedes them as it does any pending suggestion.
 */
export function pendingSuggestionCount(db: Db, propertyId: number): number {
  return one<{ n: number }>(db, "SELECT count(*) AS n FROM access_suggestions WHERE property_id = ? AND state = 'pending' AND action <> 'none'", propertyId)!.n;
}

interface KeyRef {
  id: number;
  name: string;
}

export function commonAreaKeys(db: Db, propertyId: number): KeyRef[] {
  return all<KeyRef>(
    db,
    `SELECT id, name FROM keys WHERE property_id = ? AND lower(name) IN (SELECT lower(value) FROM json_each(?)) ORDER BY id`,
    propertyId,
    JSON.stringify(COMMON_AREA_KEY_NAMES),
  );
}

/** A unit's own keys: the residential keys assigned to it. */
export function unitKeys(db: Db, unitId: number): KeyRef[] {
  return all<KeyRef>(db, "SELECT id, name FROM keys WHERE unit_id = ? AND kind = 'residential' ORDER BY id", unitId);
}

/** Keys the person holds directly (not as a guest) and that have not expired. */
function heldKeys(db: Db, personId: number, nowMin: number): Map<number, { grantId: number; name: string; unitId: number | null }> {
  const rows = all<{ grantId: number; keyId: number; name: string; unitId: number | null }>(
    db,
    `SELECT g.id AS grantId, g.key_id AS keyId, k.name, k.unit_id AS unitId FROM grants g JOIN keys k ON k.id = g.key_id
      WHERE g.person_id = ? AND g.shared_by IS NULL AND (g.end_min IS NULL OR g.end_min > ?) ORDER BY g.key_id`,
    personId,
    nowMin,
  );
  return new Map(rows.map((r) => [r.keyId, r]));
}

interface Planned {
  keyId: number | null;
  action: SuggestionAction;
  detail: string;
  start: number | null;
}

function grantsFor(keys: readonly KeyRef[], held: Map<number, unknown>, start: number, why: string): Planned[] {
  return keys.filter((k) => !held.has(k.id)).map((k) => ({ keyId: k.id, action: 'grant' as const, detail: `${why}: grant ${k.name}`, start }));
}

function revokeAll(held: Map<number, { name: string }>, why: string): Planned[] {
  return [...held.entries()].map(([keyId, h]) => ({ keyId, action: 'revoke' as const, detail: `${why}: revoke ${h.name}`, start: null }));
}

/** Applies one suggestion through the model; the caller holds a savepoint. Returns the result text and doors. */
function applyOne(db: Db, s: Suggestion, ctx: Ctx): { result: string; affectedDoors: number[] } {
  if (s.action === 'none') return { result: 'no change', affectedDoors: [] };
  const held = heldKeys(db, s.personId, minuteOf(nowOf(ctx)));
  if (s.action === 'grant') {
    // A key granted since the suggestion (by hand, or another suggestion) keeps its window.
    if (held.has(s.keyId!)) return { result: 'already held', affectedDoors: [] };
    const r = addGrants(db, s.personId, { keyIds: [s.keyId!], start: s.start, end: null, source: 'automated' }, ctx);
    return { result: 'granted', affectedDoors: r.affectedDoors };
  }
  const g = one<{ id: number }>(db, 'SELECT id FROM grants WHERE person_id = ? AND key_id = ? AND shared_by IS NULL', s.personId, s.keyId);
  if (!g) return { result: 'not held', affectedDoors: [] };
  return { result: 'revoked', affectedDoors: removeGrant(db, g.id, ctx).affectedDoors };
}

function resolve(db: Db, id: number, state: SuggestionState, by: string, result: string, at: number): void {
  run(db, 'UPDATE access_suggestions SET state = ?, resolved_at = ?, resolved_by = ?, result = ? WHERE id = ?', state, at, by, result, id);
}

function supersedePending(db: Db, personId: number, by: string, at: number): void {
  run(
    db,
    "UPDATE access_suggestions SET state = 'superseded', resolved_at = ?, resolved_by = ?, result = 'a newer status change replaced it' WHERE person_id = ? AND state = 'pending'",
    at,
    by,
    personId,
  );
}

function setResidentStatusRow(db: Db, personId: number, status: CanonicalStatus, source: 'pms' | 'manual', at: number): void {
  run(
    db,
    `INSERT INTO resident_status (person_id, status, source, changed_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (person_id) DO UPDATE SET status = excluded.status, source = excluded.source, changed_at = excluded.changed_at`,
    personId,
    status,
    source,
    at,
  );
}

/** Like unitIdByName, but a unit deleted since (whose keys went with it) is simply no unit. */
function findUnitId(db: Db, propertyId: number, name: string): number | null {
  try {
    return unitIdByName(db, propertyId, name);
  } catch (e) {
    if (isGatewayError(e) && e.code === 'UNIT_NOT_FOUND') return null;
    throw e;
  }
}

export interface AutomatedAccessOutcome {
  personId: number;
  reason: SuggestionReason;
  suggestions: number;
  applied: number;
  failed: number;
  affectedDoors: number[];
}

/**
 * Turns one PMS record into suggestions when its status (or, for a current resident, its unit)
 * differs from what Automated Access last acted on. Returns null when there is nothing new, the
 * record is not linked to a DOOR person yet (User Sync links it), or its status is not one the
 * seed maps. The caller holds a savepoint: an unknown unit throws and leaves nothing behind, and
 * the record is retried on the next pull.
 *
 * | PMS status | suggestions |
 * | future     | none assigned: grey; coming back from current revokes every key (as DOOR OS's Current → Future) |
 * | current    | grant the PMS unit's residential keys and the common-area keys, starting 15 min after the change |
 * | unit change (current, other unit) | revoke the old unit's keys, grant the new unit's, same start rule |
 * | past       | revoke every key the person holds, manually or automatically assigned |
 */
export function processAutomatedAccess(db: Db, integ: PmsIntegration, rec: PmsRecord, ctx: Ctx): AutomatedAccessOutcome | null {
  const status = rec.canonical;
  if (status === null) return null;
  const person = personByExternalRef(db, integ.propertyId, rec.externalRef);
  if (!person) return null;
  const mirror = one<{ actedStatus: string | null; actedUnit: string | null; changedAt: number }>(
    db,
    'SELECT acted_status AS actedStatus, acted_unit AS actedUnit, status_changed_at AS changedAt FROM pms_residents WHERE property_id = ? AND external_ref = ?',
    integ.propertyId,
    rec.externalRef,
  );
  if (!mirror) throw new Error(`pms_residents has no row for ${rec.externalRef}; the sync writes it before Automated Access runs`);
  const statusChanged = mirror.actedStatus !== status;
  const unitChanged = status === 'current' && !statusChanged && mirror.actedUnit !== rec.unit;
  if (!statusChanged && !unitChanged) return null;

  const at = nowOf(ctx);
  const held = heldKeys(db, person.id, minuteOf(at));
  // "Start time 15 minutes after the status change": the PMS's change time when it gives one,
  // else when a pull first saw it; a unit change dates from when it was seen.
  const changeAt = statusChanged ? mirror.changedAt : at;
  const start = Math.ceil((changeAt + START_DELAY_MIN * MS_PER_MINUTE) / MS_PER_MINUTE);
  let reason: SuggestionReason;
  let plan: Planned[];
  if (status === 'current') {
    const unitId = rec.unit === null ? null : unitIdByName(db, integ.propertyId, rec.unit);
    const newUnitKeys = unitId === null ? [] : unitKeys(db, unitId);
    if (unitChanged) {
      reason = 'unit_change';
      const oldUnitId = mirror.actedUnit === null ? null : findUnitId(db, integ.propertyId, mirror.actedUnit);
      const keep = new Set(newUnitKeys.map((k) => k.id));
      const oldKeys = [...held.entries()].filter(([keyId, h]) => oldUnitId !== null && h.unitId === oldUnitId && !keep.has(keyId));
      plan = [
        ...oldKeys.map(([keyId, h]) => ({ keyId, action: 'revoke' as const, detail: `moved from unit ${mirror.actedUnit} to ${rec.unit}: revoke ${h.name}`, start: null })),
        ...grantsFor(newUnitKeys, held, start, `moved to unit ${rec.unit}`),
      ];
    } else {
      reason = 'current';
      const keys = [...newUnitKeys, ...commonAreaKeys(db, integ.propertyId)];
      plan = grantsFor(keys, held, start, rec.unit === null ? 'current resident (no unit in the PMS)' : `current resident of unit ${rec.unit}`);
    }
  } else if (status === 'past') {
    reason = 'past';
    plan = revokeAll(held, 'past resident');
  } else {
    reason = 'future';
    plan = mirror.actedStatus === 'current' ? revokeAll(held, 'lease back to future') : [];
  }
  if (plan.length === 0) {
    const what = { current: 'already holds every key for the unit', unit_change: 'holds the keys of the new unit', past: 'holds no keys', future: 'future resident: no access assigned' }[reason];
    plan = [{ keyId: null, action: 'none', detail: what, start: null }];
  }

  supersedePending(db, person.id, 'pms', at);
  const ids = plan.map(
    (p) =>
      run(
        db,
        `INSERT INTO access_suggestions (property_id, person_id, key_id, action, reason, detail, start_min, state, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
        integ.propertyId,
        person.id,
        p.keyId,
        p.action,
        reason,
        p.detail,
        p.action === 'grant' ? p.start : null,
        at,
      ).lastInsertRowid,
  );
  run(db, 'UPDATE pms_residents SET acted_status = ?, acted_unit = ? WHERE property_id = ? AND external_ref = ?', status, rec.unit, integ.propertyId, rec.externalRef);
  setResidentStatusRow(db, person.id, status, 'pms', at);

  const out: AutomatedAccessOutcome = { personId: person.id, reason, suggestions: ids.length, applied: 0, failed: 0, affectedDoors: [] };
  if (integ.mode === 'automatic') {
    const r = applySuggestions(db, ids, 'automatic', { ...ctx, actor: 'pms:automatic' });
    out.applied = r.filter((x) => x.outcome === 'applied').length;
    out.failed = r.filter((x) => x.outcome === 'failed').length;
    out.affectedDoors = uniq(r.flatMap((x) => x.affectedDoors));
  }
  return out;
}

export interface ApprovalOutcome {
  id: number;
  outcome: 'applied' | 'failed' | 'skipped';
  result: string;
  code?: string;
  affectedDoors: number[];
}

function applySuggestions(db: Db, ids: readonly number[], by: string, ctx: Ctx): ApprovalOutcome[] {
  const at = nowOf(ctx);
  return ids.map((id) => {
    const s = getSuggestion(db, id);
    if (s.state !== 'pending') return { id, outcome: 'skipped', result: `already ${s.state}`, code: 'SUGGESTION_NOT_PENDING', affectedDoors: [] };
    try {
      const r = tx(db, () => {
        const applied = applyOne(db, s, ctx);
        resolve(db, id, 'applied', by, applied.result, at);
        return applied;
      });
      return { id, outcome: 'applied', result: r.result, affectedDoors: r.affectedDoors };
    } catch (e) {
      if (!isGatewayError(e)) throw e;
      resolve(db, id, 'failed', by, `${e.code}: ${e.message}`, at);
      return { id, outcome: 'failed', result: e.message, code: e.code, affectedDoors: [] };
    }
  });
}

/**
 * "Update Access": approves up to 50 suggestions of the property. Each is applied in its own
 * savepoint; one that fails (say, its key was removed from the unit meanwhile) is marked failed
 * and the others still apply. Suggestions no longer pending are skipped and say why.
 */
export function approveSuggestions(db: Db, propertyId: number, ids: readonly number[], ctx: Ctx = {}): ApprovalOutcome[] {
  const unique = [...new Set(ids)];
  if (unique.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'select at least one access suggestion');
  if (unique.length > MAX_APPROVAL_BATCH) {
    throw new GatewayError('APPROVAL_BATCH_TOO_LARGE', `${unique.length} suggestions selected; approve at most ${MAX_APPROVAL_BATCH} at a time`);
  }
  return tx(db, () => {
    const missing = unique.filter((id) => one<{ p: number }>(db, 'SELECT property_id AS p FROM access_suggestions WHERE id = ?', id)?.p !== propertyId);
    if (missing.length > 0) throw new GatewayError('SUGGESTION_NOT_FOUND', `access suggestion(s) ${missing.join(', ')} do not exist in property ${propertyId}`);
    return applySuggestions(db, unique, ctx.actor ?? 'system', ctx);
  });
}

/** The X button: removes a suggestion from the pending list without applying it. */
export function discardSuggestion(db: Db, propertyId: number, id: number, ctx: Ctx = {}): Suggestion {
  return tx(db, () => {
    const s = getSuggestion(db, id);
    if (s.propertyId !== propertyId) throw new GatewayError('SUGGESTION_NOT_FOUND', `access suggestion ${id} does not exist in property ${propertyId}`);
    if (s.state !== 'pending') throw new GatewayError('SUGGESTION_NOT_PENDING', `access suggestion ${id} is already ${s.state}`);
    resolve(db, id, 'discarded', ctx.actor ?? 'system', 'discarded', nowOf(ctx));
    return getSuggestion(db, id);
  });
}

export interface ResidentStatusView {
  personId: number;
  status: CanonicalStatus | null;
  source: 'pms' | 'manual' | null;
  changedAt: number | null;
  externalRef: string | null;
  pms: { leaseStatus: string; unit: string | null; statusChangedAt: number; lastSeenAt: number } | null;
  lease: { leaseStart: string | null; leaseEnd: string | null; moveIn: string | null; moveOut: string | null } | null;
}

export function residentStatus(db: Db, personId: number): ResidentStatusView {
  const p = getPerson(db, personId);
  const s = one<{ status: CanonicalStatus; source: 'pms' | 'manual'; changedAt: number }>(
    db,
    'SELECT status, source, changed_at AS changedAt FROM resident_status WHERE person_id = ?',
    personId,
  );
  const pms =
    p.externalRef === null
      ? undefined
      : one<{ leaseStatus: string; unit: string | null; statusChangedAt: number; lastSeenAt: number }>(
          db,
          'SELECT lease_status AS leaseStatus, unit, status_changed_at AS statusChangedAt, last_seen_at AS lastSeenAt FROM pms_residents WHERE property_id = ? AND external_ref = ?',
          p.propertyId,
          p.externalRef,
        );
  const lease = one<{ leaseStart: string | null; leaseEnd: string | null; moveIn: string | null; moveOut: string | null }>(
    db,
    'SELECT lease_start AS leaseStart, lease_end AS leaseEnd, move_in AS moveIn, move_out AS moveOut FROM person_leases WHERE person_id = ?',
    personId,
  );
  return {
    personId,
    status: s?.status ?? null,
    source: s?.source ?? null,
    changedAt: s?.changedAt ?? null,
    externalRef: p.externalRef,
    pms: pms ?? null,
    lease: lease ?? null,
  };
}

/**
 * A manager's manual status change in DOOR OS (seed 002's table):
 * - to Current (from Future, and likewise from Past): the keys of the person's ePMS unit and the
 *   common-area keys are assigned, from now;
 * - Current → Past and Current → Future: every key, manually or automatically assigned, is
 *   revoked (Revoke All Keys; guests lose what was shared too). Also from any other status: a
 *   past or future resident holds no access.
 * Pending suggestions for the person are superseded: the manager has decided.
 */
export function setResidentStatus(db: Db, personId: number, status: CanonicalStatus, ctx: Ctx = {}): ResidentStatusView & { affectedDoors: number[] } {
  return tx(db, () => {
    const before = residentStatus(db, personId);
    const at = nowOf(ctx);
    const p = getPerson(db, personId, ctx);
    const name = `${p.firstName} ${p.lastName}`;
    let affected: number[] = [];
    if (before.status !== status) {
      supersedePending(db, personId, ctx.actor ?? 'system', at);
      if (status === 'current') {
        if (before.pms === null || before.pms.unit === null) {
          throw new GatewayError('NO_PMS_UNIT', `${name} has no unit in the PMS${p.externalRef === null ? ' (not synced from the PMS)' : ''}; assign keys by hand instead`);
        }
        let unitId: number;
        try {
          unitId = unitIdByName(db, p.propertyId, before.pms.unit);
        } catch (e) {
          if (isGatewayError(e) && e.code === 'UNIT_NOT_FOUND') throw new GatewayError('NO_PMS_UNIT', `${name}'s PMS unit ${before.pms.unit} is not a DOOR unit`);
          throw e;
        }
        const held = heldKeys(db, personId, minuteOf(at));
        const keys = uniq([...unitKeys(db, unitId), ...commonAreaKeys(db, p.propertyId)].map((k) => k.id)).filter((k) => !held.has(k));
        if (keys.length > 0) affected = addGrants(db, personId, { keyIds: keys, start: null, end: null, source: 'automated' }, ctx).affectedDoors;
      } else if (one(db, 'SELECT 1 FROM grants WHERE person_id = ? OR shared_by = ? LIMIT 1', personId, personId)) {
        affected = revokeAllKeys(db, personId, ctx).affectedDoors;
      }
      setResidentStatusRow(db, personId, status, 'manual', at);
      logAccess(
        db,
        p.propertyId,
        { action: 'resident.status', holderRef: personRef(db, personId).holderRef, message: `${name}: resident status ${before.status ?? 'unset'} → ${status} (manual)` },
        ctx,
      );
    }
    return { ...residentStatus(db, personId), affectedDoors: affected };
  });
}
