/**
 * Migration 3: CSV import state (seed 000).
 *
 * - csv_imports / csv_import_rows: each uploaded file and its parsed rows with their preview
 *   verdict, kept so the manager can review before applying ("Review the data preview") and read
 *   the error report afterwards.
 * - csv_imported_rows: the per-property ledger of rows already imported, keyed by a fingerprint of
 *   the row's content. A corrected file re-uploaded later skips every row found here, so a row is
 *   imported at most once, whichever file it arrives in.
 */
export const CSV_IMPORT_SCHEMA = `
CREATE TABLE csv_imports (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  file_name TEXT,
  status TEXT NOT NULL CHECK (status IN ('previewed', 'applied')),
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  applied_at INTEGER,
  applied_by TEXT,
  -- What "Add Keys" and the optional window chose for the whole import (JSON array of key ids).
  communal_key_ids TEXT,
  start_min INTEGER,
  end_min INTEGER,
  CHECK ((status = 'applied') = (applied_at IS NOT NULL))
);
CREATE INDEX csv_imports_property ON csv_imports(property_id, id);

CREATE TABLE csv_import_rows (
  import_id INTEGER NOT NULL REFERENCES csv_imports(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL CHECK (idx >= 0),
  line INTEGER NOT NULL CHECK (line >= 1),
  -- The row's cells as read (JSON object keyed by template column), for the error report.
  cells TEXT NOT NULL,
  email_norm TEXT,
  fingerprint TEXT,
  -- JSON array of the residential key ids the Keys column resolved to.
  key_ids TEXT,
  unit_id INTEGER,
  status TEXT NOT NULL CHECK (status IN ('ready', 'error', 'already_imported', 'imported', 'failed')),
  existing_person INTEGER NOT NULL DEFAULT 0 CHECK (existing_person IN (0, 1)),
  error_code TEXT,
  error_message TEXT,
  person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
  PRIMARY KEY (import_id, idx),
  CHECK ((status IN ('error', 'failed')) = (error_code IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX csv_import_rows_status ON csv_import_rows(import_id, status, idx);

CREATE TABLE csv_imported_rows (
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 64),
  import_id INTEGER NOT NULL REFERENCES csv_imports(id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  imported_at INTEGER NOT NULL,
  PRIMARY KEY (property_id, fingerprint)
) WITHOUT ROWID;
`;
