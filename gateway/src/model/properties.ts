import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx, type Ctx } from './base.js';
import { journalDoors } from './journal.js';
import { logAccess } from './activity.js';
import type { AffectsDoors, Property } from './types.js';
import { requireName } from './validate.js';

const COLS = 'id, name, utc_offset_min AS utcOffsetMin, doorcode_length AS doorcodeLength, created_at AS createdAt';

export interface PropertyInput {
  name: string;
  utcOffsetMin: number;
  doorcodeLength?: number;
}

function checkOffset(v: number): void {
  if (!Number.isInteger(v) || v < -720 || v > 840) {
    throw new GatewayError('INVALID_ARGUMENT', `UTC offset must be whole minutes in -720..840, got ${v}`);
  }
}

function checkCodeLength(v: number): void {
  if (!Number.isInteger(v) || v < 4 || v > 10) {
    throw new GatewayError('INVALID_ARGUMENT', `doorcode length must be 4..10 digits, got ${v}`);
  }
}

export function createProperty(db: Db, input: PropertyInput, ctx: Ctx = {}): Property {
  const name = requireName(input.name, 'property name');
  checkOffset(input.utcOffsetMin);
  const len = input.doorcodeLength ?? 6;
  checkCodeLength(len);
  return tx(db, () => {
    const { lastInsertRowid } = run(
      db,
      'INSERT INTO properties (name, utc_offset_min, doorcode_length, created_at) VALUES (?, ?, ?, ?)',
      name,
      input.utcOffsetMin,
      len,
      nowOf(ctx),
    );
    logAccess(db, lastInsertRowid, { action: 'property.created', message: `created property ${name}` }, ctx);
    return getProperty(db, lastInsertRowid);
  });
}

export function getProperty(db: Db, id: number): Property {
  const p = one<Property>(db, `SELECT ${COLS} FROM properties WHERE id = ?`, id);
  if (!p) throw new GatewayError('PROPERTY_NOT_FOUND', `property ${id} does not exist`);
  return p;
}

export function listProperties(db: Db): Property[] {
  return all<Property>(db, `SELECT ${COLS} FROM properties ORDER BY id`);
}

export function updateProperty(db: Db, id: number, patch: Partial<PropertyInput>, ctx: Ctx = {}): Property & AffectsDoors {
  return tx(db, () => {
    const before = getProperty(db, id);
    const name = patch.name === undefined ? before.name : requireName(patch.name, 'property name');
    const offset = patch.utcOffsetMin ?? before.utcOffsetMin;
    checkOffset(offset);
    const len = patch.doorcodeLength ?? before.doorcodeLength;
    checkCodeLength(len);
    run(db, 'UPDATE properties SET name = ?, utc_offset_min = ?, doorcode_length = ? WHERE id = ?', name, offset, len, id);
    let affected: number[] = [];
    if (offset !== before.utcOffsetMin) {
      // Locks read schedules and daily-code days in local time, so every door needs the new offset.
      const doors = all<{ id: number }>(db, 'SELECT id FROM doors WHERE property_id = ?', id).map((r) => r.id);
      affected = journalDoors(db, doors, `property UTC offset changed to ${offset} min`, nowOf(ctx));
    }
    return { ...getProperty(db, id), affectedDoors: affected };
  });
}
