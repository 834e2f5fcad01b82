import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx, type Ctx } from './base.js';
import { getProperty } from './properties.js';
import type { Unit } from './types.js';
import { requireName } from './validate.js';

const COLS = 'id, property_id AS propertyId, name, created_at AS createdAt';

function nameTaken(db: Db, propertyId: number, name: string, exceptId: number): void {
  if (one(db, 'SELECT 1 FROM units WHERE property_id = ? AND name = ? AND id <> ?', propertyId, name, exceptId)) {
    throw new GatewayError('UNIT_NAME_TAKEN', `unit "${name}" already exists in property ${propertyId}`);
  }
}

export function createUnit(db: Db, propertyId: number, input: { name: string }, ctx: Ctx = {}): Unit {
  const name = requireName(input.name, 'unit name');
  return tx(db, () => {
    getProperty(db, propertyId);
    nameTaken(db, propertyId, name, 0);
    const { lastInsertRowid } = run(db, 'INSERT INTO units (property_id, name, created_at) VALUES (?, ?, ?)', propertyId, name, nowOf(ctx));
    return getUnit(db, lastInsertRowid);
  });
}

export function getUnit(db: Db, id: number): Unit {
  const u = one<Unit>(db, `SELECT ${COLS} FROM units WHERE id = ?`, id);
  if (!u) throw new GatewayError('UNIT_NOT_FOUND', `unit ${id} does not exist`);
  return u;
}

export function listUnits(db: Db, propertyId: number): Unit[] {
  return all<Unit>(db, `SELECT ${COLS} FROM units WHERE property_id = ? ORDER BY name, id`, propertyId);
}

export function renameUnit(db: Db, id: number, name: string): Unit {
  const n = requireName(name, 'unit name');
  return tx(db, () => {
    const u = getUnit(db, id);
    nameTaken(db, u.propertyId, n, id);
    run(db, 'UPDATE units SET name = ? WHERE id = ?', n, id);
    return getUnit(db, id);
  });
}

/** Doors, keys and people of the unit keep existing; they just lose the unit link. */
export function deleteUnit(db: Db, id: number): void {
  tx(db, () => {
    getUnit(db, id);
    run(db, 'DELETE FROM units WHERE id = ?', id);
  });
}

/** Throws UNIT_NOT_FOUND unless the unit exists in this property. */
export function requireUnitIn(db: Db, propertyId: number, unitId: number | null | undefined): void {
  if (unitId == null) return;
  const u = one<{ propertyId: number }>(db, 'SELECT property_id AS propertyId FROM units WHERE id = ?', unitId);
  if (!u || u.propertyId !== propertyId) throw new GatewayError('UNIT_NOT_FOUND', `unit ${unitId} does not exist in property ${propertyId}`);
}
