/**
 * Migration 6: what lets the compiler patch a door's last set instead of recompiling it.
 *
 * - access_touches: holder references whose credentials may have changed, in commit order,
 *   written by triggers on every table the compile input reads (grants, people, keycards,
 *   phone keys, keys, key_doors), so no model function can forget to report one. A grant
 *   change also touches the guests the grant's holder shared that key with (their window is
 *   cut to the host's). holder_ref 0 = a change that is not one person's (a key's doors, its
 *   doorcode rule): every door compiled before it recompiles in full.
 * - door_sets.touch_mark / lock_generation / compiled_min: what a compiled body reflects (the
 *   last touch, the lock's content key generation, the minute windows were judged at). A
 *   later compile re-derives only the holders touched since, and those whose windows ended
 *   since (grants_end), and patches the body; anything it cannot vouch for recompiles in full.
 */
export const ACCESS_TOUCHES_SCHEMA = `
-- AUTOINCREMENT: ids must never be reused after pruning, or a compile would miss a touch.
CREATE TABLE access_touches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  holder_ref INTEGER NOT NULL
);

ALTER TABLE door_sets ADD COLUMN touch_mark INTEGER;
ALTER TABLE door_sets ADD COLUMN lock_generation INTEGER;
ALTER TABLE door_sets ADD COLUMN compiled_min INTEGER;

CREATE INDEX grants_end ON grants(end_min) WHERE end_min IS NOT NULL;

CREATE TRIGGER access_touch_grant_insert AFTER INSERT ON grants BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people
   WHERE id = NEW.person_id OR id IN (SELECT person_id FROM grants WHERE shared_by = NEW.person_id AND key_id = NEW.key_id);
END;
CREATE TRIGGER access_touch_grant_delete AFTER DELETE ON grants BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people
   WHERE id = OLD.person_id OR id IN (SELECT person_id FROM grants WHERE shared_by = OLD.person_id AND key_id = OLD.key_id);
END;
CREATE TRIGGER access_touch_grant_update AFTER UPDATE ON grants BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people
   WHERE id IN (OLD.person_id, NEW.person_id)
      OR id IN (SELECT person_id FROM grants WHERE shared_by IN (OLD.person_id, NEW.person_id) AND key_id IN (OLD.key_id, NEW.key_id));
END;

CREATE TRIGGER access_touch_person_update AFTER UPDATE ON people BEGIN
  INSERT INTO access_touches (holder_ref) VALUES (OLD.holder_ref);
  INSERT INTO access_touches (holder_ref) SELECT NEW.holder_ref WHERE NEW.holder_ref <> OLD.holder_ref;
END;
CREATE TRIGGER access_touch_person_delete AFTER DELETE ON people BEGIN
  INSERT INTO access_touches (holder_ref) VALUES (OLD.holder_ref);
END;

CREATE TRIGGER access_touch_keycard_insert AFTER INSERT ON keycards BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people WHERE id = NEW.person_id;
END;
CREATE TRIGGER access_touch_keycard_update AFTER UPDATE ON keycards BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people WHERE id IN (OLD.person_id, NEW.person_id);
END;
CREATE TRIGGER access_touch_keycard_delete AFTER DELETE ON keycards BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people WHERE id = OLD.person_id;
END;

CREATE TRIGGER access_touch_phone_insert AFTER INSERT ON phone_keys BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people WHERE id = NEW.person_id;
END;
CREATE TRIGGER access_touch_phone_update AFTER UPDATE ON phone_keys BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people WHERE id IN (OLD.person_id, NEW.person_id);
END;
CREATE TRIGGER access_touch_phone_delete AFTER DELETE ON phone_keys BEGIN
  INSERT INTO access_touches (holder_ref) SELECT holder_ref FROM people WHERE id = OLD.person_id;
END;

CREATE TRIGGER access_touch_key_update AFTER UPDATE OF doorcodes_disabled ON keys BEGIN
  INSERT INTO access_touches (holder_ref) VALUES (0);
END;
CREATE TRIGGER access_touch_key_door_insert AFTER INSERT ON key_doors BEGIN
  INSERT INTO access_touches (holder_ref) VALUES (0);
END;
CREATE TRIGGER access_touch_key_door_delete AFTER DELETE ON key_doors BEGIN
  INSERT INTO access_touches (holder_ref) VALUES (0);
END;
`;
