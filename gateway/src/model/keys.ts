import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, bit, bool, nowOf, one, run, tx, uniq, type Ctx } from './base.js';
import { requireDoorsIn } from './doors.js';
import { revokeSharedGrants } from './grants.js';
import { doorsOfKeys, journalDoors } from './journal.js';
import { logAccess } from './activity.js';
import { getProperty } from './properties.js';
import type { AffectsDoors, Key, KeyKind, Schedule, ScheduleInput, Weekday } from './types.js';
import { requireUnitIn } from './units.js';
import { requireName } from './validate.js';

interface KeyRow {
  id: number;
  propertyId: number;
  name: string;
  kind: KeyKind;
  unitId: number | null;
  mayShare: number;
  doorcodesDisabled: number;
  createdAt: number;
  sDays: number | null;
  sFrom: number | null;
  sTo: number | null;
}

const COLS = `id, property_id AS propertyId, name, kind, unit_id AS unitId, may_share AS mayShare,
  doorcodes_disabled AS doorcodesDisabled, created_at AS createdAt,
  schedule_days AS sDays, schedule_from AS sFrom, schedule_to AS sTo`;

function toKey(db: Db, r: KeyRow): Key {
  const { sDays, sFrom, sTo, ...rest } = r;
  return {
    ...rest,
    mayShare: bool(r.mayShare),
    doorcodesDisabled: bool(r.doorcodesDisabled),
    doorIds: doorsOfKeys(db, [r.id]),
    schedule: scheduleFromRow(sDays, sFrom, sTo),
  };
}

// ---- weekly schedules

export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** A schedule as the protocol and the store hold it: weekday bitmask (bit 0 = Monday), local minutes. */
export interface ScheduleRow {
  days: number;
  from: number;
  to: number;
}

function badSchedule(message: string): never {
  throw new GatewayError('INVALID_SCHEDULE', message);
}

function minuteOfDay(text: unknown, what: string): number {
  const m = typeof text === 'string' ? /^([01]\d|2[0-4]):([0-5]\d)$/.exec(text) : null;
  if (!m) badSchedule(`schedule ${what} must be a local time HH:MM (00:00 to 24:00), got ${JSON.stringify(text)}`);
  const min = Number(m[1]) * 60 + Number(m[2]);
  if (min > 1440) badSchedule(`schedule ${what} must be at most 24:00, got ${String(text)}`);
  return min;
}

/**
 * Validates an API schedule and returns its stored form (null stays null). Throws
 * INVALID_SCHEDULE for no days, an unknown or repeated day name, a malformed time, or
 * from >= to: the lock cannot enforce a schedule across midnight, so split it in two keys.
 */
export function scheduleToRow(s: ScheduleInput | null | undefined): ScheduleRow | null {
  if (s === null || s === undefined) return null;
  if (typeof s !== 'object' || !Array.isArray(s.days)) badSchedule('a schedule needs days, from and to');
  if (s.days.length === 0) badSchedule('a schedule needs at least one day');
  let days = 0;
  for (const d of s.days) {
    const i = WEEKDAYS.indexOf(String(d).toLowerCase() as Weekday);
    if (i < 0) badSchedule(`unknown day ${JSON.stringify(d)}; use ${WEEKDAYS.join(', ')}`);
    if (days & (1 << i)) badSchedule(`day ${String(d)} is listed twice`);
    days |= 1 << i;
  }
  const from = minuteOfDay(s.from, 'from');
  const to = minuteOfDay(s.to, 'to');
  if (from >= to) badSchedule(`schedule from (${s.from}) must be before to (${s.to}); a schedule cannot span midnight`);
  return { days, from, to };
}

const hhmm = (min: number): string => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;

export function scheduleFromRow(days: number | null, from: number | null, to: number | null): Schedule | null {
  if (days === null || from === null || to === null) return null;
  return { days: WEEKDAYS.filter((_, i) => days & (1 << i)), from: hhmm(from), to: hhmm(to) };
}

/**
 * Parses the CLI form "tue 08:00-17:00" or "mon,tue,wed 06:00-22:00" (also "mon-fri" ranges),
 * or "none" for no schedule.
 */
export function parseScheduleText(text: string): Schedule | null {
  const t = text.trim().toLowerCase();
  if (t === 'none' || t === '') return null;
  const m = /^(\S+)\s+(\S+)-(\S+)$/.exec(t);
  if (!m) badSchedule(`schedule must look like "tue 08:00-17:00" or "mon,tue 06:00-22:00", got ${JSON.stringify(text)}`);
  const days: string[] = [];
  for (const part of m[1]!.split(',')) {
    const r = /^([a-z]+)-([a-z]+)$/.exec(part);
    if (!r) {
      days.push(part);
      continue;
    }
    const a = WEEKDAYS.indexOf(r[1] as Weekday);
    const b = WEEKDAYS.indexOf(r[2] as Weekday);
    if (a < 0 || b < 0 || a > b) badSchedule(`bad day range ${JSON.stringify(part)}`);
    days.push(...WEEKDAYS.slice(a, b + 1));
  }
  const s: Schedule = { days: days as Weekday[], from: m[2]!, to: m[3]! };
  scheduleToRow(s);
  return s;
}

const sameSchedule = (a: ScheduleRow | null, b: ScheduleRow | null): boolean =>
  a === null || b === null ? a === b : a.days === b.days && a.from === b.from && a.to === b.to;

export interface KeyInput {
  name: string;
  /** residential: a unit's own doors; communal: entrances, amenities, shared by many. */
  kind: KeyKind;
  doorIds: number[];
  mayShare: boolean;
  doorcodesDisabled: boolean;
  unitId?: number | null;
  /** Weekly schedule (local time); null or absent = any time. */
  schedule?: ScheduleInput | null;
}

function nameTaken(db: Db, propertyId: number, name: string, exceptId: number): void {
  if (one(db, 'SELECT 1 FROM keys WHERE property_id = ? AND name = ? AND id <> ?', propertyId, name, exceptId)) {
    throw new GatewayError('KEY_NAME_TAKEN', `key "${name}" already exists in property ${propertyId}`);
  }
}

function checkDoors(db: Db, propertyId: number, doorIds: readonly number[]): number[] {
  const ids = uniq(doorIds);
  if (ids.length === 0) throw new GatewayError('KEY_NEEDS_DOOR', 'a key must hold at least one door');
  requireDoorsIn(db, propertyId, ids);
  return ids;
}

export function createKey(db: Db, propertyId: number, input: KeyInput, ctx: Ctx = {}): Key {
  const name = requireName(input.name, 'key name');
  return tx(db, () => {
    getProperty(db, propertyId);
    nameTaken(db, propertyId, name, 0);
    const doorIds = checkDoors(db, propertyId, input.doorIds);
    requireUnitIn(db, propertyId, input.unitId);
    const sched = scheduleToRow(input.schedule);
    const { lastInsertRowid: id } = run(
      db,
      `INSERT INTO keys (property_id, name, kind, unit_id, may_share, doorcodes_disabled, created_at, schedule_days, schedule_from, schedule_to)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      propertyId,
      name,
      input.kind,
      input.unitId ?? null,
      bit(input.mayShare),
      bit(input.doorcodesDisabled),
      nowOf(ctx),
      sched?.days ?? null,
      sched?.from ?? null,
      sched?.to ?? null,
    );
    for (const d of doorIds) run(db, 'INSERT INTO key_doors (key_id, door_id) VALUES (?, ?)', id, d);
    logAccess(db, propertyId, { action: 'key.created', message: `created key ${name}` }, ctx);
    return getKey(db, id);
  });
}

export function getKey(db: Db, id: number): Key {
  const r = one<KeyRow>(db, `SELECT ${COLS} FROM keys WHERE id = ?`, id);
  if (!r) throw new GatewayError('KEY_NOT_FOUND', `key ${id} does not exist`);
  return toKey(db, r);
}

export function listKeys(db: Db, propertyId: number): Key[] {
  return all<KeyRow>(db, `SELECT ${COLS} FROM keys WHERE property_id = ? ORDER BY name, id`, propertyId).map((r) => toKey(db, r));
}

export type KeyPatch = Partial<KeyInput>;

/**
 * Changes a key. Doors added or removed, and the doorcodes flag, change every holder's sets;
 * turning may-share off withdraws what holders already shared with guests through this key.
 */
export function updateKey(db: Db, id: number, patch: KeyPatch, ctx: Ctx = {}): Key & AffectsDoors {
  return tx(db, () => {
    const k = getKey(db, id);
    const at = nowOf(ctx);
    const name = patch.name === undefined ? k.name : requireName(patch.name, 'key name');
    nameTaken(db, k.propertyId, name, id);
    const unitId = patch.unitId === undefined ? k.unitId : patch.unitId;
    requireUnitIn(db, k.propertyId, unitId);
    const mayShare = patch.mayShare ?? k.mayShare;
    const codesOff = patch.doorcodesDisabled ?? k.doorcodesDisabled;
    const schedBefore = scheduleToRow(k.schedule);
    const sched = patch.schedule === undefined ? schedBefore : scheduleToRow(patch.schedule);
    run(
      db,
      'UPDATE keys SET name = ?, kind = ?, unit_id = ?, may_share = ?, doorcodes_disabled = ?, schedule_days = ?, schedule_from = ?, schedule_to = ? WHERE id = ?',
      name,
      patch.kind ?? k.kind,
      unitId,
      bit(mayShare),
      bit(codesOff),
      sched?.days ?? null,
      sched?.from ?? null,
      sched?.to ?? null,
      id,
    );
    const held = one(db, 'SELECT 1 FROM grants WHERE key_id = ? LIMIT 1', id) !== undefined;
    const affected = new Set<number>();
    if (patch.doorIds !== undefined) {
      const next = checkDoors(db, k.propertyId, patch.doorIds);
      const before = new Set(k.doorIds);
      const after = new Set(next);
      const changed = [...k.doorIds.filter((d) => !after.has(d)), ...next.filter((d) => !before.has(d))];
      run(db, 'DELETE FROM key_doors WHERE key_id = ?', id);
      for (const d of next) run(db, 'INSERT INTO key_doors (key_id, door_id) VALUES (?, ?)', id, d);
      if (held && changed.length > 0) for (const d of journalDoors(db, changed, `key ${name}: doors changed`, at)) affected.add(d);
    }
    if (held && codesOff !== k.doorcodesDisabled) {
      const reason = `key ${name}: doorcodes ${codesOff ? 'disabled' : 'enabled'}`;
      for (const d of journalDoors(db, doorsOfKeys(db, [id]), reason, at)) affected.add(d);
    }
    if (held && !sameSchedule(schedBefore, sched)) {
      const reason = `key ${name}: schedule ${sched === null ? 'removed' : 'changed'}`;
      for (const d of journalDoors(db, doorsOfKeys(db, [id]), reason, at)) affected.add(d);
    }
    if (k.mayShare && !mayShare) {
      for (const d of revokeSharedGrants(db, { keyId: id }, `key ${name} no longer shareable`, at)) affected.add(d);
    }
    if (affected.size > 0) logAccess(db, k.propertyId, { action: 'key.updated', message: `changed key ${name}` }, ctx);
    return { ...getKey(db, id), affectedDoors: [...affected].sort((a, b) => a - b) };
  });
}

/** Deletes a key and every grant of it (its holders and their guests lose those doors). */
export function deleteKey(db: Db, id: number, ctx: Ctx = {}): AffectsDoors {
  return tx(db, () => {
    const k = getKey(db, id);
    const held = one(db, 'SELECT 1 FROM grants WHERE key_id = ? LIMIT 1', id) !== undefined;
    run(db, 'DELETE FROM keys WHERE id = ?', id);
    const affected = held ? journalDoors(db, k.doorIds, `key ${k.name} deleted`, nowOf(ctx)) : [];
    logAccess(db, k.propertyId, { action: 'key.deleted', message: `deleted key ${k.name}` }, ctx);
    return { affectedDoors: affected };
  });
}

/** Throws KEY_NOT_FOUND unless every key exists in this property. */
export function requireKeysIn(db: Db, propertyId: number, keyIds: readonly number[]): Key[] {
  return uniq(keyIds).map((id) => {
    const r = one<KeyRow>(db, `SELECT ${COLS} FROM keys WHERE id = ?`, id);
    if (!r || r.propertyId !== propertyId) throw new GatewayError('KEY_NOT_FOUND', `key ${id} does not exist in property ${propertyId}`);
    return toKey(db, r);
  });
}
