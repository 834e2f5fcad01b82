/**
 * What a person can do in a running world, each checked before anything moves: a Door Sync by
 * the manager's phone, a resident's phone unlock (with passive sync), a keypad entry, a keycard
 * tap, faults (power, battery, range, lock clock) and the world clock. The HTTP simulate routes
 * and `npm start` call these; bad input is refused with a stable code and changes nothing.
 */
import { DAILY_CODE_DIGITS, diversifyCardKey, fromHex, toHex, type DenyReasonName } from '@latchkit/protocol';
import { SimulatedCard, SimulatorError, type AccessOutcome, type LockFirmware } from '@latchkit/simulator';
import { GatewayError } from '../errors.js';
import { one } from '../model/base.js';
import { addPhoneKey, listPhoneKeys } from '../model/credentials.js';
import { getPerson } from '../model/people.js';
import { getProperty } from '../model/properties.js';
import { doorSyncState } from '../model/sync-state.js';
import { compileDoorNow, lockIdentity, propertySecrets, syncPayload, timeSyncFor } from '../compiler/index.js';
import { acceptVisit, relayBundlesFor, type DoorSyncResult } from '../sync/engine.js';
import type { PhoneProfile, SimulatedDoor, World } from './world.js';
import { doorState, type DoorState } from './door-views.js';

export interface DoorSyncOutcome {
  doorId: number;
  seqBefore: number;
  seqAfter: number;
  result: DoorSyncResult;
  /** Door Sync tasks of this door left after the sync (0 when it enforces the newest set). */
  taskPending: boolean;
  door: DoorState;
}

/** The manager's phone walks to the door and syncs it: commission if needed, delta or full set, receipt and events. */
export async function doorSync(world: World, propertyId: number, doorId: number): Promise<DoorSyncOutcome> {
  const door = world.door(doorId, propertyId);
  return world.exclusive(door, async () => {
    const seqBefore = doorSyncState(world.db, doorId).enforcedSeq;
    const result = await world.atDoor(world.manager.address, door, () => world.manager.syncDoor(doorId));
    const after = doorSyncState(world.db, doorId);
    return { doorId, seqBefore, seqAfter: after.enforcedSeq, result, taskPending: after.enforcedSeq < after.compiledSeq || after.pendingChanges > 0, door: doorState(world, doorId) };
  });
}

export interface AttemptOutcome {
  doorId: number;
  outcome: 'granted' | 'denied';
  reason: DenyReasonName | null;
  credentialKind: string | null;
  holder: number | null;
  personId: number | null;
  /** Index of the lock's event record for the attempt. */
  lockEventIndex: number;
}

function personOfHolder(world: World, propertyId: number, holder: number): number | null {
  if (!holder) return null;
  return one<{ id: number }>(world.db, 'SELECT id FROM people WHERE property_id = ? AND holder_ref = ?', propertyId, holder)?.id ?? null;
}

function lockFailure(err: unknown): never {
  // The lock has no power (a cut in progress): that is the door's state, not a server fault.
  if (err instanceof SimulatorError && (err.code === 'LOCK_HALTED' || err.code === 'POWER_CUT')) {
    throw new GatewayError('LOCK_UNPOWERED', `the lock has no power: ${err.message}`);
  }
  throw err;
}

/**
 * An attempt at the lock itself (keypad, card reader): refused while the door is busy; a lock
 * without power is LOCK_UNPOWERED; at an online door its gateway then collects the new record,
 * as an online lock reports.
 */
function atTheLock(world: World, door: SimulatedDoor, attempt: (fw: LockFirmware) => AccessOutcome): AttemptOutcome {
  world.assertIdle(door);
  let r: AccessOutcome;
  try {
    r = attempt(door.device.firmware);
  } catch (err) {
    lockFailure(err);
  }
  if (door.gateway !== null && door.inRange) void world.collect(door);
  return {
    doorId: door.doorId,
    outcome: r.granted ? 'granted' : 'denied',
    reason: r.granted ? null : r.reason,
    credentialKind: r.kind,
    holder: r.holder || null,
    personId: personOfHolder(world, door.propertyId, r.holder),
    lockEventIndex: r.event.index,
  };
}

/** Someone types a code on the door's keypad and presses enter. */
export function keypad(world: World, propertyId: number, doorId: number, code: string): AttemptOutcome {
  const door = world.door(doorId, propertyId);
  const property = getProperty(world.db, propertyId);
  if (!/^[0-9]+$/.test(code)) throw new GatewayError('INVALID_CODE', `a keypad has digits only; got "${code.slice(0, 32)}"`);
  if (code.length !== property.doorcodeLength && code.length !== DAILY_CODE_DIGITS) {
    throw new GatewayError(
      'INVALID_CODE',
      `a code at this property is ${property.doorcodeLength} digits (a doorcode)${property.doorcodeLength === DAILY_CODE_DIGITS ? '' : ` or ${DAILY_CODE_DIGITS} digits (a daily code)`}; got ${code.length} characters`,
    );
  }
  return atTheLock(world, door, (fw) => fw.enterCode(code));
}

/**
 * A keycard held to the reader. The world holds every card the property issued (a deactivated
 * card is still in someone's pocket, and an unsynced door may still take it); `cloned` is a copy
 * with the right UID and no key, which the challenge-response must refuse.
 */
export function tapCard(world: World, propertyId: number, doorId: number, uid: string, cloned = false): AttemptOutcome {
  const door = world.door(doorId, propertyId);
  const card = one<{ uid: string }>(world.db, 'SELECT uid FROM keycards WHERE property_id = ? AND uid = ? LIMIT 1', propertyId, uid);
  if (!card) throw new GatewayError('KEYCARD_NOT_FOUND', `no keycard with UID ${uid} was ever activated in property ${propertyId}; a card the property never issued has no key to simulate`);
  const uidBytes = fromHex(uid);
  // The card's key is derived only once the door is known to be free (it may create the secrets).
  const keyOf = (): Uint8Array => (cloned ? new Uint8Array(16) : diversifyCardKey(propertySecrets(world.db, propertyId).cardMaster, uidBytes, world.crypto));
  return atTheLock(world, door, (fw) => fw.tapCard(new SimulatedCard(uidBytes, keyOf(), world.crypto)));
}

/** The person's phone gets a key the world holds (what installing the app does); returns its public key. */
export function installPhone(world: World, propertyId: number, personId: number): { personId: number; publicKey: string; added: boolean } {
  const person = getPerson(world.db, personId);
  if (person.propertyId !== propertyId) throw new GatewayError('PERSON_NOT_FOUND', `person ${personId} does not exist in property ${propertyId}`);
  const publicKey = toHex(world.phoneKeyFor(personId).publicKey);
  if (listPhoneKeys(world.db, personId).some((k) => k.publicKey === publicKey)) return { personId, publicKey, added: false };
  addPhoneKey(world.db, personId, { publicKey, label: 'simulated phone' }, world.ctx('world:install-phone'));
  return { personId, publicKey, added: true };
}

export interface PhoneUnlockOutcome {
  doorId: number;
  personId: number;
  outcome: 'granted' | 'denied';
  reason: DenyReasonName | null;
  /** What the phone relayed (passive sync), or null when the door was not behind. */
  relay: { sent: 'delta' | 'full'; seq: number; bytes: number; fellBack: boolean } | null;
  relayError: string | null;
  seqBefore: number;
  seqAfter: number;
  eventsUploaded: number;
  modelledMs: { scan: number; connect: number; exchange: number; total: number };
  door: DoorState;
}

/** The person walks up with their phone and taps unlock: relay what the door lacks, unlock, upload the visit. */
export async function phoneUnlock(world: World, propertyId: number, doorId: number, personId: number, profile: PhoneProfile = 'ios'): Promise<PhoneUnlockOutcome> {
  const door = world.door(doorId, propertyId);
  const person = getPerson(world.db, personId);
  if (person.propertyId !== propertyId) throw new GatewayError('PERSON_NOT_FOUND', `person ${personId} does not exist in property ${propertyId}`);
  const keys = listPhoneKeys(world.db, personId);
  if (keys.length === 0) throw new GatewayError('NO_PHONE_KEY', `person ${personId} has no active phone key; install the app first (POST .../simulate/people/${personId}/install-phone)`);
  const publicKey = toHex(world.phoneKeyFor(personId).publicKey);
  if (!keys.some((k) => k.publicKey === publicKey)) {
    throw new GatewayError('PHONE_NOT_SIMULATED', `person ${personId}'s phone keys were registered from outside this world, so it holds none of their private keys; install the simulated phone to add one`);
  }
  return world.exclusive(door, async () => {
    const compiler = world.compilerOptions(`world:phone:${personId}`);
    const ctx = compiler.ctx;
    const seqBefore = doorSyncState(world.db, doorId).enforcedSeq;
    const phone = await world.phone(personId, profile);
    const bundles = await relayBundlesFor(world.db, personId, { ...compiler, onlyOffline: true });
    for (const b of bundles) phone.carry(b);
    // A door with nothing to relay still gets the app's signed time (for a lock whose clock is
    // behind, e.g. after its RTC lost power): the backend hands one out with every bundle.
    if (lockIdentity(world.db, doorId) && !bundles.some((b) => b.doorId === doorId)) {
      phone.carry({ lockId: fromHex(door.lockId), timeSync: await timeSyncFor(world.db, doorId, compiler), eventsFrom: lockIdentity(world.db, doorId)!.eventsNextIndex });
    }
    let visit;
    try {
      visit = await world.atDoor(phone.address, door, () => phone.visit(fromHex(door.lockId)));
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'INTERNAL';
      throw new GatewayError('RADIO_UNAVAILABLE', `person ${personId}'s phone could not complete the visit to door ${doorId}: ${code}: ${(err as Error).message}`, { lastError: code });
    }
    // A lock never commissioned has no identity to check its receipt against: the visit is the
    // lock's answer (denied, noSet) and nothing goes to the store, as with a keypad there.
    const accepted = lockIdentity(world.db, doorId)
      ? acceptVisit(world.db, visit, { ctx, provider: world.crypto })
      : { enforcedSeq: seqBefore, eventsUploaded: 0 };
    if (visit.relay) world.hub.publish('sync', propertyId, { doorId, by: `phone:${personId}`, phase: 'done', action: 'synced', sent: visit.relay.sent, seq: visit.relay.seq, bytes: visit.relay.bytes, elapsedMs: visit.timing.totalMs, passive: true });
    const u = visit.unlock!;
    world.hub.publish('visit', propertyId, { doorId, personId, outcome: u.granted ? 'granted' : 'denied', reason: u.granted ? null : u.reason, relayed: visit.relay?.sent ?? null, modelledMs: visit.timing.totalMs, profile });
    world.publishDoor(doorId);
    return {
      doorId,
      personId,
      outcome: u.granted ? 'granted' : 'denied',
      reason: u.granted ? null : u.reason,
      relay: visit.relay ? { sent: visit.relay.sent, seq: visit.relay.seq, bytes: visit.relay.bytes, fellBack: visit.relay.fellBack } : null,
      relayError: visit.relayError,
      seqBefore,
      seqAfter: accepted.enforcedSeq,
      eventsUploaded: accepted.eventsUploaded,
      modelledMs: { scan: visit.timing.scanMs, connect: visit.timing.connectMs, exchange: visit.timing.exchangeMs, total: visit.timing.totalMs },
      door: doorState(world, doorId),
    };
  });
}

export interface PowerCutOutcome {
  doorId: number;
  /** `now`: the batteries were pulled and put back; `armed`: the cut waits for the next apply. */
  mode: 'now' | 'armed';
  atWrite: number | null;
  /** Flash writes the pending apply takes (armed mode): the cut falls inside it. */
  applyWrites: number | null;
  door: DoorState;
}

/**
 * Cut the lock's power. Without `atWrite`: at once (battery pulled and put back; RAM state is
 * lost, flash survives). With `atWrite`: during the next set the door applies, at that apply's
 * `atWrite`-th flash write, which must be one the apply reaches (counted on a copy of the lock's
 * flash with the set the gateway would send now).
 */
export async function powerCut(world: World, propertyId: number, doorId: number, atWrite?: number): Promise<PowerCutOutcome> {
  const door = world.door(doorId, propertyId);
  world.assertIdle(door);
  if (atWrite === undefined) {
    door.device.cutPowerDuringNextApply(null);
    door.device.powerCycle();
    world.publishDoor(doorId);
    return { doorId, mode: 'now', atWrite: null, applyWrites: null, door: doorState(world, doorId) };
  }
  const fw = door.device.firmware;
  if (fw.isHalted) throw new GatewayError('LOCK_UNPOWERED', `door ${doorId}'s lock has no power now`);
  // The next Door Sync compiles pending changes before it sends: do the same, or an access
  // change made at an offline door (compiled by nothing else) would never count as a set to apply.
  const compiler = world.compilerOptions('world:power-cut');
  if (fw.commissioned && doorSyncState(world.db, doorId).pendingChanges > 0) await compileDoorNow(world.db, doorId, compiler);
  const payload = fw.commissioned ? await syncPayload(world.db, doorId, fw.seq, compiler) : null;
  if (!payload) {
    throw new GatewayError('NOTHING_TO_APPLY', `door ${doorId}'s lock ${fw.commissioned ? 'already runs the newest compiled set' : 'is not commissioned yet'}; a cut during the next apply needs a set to apply (make an access change first)`);
  }
  let writes: number;
  try {
    writes = door.device.countApplyWrites(payload.bytes);
  } catch (err) {
    throw new GatewayError('NOTHING_TO_APPLY', `the lock would refuse the pending set (${(err as { code?: string }).code ?? 'error'}), so no apply would reach a write`);
  }
  if (atWrite >= writes) {
    throw new GatewayError('POWER_CUT_NOT_REACHED', `applying the pending ${payload.kind} takes ${writes} flash writes (0..${writes - 1}); write ${atWrite} is never reached`, { applyWrites: writes });
  }
  door.device.cutPowerDuringNextApply(atWrite);
  return { doorId, mode: 'armed', atWrite, applyWrites: writes, door: doorState(world, doorId) };
}

export function setBattery(world: World, propertyId: number, doorId: number, percent: number): DoorState {
  const door = world.door(doorId, propertyId);
  door.device.battery.setPercent(percent);
  world.publishDoor(doorId);
  return doorState(world, doorId);
}

/** Take a door out of everyone's radio range (or bring it back): syncs and unlocks there fail on the air. */
export function setInRange(world: World, propertyId: number, doorId: number, inRange: boolean): DoorState {
  const door = world.door(doorId, propertyId);
  door.inRange = inRange;
  const engine = door.gateway ? world.gateways.get(door.gateway) : undefined;
  if (engine) world.air.setInRange(engine.address, door.served.peripheral.address, inRange);
  world.publishDoor(doorId);
  return doorState(world, doorId);
}

/** Move the lock's RTC by `seconds` (either way: a drifting or a reset clock), as its hardware would. */
export function skewLockClock(world: World, propertyId: number, doorId: number, seconds: number): DoorState {
  const door = world.door(doorId, propertyId);
  door.device.rtc.write(door.device.rtc.read() + seconds);
  world.publishDoor(doorId);
  return doorState(world, doorId);
}

/** Advance the world clock; every lock's RTC runs on it, so their timers fire as the time passes. */
export function advanceClock(world: World, ms: number): { now: string; aheadMs: number } {
  const now = world.clock.advance(ms);
  for (const door of world.doors.values()) if (!door.device.firmware.isHalted) door.device.firmware.tick();
  world.hub.publish('clock', null, { now: new Date(now).toISOString(), aheadMs: world.clock.aheadMs, advancedMs: ms });
  return { now: new Date(now).toISOString(), aheadMs: world.clock.aheadMs };
}
