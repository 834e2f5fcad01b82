/** Domain records as the model returns them. Times of record are Unix ms; windows Unix minutes. */

export interface Property {
  id: number;
  name: string;
  /**
   * IANA time zone (`America/New_York`) or fixed offset `UTC±hh:mm` where the doors are; local
   * dates, daily-code days and schedules are read in it, with its daylight-saving rules.
   */
  timeZone: string;
  /** The zone's offset now, minutes east of UTC (read-only; it changes with daylight saving). */
  utcOffsetMin: number;
  /** The zone's next offset change (Unix ms, offset after it) within about 13 months, or null. */
  nextOffsetChange: { at: number; utcOffsetMin: number } | null;
  doorcodeLength: number;
  createdAt: number;
}

export interface Unit {
  id: number;
  propertyId: number;
  name: string;
  createdAt: number;
}

export type Connectivity = 'online' | 'offline';

export interface Door {
  id: number;
  propertyId: number;
  name: string;
  /** 8 bytes as 16 lower-case hex digits; unique across the gateway. */
  lockId: string;
  /** `online`: a gateway radio reaches it and pushes changes; `offline`: needs a Door Sync. */
  connectivity: Connectivity;
  gatewayRadio: string | null;
  unitId: number | null;
  createdAt: number;
}

export type KeyKind = 'residential' | 'communal';

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/**
 * A weekly schedule: access only on these local weekdays, from `from` (inclusive) to `to`
 * (exclusive), local 'HH:MM' times with from < to ('24:00' = end of day). The lock does not
 * support a schedule across midnight.
 */
export interface Schedule {
  days: Weekday[];
  from: string;
  to: string;
}

/**
 * A schedule as a client sends it: the day names are not checked yet (scheduleToRow checks
 * them, any letter case, and throws INVALID_SCHEDULE), so they are any text here.
 */
export interface ScheduleInput {
  days: string[];
  from: string;
  to: string;
}

export interface Key {
  id: number;
  propertyId: number;
  name: string;
  kind: KeyKind;
  unitId: number | null;
  mayShare: boolean;
  doorcodesDisabled: boolean;
  doorIds: number[];
  /** Weekly schedule every holder's access through this key follows; null = any time. */
  schedule: Schedule | null;
  createdAt: number;
}

export type AccessType = 'app' | 'doorcode';

/**
 * Derived from grants: `active` (a grant works now), `scheduled` (only future grants),
 * `expired` (grants exist, all ended), `revoked` (Revoke All Keys and nothing granted since),
 * `no_access` (no grants at all).
 */
export type PersonStatus = 'active' | 'scheduled' | 'expired' | 'revoked' | 'no_access';

export interface Person {
  id: number;
  propertyId: number;
  holderRef: number;
  email: string;
  firstName: string;
  lastName: string;
  phone: string | null;
  isResident: boolean;
  mayShare: boolean;
  accessType: AccessType;
  hasDoorcode: boolean;
  dailyDoorcode: boolean;
  unitId: number | null;
  externalRef: string | null;
  createdAt: number;
  revokedAt: number | null;
  status: PersonStatus;
}

export type GrantSource = 'manual' | 'csv' | 'automated' | 'guest';

export interface Grant {
  id: number;
  personId: number;
  keyId: number;
  keyName: string;
  /** The resident who shared this key with the person as a guest; null for a direct grant. */
  sharedBy: number | null;
  start: number | null;
  end: number | null;
  /** This grant's own weekly schedule, overriding its key's; null = the key's schedule applies. */
  schedule: Schedule | null;
  source: GrantSource;
  createdAt: number;
  updatedAt: number;
}

export interface Keycard {
  id: number;
  personId: number;
  uid: string;
  activatedAt: number;
  deactivatedAt: number | null;
}

export interface PhoneKey {
  id: number;
  personId: number;
  publicKey: string;
  label: string | null;
  addedAt: number;
  revokedAt: number | null;
}

export interface ActivityEntry {
  id: number;
  propertyId: number;
  at: number;
  kind: 'unlock' | 'access';
  doorId: number | null;
  doorName: string | null;
  holderRef: number | null;
  holderName: string | null;
  credentialKind: 'doorcode' | 'daily' | 'keycard' | 'phone' | null;
  result: 'granted' | 'denied' | null;
  action: string | null;
  actor: string | null;
  message: string;
}

/** Returned by every access change: the doors whose credential sets it changed. */
export interface AffectsDoors {
  affectedDoors: number[];
}
