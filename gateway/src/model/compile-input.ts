import type { CredentialSpec } from '@latchkit/protocol';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, type Ctx } from './base.js';
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

interface GrantRow {
  personId: number;
  start: number | null;
  end: number | null;
  noCodes: number;
  sharedBy: number | null;
  hostGrant: number | null;
  hostStart: number | null;
  hostEnd: number | null;
}

interface HolderRow {
  personId: number;
  holderRef: number;
  doorcode: string | null;
  daily: number;
  accessType: 'app' | 'doorcode';
}

const PEOPLE_AT_DOOR = 'SELECT g.person_id FROM key_doors kd JOIN grants g ON g.key_id = kd.key_id WHERE kd.door_id = ?';

const KIND_ORDER = { doorcode: 0, daily: 1, keycard: 2, phone: 3 } as const;

function hex(u: Uint8Array): string {
  return Buffer.from(u).toString('hex');
}

function materialOf(c: CredentialSpec): string {
  switch (c.kind) {
    case 'doorcode':
      return c.code;
    case 'daily':
      return '';
    case 'keycard':
      return hex(c.uid);
    case 'phone':
      return hex(c.publicKey);
  }
}

function fromHex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
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
  const nowMin = minuteOf(nowOf(ctx));
  const grants = all<GrantRow>(
    db,
    `SELECT g.person_id AS personId, g.start_min AS start, g.end_min AS end, k.doorcodes_disabled AS noCodes,
            g.shared_by AS sharedBy, hg.id AS hostGrant, hg.start_min AS hostStart, hg.end_min AS hostEnd
       FROM key_doors kd
       JOIN keys k ON k.id = kd.key_id
       JOIN grants g ON g.key_id = kd.key_id
       LEFT JOIN grants hg ON g.shared_by IS NOT NULL AND hg.person_id = g.shared_by AND hg.key_id = g.key_id AND hg.shared_by IS NULL
      WHERE kd.door_id = ?`,
    doorId,
  );
  const any = new Map<number, Interval[]>();
  const codes = new Map<number, Interval[]>();
  for (const g of grants) {
    let w: Interval = { start: g.start, end: g.end };
    if (g.sharedBy !== null) {
      if (g.hostGrant === null) continue;
      w = {
        start: lo(g.start) >= lo(g.hostStart) ? g.start : g.hostStart,
        end: hi(g.end) <= hi(g.hostEnd) ? g.end : g.hostEnd,
      };
    }
    (any.get(g.personId) ?? any.set(g.personId, []).get(g.personId)!).push(w);
    if (g.noCodes === 0) (codes.get(g.personId) ?? codes.set(g.personId, []).get(g.personId)!).push(w);
  }
  if (any.size === 0) return [];

  const holders = all<HolderRow>(
    db,
    `SELECT id AS personId, holder_ref AS holderRef, doorcode, daily_doorcode AS daily, access_type AS accessType
       FROM people WHERE id IN (${PEOPLE_AT_DOOR})`,
    doorId,
  );
  const cards = all<{ personId: number; uid: string }>(
    db,
    `SELECT person_id AS personId, uid FROM keycards WHERE deactivated_at IS NULL AND person_id IN (${PEOPLE_AT_DOOR})`,
    doorId,
  );
  const phones = all<{ personId: number; publicKey: string }>(
    db,
    `SELECT person_id AS personId, public_key AS publicKey FROM phone_keys WHERE revoked_at IS NULL AND person_id IN (${PEOPLE_AT_DOOR})`,
    doorId,
  );

  const out: CredentialSpec[] = [];
  const byPerson = new Map<number, { holder: number; any: Interval | null; codes: Interval | null; accessType: string }>();
  for (const h of holders) {
    const anyW = effectiveWindow(any.get(h.personId) ?? [], nowMin);
    const codeW = effectiveWindow(codes.get(h.personId) ?? [], nowMin);
    byPerson.set(h.personId, { holder: h.holderRef, any: anyW, codes: codeW, accessType: h.accessType });
    if (codeW) {
      if (h.doorcode !== null) out.push({ kind: 'doorcode', code: h.doorcode, holder: h.holderRef, ...codeW, schedule: null });
      if (h.daily === 1) out.push({ kind: 'daily', holder: h.holderRef, ...codeW, schedule: null });
    }
  }
  for (const c of cards) {
    const p = byPerson.get(c.personId);
    if (p?.any) out.push({ kind: 'keycard', uid: fromHex(c.uid), holder: p.holder, ...p.any, schedule: null });
  }
  for (const k of phones) {
    const p = byPerson.get(k.personId);
    // Phone keys only belong to app users; the check guards against a row left by an old switch.
    if (p?.any && p.accessType === 'app') out.push({ kind: 'phone', publicKey: fromHex(k.publicKey), holder: p.holder, ...p.any, schedule: null });
  }
  out.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.holder - b.holder || cmp(materialOf(a), materialOf(b)));
  return out;
}
