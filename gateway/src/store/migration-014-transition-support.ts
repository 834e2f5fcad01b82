/**
 * Migration 14: whether each lock takes the optional `transition` claim (PROTOCOL.md §3.4).
 *
 * Firmware from before the claim decodes claims as an exact set and refuses a commissioning or
 * time sync that carries one (`MALFORMED`), so a gateway that always sent it would lock such a
 * lock out of every time sync once its property uses a zone with daylight saving. Lock info has
 * no version field (§9.5); as with the fast path (§9.8), the lock's answer decides:
 *
 * - `lock_identities.accepts_transition`: 1 when the lock accepted a message carrying a
 *   transition, 0 when it refused one as `MALFORMED`, null when not known yet (every lock
 *   commissioned before this migration).
 * - `lock_identities.accepts_transition_firmware`: the lock-info `firmware` string when that was
 *   learned; a lock that reports another one was updated (or replaced) and is asked again.
 */
export const TRANSITION_SUPPORT_SCHEMA = `
ALTER TABLE lock_identities ADD COLUMN accepts_transition INTEGER CHECK (accepts_transition IN (0, 1));
ALTER TABLE lock_identities ADD COLUMN accepts_transition_firmware TEXT;
`;
