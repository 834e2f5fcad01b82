/**
 * Doors whose set must be compiled again because a window it carries has ended and the same
 * person has another one after it (compile-input.ts doorWindowBoundary says when). Each
 * compile records the door's next such instant; once it has passed, the door is journaled like
 * any access change, so the compiler, the sync engine, Door Sync tasks and phone relays all
 * pick it up the usual way.
 */
import type { Db } from '../store/db.js';
import { all, nowOf, run, tx, type Ctx } from './base.js';
import { doorWindowBoundary } from './compile-input.js';
import { journalDoors } from './journal.js';

/**
 * Records when the door, just compiled at `ctx`'s now, needs compiling again (null: never for
 * time alone). `known` is the boundary when the caller computed it from the same input.
 */
export function recordWindowBoundary(db: Db, doorId: number, ctx: Ctx = {}, known?: number | null): number | null {
  const boundary = known !== undefined ? known : doorWindowBoundary(db, doorId, ctx);
  run(db, 'UPDATE door_sync_state SET window_boundary_min = ? WHERE door_id = ?', boundary, doorId);
  return boundary;
}

/**
 * Journals every door (of one property, or one door) whose recorded boundary has passed, and
 * clears the boundary (the compile that follows records the next one). Returns the doors.
 */
export function journalDueWindows(db: Db, o: { ctx?: Ctx; propertyId?: number; doorId?: number } = {}): number[] {
  const at = nowOf(o.ctx ?? {});
  const due = all<{ id: number }>(
    db,
    `SELECT s.door_id AS id FROM door_sync_state s JOIN doors d ON d.id = s.door_id
      WHERE s.window_boundary_min IS NOT NULL AND s.window_boundary_min <= ?
        AND (? IS NULL OR d.property_id = ?) AND (? IS NULL OR d.id = ?)
      ORDER BY s.door_id`,
    Math.floor(at / 60_000),
    o.propertyId ?? null,
    o.propertyId ?? null,
    o.doorId ?? null,
    o.doorId ?? null,
  ).map((r) => r.id);
  if (due.length === 0) return due;
  return tx(db, () => {
    for (const id of due) run(db, 'UPDATE door_sync_state SET window_boundary_min = NULL WHERE door_id = ?', id);
    return journalDoors(db, due, 'a window ended: the next window of someone at this door is compiled', at);
  });
}
