/**
 * Device profiles: the hardware a simulated lock pretends to be.
 *
 * Flash sizes decide what a lock can enforce: a slot holds the whole committed state (the
 * decrypted set body plus commissioning), and two slots are needed for an atomic update, so a
 * "1 MiB slot" lock has at least 2 MiB of flash for credentials. At lobby density (about 11 bytes
 * per credential, simulator/LOCK.md) the `standard` slot holds about 94,000 credentials and
 * `compact` about 5,900; the per-lock capacities found in ble-lock-anchors.md §3 are 100 to 5,000.
 */
import { badArgument } from '../errors.js';

export interface DeviceProfile {
  readonly name: string;
  /** Bytes per flash slot (two slots exist). */
  readonly slotBytes: number;
  /** Erase unit of the slots, bytes; also the size of one program operation when a slot is written. */
  readonly pageBytes: number;
  /** Event-log ring capacity in 32-byte records; a multiple of `eventSectorRecords`. */
  readonly eventRecords: number;
  /** Event records per erase sector of the log ring (erasing one drops that many oldest records). */
  readonly eventSectorRecords: number;
  readonly hasKeypad: boolean;
  readonly hasCardReader: boolean;
  /** Consecutive wrong keypad entries that trigger a lockout. */
  readonly lockoutThreshold: number;
  /** First lockout length; each further lockout without a success in between doubles it. */
  readonly lockoutSeconds: number;
  readonly maxLockoutSeconds: number;
  /** Bolt throws back this long after a grant. */
  readonly autoRelockSeconds: number;
  /** A phone must answer the unlock challenge within this time. */
  readonly challengeSeconds: number;
  /** Keypad digits typed without a submit are dropped after this idle time. */
  readonly keypadIdleSeconds: number;
  readonly batteryMah: number;
  /** Charge one bolt cycle (unlock + relock) draws. */
  readonly actuationMah: number;
  /** Charge per KiB received over the radio. */
  readonly radioMahPerKiB: number;
}

const base = {
  pageBytes: 4096,
  eventSectorRecords: 32,
  hasKeypad: true,
  hasCardReader: true,
  lockoutThreshold: 5,
  lockoutSeconds: 60,
  maxLockoutSeconds: 3600,
  autoRelockSeconds: 5,
  challengeSeconds: 30,
  keypadIdleSeconds: 10,
  batteryMah: 3000,
  actuationMah: 0.2,
  radioMahPerKiB: 0.002,
} as const;

export const DEVICE_PROFILES = {
  /** Unit or amenity door lock: keypad, card reader, 1 MiB slots. */
  standard: { ...base, name: 'standard', slotBytes: 1024 * 1024, eventRecords: 2048 },
  /** Small lock (e.g. a mailroom locker): 64 KiB slots, fewer events. */
  compact: { ...base, name: 'compact', slotBytes: 64 * 1024, eventRecords: 512, pageBytes: 1024, batteryMah: 1200 },
  /** Lobby reader on mains-backed supply: 4 MiB slots for the largest properties. */
  lobby: { ...base, name: 'lobby', slotBytes: 4 * 1024 * 1024, eventRecords: 8192, batteryMah: 20000 },
} as const satisfies Record<string, DeviceProfile>;

export type DeviceProfileName = keyof typeof DEVICE_PROFILES;

/** A profile name, a full profile, or overrides on top of a named one. */
export type DeviceProfileInput = DeviceProfileName | DeviceProfile | (Partial<DeviceProfile> & { base?: DeviceProfileName });

export function deviceProfile(input: DeviceProfileInput | undefined): DeviceProfile {
  if (input === undefined) return DEVICE_PROFILES.standard;
  if (typeof input === 'string') {
    const p = (DEVICE_PROFILES as Record<string, DeviceProfile>)[input];
    if (!p) throw badArgument('device profile', `one of ${Object.keys(DEVICE_PROFILES).join(', ')}`, input);
    return p;
  }
  const { base: baseName, ...over } = input as Partial<DeviceProfile> & { base?: DeviceProfileName };
  const p: DeviceProfile = { ...deviceProfile(baseName ?? 'standard'), ...over };
  checkProfile(p);
  return p;
}

function checkProfile(p: DeviceProfile): void {
  const int = (v: number, what: string, min: number): void => {
    if (!Number.isInteger(v) || v < min) throw badArgument(`device profile ${what}`, `an integer >= ${min}`, v);
  };
  int(p.pageBytes, 'pageBytes', 64);
  int(p.slotBytes, 'slotBytes', p.pageBytes);
  if (p.slotBytes % p.pageBytes !== 0) throw badArgument('device profile slotBytes', `a multiple of pageBytes (${p.pageBytes})`, p.slotBytes);
  int(p.eventSectorRecords, 'eventSectorRecords', 1);
  int(p.eventRecords, 'eventRecords', 2 * p.eventSectorRecords);
  if (p.eventRecords % p.eventSectorRecords !== 0) throw badArgument('device profile eventRecords', `a multiple of eventSectorRecords (${p.eventSectorRecords})`, p.eventRecords);
  int(p.lockoutThreshold, 'lockoutThreshold', 1);
  for (const k of ['lockoutSeconds', 'maxLockoutSeconds', 'autoRelockSeconds', 'challengeSeconds', 'keypadIdleSeconds', 'batteryMah'] as const) {
    if (!(typeof p[k] === 'number' && p[k] > 0)) throw badArgument(`device profile ${k}`, 'a positive number', p[k]);
  }
}
