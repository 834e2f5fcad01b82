import type { Db } from './db.js';
import { fixedZone } from '../time-zone.js';

/**
 * Migration 12: properties get a time zone instead of a fixed UTC offset.
 *
 * - `properties.time_zone`: an IANA name or `UTC±hh:mm` (gateway/src/time-zone.ts). An existing
 *   property's `utc_offset_min` becomes the fixed zone of that offset (`UTC−05:00`), never a
 *   guessed region: −300 could be New York, Chicago in summer or Bogotá, and a wrong guess
 *   would move daily codes and schedules by an hour twice a year. A manager names the zone with
 *   `property update --time-zone`. `utc_offset_min` is dropped (the offset is read from the zone
 *   for each instant).
 * - `door_time_state`: what each door's lock was last told about local time in a signed message
 *   (commissioning or time sync): its offset and the next transition (Unix seconds, the offset
 *   after it), both null when none was sent. The sync engine compares it with the zone's rules
 *   to push a time sync before a change the lock does not know about. Seeded for every lock
 *   commissioned before: it was told the fixed offset and no transition, which its fixed zone
 *   still says, so an upgrade alone sends no time syncs and lists no Door Sync tasks.
 * - `door_sync_state.window_boundary_min`: when the door must be compiled again because a window
 *   in its set ends and the same person has a later one (model/window-boundaries.ts); null when
 *   time alone changes nothing. Partial index: the sync engine looks for due doors every tick.
 */
export const TIME_ZONES_VERSION = 12;

export function addTimeZones(db: Db): void {
  db.exec(`ALTER TABLE properties ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) BETWEEN 1 AND 64)`);
  const rows = db.prepare('SELECT id, utc_offset_min AS off FROM properties').all() as { id: number; off: number }[];
  const set = db.prepare('UPDATE properties SET time_zone = ? WHERE id = ?');
  for (const r of rows) set.run(fixedZone(r.off), r.id);
  db.exec(`
CREATE TABLE door_time_state (
  door_id INTEGER PRIMARY KEY REFERENCES doors(id) ON DELETE CASCADE,
  offset_min INTEGER NOT NULL CHECK (offset_min BETWEEN -1080 AND 1080),
  next_at INTEGER CHECK (next_at > 0),
  next_offset INTEGER CHECK (next_offset BETWEEN -1080 AND 1080),
  told_at INTEGER NOT NULL,
  CHECK ((next_at IS NULL) = (next_offset IS NULL))
);
-- Every lock commissioned before this migration was told its property's fixed offset and no
-- transition, which its fixed zone still says: none needs a time sync for the zone.
INSERT INTO door_time_state (door_id, offset_min, told_at)
  SELECT l.door_id, p.utc_offset_min, l.commissioned_at FROM lock_identities l JOIN doors d ON d.id = l.door_id JOIN properties p ON p.id = d.property_id;
ALTER TABLE properties DROP COLUMN utc_offset_min;
ALTER TABLE door_sync_state ADD COLUMN window_boundary_min INTEGER;
CREATE INDEX door_sync_window_due ON door_sync_state(window_boundary_min) WHERE window_boundary_min IS NOT NULL;
`);
}
