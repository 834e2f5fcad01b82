/**
 * Which optional claims each door's lock takes, learned from its answers.
 *
 * Lock info has no version field (PROTOCOL.md §9.5), and firmware from before a claim decodes a
 * message's claims as an exact set: it refuses one carrying the claim as `MALFORMED`. So the
 * gateway sends the newer claim to a lock not known either way, records the lock's answer with
 * the lock-info firmware string it came under, and falls back for a lock known to refuse it. A
 * lock that reports another firmware string was updated (or replaced) and is asked again.
 *
 * - `transition` (commissioning, time sync; §3.4, migration 14): the zone's next offset change.
 * - `entryDigest` (full sets, deltas; §4.7, migration 15): the set named by its entry digest
 *   instead of SHA-256 of its body.
 */
import type { Db } from '../store/db.js';
import { one, run } from './base.js';

export type OptionalClaim = 'transition' | 'entryDigest';

const COLUMNS: Record<OptionalClaim, { accepts: string; firmware: string }> = {
  transition: { accepts: 'accepts_transition', firmware: 'accepts_transition_firmware' },
  entryDigest: { accepts: 'accepts_entry_digest', firmware: 'accepts_entry_digest_firmware' },
};

/**
 * Whether a door's lock takes `claim`: true once it accepted a message carrying it, false once
 * it refused one, null when not known. With `firmware` (from lock info), what was learned under
 * another firmware string counts as not known: the lock was updated, and is asked again.
 */
export function claimSupport(db: Db, doorId: number, claim: OptionalClaim, firmware?: string): boolean | null {
  const c = COLUMNS[claim];
  const r = one<{ accepts: number | null; fw: string | null }>(db, `SELECT ${c.accepts} AS accepts, ${c.firmware} AS fw FROM lock_identities WHERE door_id = ?`, doorId);
  if (!r || r.accepts === null || (firmware !== undefined && r.fw !== firmware)) return null;
  return r.accepts === 1;
}

/** Records that a door's lock accepted (or refused) a message carrying `claim`, under `firmware`; null forgets. */
export function recordClaimSupport(db: Db, doorId: number, claim: OptionalClaim, accepts: boolean | null, firmware: string | null): void {
  const c = COLUMNS[claim];
  run(db, `UPDATE lock_identities SET ${c.accepts} = ?, ${c.firmware} = ? WHERE door_id = ?`, accepts === null ? null : accepts ? 1 : 0, accepts === null ? null : firmware, doorId);
}

/**
 * The lock reports `firmware` (a phone's visit upload): a refusal of a claim recorded under
 * another firmware string is forgotten (the lock was updated, and is asked again; the relay
 * bundle then carries the claim with its fallback). Returns the claims forgotten.
 */
export function forgetRefusalsUnderOtherFirmware(db: Db, doorId: number, firmware: string): OptionalClaim[] {
  const forgotten: OptionalClaim[] = [];
  for (const claim of Object.keys(COLUMNS) as OptionalClaim[]) {
    if (claimSupport(db, doorId, claim) === false && claimSupport(db, doorId, claim, firmware) === null) {
      recordClaimSupport(db, doorId, claim, null, null);
      forgotten.push(claim);
    }
  }
  return forgotten;
}

/** Other hardware may run other firmware: what the old lock took says nothing about it. */
export function forgetClaimSupport(db: Db, doorId: number): void {
  for (const claim of Object.keys(COLUMNS) as OptionalClaim[]) recordClaimSupport(db, doorId, claim, null, null);
}

/**
 * Whether a door's lock takes the entry digest (PROTOCOL.md §4.7): sets are compiled in the
 * entry form unless the lock is known to refuse it (model/claim-support.ts).
 */
export function entryDigestSupport(db: Db, doorId: number, firmware?: string): boolean | null {
  return claimSupport(db, doorId, 'entryDigest', firmware);
}

/** Records that a door's lock accepted (or refused) a set message named by its entry digest, under `firmware`. */
export function recordEntryDigestSupport(db: Db, doorId: number, accepts: boolean | null, firmware: string | null): void {
  recordClaimSupport(db, doorId, 'entryDigest', accepts, firmware);
}
