import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx, type Ctx } from './base.js';
import { journalDoors } from './journal.js';
import { getProperty } from './properties.js';
import type { AffectsDoors, Connectivity, Door } from './types.js';
import { requireUnitIn } from './units.js';
import { normalizeLockId, requireName } from './validate.js';

const COLS = `id, property_id AS propertyId, name, lock_id AS lockId, connectivity, gateway_radio AS gatewayRadio,
  unit_id AS unitId, created_at AS createdAt`;

export interface DoorInput {
  name: string;
  lockId: string;
  connectivity: Connectivity;
  /** Which gateway radio reaches the door; required for `online`, must be absent for `offline`. */
  gatewayRadio?: string | null;
  unitId?: number | null;
}

function checkConnectivity(connectivity: Connectivity, radio: string | null): void {
  if (connectivity === 'online' && (radio === null || radio.trim() === '')) {
    throw new GatewayError('INVALID_ARGUMENT', 'an online door needs the gateway radio that reaches it');
  }
  if (connectivity === 'offline' && radio !== null) {
    throw new GatewayError('INVALID_ARGUMENT', 'an offline door has no gateway radio; drop gatewayRadio or make it online');
  }
}

export function createDoor(db: Db, propertyId: number, input: DoorInput, ctx: Ctx = {}): Door & AffectsDoors {
  const name = requireName(input.name, 'door name');
  const lockId = normalizeLockId(input.lockId);
  const radio = input.gatewayRadio ?? null;
  checkConnectivity(input.connectivity, radio);
  return tx(db, () => {
    getProperty(db, propertyId);
    requireUnitIn(db, propertyId, input.unitId);
    if (one(db, 'SELECT 1 FROM doors WHERE lock_id = ?', lockId)) {
      throw new GatewayError('LOCK_ID_TAKEN', `lock id ${lockId} already belongs to another door`);
    }
    const at = nowOf(ctx);
    const { lastInsertRowid: id } = run(
      db,
      'INSERT INTO doors (property_id, name, lock_id, connectivity, gateway_radio, unit_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      propertyId,
      name,
      lockId,
      input.connectivity,
      radio,
      input.unitId ?? null,
      at,
    );
    run(db, 'INSERT INTO door_sync_state (door_id) VALUES (?)', id);
    // A new door needs its first (possibly empty) set, so it starts dirty.
    const affected = journalDoors(db, [id], `door ${name} added`, at);
    return { ...getDoor(db, id), affectedDoors: affected };
  });
}

export function getDoor(db: Db, id: number): Door {
  const d = one<Door>(db, `SELECT ${COLS} FROM doors WHERE id = ?`, id);
  if (!d) throw new GatewayError('DOOR_NOT_FOUND', `door ${id} does not exist`);
  return d;
}

export function getDoorByLockId(db: Db, lockId: string): Door {
  const id = normalizeLockId(lockId);
  const d = one<Door>(db, `SELECT ${COLS} FROM doors WHERE lock_id = ?`, id);
  if (!d) throw new GatewayError('DOOR_NOT_FOUND', `no door has lock id ${id}`);
  return d;
}

export function listDoors(db: Db, propertyId: number, opts: { connectivity?: Connectivity; unitId?: number } = {}): Door[] {
  return all<Door>(
    db,
    `SELECT ${COLS} FROM doors WHERE property_id = ? AND (? IS NULL OR connectivity = ?) AND (? IS NULL OR unit_id = ?) ORDER BY id`,
    propertyId,
    opts.connectivity ?? null,
    opts.connectivity ?? null,
    opts.unitId ?? null,
    opts.unitId ?? null,
  );
}

export type DoorPatch = Partial<Omit<DoorInput, 'lockId'>>;

/** Renames or re-homes a door. Credentials do not change, so nothing is journaled. */
export function updateDoor(db: Db, id: number, patch: DoorPatch): Door {
  return tx(db, () => {
    const d = getDoor(db, id);
    const name = patch.name === undefined ? d.name : requireName(patch.name, 'door name');
    const connectivity = patch.connectivity ?? d.connectivity;
    let radio = patch.gatewayRadio === undefined ? d.gatewayRadio : patch.gatewayRadio;
    // Taking a door offline drops its radio unless the caller said otherwise.
    if (patch.connectivity === 'offline' && patch.gatewayRadio === undefined) radio = null;
    checkConnectivity(connectivity, radio);
    const unitId = patch.unitId === undefined ? d.unitId : patch.unitId;
    requireUnitIn(db, d.propertyId, unitId);
    run(db, 'UPDATE doors SET name = ?, connectivity = ?, gateway_radio = ?, unit_id = ? WHERE id = ?', name, connectivity, radio, unitId, id);
    return getDoor(db, id);
  });
}

/** Decommissions a door. Refused while a key holds it: the manager must change those keys first. */
export function deleteDoor(db: Db, id: number): void {
  tx(db, () => {
    getDoor(db, id);
    const keys = all<{ name: string }>(db, 'SELECT k.name FROM key_doors kd JOIN keys k ON k.id = kd.key_id WHERE kd.door_id = ? ORDER BY k.name', id);
    if (keys.length > 0) {
      throw new GatewayError('DOOR_IN_USE', `door ${id} is held by key(s) ${keys.map((k) => `"${k.name}"`).join(', ')}`);
    }
    run(db, 'DELETE FROM doors WHERE id = ?', id);
  });
}

/** Throws DOOR_NOT_FOUND unless every door exists in this property. */
export function requireDoorsIn(db: Db, propertyId: number, doorIds: readonly number[]): void {
  for (const id of doorIds) {
    const d = one<{ propertyId: number }>(db, 'SELECT property_id AS propertyId FROM doors WHERE id = ?', id);
    if (!d || d.propertyId !== propertyId) throw new GatewayError('DOOR_NOT_FOUND', `door ${id} does not exist in property ${propertyId}`);
  }
}
