/**
 * What each lock knows about local time, against what its property's zone says.
 *
 * A lock reads schedules and daily-code days at a UTC offset it was told in a signed message
 * (commissioning or time sync), together with the zone's next transition, which it applies on its
 * own at that instant (PROTOCOL.md §7.4). So one message covers a lock until the transition after
 * the one it announced; the gateway records what it told each lock (`door_time_state`,
 * migration 12) and the sync engine pushes a new time sync to a lock whose knowledge no longer
 * matches the zone: after it passed its announced transition (it then knows none), after the
 * manager changed the zone, or when it was never told (a lock commissioned before time zones).
 */
import type { Db } from '../store/db.js';
import { nextTransition, offsetAt } from '../time-zone.js';
import { all, one, run } from './base.js';
import { claimSupport, recordClaimSupport } from './claim-support.js';

/** Local time as a lock is told it: the offset at an instant and the next change (Unix seconds). */
export interface LockLocalTime {
  offset: number;
  transition: { at: number; offset: number } | null;
}

/** The zone's offset at `ms` and its next change, in the units locks use. */
export function zoneTimeAt(zone: string, ms: number): LockLocalTime {
  const next = nextTransition(zone, ms);
  return { offset: offsetAt(zone, ms), transition: next ? { at: next.at / 1000, offset: next.offset } : null };
}

/** What the gateway last told a door's lock about local time, and when (Unix ms); null if never. */
export function doorTimeState(db: Db, doorId: number): (LockLocalTime & { toldAt: number }) | null {
  const r = one<{ offset: number; nextAt: number | null; nextOffset: number | null; toldAt: number }>(
    db,
    'SELECT offset_min AS offset, next_at AS nextAt, next_offset AS nextOffset, told_at AS toldAt FROM door_time_state WHERE door_id = ?',
    doorId,
  );
  if (!r) return null;
  return { offset: r.offset, transition: r.nextAt === null ? null : { at: r.nextAt, offset: r.nextOffset! }, toldAt: r.toldAt };
}

/** Records what a door's lock was just told (a delivered commissioning or time sync). */
export function recordDoorTime(db: Db, doorId: number, told: LockLocalTime, atMs: number): void {
  run(
    db,
    `INSERT INTO door_time_state (door_id, offset_min, next_at, next_offset, told_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (door_id) DO UPDATE SET offset_min = excluded.offset_min, next_at = excluded.next_at, next_offset = excluded.next_offset, told_at = excluded.told_at`,
    doorId,
    told.offset,
    told.transition?.at ?? null,
    told.transition?.offset ?? null,
    atMs,
  );
}

/**
 * Whether a door's lock takes the optional `transition` claim (PROTOCOL.md §3.4, migration 14):
 * true once it accepted a message carrying one, false once it refused one, null when not known.
 * With `firmware` (from lock info), what was learned under another firmware string counts as not
 * known: the lock was updated, and is asked again (model/claim-support.ts).
 */
export function transitionSupport(db: Db, doorId: number, firmware?: string): boolean | null {
  return claimSupport(db, doorId, 'transition', firmware);
}

/** Records that a door's lock accepted (or refused) a message carrying a transition, under `firmware`. */
export function recordTransitionSupport(db: Db, doorId: number, accepts: boolean, firmware: string | null): void {
  recordClaimSupport(db, doorId, 'transition', accepts, firmware);
}

/**
 * Commissioned doors whose lock, by what it was last told, would read local time differently
 * from the zone now or at the zone's next change. A lock past its announced transition applies
 * the offset after it and knows no further one, which is compared like anything else.
 */
export function doorsWithStaleTime(db: Db, nowMs: number, propertyId?: number, doorId?: number): number[] {
  const props = all<{ id: number; zone: string }>(
    db,
    'SELECT id, time_zone AS zone FROM properties WHERE (? IS NULL OR id = ?) AND (? IS NULL OR id = (SELECT property_id FROM doors WHERE id = ?)) ORDER BY id',
    propertyId ?? null,
    propertyId ?? null,
    doorId ?? null,
    doorId ?? null,
  );
  const now = Math.floor(nowMs / 1000);
  const out: number[] = [];
  for (const p of props) {
    const z = zoneTimeAt(p.zone, nowMs);
    const rows = all<{ id: number }>(
      db,
      `SELECT d.id FROM doors d JOIN lock_identities l ON l.door_id = d.id LEFT JOIN door_time_state t ON t.door_id = d.id
        WHERE d.property_id = ? AND (? IS NULL OR d.id = ?) AND (
          t.door_id IS NULL
          OR (CASE WHEN t.next_at IS NOT NULL AND t.next_at <= ? THEN t.next_offset ELSE t.offset_min END) IS NOT ?
          OR (l.accepts_transition IS NOT 0 AND (
               (CASE WHEN t.next_at > ? THEN t.next_at END) IS NOT ?
               OR (CASE WHEN t.next_at > ? THEN t.next_offset END) IS NOT ?)))
        ORDER BY d.id`,
      p.id,
      doorId ?? null,
      doorId ?? null,
      now,
      z.offset,
      now,
      z.transition?.at ?? null,
      now,
      z.transition?.offset ?? null,
    );
    for (const r of rows) out.push(r.id);
  }
  return out;
}

/**
 * Records what a phone's relay told a door's lock about local time (VisitReport.timeSyncTold):
 * the zone's offset and next change at the message's signed time, without the change when the
 * message carried none, and whether the lock takes the `transition` claim when the relay found
 * out. The lock signs nothing about local time, so this is the phone's word, as a gateway's
 * push is the gateway's (known gaps in gateway/MODEL.md).
 */
export function recordRelayedTime(
  db: Db,
  doorId: number,
  told: { iat: number; transition: boolean; transitionRefused: boolean; firmware: string | null },
  nowMs: number,
): void {
  const zone = one<{ zone: string }>(db, 'SELECT p.time_zone AS zone FROM doors d JOIN properties p ON p.id = d.property_id WHERE d.id = ?', doorId);
  if (!zone) return;
  const at = zoneTimeAt(zone.zone, told.iat * 1000);
  recordDoorTime(db, doorId, told.transition ? at : { ...at, transition: null }, nowMs);
  if (told.transition || told.transitionRefused) recordTransitionSupport(db, doorId, told.transition, told.firmware);
}
