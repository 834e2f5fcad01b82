/**
 * Migration 4: the PMS integration (seeds 002 Automated Access and 003 User Sync).
 *
 * - pms_integrations: one per property: where the feed comes from, how often it is pulled, which
 *   lease statuses are excluded, whether User Sync and Automated Access are on, the Automated
 *   Access mode, and the last sync time shown on the People tab.
 * - pms_sync_runs: every pull, scheduled or Sync Now, with its outcome and per-record report.
 * - pms_residents: what the PMS last said about each resident (the mirror), plus the status and
 *   unit Automated Access last acted on. Automated Access reacts to changes of the PMS data, not
 *   to differences from DOOR's grants, so a manager's manual override is not undone by the next
 *   pull of an unchanged record.
 * - person_leases: lease and move dates User Sync copied onto a DOOR person.
 * - resident_status: the DOOR OS resident status (future/current/past) and who set it last.
 * - access_suggestions: Automated Access suggestions (grant / revoke / no change per key).
 * - pms_alerts: User Sync records that need a manager (partial match, Email Mismatch).
 */
export const PMS_SCHEMA = `
CREATE TABLE pms_integrations (
  property_id INTEGER PRIMARY KEY REFERENCES properties(id) ON DELETE CASCADE,
  feed_kind TEXT NOT NULL CHECK (feed_kind IN ('file', 'http')),
  feed_source TEXT NOT NULL CHECK (length(feed_source) BETWEEN 1 AND 2000),
  timeout_ms INTEGER NOT NULL CHECK (timeout_ms BETWEEN 100 AND 120000),
  interval_min INTEGER NOT NULL CHECK (interval_min BETWEEN 1 AND 60),
  user_sync INTEGER NOT NULL CHECK (user_sync IN (0, 1)),
  automated_access INTEGER NOT NULL CHECK (automated_access IN (0, 1)),
  mode TEXT NOT NULL CHECK (mode IN ('approval_required', 'automatic')),
  excluded_statuses TEXT NOT NULL DEFAULT '[]',
  last_sync_at INTEGER,
  last_attempt_at INTEGER,
  last_error_code TEXT,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  -- Seed 002 step 1: Automated Access requires User Sync.
  CHECK (automated_access = 0 OR user_sync = 1)
);

CREATE TABLE pms_sync_runs (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
  error_code TEXT,
  error_message TEXT,
  report TEXT NOT NULL,
  CHECK ((status = 'failed') = (error_code IS NOT NULL))
);
CREATE INDEX pms_sync_runs_property ON pms_sync_runs(property_id, id);

CREATE TABLE pms_residents (
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  external_ref TEXT NOT NULL CHECK (length(external_ref) BETWEEN 1 AND 200),
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT,
  unit TEXT,
  lease_status TEXT NOT NULL,
  lease_start TEXT,
  lease_end TEXT,
  move_in TEXT,
  move_out TEXT,
  status_changed_at INTEGER NOT NULL,
  acted_status TEXT,
  acted_unit TEXT,
  first_seen_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  PRIMARY KEY (property_id, external_ref)
) WITHOUT ROWID;

CREATE TABLE person_leases (
  person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
  lease_start TEXT,
  lease_end TEXT,
  move_in TEXT,
  move_out TEXT,
  updated_at INTEGER NOT NULL
);

CREATE TABLE resident_status (
  person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
  status TEXT NOT NULL CHECK (status IN ('future', 'current', 'past')),
  source TEXT NOT NULL CHECK (source IN ('pms', 'manual')),
  changed_at INTEGER NOT NULL
);

CREATE TABLE access_suggestions (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  key_id INTEGER REFERENCES keys(id) ON DELETE CASCADE,
  action TEXT NOT NULL CHECK (action IN ('grant', 'revoke', 'none')),
  reason TEXT NOT NULL CHECK (reason IN ('future', 'current', 'unit_change', 'past')),
  detail TEXT NOT NULL,
  start_min INTEGER,
  state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'discarded', 'superseded', 'failed')),
  created_at INTEGER NOT NULL,
  resolved_at INTEGER,
  resolved_by TEXT,
  result TEXT,
  CHECK ((action = 'none') = (key_id IS NULL)),
  CHECK ((state = 'pending') = (resolved_at IS NULL))
);
CREATE INDEX access_suggestions_state ON access_suggestions(property_id, state, id);
CREATE INDEX access_suggestions_person ON access_suggestions(person_id, state);

CREATE TABLE pms_alerts (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('partial_match', 'email_mismatch')),
  external_ref TEXT NOT NULL,
  person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
  -- The PMS record as pulled (JSON), so resolving acts on what the manager reviewed.
  record TEXT NOT NULL,
  -- Same record data raises the same alert once, also after it was dismissed.
  fingerprint TEXT NOT NULL,
  message TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'resolved', 'dismissed')),
  resolution TEXT,
  created_at INTEGER NOT NULL,
  resolved_at INTEGER,
  UNIQUE (property_id, kind, external_ref, fingerprint)
);
CREATE INDEX pms_alerts_state ON pms_alerts(property_id, state, id);
`;
