import type { Db } from './db.js';
import { GatewayError } from '../errors.js';
import { LOCKS_SCHEMA } from './migration-002-locks.js';
import { CSV_IMPORT_SCHEMA } from './migration-003-csv-import.js';
import { PMS_SCHEMA } from './migration-004-pms.js';
import { ANCHOR_UPDATES_SCHEMA } from './migration-005-anchor-updates.js';
import { ACCESS_TOUCHES_SCHEMA } from './migration-006-access-touches.js';
import { JOURNAL_WATERMARKS_SCHEMA } from './migration-007-journal-watermarks.js';
import { rebuildWithAutoincrement } from './migration-008-no-id-reuse.js';
import { sealIssuerKeys } from './migration-009-sealed-issuer-keys.js';
import { WEEKLY_SCHEDULES_SCHEMA } from './migration-010-weekly-schedules.js';
import { addDailyNotifications } from './migration-011-daily-notifications.js';
import { addTimeZones } from './migration-012-time-zones.js';
import { allowSignerHeldIssuerKeys } from './migration-013-signer-held-issuer-keys.js';
import { TRANSITION_SUPPORT_SCHEMA } from './migration-014-transition-support.js';
import { ENTRY_DIGEST_SCHEMA } from './migration-015-entry-digest.js';

export interface Migration {
  /** Strictly increasing from 1; a released version is never edited, only followed. */
  version: number;
  name: string;
  up: string | ((db: Db) => void);
  /**
   * Run with foreign key enforcement off, as SQLite's table-rebuild procedure requires (dropping
   * a parent table with it on would cascade to the children). The runner switches it off before
   * the migration's transaction (the pragma is a no-op inside one), runs
   * `PRAGMA foreign_key_check` before committing (a broken reference rolls the migration back),
   * and restores the connection's setting afterwards.
   */
  foreignKeysOff?: boolean;
}

/**
 * Conventions the SQL follows:
 * - times of record (created_at, activity `at`, receipts) are Unix milliseconds;
 * - validity windows (grants) are Unix minutes, the unit locks enforce;
 * - booleans are 0/1 with a CHECK; hex values are stored lower-case and CHECKed.
 */
const INITIAL_SCHEMA = `
CREATE TABLE properties (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  utc_offset_min INTEGER NOT NULL CHECK (utc_offset_min BETWEEN -720 AND 840),
  doorcode_length INTEGER NOT NULL DEFAULT 6 CHECK (doorcode_length BETWEEN 4 AND 10),
  created_at INTEGER NOT NULL
);

CREATE TABLE units (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at INTEGER NOT NULL,
  UNIQUE (property_id, name)
);

CREATE TABLE doors (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  lock_id TEXT NOT NULL UNIQUE CHECK (length(lock_id) = 16 AND lock_id NOT GLOB '*[^0-9a-f]*'),
  connectivity TEXT NOT NULL CHECK (connectivity IN ('online', 'offline')),
  gateway_radio TEXT,
  unit_id INTEGER REFERENCES units(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  CHECK ((connectivity = 'online') = (gateway_radio IS NOT NULL))
);
CREATE INDEX doors_property ON doors(property_id);

CREATE TABLE keys (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind TEXT NOT NULL CHECK (kind IN ('residential', 'communal')),
  unit_id INTEGER REFERENCES units(id) ON DELETE SET NULL,
  may_share INTEGER NOT NULL CHECK (may_share IN (0, 1)),
  doorcodes_disabled INTEGER NOT NULL CHECK (doorcodes_disabled IN (0, 1)),
  created_at INTEGER NOT NULL,
  UNIQUE (property_id, name)
);

-- RESTRICT: a door leaves its keys explicitly, so no key silently ends up holding nothing.
CREATE TABLE key_doors (
  key_id INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  door_id INTEGER NOT NULL REFERENCES doors(id) ON DELETE RESTRICT,
  PRIMARY KEY (key_id, door_id)
) WITHOUT ROWID;
CREATE INDEX key_doors_door ON key_doors(door_id, key_id);

-- Every holder reference ever handed out, never deleted with the person: locks keep logging the
-- reference until they sync, and the activity log must still name who it was.
CREATE TABLE holders (
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  holder_ref INTEGER NOT NULL CHECK (holder_ref BETWEEN 1 AND 4294967295),
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (property_id, holder_ref)
) WITHOUT ROWID;

CREATE TABLE people (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  holder_ref INTEGER NOT NULL,
  email TEXT NOT NULL,
  email_norm TEXT NOT NULL,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  phone TEXT,
  is_resident INTEGER NOT NULL CHECK (is_resident IN (0, 1)),
  may_share INTEGER NOT NULL CHECK (may_share IN (0, 1)),
  access_type TEXT NOT NULL CHECK (access_type IN ('app', 'doorcode')),
  doorcode TEXT CHECK (doorcode IS NULL OR (length(doorcode) BETWEEN 4 AND 10 AND doorcode NOT GLOB '*[^0-9]*')),
  daily_doorcode INTEGER NOT NULL CHECK (daily_doorcode IN (0, 1)),
  unit_id INTEGER REFERENCES units(id) ON DELETE SET NULL,
  external_ref TEXT,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  UNIQUE (property_id, email_norm),
  UNIQUE (property_id, holder_ref),
  UNIQUE (property_id, doorcode),
  UNIQUE (property_id, external_ref),
  FOREIGN KEY (property_id, holder_ref) REFERENCES holders(property_id, holder_ref)
);

-- A grant is a key held by a person. shared_by is set when a resident shared the key with this
-- person as a guest; such a grant only works inside the host's own grant of the same key.
CREATE TABLE grants (
  id INTEGER PRIMARY KEY,
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  key_id INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  shared_by INTEGER REFERENCES people(id) ON DELETE CASCADE,
  start_min INTEGER,
  end_min INTEGER,
  source TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'csv', 'automated', 'guest')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK (start_min IS NULL OR end_min IS NULL OR start_min < end_min),
  CHECK (shared_by IS NULL OR shared_by <> person_id),
  CHECK ((shared_by IS NULL) = (source <> 'guest'))
);
CREATE UNIQUE INDEX grants_unique ON grants(person_id, key_id, coalesce(shared_by, 0));
CREATE INDEX grants_key ON grants(key_id, person_id);
CREATE INDEX grants_shared_by ON grants(shared_by) WHERE shared_by IS NOT NULL;

CREATE TABLE keycards (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  uid TEXT NOT NULL CHECK (length(uid) BETWEEN 8 AND 20 AND length(uid) % 2 = 0 AND uid NOT GLOB '*[^0-9a-f]*'),
  activated_at INTEGER NOT NULL,
  deactivated_at INTEGER
);
CREATE UNIQUE INDEX keycards_active_uid ON keycards(property_id, uid) WHERE deactivated_at IS NULL;
CREATE INDEX keycards_person ON keycards(person_id);

CREATE TABLE phone_keys (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  public_key TEXT NOT NULL CHECK (length(public_key) = 64 AND public_key NOT GLOB '*[^0-9a-f]*'),
  label TEXT,
  added_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE UNIQUE INDEX phone_keys_active ON phone_keys(property_id, public_key) WHERE revoked_at IS NULL;
CREATE INDEX phone_keys_person ON phone_keys(person_id);

-- Holder name and door name are copied in, so the log reads the same after either is deleted.
CREATE TABLE activity (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('unlock', 'access')),
  door_id INTEGER REFERENCES doors(id) ON DELETE SET NULL,
  door_name TEXT,
  holder_ref INTEGER,
  holder_name TEXT,
  credential_kind TEXT CHECK (credential_kind IN ('doorcode', 'daily', 'keycard', 'phone')),
  result TEXT CHECK (result IN ('granted', 'denied')),
  action TEXT,
  actor TEXT,
  message TEXT NOT NULL,
  lock_seq INTEGER
);
CREATE INDEX activity_property_at ON activity(property_id, at, id);
CREATE INDEX activity_holder ON activity(property_id, holder_ref, at);
-- A lock re-uploads its event log after a dropped sync; its own sequence numbers dedupe it.
CREATE UNIQUE INDEX activity_lock_event ON activity(door_id, lock_seq) WHERE lock_seq IS NOT NULL;

-- The change journal: one row per door per access change, written in the same transaction as
-- the change. compiled_seq stays NULL until a compiled set includes the change.
CREATE TABLE door_changes (
  id INTEGER PRIMARY KEY,
  door_id INTEGER NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  compiled_seq INTEGER
);
CREATE INDEX door_changes_pending ON door_changes(door_id, id) WHERE compiled_seq IS NULL;
CREATE INDEX door_changes_door_seq ON door_changes(door_id, compiled_seq);

CREATE TABLE door_sync_state (
  door_id INTEGER PRIMARY KEY REFERENCES doors(id) ON DELETE CASCADE,
  compiled_seq INTEGER NOT NULL DEFAULT 0,
  compiled_digest BLOB,
  compiled_at INTEGER,
  enforced_seq INTEGER NOT NULL DEFAULT 0,
  enforced_digest BLOB,
  last_receipt_at INTEGER,
  CHECK (enforced_seq <= compiled_seq)
);

-- Compiled sets kept as delta bases: the one the door enforces and every newer one.
CREATE TABLE door_sets (
  door_id INTEGER NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq >= 1),
  digest BLOB NOT NULL,
  payload BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (door_id, seq)
);

CREATE TABLE issuer_keys (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  kid TEXT NOT NULL CHECK (length(kid) BETWEEN 1 AND 64),
  algorithm TEXT NOT NULL DEFAULT 'Ed25519' CHECK (algorithm = 'Ed25519'),
  public_key BLOB NOT NULL CHECK (length(public_key) = 32),
  secret_key BLOB NOT NULL CHECK (length(secret_key) = 32),
  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'retired')),
  created_at INTEGER NOT NULL,
  activated_at INTEGER,
  retired_at INTEGER,
  UNIQUE (property_id, kid)
);
CREATE UNIQUE INDEX issuer_keys_one_active ON issuer_keys(property_id) WHERE status = 'active';

CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role TEXT NOT NULL CHECK (role IN ('portfolio_manager', 'property_manager', 'read_only')),
  key_management INTEGER NOT NULL CHECK (key_management IN (0, 1)),
  property_id INTEGER REFERENCES properties(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  CHECK (role <> 'portfolio_manager' OR (property_id IS NULL AND key_management = 1)),
  CHECK (role <> 'property_manager' OR property_id IS NOT NULL),
  CHECK (role <> 'read_only' OR key_management = 0)
);

-- Welcome emails to send. The gateway has no mail transport; whatever does reads this table.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
  person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('welcome')),
  email TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
);
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial access model', up: INITIAL_SCHEMA },
  { version: 2, name: 'lock identities, property secrets, set bodies and deltas', up: LOCKS_SCHEMA },
  { version: 3, name: 'csv import state', up: CSV_IMPORT_SCHEMA },
  { version: 4, name: 'pms integration: user sync, automated access', up: PMS_SCHEMA },
  { version: 5, name: 'anchor updates for issuer key rotation', up: ANCHOR_UPDATES_SCHEMA },
  { version: 6, name: 'access touches: patch compiled sets per changed holder', up: ACCESS_TOUCHES_SCHEMA },
  { version: 7, name: 'journal watermarks, full sets on demand, relaxed compile commits', up: JOURNAL_WATERMARKS_SCHEMA },
  { version: 8, name: 'autoincrement ids: deleted ids are never reused', up: (db) => rebuildWithAutoincrement(db), foreignKeysOff: true },
  { version: 9, name: 'issuer keys sealed under a key-encryption key', up: (db) => sealIssuerKeys(db) },
  { version: 10, name: 'weekly schedules on keys and grants', up: WEEKLY_SCHEDULES_SCHEMA },
  { version: 11, name: 'daily-code messages in the notifications outbox', up: (db) => addDailyNotifications(db) },
  { version: 12, name: 'property time zones; what each lock was told about local time; window boundaries', up: (db) => addTimeZones(db) },
  { version: 13, name: 'issuer keys held by an external signer: public key only', up: (db) => allowSignerHeldIssuerKeys(db) },
  { version: 14, name: 'whether each lock takes the transition claim', up: TRANSITION_SUPPORT_SCHEMA },
  { version: 15, name: 'entry digests: the digest form and accumulator of each set; whether each lock takes the entry digest', up: ENTRY_DIGEST_SCHEMA },
];

export function appliedMigrations(db: Db): { version: number; name: string; appliedAt: number }[] {
  return db
    .prepare('SELECT version, name, applied_at AS appliedAt FROM schema_migrations ORDER BY version')
    .all() as { version: number; name: string; appliedAt: number }[];
}

/**
 * Brings the schema up to the newest migration. Each migration runs in its own transaction
 * together with its schema_migrations row, so a failure leaves the store at the previous version.
 * Returns the versions applied by this call.
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS, now: () => number = Date.now): number[] {
  for (let i = 0; i < migrations.length; i++) {
    if (migrations[i]!.version !== i + 1) {
      throw new GatewayError('MIGRATION_FAILED', `migration list must number 1..n in order; entry ${i} is version ${migrations[i]!.version}`);
    }
  }
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const applied = appliedMigrations(db);
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const a of applied) {
    const m = known.get(a.version);
    if (!m) {
      throw new GatewayError(
        'STORE_TOO_NEW',
        `the store has schema version ${a.version} (${a.name}); this gateway knows up to ${migrations.length}`,
      );
    }
    if (m.name !== a.name) {
      throw new GatewayError('MIGRATION_FAILED', `store migration ${a.version} is "${a.name}", this gateway calls it "${m.name}"`);
    }
  }
  const current = applied.length === 0 ? 0 : applied[applied.length - 1]!.version;
  const done: number[] = [];
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations) {
    if (m.version <= current) continue;
    const run = db.transaction(() => {
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      if (m.foreignKeysOff) {
        const broken = db.prepare('PRAGMA foreign_key_check').all();
        if (broken.length > 0) throw new Error(`foreign key check failed: ${JSON.stringify(broken[0])}`);
      }
      record.run(m.version, m.name, now());
    });
    const enforced = m.foreignKeysOff ? (db.pragma('foreign_keys', { simple: true }) as number) : 0;
    try {
      if (m.foreignKeysOff) {
        if (db.inTransaction) throw new Error('it must switch foreign keys off, which cannot happen inside an open transaction');
        db.pragma('foreign_keys = OFF');
      }
      run();
    } catch (e) {
      throw new GatewayError('MIGRATION_FAILED', `migration ${m.version} (${m.name}) failed: ${(e as Error).message}`);
    } finally {
      if (enforced === 1) db.pragma('foreign_keys = ON');
    }
    done.push(m.version);
  }
  if (done.length > 0) {
    // A migration that broke a reference must not commit silently (foreign_key_check is per-db).
    const broken = db.prepare('PRAGMA foreign_key_check').all();
    if (broken.length > 0) {
      throw new GatewayError('MIGRATION_FAILED', `foreign key check failed after migration: ${JSON.stringify(broken[0])}`);
    }
  }
  return done;
}

export function schemaVersion(db: Db): number {
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null } | undefined;
  return row?.v ?? 0;
}
