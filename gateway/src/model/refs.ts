import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { one } from './base.js';

/** What access changes need to know about the person they touch, in one lookup. */
export interface PersonRef {
  id: number;
  propertyId: number;
  holderRef: number;
  /** "Jane Doe", as journal reasons and activity messages name people. */
  name: string;
  accessType: 'app' | 'doorcode';
  dailyDoorcode: number;
}

export function personRef(db: Db, personId: number): PersonRef {
  const p = one<PersonRef>(
    db,
    `SELECT id, property_id AS propertyId, holder_ref AS holderRef, first_name || ' ' || last_name AS name,
            access_type AS accessType, daily_doorcode AS dailyDoorcode FROM people WHERE id = ?`,
    personId,
  );
  if (!p) throw new GatewayError('PERSON_NOT_FOUND', `person ${personId} does not exist`);
  return p;
}
