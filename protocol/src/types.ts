/**
 * Public data model of @latchkit/protocol.
 *
 * Times on the wire are minutes or seconds since the Unix epoch (UTC); see PROTOCOL.md §2.
 * A lock id is 8 bytes (EUI-64 sized) so it stays cheap in every signed header.
 */

/** The four credential kinds a lock can check offline. Wire values are stable (PROTOCOL.md §4). */
export const CredentialKind = {
  doorcode: 1,
  daily: 2,
  keycard: 3,
  phone: 4,
} as const;
export type CredentialKindName = keyof typeof CredentialKind;

/**
 * A weekly schedule: access only on the given local weekdays, between two local times of day.
 * `days` is a bitmask, bit 0 = Monday … bit 6 = Sunday. `from`/`to` are minutes after local
 * midnight; `from < to` (a schedule never spans midnight: split it in two grants instead).
 */
export interface WeeklySchedule {
  days: number;
  from: number;
  to: number;
}

/** Validity shared by a holder's credentials: `start`/`end` in Unix minutes, `null` = open. */
export interface Validity {
  /** First minute the credential works (inclusive); null = valid since forever. */
  start: number | null;
  /** First minute the credential no longer works (exclusive); null = never expires. */
  end: number | null;
  /** Optional weekly schedule; null = any time inside the window. */
  schedule: WeeklySchedule | null;
}

/**
 * A credential as the backend knows it, with its plaintext material. The compiler turns these
 * into keyed hashes bound to one lock; the plaintext never leaves the backend.
 */
export type CredentialSpec = Validity & {
  /** Short holder reference (u32) recorded in the lock's audit log; the backend maps it back. */
  holder: number;
} & (
    | { kind: 'doorcode'; code: string }
    | { kind: 'daily' }
    | { kind: 'keycard'; uid: Uint8Array }
    | { kind: 'phone'; publicKey: Uint8Array }
  );
