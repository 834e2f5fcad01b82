import type { CredentialSpec, WeeklySchedule } from '@latchkit/protocol';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, allRaw, nowOf, one, type Ctx } from './base.js';
import { minuteOf } from '../time.js';

/** A half-open window in Unix minutes; null = open on that side. */
interface Interval {
  start: number | null;
  end: number | null;
}

const lo = (v: number | null): number => v ?? Number.NEGATIVE_INFINITY;
const hi = (v: number | null): number => v ?? Number.POSITIVE_INFINITY;
// Subtraction would give NaN for two open (infinite) starts.
const cmp = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Picks the one window a credential gets at a door when a person reaches it through several
 * grants. Overlapping or touching windows merge. Disjoint windows cannot be expressed in one
 * entry, so the earliest one that has not ended wins: a gap must never open, and the later
 * window is added when a recompile happens after the first ends (fail closed, not open).
 */
export function effectiveWindow(intervals: readonly Interval[], nowMin: number): Interval | null {
  if (intervals.length === 1) {
    // The common case (one grant reaches the door); skips the sort on the compile hot path.
    const i = intervals[0]!;
    return hi(i.end) > nowMin && hi(i.end) > lo(i.start) ? i : null;
  }
  const live = intervals.filter((i) => hi(i.end) > nowMin && hi(i.end) > lo(i.start)).sort((a, b) => cmp(lo(a.start), lo(b.start)));
  if (live.length === 0) return null;
  let cur: Interval = { ...live[0]! };
  for (const next of live.slice(1)) {
    if (lo(next.start) <= hi(cur.end)) {
      if (hi(next.end) > hi(cur.end)) cur = { start: cur.start, end: next.end };
    } else break;
  }
  return cur;
}

/**
 * [doorId, personId, start, end, noCodes, sharedBy, hostGrant, hostStart, hostEnd,
 *  days, from, to, hostDays, hostFrom, hostTo] (raw rows); the schedule columns are the grant's
 * own schedule, else its key's (and the same for the host's grant).
 */
type GrantRow = [
  number, number, number | null, number | null, number, number | null, number | null, number | null, number | null,
  number | null, number | null, number | null, number | null, number | null, number | null,
];

type Sched = WeeklySchedule | null;

function schedOf(days: number | null, from: number | null, to: number | null): Sched {
  return days === null || from === null || to === null ? null : { days, from, to };
}

/** Both schedules at once (a guest under a scheduled host); undefined = they never overlap. */
function intersect(a: Sched, b: Sched): Sched | undefined {
  if (a === null) return b;
  if (b === null) return a;
  const s = { days: a.days & b.days, from: Math.max(a.from, b.from), to: Math.min(a.to, b.to) };
  return s.days === 0 || s.from >= s.to ? undefined : s;
}

const schedKey = (s: Sched): string => (s === null ? '' : `${s.days}/${s.from}/${s.to}`);

/**
 * A person's window and schedule at a door from all the grants that reach it. One credential
 * carries one schedule, so grants with different schedules cannot combine. A window that has
 * started beats one that has not: a future grant must not take away access valid now (the person
 * would be locked out until it starts). Among started windows unscheduled grants win (they allow
 * the most), else the earliest start; among future ones the earliest start. Grants left out only
 * lose access (fail closed); a recompile when the choice changes picks them up (boundaryOf).
 */
function effectiveAccess(intervals: readonly (Interval & { schedule: Sched })[], nowMin: number): (Interval & { schedule: Sched }) | null {
  if (intervals.length === 1) {
    const w = effectiveWindow(intervals, nowMin);
    return w ? { ...w, schedule: intervals[0]!.schedule } : null;
  }
  const groups = new Map<string, { schedule: Sched; list: Interval[] }>();
  for (const i of intervals) {
    const k = schedKey(i.schedule);
    (groups.get(k) ?? groups.set(k, { schedule: i.schedule, list: [] }).get(k)!).list.push(i);
  }
  let best: (Interval & { schedule: Sched }) | null = null;
  let bestRank: [number, number, number, string] | null = null;
  for (const [k, g] of groups) {
    const w = effectiveWindow(g.list, nowMin);
    if (!w) continue;
    const started = lo(w.start) <= nowMin;
    // Started first; then, if started, unscheduled first; then the earliest start; then the
    // schedule's key ('' = unscheduled sorts first), so the choice is deterministic.
    const rank: [number, number, number, string] = [started ? 0 : 1, started && k !== '' ? 1 : 0, lo(w.start), k];
    if (bestRank === null || rankBefore(rank, bestRank)) {
      best = { ...w, schedule: g.schedule };
      bestRank = rank;
    }
  }
  return best;
}

function rankBefore(a: readonly [number, number, number, string], b: readonly [number, number, number, string]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** Whether the choice at `at` is a window of the same grants' schedule (within one, the end boundary handles gaps). */
const sameGroup = (a: Access | null, b: Access): boolean => a !== null && schedKey(a.schedule) === schedKey(b.schedule);

interface HolderRow {
  personId: number;
  holderRef: number;
  doorcode: string | null;
  daily: number;
  accessType: 'app' | 'doorcode';
}

function fromHex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

const GRANTS_SELECT = `SELECT kd.door_id AS doorId, g.person_id AS personId, g.start_min AS start, g.end_min AS end,
    k.doorcodes_disabled AS noCodes, g.shared_by AS sharedBy, hg.id AS hostGrant, hg.start_min AS hostStart, hg.end_min AS hostEnd,
    CASE WHEN g.schedule_days IS NULL THEN k.schedule_days ELSE g.schedule_days END AS days,
    CASE WHEN g.schedule_days IS NULL THEN k.schedule_from ELSE g.schedule_from END AS sFrom,
    CASE WHEN g.schedule_days IS NULL THEN k.schedule_to ELSE g.schedule_to END AS sTo,
    CASE WHEN hg.schedule_days IS NULL THEN k.schedule_days ELSE hg.schedule_days END AS hostDays,
    CASE WHEN hg.schedule_days IS NULL THEN k.schedule_from ELSE hg.schedule_from END AS hostFrom,
    CASE WHEN hg.schedule_days IS NULL THEN k.schedule_to ELSE hg.schedule_to END AS hostTo
  FROM key_doors kd
  JOIN keys k ON k.id = kd.key_id
  JOIN grants g ON g.key_id = kd.key_id
  LEFT JOIN grants hg ON g.shared_by IS NOT NULL AND hg.person_id = g.shared_by AND hg.key_id = g.key_id AND hg.shared_by IS NULL`;
const HOLDER_COLS = 'p.id AS personId, p.holder_ref AS holderRef, p.doorcode, p.daily_doorcode AS daily, p.access_type AS accessType';

/** Per-person material, decoded once and shared by every door the person reaches. */
interface Material {
  holders: Map<number, HolderRow>;
  cards: Map<number, { bytes: Uint8Array; hex: string }[]>;
  phones: Map<number, { bytes: Uint8Array; hex: string }[]>;
}

function material(holders: HolderRow[], cards: { personId: number; uid: string }[], phones: { personId: number; publicKey: string }[]): Material {
  const m: Material = { holders: new Map(holders.map((h) => [h.personId, h])), cards: new Map(), phones: new Map() };
  for (const c of cards) (m.cards.get(c.personId) ?? m.cards.set(c.personId, []).get(c.personId)!).push({ bytes: fromHex(c.uid), hex: c.uid });
  for (const p of phones) {
    (m.phones.get(p.personId) ?? m.phones.set(p.personId, []).get(p.personId)!).push({ bytes: fromHex(p.publicKey), hex: p.publicKey });
  }
  return m;
}

type Access = Interval & { schedule: Sched };

/**
 * Each person's access at one door from its grant rows: through any key (cards, phones) and
 * through keys that allow doorcodes. A guest's rows are cut to their host's grant and schedule.
 */
function accessByPerson(rows: readonly GrantRow[]): { any: Map<number, Access[]>; codes: Map<number, Access[]> } {
  const any = new Map<number, Access[]>();
  const codes = new Map<number, Access[]>();
  for (const [, personId, start, end, noCodes, sharedBy, hostGrant, hostStart, hostEnd, days, from, to, hDays, hFrom, hTo] of rows) {
    let w: Access = { start, end, schedule: schedOf(days, from, to) };
    if (sharedBy !== null) {
      if (hostGrant === null) continue;
      const schedule = intersect(w.schedule, schedOf(hDays, hFrom, hTo));
      if (schedule === undefined) continue;
      w = { start: lo(start) >= lo(hostStart) ? start : hostStart, end: hi(end) <= hi(hostEnd) ? end : hostEnd, schedule };
    }
    (any.get(personId) ?? any.set(personId, []).get(personId)!).push(w);
    if (noCodes === 0) (codes.get(personId) ?? codes.set(personId, []).get(personId)!).push(w);
  }
  return { any, codes };
}

/** Turns one door's grant rows into its sorted credential list (see credentialsForDoor). */
function assemble(rows: readonly GrantRow[], mat: Material, nowMin: number): CredentialSpec[] {
  const { any, codes } = accessByPerson(rows);
  const out: { c: CredentialSpec; k: number; m: string }[] = [];
  for (const [personId, intervals] of any) {
    const h = mat.holders.get(personId);
    if (!h) continue;
    const anyW = effectiveAccess(intervals, nowMin);
    if (!anyW) continue;
    const holder = h.holderRef;
    const codeW = effectiveAccess(codes.get(personId) ?? [], nowMin);
    if (codeW) {
      if (h.doorcode !== null) {
        out.push({ c: { kind: 'doorcode', code: h.doorcode, holder, start: codeW.start, end: codeW.end, schedule: codeW.schedule }, k: 0, m: h.doorcode });
      }
      if (h.daily === 1) out.push({ c: { kind: 'daily', holder, start: codeW.start, end: codeW.end, schedule: codeW.schedule }, k: 1, m: '' });
    }
    for (const card of mat.cards.get(personId) ?? []) {
      out.push({ c: { kind: 'keycard', uid: card.bytes, holder, start: anyW.start, end: anyW.end, schedule: anyW.schedule }, k: 2, m: card.hex });
    }
    // Phone keys only belong to app users; the check guards against a row left by an old switch.
    if (h.accessType === 'app') {
      for (const key of mat.phones.get(personId) ?? []) {
        out.push({ c: { kind: 'phone', publicKey: key.bytes, holder, start: anyW.start, end: anyW.end, schedule: anyW.schedule }, k: 3, m: key.hex });
      }
    }
  }
  // Sort keys precomputed (stored hex): encoding inside the comparator dominated at 10^4 credentials.
  out.sort((a, b) => a.k - b.k || a.c.holder - b.c.holder || cmp(a.m, b.m));
  return out.map((x) => x.c);
}

/**
 * Every credential that should work at a door now or later: the compiler's whole input for one
 * door. Future starts are included (locks enforce windows offline, so access activates at the
 * door on time without a sync); only windows that ended before `now` are left out.
 *
 * - Each person appears once per credential, holder = their holder reference.
 * - Keys with doorcodes disabled contribute keycard and phone credentials only.
 * - A guest's window is the intersection of their grant and the host's grant of the same key.
 * - Order is deterministic (kind, holder, material) so an unchanged door compiles to the same set.
 */
export function credentialsForDoor(db: Db, doorId: number, ctx: Ctx = {}): CredentialSpec[] {
  if (!one(db, 'SELECT 1 FROM doors WHERE id = ?', doorId)) throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist`);
  const rows = allRaw<GrantRow>(db, `${GRANTS_SELECT} WHERE kd.door_id = ?`, doorId);
  if (rows.length === 0) return [];
  const atDoor = 'SELECT g.person_id FROM key_doors kd JOIN grants g ON g.key_id = kd.key_id WHERE kd.door_id = ?';
  const mat = material(
    all<HolderRow>(db, `SELECT ${HOLDER_COLS} FROM people p WHERE p.id IN (${atDoor})`, doorId),
    all(db, `SELECT person_id AS personId, uid FROM keycards WHERE deactivated_at IS NULL AND person_id IN (${atDoor}) ORDER BY id`, doorId),
    all(db, `SELECT person_id AS personId, public_key AS publicKey FROM phone_keys WHERE revoked_at IS NULL AND person_id IN (${atDoor}) ORDER BY id`, doorId),
  );
  return assemble(rows, mat, minuteOf(nowOf(ctx)));
}

/**
 * credentialsForDoor restricted to the people with these holder references (in the door's
 * property): exactly their entries of the full list, for patching a compiled set (patchSet)
 * when only they changed. A reference nobody holds any more (a deleted person) yields nothing.
 */
export function credentialsForHolders(db: Db, doorId: number, holderRefs: readonly number[], ctx: Ctx = {}): CredentialSpec[] {
  if (!one(db, 'SELECT 1 FROM doors WHERE id = ?', doorId)) throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist`);
  if (holderRefs.length === 0) return [];
  const refs = JSON.stringify(holderRefs);
  const who = 'SELECT id FROM people WHERE property_id = (SELECT property_id FROM doors WHERE id = ?) AND holder_ref IN (SELECT value FROM json_each(?))';
  const rows = allRaw<GrantRow>(db, `${GRANTS_SELECT} WHERE kd.door_id = ? AND g.person_id IN (${who})`, doorId, doorId, refs);
  if (rows.length === 0) return [];
  const mat = material(
    all<HolderRow>(db, `SELECT ${HOLDER_COLS} FROM people p WHERE p.id IN (${who})`, doorId, refs),
    all(db, `SELECT person_id AS personId, uid FROM keycards WHERE deactivated_at IS NULL AND person_id IN (${who}) ORDER BY id`, doorId, refs),
    all(db, `SELECT person_id AS personId, public_key AS publicKey FROM phone_keys WHERE revoked_at IS NULL AND person_id IN (${who}) ORDER BY id`, doorId, refs),
  );
  return assemble(rows, mat, minuteOf(nowOf(ctx)));
}

/**
 * credentialsForDoor for every door of a property at once (a full recompile): one pass over the
 * property's grants instead of one query set per door. Doors nobody can open map to [].
 * Byte arrays are shared between doors; treat the result as read-only.
 */
export function credentialsForProperty(db: Db, propertyId: number, ctx: Ctx = {}, boundaries?: Map<number, number | null>): Map<number, CredentialSpec[]> {
  if (!one(db, 'SELECT 1 FROM properties WHERE id = ?', propertyId)) {
    throw new GatewayError('PROPERTY_NOT_FOUND', `property ${propertyId} does not exist`);
  }
  const nowMin = minuteOf(nowOf(ctx));
  const byDoor = new Map<number, GrantRow[]>();
  for (const d of all<{ id: number }>(db, 'SELECT id FROM doors WHERE property_id = ? ORDER BY id', propertyId)) byDoor.set(d.id, []);
  for (const r of allRaw<GrantRow>(db, `${GRANTS_SELECT} WHERE k.property_id = ?`, propertyId)) byDoor.get(r[0])?.push(r);
  const mat = material(
    all<HolderRow>(db, `SELECT ${HOLDER_COLS} FROM people p WHERE p.property_id = ?`, propertyId),
    all(db, 'SELECT person_id AS personId, uid FROM keycards WHERE deactivated_at IS NULL AND property_id = ? ORDER BY id', propertyId),
    all(db, 'SELECT person_id AS personId, public_key AS publicKey FROM phone_keys WHERE revoked_at IS NULL AND property_id = ? ORDER BY id', propertyId),
  );
  const out = new Map<number, CredentialSpec[]>();
  for (const [doorId, rows] of byDoor) {
    out.set(doorId, rows.length === 0 ? [] : assemble(rows, mat, nowMin));
    // The same rows give the window boundary (doorWindowBoundary) without a query per door.
    boundaries?.set(doorId, boundaryOf(rows, nowMin));
  }
  return out;
}

/**
 * When a door must be compiled again for a window its set cannot carry yet: the earliest end
 * (Unix minute) of a window chosen for someone whose other grants reach beyond it (a later
 * disjoint window, or a window under another schedule that lasts longer), or null.
 *
 * A set entry has one window and one schedule per credential, and a credential's key appears
 * once, so a person with two disjoint windows at a door gets the earlier one (never the gap).
 * The lock ends that window on time by itself; compiling the door again right then puts the
 * next window in the set as a future start, which the lock again enforces offline. Recording
 * this instant (door_sync_state.window_boundary_min) is what lets the gateway do that without
 * a change to the access model: journalDueWindows journals the door once it has passed.
 */
export function doorWindowBoundary(db: Db, doorId: number, ctx: Ctx = {}): number | null {
  return boundaryOf(allRaw<GrantRow>(db, `${GRANTS_SELECT} WHERE kd.door_id = ?`, doorId), minuteOf(nowOf(ctx)));
}

function boundaryOf(rows: readonly GrantRow[], nowMin: number): number | null {
  if (rows.length === 0) return null;
  const { any, codes } = accessByPerson(rows);
  let boundary: number | null = null;
  const consider = (m: number): void => {
    if (boundary === null || m < boundary) boundary = m;
  };
  for (const lists of [any, codes]) {
    for (const intervals of lists.values()) {
      if (intervals.length < 2) continue;
      const chosen = effectiveAccess(intervals, nowMin);
      if (!chosen) continue;
      if (chosen.end !== null && intervals.some((i) => hi(i.end) > chosen.end! && hi(i.end) > lo(i.start) && hi(i.end) > nowMin)) consider(chosen.end);
      // A window that starts later may replace the choice once it starts (an unscheduled grant
      // beats a scheduled one then): the door is compiled again at that start.
      for (const i of intervals) {
        if (i.start !== null && i.start > nowMin && (boundary === null || i.start < boundary) && !sameGroup(effectiveAccess(intervals, i.start), chosen)) consider(i.start);
      }
    }
  }
  return boundary;
}
