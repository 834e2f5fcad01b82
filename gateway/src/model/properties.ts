import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { checkTimeZone, fixedZone, nextTransition, offsetAt } from '../time-zone.js';
import { all, nowOf, one, run, tx, type Ctx } from './base.js';
import { journalDoors } from './journal.js';
import { logAccess } from './activity.js';
import type { AffectsDoors, Property } from './types.js';
import { requireName } from './validate.js';

const COLS = 'id, name, time_zone AS timeZone, doorcode_length AS doorcodeLength, created_at AS createdAt';

export interface PropertyInput {
  name: string;
  /** IANA name (`America/New_York`) or `UTC±hh:mm`; see gateway/src/time-zone.ts. */
  timeZone?: string;
  /**
   * A fixed offset (minutes east of UTC), the input before time zones: stored as the fixed zone
   * `UTC±hh:mm`, which never changes for daylight saving. Give this or `timeZone`, not both.
   */
  utcOffsetMin?: number;
  doorcodeLength?: number;
}

/** The zone an input names: `timeZone` checked, or `utcOffsetMin` as a fixed zone. */
function zoneOf(input: Partial<PropertyInput>): string | undefined {
  if (input.timeZone !== undefined && input.utcOffsetMin !== undefined) {
    throw new GatewayError('INVALID_ARGUMENT', 'give a time zone or a fixed UTC offset, not both');
  }
  if (input.timeZone !== undefined) return checkTimeZone(input.timeZone);
  if (input.utcOffsetMin === undefined) return undefined;
  if (!Number.isInteger(input.utcOffsetMin) || input.utcOffsetMin < -720 || input.utcOffsetMin > 840) {
    throw new GatewayError('INVALID_ARGUMENT', `UTC offset must be whole minutes in -720..840, got ${input.utcOffsetMin}`);
  }
  return fixedZone(input.utcOffsetMin);
}

function checkCodeLength(v: number): void {
  if (!Number.isInteger(v) || v < 4 || v > 10) {
    throw new GatewayError('INVALID_ARGUMENT', `doorcode length must be 4..10 digits, got ${v}`);
  }
}

/** A stored row with the offset its zone gives now (what locks apply now). */
type PropertyRow = Omit<Property, 'utcOffsetMin' | 'nextOffsetChange'>;

function view(row: PropertyRow, ctx: Ctx): Property {
  const { timeZone, doorcodeLength, createdAt, ...rest } = row;
  const now = nowOf(ctx);
  const next = nextTransition(timeZone, now);
  return { ...rest, timeZone, utcOffsetMin: offsetAt(timeZone, now), nextOffsetChange: next && { at: next.at, utcOffsetMin: next.offset }, doorcodeLength, createdAt };
}

export function createProperty(db: Db, input: PropertyInput, ctx: Ctx = {}): Property {
  const name = requireName(input.name, 'property name');
  const zone = zoneOf(input);
  if (zone === undefined) throw new GatewayError('INVALID_TIME_ZONE', 'a property needs a time zone (an IANA name such as America/New_York, or UTC±hh:mm)');
  const len = input.doorcodeLength ?? 6;
  checkCodeLength(len);
  return tx(db, () => {
    const { lastInsertRowid } = run(db, 'INSERT INTO properties (name, time_zone, doorcode_length, created_at) VALUES (?, ?, ?, ?)', name, zone, len, nowOf(ctx));
    logAccess(db, lastInsertRowid, { action: 'property.created', message: `created property ${name}` }, ctx);
    return getProperty(db, lastInsertRowid, ctx);
  });
}

export function getProperty(db: Db, id: number, ctx: Ctx = {}): Property {
  const p = one<PropertyRow>(db, `SELECT ${COLS} FROM properties WHERE id = ?`, id);
  if (!p) throw new GatewayError('PROPERTY_NOT_FOUND', `property ${id} does not exist`);
  return view(p, ctx);
}

/** The property's time zone: local dates, daily-code days and schedules are read in it. */
export function propertyZone(db: Db, id: number): string {
  const p = one<{ z: string }>(db, 'SELECT time_zone AS z FROM properties WHERE id = ?', id);
  if (!p) throw new GatewayError('PROPERTY_NOT_FOUND', `property ${id} does not exist`);
  return p.z;
}

export function listProperties(db: Db, ctx: Ctx = {}): Property[] {
  return all<PropertyRow>(db, `SELECT ${COLS} FROM properties ORDER BY id`).map((p) => view(p, ctx));
}

export function updateProperty(db: Db, id: number, patch: Partial<PropertyInput>, ctx: Ctx = {}): Property & AffectsDoors {
  return tx(db, () => {
    const before = getProperty(db, id, ctx);
    const name = patch.name === undefined ? before.name : requireName(patch.name, 'property name');
    const zone = zoneOf(patch) ?? before.timeZone;
    const len = patch.doorcodeLength ?? before.doorcodeLength;
    checkCodeLength(len);
    run(db, 'UPDATE properties SET name = ?, time_zone = ?, doorcode_length = ? WHERE id = ?', name, zone, len, id);
    let affected: number[] = [];
    if (zone !== before.timeZone) {
      // Locks read schedules and daily-code days in local time, so every door needs the new
      // offset: the journal recompiles them, and their time state no longer matches the zone,
      // so the sync engine pushes a time sync with the new offset and transition. A name for the
      // same rules (a link such as US/Eastern, or another city in the zone) changes nothing a
      // lock is told, so no door is journaled for it; the rename is still logged.
      const now = nowOf(ctx);
      if (!sameRulesAt(zone, before.timeZone, now)) {
        const doors = all<{ id: number }>(db, 'SELECT id FROM doors WHERE property_id = ?', id).map((r) => r.id);
        affected = journalDoors(db, doors, `property time zone changed to ${zone}`, now);
      }
      logAccess(db, id, { action: 'property.time_zone', message: `time zone of ${name} changed from ${before.timeZone} to ${zone}` }, ctx);
    }
    return { ...getProperty(db, id, ctx), affectedDoors: affected };
  });
}

/** Whether two zones give the same offset at `ms` and the same next change: what a lock is told (PROTOCOL.md §7.4). */
function sameRulesAt(a: string, b: string, ms: number): boolean {
  if (offsetAt(a, ms) !== offsetAt(b, ms)) return false;
  const na = nextTransition(a, ms);
  const nb = nextTransition(b, ms);
  return na === nb || (na !== null && nb !== null && na.at === nb.at && na.offset === nb.offset);
}
