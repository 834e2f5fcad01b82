/**
 * Migration 5: trust-anchor updates queued for each door's lock during an issuer key rotation.
 *
 * Rotation is two-phase (PROTOCOL.md §11.2): first every lock learns the new issuer key next
 * to the old one (an anchor update signed by the old key), then the new key becomes the
 * signer and a second update drops the old key. The gateway keeps the signed messages here and
 * the sync engine delivers them before any set, so a lock never receives a set signed by a
 * key it does not trust yet.
 */
export const ANCHOR_UPDATES_SCHEMA = `
CREATE TABLE anchor_updates (
  id INTEGER PRIMARY KEY,
  door_id INTEGER NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
  -- The lock's rotation counter this message sets (must exceed the lock's current one).
  seq INTEGER NOT NULL CHECK (seq >= 1),
  message BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  applied_at INTEGER,
  UNIQUE (door_id, seq)
);
CREATE INDEX anchor_updates_pending ON anchor_updates(door_id, seq) WHERE applied_at IS NULL;
`;
