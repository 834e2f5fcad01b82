/**
 * Migration 7: a compile marks its journal rows by moving one watermark per door, and a full set
 * is sealed and signed when a lock first needs it, not at every compile.
 *
 * - door_sync_state.journal_head / compiled_through: the door's newest journal row (kept by a
 *   trigger, so no writer can forget it) and the newest one its compiled set includes. A door is
 *   dirty while head > through (partial index door_sync_dirty). Before this, compiling set
 *   compiled_seq on every journal row: 245,000 row and index updates (~0.5 s) for the first
 *   compile of a 10,000-unit property.
 * - door_compiles: one small row per compiled sequence with the watermark it reached, never
 *   pruned with the sets, so "which sequence first included change N" (the API's compiledSeq)
 *   still has an answer after the set itself is gone.
 * - door_sets.payload may be NULL: a set compiled with a delta for a lock at the delta's base
 *   keeps only its body, and the signed full set is produced and stored the first time a lock
 *   (or a phone relaying to it) needs it (compiler syncPayload).
 * - door_sets.recipe: a set compiled as a patch of the set its lock enforces keeps the patch
 *   (touched holders and their new entries, a few hundred bytes) instead of its half-megabyte
 *   body; the body is made again from the base (patchSet, checked against the stored digest)
 *   when needed, and stored once its lock receipts it. Writing the body was ~1.5 ms of the
 *   ~7.5 ms "recompile after one change" at 10,000 units (measured). A set a recipe is based on
 *   is kept while the recipe is.
 * - store_durability: compiles commit without an fsync (synchronous = NORMAL; a compiled set is
 *   derived data, and losing it to a power cut only leaves its journal rows pending). `pending`
 *   is set by such a commit and cleared by an fsync'd commit before any set leaves the gateway
 *   (store/db.ts durableBarrier).
 */
export const JOURNAL_WATERMARKS_SCHEMA = `
ALTER TABLE door_sync_state ADD COLUMN journal_head INTEGER NOT NULL DEFAULT 0;
ALTER TABLE door_sync_state ADD COLUMN compiled_through INTEGER NOT NULL DEFAULT 0;

CREATE TABLE door_compiles (
  door_id INTEGER NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq >= 1),
  through_change INTEGER NOT NULL,
  PRIMARY KEY (door_id, seq)
) WITHOUT ROWID;
CREATE INDEX door_compiles_through ON door_compiles(door_id, through_change);

INSERT INTO door_compiles (door_id, seq, through_change)
  SELECT door_id, compiled_seq, max(id) FROM door_changes WHERE compiled_seq >= 1 GROUP BY door_id, compiled_seq;
UPDATE door_sync_state SET
  journal_head = coalesce((SELECT max(id) FROM door_changes c WHERE c.door_id = door_sync_state.door_id), 0),
  compiled_through = coalesce((SELECT max(id) FROM door_changes c WHERE c.door_id = door_sync_state.door_id AND c.compiled_seq IS NOT NULL), 0);

DROP INDEX door_changes_pending;
DROP INDEX door_changes_door_seq;
ALTER TABLE door_changes DROP COLUMN compiled_seq;
CREATE INDEX door_changes_door ON door_changes(door_id, id);
CREATE INDEX door_sync_dirty ON door_sync_state(door_id) WHERE journal_head > compiled_through;

CREATE TRIGGER door_changes_head AFTER INSERT ON door_changes BEGIN
  UPDATE door_sync_state SET journal_head = max(journal_head, NEW.id) WHERE door_id = NEW.door_id;
END;

CREATE TABLE door_sets_v7 (
  door_id INTEGER NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq >= 1),
  digest BLOB NOT NULL,
  -- The signed full set; NULL until a lock needs it (the body below is enough to make it).
  payload BLOB,
  created_at INTEGER NOT NULL,
  body BLOB,
  -- Instead of body: the patch from the set at delta_base_seq (compiler/index.ts encodeRecipe).
  recipe BLOB,
  delta BLOB,
  delta_base_seq INTEGER,
  touch_mark INTEGER,
  lock_generation INTEGER,
  compiled_min INTEGER,
  PRIMARY KEY (door_id, seq)
);
INSERT INTO door_sets_v7 (door_id, seq, digest, payload, created_at, body, delta, delta_base_seq, touch_mark, lock_generation, compiled_min)
  SELECT door_id, seq, digest, payload, created_at, body, delta, delta_base_seq, touch_mark, lock_generation, compiled_min FROM door_sets;
DROP TABLE door_sets;
ALTER TABLE door_sets_v7 RENAME TO door_sets;

CREATE TABLE store_durability (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pending INTEGER NOT NULL CHECK (pending IN (0, 1))
);
INSERT INTO store_durability (id, pending) VALUES (1, 0);
`;
