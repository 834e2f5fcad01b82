/**
 * Migration 2: what the compiler and sync engine need beyond the access model.
 *
 * - lock_identities: each door's lock device keys (learned at commissioning), the content key
 *   its sets are sealed with, and the commissioning generation. A door without a row here is
 *   not commissioned, so nothing is compiled for it.
 * - property_secrets: the daily-code secret and keycard master key every lock of the property
 *   receives inside its sealed sets (PROTOCOL.md §5).
 * - door_sets.body / delta: the plaintext canonical body of each compiled set (the base a later
 *   delta is computed from, without decrypting our own output) and the signed delta from the
 *   sequence the door enforced when the set was compiled.
 */
export const LOCKS_SCHEMA = `
CREATE TABLE lock_identities (
  door_id INTEGER PRIMARY KEY REFERENCES doors(id) ON DELETE CASCADE,
  device_signing_public BLOB NOT NULL CHECK (length(device_signing_public) = 32),
  device_encryption_public BLOB NOT NULL CHECK (length(device_encryption_public) = 32),
  content_key BLOB NOT NULL CHECK (length(content_key) = 32),
  generation INTEGER NOT NULL CHECK (generation >= 1),
  commission_message BLOB NOT NULL,
  commissioned_at INTEGER NOT NULL,
  -- Set once the lock has accepted the commissioning message (its receipt or lock info says so).
  confirmed_at INTEGER,
  -- Verified prefix of the lock's hash-chained event log (PROTOCOL.md §8): the next index the
  -- gateway expects and the chain value after the last verified record.
  events_next_index INTEGER NOT NULL DEFAULT 0,
  events_chain BLOB
);

CREATE TABLE property_secrets (
  property_id INTEGER PRIMARY KEY REFERENCES properties(id) ON DELETE CASCADE,
  daily_secret BLOB NOT NULL CHECK (length(daily_secret) = 32),
  card_master BLOB NOT NULL CHECK (length(card_master) = 32),
  created_at INTEGER NOT NULL
);

ALTER TABLE door_sets ADD COLUMN body BLOB;
ALTER TABLE door_sets ADD COLUMN delta BLOB;
ALTER TABLE door_sets ADD COLUMN delta_base_seq INTEGER;
`;
