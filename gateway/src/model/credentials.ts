import { randomInt } from 'node:crypto';
import { dailyCode, localDay } from '@latchkit/protocol';
import { propertySecrets } from '../compiler/index.js';
import type { Db } from '../store/db.js';
import { offsetAt } from '../time-zone.js';
import { propertyZone } from './properties.js';
import { GatewayError } from '../errors.js';
import { all, bit, nowOf, one, run, tx, type Ctx } from './base.js';
import { logAccess } from './activity.js';
import { personRef } from './refs.js';
import { doorsForPerson, doorsForPersonCodes, journalDoors } from './journal.js';
import type { AffectsDoors, Keycard, PhoneKey } from './types.js';
import { normalizeKeycardUid, normalizePublicKey } from './validate.js';

/**
 * Picks a random code of `length` digits for which `isTaken` is false. Random draws first (codes
 * must not be guessable from a neighbour's); when the space is nearly full, a scan from a random
 * point still finds the last free codes, and a full space is reported rather than looped on.
 */
export function generateDoorcode(
  length: number,
  isTaken: (code: string) => boolean,
  random: (maxExclusive: number) => number = (max) => randomInt(max),
): string {
  const space = 10 ** length;
  const fmt = (n: number): string => n.toString().padStart(length, '0');
  for (let i = 0; i < 32; i++) {
    const c = fmt(random(space));
    if (!isTaken(c)) return c;
  }
  const from = random(space);
  for (let i = 0; i < space; i++) {
    const c = fmt((from + i) % space);
    if (!isTaken(c)) return c;
  }
  throw new GatewayError('DOORCODE_SPACE_EXHAUSTED', `every ${length}-digit doorcode is in use; raise the property's doorcode length`);
}

/** A new static doorcode unique within the property. */
export function newDoorcode(db: Db, propertyId: number): string {
  const prop = one<{ len: number }>(db, 'SELECT doorcode_length AS len FROM properties WHERE id = ?', propertyId);
  if (!prop) throw new GatewayError('PROPERTY_NOT_FOUND', `property ${propertyId} does not exist`);
  return generateDoorcode(prop.len, (c) => one(db, 'SELECT 1 FROM people WHERE property_id = ? AND doorcode = ?', propertyId, c) !== undefined);
}

export function personDoorcode(db: Db, personId: number): string | null {
  personRef(db, personId);
  return one<{ code: string | null }>(db, 'SELECT doorcode AS code FROM people WHERE id = ?', personId)!.code;
}

/** Doorcode reset: a fresh unique code replaces the old one (or issues one if there was none). */
export function resetDoorcode(db: Db, personId: number, ctx: Ctx = {}): { code: string } & AffectsDoors {
  return tx(db, () => {
    const p = personRef(db, personId);
    const code = newDoorcode(db, p.propertyId);
    run(db, 'UPDATE people SET doorcode = ? WHERE id = ?', code, personId);
    const name = p.name;
    const affected = journalDoors(db, doorsForPersonCodes(db, personId), `doorcode reset for ${name}`, nowOf(ctx));
    logAccess(db, p.propertyId, { action: 'doorcode.reset', holderRef: p.holderRef, message: `reset doorcode of ${name}` }, ctx);
    return { code, affectedDoors: affected };
  });
}

/** Withdraws the static doorcode; the person keeps their other credentials. */
export function clearDoorcode(db: Db, personId: number, ctx: Ctx = {}): AffectsDoors {
  return tx(db, () => {
    const p = personRef(db, personId);
    const had = one<{ code: string | null }>(db, 'SELECT doorcode AS code FROM people WHERE id = ?', personId)!.code !== null;
    if (!had) return { affectedDoors: [] };
    run(db, 'UPDATE people SET doorcode = NULL WHERE id = ?', personId);
    const name = p.name;
    const affected = journalDoors(db, doorsForPersonCodes(db, personId), `doorcode removed for ${name}`, nowOf(ctx));
    logAccess(db, p.propertyId, { action: 'doorcode.cleared', holderRef: p.holderRef, message: `removed doorcode of ${name}` }, ctx);
    return { affectedDoors: affected };
  });
}

/** Turns the person's daily doorcode on or off. The code itself is derived by the protocol. */
export function setDailyDoorcode(db: Db, personId: number, enabled: boolean, ctx: Ctx = {}): AffectsDoors {
  return tx(db, () => {
    const p = personRef(db, personId);
    if ((p.dailyDoorcode === 1) === enabled) return { affectedDoors: [] };
    run(db, 'UPDATE people SET daily_doorcode = ? WHERE id = ?', bit(enabled), personId);
    const name = p.name;
    const affected = journalDoors(db, doorsForPersonCodes(db, personId), `daily doorcode ${enabled ? 'enabled' : 'disabled'} for ${name}`, nowOf(ctx));
    logAccess(db, p.propertyId, { action: 'daily.changed', holderRef: p.holderRef, message: `daily doorcode ${enabled ? 'enabled' : 'disabled'} for ${name}` }, ctx);
    return { affectedDoors: affected };
  });
}

/** A local date (YYYY-MM-DD) as the protocol's local day number (whole days since 1970-01-01). */
export function localDayOfDate(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) {
    throw new GatewayError('INVALID_TIME', `"${date}" is not a date of the form YYYY-MM-DD`);
  }
  if (ms < 0) throw new GatewayError('INVALID_ARGUMENT', `daily doorcodes start at 1970-01-01, not ${date}`);
  return ms / 86_400_000;
}

/** A local day number back as YYYY-MM-DD. */
export function dateOfLocalDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** The property's local day now (at its zone's offset now, as the lock reads it), for "today". */
export function todayAt(db: Db, propertyId: number, ctx: Ctx = {}): number {
  const now = nowOf(ctx);
  return localDay(Math.floor(now / 60_000), offsetAt(propertyZone(db, propertyId), now));
}

export interface DailyDoorcode {
  personId: number;
  /** The local date the code is valid on, YYYY-MM-DD in the property's time. */
  date: string;
  code: string;
  /** Doors the code opens (the person's keys that allow doorcodes). */
  doorIds: number[];
}

/**
 * A person's daily doorcode for one local day (default: today in the property's time). Derived
 * exactly as the lock derives it (protocol dailyCode), so it needs no sync to change daily.
 */
export function personDailyDoorcode(db: Db, personId: number, date?: string, ctx: Ctx = {}): DailyDoorcode {
  const p = personRef(db, personId);
  if (p.dailyDoorcode !== 1) {
    throw new GatewayError('NO_DAILY_DOORCODE', `person ${personId} has no daily doorcode; turn it on first (doorcode daily ${personId} on)`);
  }
  const day = date === undefined ? todayAt(db, p.propertyId, ctx) : localDayOfDate(date);
  const code = dailyCode(propertySecrets(db, p.propertyId, { ctx }).daily, p.holderRef, day);
  return { personId, date: dateOfLocalDay(day), code, doorIds: doorsForPersonCodes(db, personId) };
}

const CARD_COLS = 'id, person_id AS personId, uid, activated_at AS activatedAt, deactivated_at AS deactivatedAt';

export function listKeycards(db: Db, personId: number, opts: { includeInactive?: boolean } = {}): Keycard[] {
  return all<Keycard>(
    db,
    `SELECT ${CARD_COLS} FROM keycards WHERE person_id = ? AND (? = 1 OR deactivated_at IS NULL) ORDER BY id`,
    personId,
    bit(opts.includeInactive ?? false),
  );
}

export function getKeycard(db: Db, id: number): Keycard {
  const k = one<Keycard>(db, `SELECT ${CARD_COLS} FROM keycards WHERE id = ?`, id);
  if (!k) throw new GatewayError('KEYCARD_NOT_FOUND', `keycard ${id} does not exist`);
  return k;
}

/** Keycard activation: binds a card UID to the person; a UID is active for one person at a time. */
export function activateKeycard(db: Db, personId: number, uid: string, ctx: Ctx = {}): Keycard & AffectsDoors {
  const hex = normalizeKeycardUid(uid);
  return tx(db, () => {
    const p = personRef(db, personId);
    if (one(db, 'SELECT 1 FROM keycards WHERE property_id = ? AND uid = ? AND deactivated_at IS NULL', p.propertyId, hex)) {
      throw new GatewayError('KEYCARD_IN_USE', `keycard ${hex} is already active in property ${p.propertyId}; deactivate it first`);
    }
    const at = nowOf(ctx);
    const { lastInsertRowid } = run(db, 'INSERT INTO keycards (property_id, person_id, uid, activated_at) VALUES (?, ?, ?, ?)', p.propertyId, personId, hex, at);
    const name = p.name;
    const affected = journalDoors(db, doorsForPerson(db, personId), `keycard ${hex} activated for ${name}`, at);
    logAccess(db, p.propertyId, { action: 'keycard.activated', holderRef: p.holderRef, message: `activated keycard ${hex} for ${name}` }, ctx);
    return { ...getKeycard(db, lastInsertRowid), affectedDoors: affected };
  });
}

export function deactivateKeycard(db: Db, keycardId: number, ctx: Ctx = {}): AffectsDoors {
  return tx(db, () => {
    const card = getKeycard(db, keycardId);
    if (card.deactivatedAt !== null) throw new GatewayError('KEYCARD_NOT_FOUND', `keycard ${keycardId} is already deactivated`);
    const p = personRef(db, card.personId);
    const at = nowOf(ctx);
    run(db, 'UPDATE keycards SET deactivated_at = ? WHERE id = ?', at, keycardId);
    const name = p.name;
    const affected = journalDoors(db, doorsForPerson(db, card.personId), `keycard ${card.uid} deactivated for ${name}`, at);
    logAccess(db, p.propertyId, { action: 'keycard.deactivated', holderRef: p.holderRef, message: `deactivated keycard ${card.uid} of ${name}` }, ctx);
    return { affectedDoors: affected };
  });
}

const PHONE_COLS = 'id, person_id AS personId, public_key AS publicKey, label, added_at AS addedAt, revoked_at AS revokedAt';

export function listPhoneKeys(db: Db, personId: number, opts: { includeRevoked?: boolean } = {}): PhoneKey[] {
  return all<PhoneKey>(
    db,
    `SELECT ${PHONE_COLS} FROM phone_keys WHERE person_id = ? AND (? = 1 OR revoked_at IS NULL) ORDER BY id`,
    personId,
    bit(opts.includeRevoked ?? false),
  );
}

export function getPhoneKey(db: Db, id: number): PhoneKey {
  const k = one<PhoneKey>(db, `SELECT ${PHONE_COLS} FROM phone_keys WHERE id = ?`, id);
  if (!k) throw new GatewayError('PHONE_KEY_NOT_FOUND', `phone key ${id} does not exist`);
  return k;
}

/** Registers a DOOR-app phone's Ed25519 public key (the app does this on login). */
export function addPhoneKey(db: Db, personId: number, input: { publicKey: string; label?: string | null }, ctx: Ctx = {}): PhoneKey & AffectsDoors {
  const hex = normalizePublicKey(input.publicKey);
  return tx(db, () => {
    const p = personRef(db, personId);
    if (p.accessType !== 'app') throw new GatewayError('NOT_APP_USER', `person ${personId} is doorcode-only; switch them to the DOOR app first`);
    if (one(db, 'SELECT 1 FROM phone_keys WHERE property_id = ? AND public_key = ? AND revoked_at IS NULL', p.propertyId, hex)) {
      throw new GatewayError('PHONE_KEY_IN_USE', `phone key ${hex.slice(0, 16)}… is already registered in property ${p.propertyId}`);
    }
    const at = nowOf(ctx);
    const { lastInsertRowid } = run(
      db,
      'INSERT INTO phone_keys (property_id, person_id, public_key, label, added_at) VALUES (?, ?, ?, ?, ?)',
      p.propertyId,
      personId,
      hex,
      input.label ?? null,
      at,
    );
    const name = p.name;
    const affected = journalDoors(db, doorsForPerson(db, personId), `phone key added for ${name}`, at);
    logAccess(db, p.propertyId, { action: 'phone.added', holderRef: p.holderRef, message: `registered a phone key for ${name}` }, ctx);
    return { ...getPhoneKey(db, lastInsertRowid), affectedDoors: affected };
  });
}

export function revokePhoneKey(db: Db, phoneKeyId: number, ctx: Ctx = {}): AffectsDoors {
  return tx(db, () => {
    const k = getPhoneKey(db, phoneKeyId);
    if (k.revokedAt !== null) throw new GatewayError('PHONE_KEY_NOT_FOUND', `phone key ${phoneKeyId} is already revoked`);
    const p = personRef(db, k.personId);
    const at = nowOf(ctx);
    run(db, 'UPDATE phone_keys SET revoked_at = ? WHERE id = ?', at, phoneKeyId);
    const name = p.name;
    const affected = journalDoors(db, doorsForPerson(db, k.personId), `phone key revoked for ${name}`, at);
    logAccess(db, p.propertyId, { action: 'phone.revoked', holderRef: p.holderRef, message: `revoked a phone key of ${name}` }, ctx);
    return { affectedDoors: affected };
  });
}

/** Withdraws every active phone key of a person (they stopped being a DOOR-app user). */
export function revokeAllPhoneKeys(db: Db, personId: number, at: number): number {
  return run(db, 'UPDATE phone_keys SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL', at, personId).changes;
}
