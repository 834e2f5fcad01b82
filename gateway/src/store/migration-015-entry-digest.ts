/**
 * Migration 15: the entry digest (PROTOCOL.md §4.7) beside the body digest (§4.6).
 *
 * A set message names the set it results in by exactly one of two digests: the body digest
 * (SHA-256 of the packed body: every lock understands it, but a lock pays a pass over its whole
 * set for every delta) or the entry digest (a keyed additive multiset digest a lock updates per
 * changed entry). The gateway signs in the entry form by default, so it records per stored set
 * which form its digest is in, and keeps the set's entry accumulator for the next delta:
 *
 * - `door_sets.digest_form`: 'entries' or 'body'. Every set stored before this migration was
 *   signed as SHA-256 of its body, hence the default.
 * - `door_sets.entry_acc`: the set's 36-byte accumulator (sum ‖ count) for an 'entries' set, so
 *   the next set's digest costs one SHA-256 block per change instead of one per credential;
 *   null for a 'body' set.
 *
 * Firmware from before the entry digest refuses the `entryDigest` claim as `MALFORMED`. Lock info
 * has no version field (§9.5); as with the transition claim (migration 14), the lock's answer
 * decides:
 *
 * - `lock_identities.accepts_entry_digest`: 1 once the lock accepted a set message carrying an
 *   entry digest, 0 once it refused one as `MALFORMED`, null while not known (sets then go in
 *   the entry form: every lock from the entry digest on takes it).
 * - `lock_identities.accepts_entry_digest_firmware`: the lock-info `firmware` string it was
 *   learned under; a lock that reports another one was updated and is asked again.
 */
export const ENTRY_DIGEST_SCHEMA = `
ALTER TABLE door_sets ADD COLUMN digest_form TEXT NOT NULL DEFAULT 'body' CHECK (digest_form IN ('body', 'entries'));
ALTER TABLE door_sets ADD COLUMN entry_acc BLOB CHECK (entry_acc IS NULL OR length(entry_acc) = 36);
ALTER TABLE lock_identities ADD COLUMN accepts_entry_digest INTEGER CHECK (accepts_entry_digest IN (0, 1));
ALTER TABLE lock_identities ADD COLUMN accepts_entry_digest_firmware TEXT;
`;
