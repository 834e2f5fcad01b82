import type { Db } from './db.js';

/**
 * Migration 11: daily-code messages in the outbox. The `notifications.kind` CHECK admitted only
 * 'welcome', and SQLite cannot alter a CHECK, so the table is rebuilt (same ids, same
 * AUTOINCREMENT counter, so an id handed out before is never handed out again):
 * - `kind` 'welcome' or 'daily';
 * - `local_day` (YYYY-MM-DD in the property's time zone), set exactly for 'daily' rows;
 * - one daily message per person per local day (a partial unique index), which is what makes
 *   queueing a day twice — two schedulers, a restart, a manual run — a no-op.
 * Nothing references notifications, so foreign keys can stay on.
 */
export const DAILY_NOTIFICATIONS_VERSION = 11;

export function addDailyNotifications(db: Db): void {
  const seq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'notifications'").pluck().get() as number | undefined;
  db.exec(`
CREATE TABLE notifications_v11 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('welcome', 'daily')),
  email TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  local_day TEXT CHECK (local_day GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
  CHECK ((kind = 'daily') = (local_day IS NOT NULL))
);
INSERT INTO notifications_v11 (id, property_id, person_id, kind, email, created_at, sent_at)
  SELECT id, property_id, person_id, kind, email, created_at, sent_at FROM notifications ORDER BY id;
DROP TABLE notifications;
ALTER TABLE notifications_v11 RENAME TO notifications;
CREATE UNIQUE INDEX notifications_daily_once ON notifications (person_id, local_day) WHERE kind = 'daily';
CREATE INDEX notifications_property ON notifications (property_id, id);
`);
  // The copy gives the new table a counter only when it copied rows; either way the old one wins.
  if (seq !== undefined && db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'notifications'").run(seq).changes === 0) {
    db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('notifications', ?)").run(seq);
  }
}
