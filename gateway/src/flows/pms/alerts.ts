import type { Db } from '../../store/db.js';
import { GatewayError } from '../../errors.js';
import { all, nowOf, one, run, tx, type Ctx } from '../../model/base.js';
import { getPerson } from '../../model/people.js';
import type { PmsRecord } from './feed.js';
import { applyRecordFields, createContact, personByExternalRef } from './user-sync.js';

/**
 * User Sync alerts (seed 003), resolved by a manager from the alerts panel:
 * - partial_match: a new PMS record partly matches a DOOR contact. `link` makes them one user
 *   (to the matched contact, or another named one), `create` makes a new contact from the PMS
 *   values, `dismiss` leaves both as they are.
 * - email_mismatch: a synced user's email changed in the PMS, so the sync did not update them.
 *   `accept_pms_email` applies the PMS email (and the other PMS fields held back with it);
 *   `dismiss` keeps DOOR's email.
 */

export type AlertKind = 'partial_match' | 'email_mismatch';
export type AlertState = 'open' | 'resolved' | 'dismissed';
export type AlertAction = 'link' | 'create' | 'accept_pms_email' | 'dismiss';

export interface Alert {
  id: number;
  propertyId: number;
  kind: AlertKind;
  externalRef: string;
  personId: number | null;
  record: PmsRecord;
  message: string;
  state: AlertState;
  resolution: string | null;
  createdAt: number;
  resolvedAt: number | null;
}

type Row = Omit<Alert, 'record'> & { record: string };

const SELECT = `SELECT id, property_id AS propertyId, kind, external_ref AS externalRef, person_id AS personId, record, message, state,
  resolution, created_at AS createdAt, resolved_at AS resolvedAt FROM pms_alerts`;

const toAlert = (r: Row): Alert => ({ ...r, record: JSON.parse(r.record) as PmsRecord });

export function getAlert(db: Db, id: number): Alert {
  const r = one<Row>(db, `${SELECT} WHERE id = ?`, id);
  if (!r) throw new GatewayError('ALERT_NOT_FOUND', `alert ${id} does not exist`);
  return toAlert(r);
}

const ALERT_WHERE = 'WHERE property_id = ? AND (? IS NULL OR state = ?)';

export function listAlerts(db: Db, propertyId: number, q: { state?: AlertState; limit?: number; offset?: number } = {}): Alert[] {
  return all<Row>(db, `${SELECT} ${ALERT_WHERE} ORDER BY id LIMIT ? OFFSET ?`, propertyId, q.state ?? null, q.state ?? null, q.limit ?? 100, q.offset ?? 0).map(toAlert);
}

/** How many alerts listAlerts would list without a limit. */
export function countAlerts(db: Db, propertyId: number, q: { state?: AlertState } = {}): number {
  return one<{ n: number }>(db, `SELECT count(*) AS n FROM pms_alerts ${ALERT_WHERE}`, propertyId, q.state ?? null, q.state ?? null)!.n;
}

export function openAlertCount(db: Db, propertyId: number): number {
  return one<{ n: number }>(db, "SELECT count(*) AS n FROM pms_alerts WHERE property_id = ? AND state = 'open'", propertyId)!.n;
}

const ACTIONS: Record<AlertKind, readonly AlertAction[]> = {
  partial_match: ['link', 'create', 'dismiss'],
  email_mismatch: ['accept_pms_email', 'dismiss'],
};

export function resolveAlert(
  db: Db,
  propertyId: number,
  id: number,
  input: { action: AlertAction; personId?: number },
  ctx: Ctx = {},
): Alert & { personId: number | null } {
  return tx(db, () => {
    const a = getAlert(db, id);
    if (a.propertyId !== propertyId) throw new GatewayError('ALERT_NOT_FOUND', `alert ${id} does not exist in property ${propertyId}`);
    if (a.state !== 'open') throw new GatewayError('ALERT_NOT_OPEN', `alert ${id} is already ${a.state}`);
    if (!ACTIONS[a.kind].includes(input.action)) {
      throw new GatewayError('INVALID_ARGUMENT', `a ${a.kind} alert is resolved with ${ACTIONS[a.kind].join(', ')}, not ${input.action}`);
    }
    const rec = a.record;
    let personId = a.personId;
    let resolution: string;
    if (input.action === 'dismiss') resolution = 'dismissed';
    else if (input.action === 'link') {
      const target = input.personId ?? a.personId;
      if (target == null) throw new GatewayError('INVALID_ARGUMENT', 'name the person to link the PMS record to');
      const p = getPerson(db, target);
      if (p.propertyId !== propertyId) throw new GatewayError('PERSON_NOT_FOUND', `person ${target} does not exist in property ${propertyId}`);
      const other = personByExternalRef(db, propertyId, rec.externalRef);
      if (other && other.id !== p.id) throw new GatewayError('CONFLICT', `PMS record ${rec.externalRef} is already synced to person ${other.id}`);
      if (p.externalRef !== null && p.externalRef !== rec.externalRef) {
        throw new GatewayError('CONFLICT', `person ${p.id} is already synced from PMS record ${p.externalRef}`);
      }
      // The email stays DOOR's: if it differs, the next sync raises Email Mismatch like for any synced user.
      applyRecordFields(db, propertyId, { ...p, emailNorm: p.email.toLowerCase() }, rec, ctx, { externalRef: rec.externalRef });
      personId = p.id;
      resolution = `linked to person ${p.id}`;
    } else if (input.action === 'create') {
      if (personByExternalRef(db, propertyId, rec.externalRef)) throw new GatewayError('CONFLICT', `PMS record ${rec.externalRef} is already synced to a person`);
      personId = createContact(db, propertyId, rec, ctx);
      resolution = `created person ${personId}`;
    } else {
      const p = getPerson(db, a.personId!);
      applyRecordFields(db, propertyId, { ...p, emailNorm: p.email.toLowerCase() }, rec, ctx, { email: rec.email });
      resolution = `email changed to ${rec.email}`;
    }
    run(
      db,
      'UPDATE pms_alerts SET state = ?, resolution = ?, resolved_at = ?, person_id = coalesce(?, person_id) WHERE id = ?',
      input.action === 'dismiss' ? 'dismissed' : 'resolved',
      resolution,
      nowOf(ctx),
      personId,
      id,
    );
    return getAlert(db, id);
  });
}
