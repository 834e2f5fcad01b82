import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { actorOf, all, nowOf, one, run, tx, type Ctx } from './base.js';
import type { ActivityEntry } from './types.js';

export interface AccessEvent {
  action: string;
  message: string;
  holderRef?: number | null;
  doorId?: number | null;
}

/** Logs a manager's access change (invite, revoke, ...) in the activity log. */
export function logAccess(db: Db, propertyId: number, e: AccessEvent, ctx: Ctx): void {
  const holderName =
    e.holderRef == null
      ? null
      : (one<{ name: string }>(db, 'SELECT name FROM holders WHERE property_id = ? AND holder_ref = ?', propertyId, e.holderRef)?.name ?? null);
  const doorName = e.doorId == null ? null : (one<{ name: string }>(db, 'SELECT name FROM doors WHERE id = ?', e.doorId)?.name ?? null);
  run(
    db,
    `INSERT INTO activity (property_id, at, kind, door_id, door_name, holder_ref, holder_name, action, actor, message)
     VALUES (?, ?, 'access', ?, ?, ?, ?, ?, ?, ?)`,
    propertyId,
    nowOf(ctx),
    e.doorId ?? null,
    doorName,
    e.holderRef ?? null,
    holderName,
    e.action,
    actorOf(ctx),
    e.message,
  );
}

/** One entry of a lock's uploaded event log. */
export interface LockEvent {
  /** When the lock recorded it, Unix ms. */
  at: number;
  /** Holder reference from the matched credential; null when nothing matched. */
  holder: number | null;
  credentialKind: 'doorcode' | 'daily' | 'keycard' | 'phone' | null;
  result: 'granted' | 'denied';
  reason?: string;
  /** The lock's own event sequence number; makes a re-uploaded log idempotent. */
  lockSeq?: number;
}

/** How a denial reason reads before the credential: "expired doorcode", "not yet valid keycard". */
const REASON_WORDS: Record<string, string> = {
  expired: 'expired',
  notYetValid: 'not yet valid',
  outsideSchedule: 'out-of-schedule',
  badProof: 'unproven',
  staleNonce: 'replayed',
};

/**
 * A denial the lock tied to a holder (the credential matched, but its window or schedule did
 * not): "denied Lobby: expired doorcode of Jane Doe". Denials of unknown credentials carry
 * holder 0 and no credential material (see FLOWS.md "Activity"), so they name nobody.
 */
function deniedOfHolder(doorName: string, who: string, kind: LockEvent['credentialKind'], reason: string | undefined): string {
  const words = reason === undefined ? '' : (REASON_WORDS[reason] ?? reason);
  const what = kind === 'daily' ? 'daily doorcode' : kind === 'phone' ? 'phone key' : (kind ?? 'credential');
  return `denied ${doorName}: ${words ? `${words} ` : ''}${what} of ${who}`;
}

/**
 * Stores events uploaded from a lock. Holder names come from the holder registry, which outlives
 * deleted people: a deleted resident's code still opening an unsynced door is logged by name.
 */
export function recordLockEvents(db: Db, doorId: number, events: readonly LockEvent[]): { inserted: number } {
  return tx(db, () => {
    const door = one<{ propertyId: number; name: string }>(db, 'SELECT property_id AS propertyId, name FROM doors WHERE id = ?', doorId);
    if (!door) throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist`);
    let inserted = 0;
    for (const e of events) {
      const holderName =
        e.holder === null
          ? null
          : (one<{ name: string }>(db, 'SELECT name FROM holders WHERE property_id = ? AND holder_ref = ?', door.propertyId, e.holder)?.name ?? null);
      const who = holderName ?? (e.holder === null ? 'unknown credential' : `holder #${e.holder}`);
      const message =
        e.result === 'denied' && e.holder !== null
          ? deniedOfHolder(door.name, who, e.credentialKind, e.reason)
          : `${e.result === 'granted' ? 'unlocked' : 'denied'} ${door.name} (${who}${e.credentialKind ? `, ${e.credentialKind}` : ''}${e.reason ? `: ${e.reason}` : ''})`;
      const r = run(
        db,
        `INSERT OR IGNORE INTO activity (property_id, at, kind, door_id, door_name, holder_ref, holder_name, credential_kind, result, actor, message, lock_seq)
         VALUES (?, ?, 'unlock', ?, ?, ?, ?, ?, ?, 'lock', ?, ?)`,
        door.propertyId,
        e.at,
        doorId,
        door.name,
        e.holder,
        holderName,
        e.credentialKind,
        e.result,
        message,
        e.lockSeq ?? null,
      );
      inserted += r.changes;
    }
    return { inserted };
  });
}

export interface ActivityQuery {
  holderRef?: number;
  doorId?: number;
  kind?: 'unlock' | 'access';
  /** Paging cursor: only entries older than this one (by time, then id). */
  before?: { at: number; id: number };
  limit?: number;
  /** Skip this many first (after the cursor); a negative limit means no limit. */
  offset?: number;
}

/** The filter listActivity and countActivity share, with its parameters. */
function activityFilter(propertyId: number, q: Omit<ActivityQuery, 'limit' | 'offset'>): { where: string; params: unknown[] } {
  return {
    where: `WHERE property_id = ? AND (? IS NULL OR holder_ref = ?) AND (? IS NULL OR door_id = ?)
        AND (? IS NULL OR kind = ?) AND (? IS NULL OR at < ? OR (at = ? AND id < ?))`,
    params: [
      propertyId,
      q.holderRef ?? null,
      q.holderRef ?? null,
      q.doorId ?? null,
      q.doorId ?? null,
      q.kind ?? null,
      q.kind ?? null,
      q.before?.at ?? null,
      q.before?.at ?? null,
      q.before?.at ?? null,
      q.before?.id ?? null,
    ],
  };
}

/** Newest first. */
export function listActivity(db: Db, propertyId: number, q: ActivityQuery = {}): ActivityEntry[] {
  const f = activityFilter(propertyId, q);
  return all<ActivityEntry>(
    db,
    `SELECT id, property_id AS propertyId, at, kind, door_id AS doorId, door_name AS doorName, holder_ref AS holderRef,
            holder_name AS holderName, credential_kind AS credentialKind, result, action, actor, message
       FROM activity ${f.where}
      ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
    ...f.params,
    q.limit ?? 100,
    q.offset ?? 0,
  );
}

/** How many entries listActivity would list without a limit (for "N more" when paging). */
export function countActivity(db: Db, propertyId: number, q: Omit<ActivityQuery, 'limit' | 'offset'> = {}): number {
  const f = activityFilter(propertyId, q);
  return one<{ n: number }>(db, `SELECT count(*) AS n FROM activity ${f.where}`, ...f.params)!.n;
}
