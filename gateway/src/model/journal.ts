import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, one, run, uniq } from './base.js';

/**
 * Records that an access change touched these doors. Called inside the change's own transaction,
 * so a change is never committed without its journal rows (and never journaled without committing).
 */
export function journalDoors(db: Db, doorIds: Iterable<number>, reason: string, at: number): number[] {
  const ids = uniq(doorIds);
  for (const id of ids) {
    run(db, 'INSERT INTO door_changes (door_id, reason, created_at) VALUES (?, ?, ?)', id, reason, at);
  }
  return ids;
}

export interface DoorChange {
  id: number;
  doorId: number;
  reason: string;
  at: number;
  /** Sequence of the first compiled set that includes the change; null while pending. */
  compiledSeq: number | null;
}

export interface DirtyDoor {
  doorId: number;
  propertyId: number;
  lockId: string;
  connectivity: 'online' | 'offline';
  /**
   * Highest pending change id seen. Pass it back to recordCompiledSet: changes that arrive while
   * the compiler runs have higher ids and stay pending, so none is lost.
   */
  throughChangeId: number;
  changes: DoorChange[];
}

/**
 * The columns of a DoorChange from `door_changes c`: compiledSeq is the first sequence whose
 * watermark reached the change (door_compiles, migration 7), null while none has.
 */
export const CHANGE_COLUMNS = `c.id, c.door_id AS doorId, c.reason, c.created_at AS at,
  (SELECT k.seq FROM door_compiles k WHERE k.door_id = c.door_id AND k.through_change >= c.id ORDER BY k.through_change, k.seq LIMIT 1) AS compiledSeq`;

/**
 * Doors with access changes not yet in a compiled set, oldest change first. Does not consume.
 * A door is dirty while its journal head is past its compiled watermark (partial index
 * door_sync_dirty), so finding the dirty doors never walks the journal itself.
 */
export function dirtyDoors(db: Db, opts: { propertyId?: number; limit?: number } = {}): DirtyDoor[] {
  const rows = all<{ id: number; doorId: number; reason: string; at: number; propertyId: number; lockId: string; connectivity: 'online' | 'offline' }>(
    db,
    `SELECT c.id, c.door_id AS doorId, c.reason, c.created_at AS at, d.property_id AS propertyId,
            d.lock_id AS lockId, d.connectivity
       FROM door_sync_state s INDEXED BY door_sync_dirty JOIN doors d ON d.id = s.door_id
       JOIN door_changes c ON c.door_id = s.door_id AND c.id > s.compiled_through
      WHERE s.journal_head > s.compiled_through AND (@pid IS NULL OR d.property_id = @pid)
      ORDER BY c.id`,
    { pid: opts.propertyId ?? null },
  );
  const byDoor = new Map<number, DirtyDoor>();
  for (const r of rows) {
    let d = byDoor.get(r.doorId);
    if (!d) {
      if (opts.limit !== undefined && byDoor.size >= opts.limit) continue;
      d = { doorId: r.doorId, propertyId: r.propertyId, lockId: r.lockId, connectivity: r.connectivity, throughChangeId: 0, changes: [] };
      byDoor.set(r.doorId, d);
    }
    d.throughChangeId = r.id;
    d.changes.push({ id: r.id, doorId: r.doorId, reason: r.reason, at: r.at, compiledSeq: null });
  }
  return [...byDoor.values()];
}

/**
 * dirtyDoors without the change rows: door, property, the highest pending change id and the
 * number of pending changes, in the same order (oldest pending change first). What a compiler
 * run needs; building one object per pending change cost a second on a freshly built
 * 10,000-unit property (~245,000 rows).
 */
export function dirtyDoorHeads(db: Db, opts: { propertyId?: number } = {}): { doorId: number; propertyId: number; throughChangeId: number; pending: number }[] {
  return all<{ doorId: number; propertyId: number; throughChangeId: number; pending: number }>(
    db,
    `SELECT s.door_id AS doorId, d.property_id AS propertyId, s.journal_head AS throughChangeId,
            (SELECT count(*) FROM door_changes c WHERE c.door_id = s.door_id AND c.id > s.compiled_through) AS pending
       FROM door_sync_state s INDEXED BY door_sync_dirty JOIN doors d ON d.id = s.door_id
      WHERE s.journal_head > s.compiled_through AND (@pid IS NULL OR d.property_id = @pid)
      ORDER BY (SELECT min(c.id) FROM door_changes c WHERE c.door_id = s.door_id AND c.id > s.compiled_through)`,
    { pid: opts.propertyId ?? null },
  );
}

/** The journal of one door, newest first. */
export function doorChanges(db: Db, doorId: number, opts: { limit?: number; pendingOnly?: boolean } = {}): DoorChange[] {
  return all<DoorChange>(
    db,
    `SELECT ${CHANGE_COLUMNS}
       FROM door_changes c WHERE c.door_id = ? AND (? = 0 OR c.id > (SELECT compiled_through FROM door_sync_state WHERE door_id = c.door_id))
      ORDER BY c.id DESC LIMIT ?`,
    doorId,
    opts.pendingOnly ? 1 : 0,
    opts.limit ?? 100,
  );
}

/** The doors held by any of the keys, ascending. */
export function doorsOfKeys(db: Db, keyIds: readonly number[]): number[] {
  return all<{ id: number }>(
    db,
    'SELECT DISTINCT door_id AS id FROM key_doors WHERE key_id IN (SELECT value FROM json_each(?)) ORDER BY 1',
    JSON.stringify(keyIds),
  ).map((r) => r.id);
}

export type AffectedTarget = { personId: number } | { keyId: number } | { grantId: number };

/**
 * Doors whose credential sets depend on a person, key or grant: the doors of every key involved,
 * including the keys the person shared with guests. A superset is safe (an extra recompile);
 * a subset is not, so when unsure this includes.
 */
export function affectedDoors(db: Db, target: AffectedTarget): number[] {
  if ('keyId' in target) return doorsOfKeys(db, [target.keyId]);
  if ('grantId' in target) {
    const g = one<{ keyId: number }>(db, 'SELECT key_id AS keyId FROM grants WHERE id = ?', target.grantId);
    if (!g) throw new GatewayError('GRANT_NOT_FOUND', `grant ${target.grantId} does not exist`);
    return affectedDoors(db, { keyId: g.keyId });
  }
  return all<{ id: number }>(
    db,
    `SELECT DISTINCT kd.door_id AS id FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id
      WHERE g.person_id = @id OR g.shared_by = @id ORDER BY 1`,
    { id: target.personId },
  ).map((r) => r.id);
}

/** Doors where the person's doorcode / daily code is (or may be) present: keys not codes-disabled. */
export function doorsForPersonCodes(db: Db, personId: number): number[] {
  return all<{ id: number }>(
    db,
    `SELECT DISTINCT kd.door_id AS id FROM grants g
       JOIN keys k ON k.id = g.key_id AND k.doorcodes_disabled = 0
       JOIN key_doors kd ON kd.key_id = g.key_id
      WHERE g.person_id = ? ORDER BY 1`,
    personId,
  ).map((r) => r.id);
}

/** Doors the person's own credentials are in (not their guests'). */
export function doorsForPerson(db: Db, personId: number): number[] {
  return all<{ id: number }>(
    db,
    'SELECT DISTINCT kd.door_id AS id FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id WHERE g.person_id = ? ORDER BY 1',
    personId,
  ).map((r) => r.id);
}
