import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, tx, uniq, type Ctx } from './base.js';
import { logAccess } from './activity.js';
import { checkNewWindow, getGrant, revokeSharedGrants, upsertGrant, type Window } from './grants.js';
import { doorsOfKeys, journalDoors } from './journal.js';
import { personRef } from './refs.js';
import { createPersonRecord, findPersonByEmail, getPerson } from './people.js';
import type { AccessType, AffectsDoors, Grant, Person } from './types.js';
import { minuteOf } from '../time.js';

export interface GuestInviteInput extends Partial<Window> {
  email: string;
  firstName: string;
  lastName: string;
  phone?: string | null;
  accessType?: AccessType;
  keyIds: number[];
}

export interface GuestInviteResult extends AffectsDoors {
  guest: Person;
  created: boolean;
  grants: Grant[];
}

/**
 * A resident shares some of their keys with a guest. Allowed only when the host is a resident
 * with the may-share flag, each key is may-share, and the host holds an unexpired direct grant of
 * it. The guest's window is stored as asked; the compiler clips it to the host's grant, so a host
 * whose lease ends takes their guests with them.
 */
export function inviteGuest(db: Db, hostId: number, input: GuestInviteInput, ctx: Ctx = {}): GuestInviteResult {
  return tx(db, () => {
    const host = getPerson(db, hostId, ctx);
    const at = nowOf(ctx);
    const nowMin = minuteOf(at);
    const hostName = `${host.firstName} ${host.lastName}`;
    if (!host.isResident) throw new GatewayError('HOST_NOT_RESIDENT', `${hostName} is not a resident; only residents invite guests`);
    if (!host.mayShare) throw new GatewayError('SHARING_NOT_ALLOWED', `${hostName} is not allowed to share keys`);
    const w: Window = { start: input.start ?? null, end: input.end ?? null };
    checkNewWindow(w, at);
    const keyIds = uniq(input.keyIds);
    if (keyIds.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'name at least one key to share');
    const keys = keyIds.map((keyId) => {
      const k = one<{ propertyId: number; name: string; mayShare: number }>(
        db,
        'SELECT property_id AS propertyId, name, may_share AS mayShare FROM keys WHERE id = ?',
        keyId,
      );
      if (!k || k.propertyId !== host.propertyId) throw new GatewayError('KEY_NOT_FOUND', `key ${keyId} does not exist in property ${host.propertyId}`);
      if (k.mayShare !== 1) throw new GatewayError('KEY_NOT_SHAREABLE', `key ${k.name} may not be shared`);
      const held = one(
        db,
        'SELECT 1 FROM grants WHERE person_id = ? AND key_id = ? AND shared_by IS NULL AND (end_min IS NULL OR end_min > ?)',
        hostId,
        keyId,
        nowMin,
      );
      if (!held) throw new GatewayError('HOST_LACKS_KEY', `${hostName} does not hold key ${k.name}`);
      return { id: keyId, name: k.name };
    });
    const existing = findPersonByEmail(db, host.propertyId, input.email, ctx);
    if (existing?.id === hostId) throw new GatewayError('GUEST_IS_HOST', `${hostName} cannot be their own guest`);
    const guestId =
      existing?.id ??
      createPersonRecord(
        db,
        host.propertyId,
        { email: input.email, firstName: input.firstName, lastName: input.lastName, phone: input.phone ?? null, accessType: input.accessType ?? 'app', isResident: false, mayShare: false },
        at,
      );
    const grantIds = keys.map((k) => upsertGrant(db, { personId: guestId, keyId: k.id, sharedBy: hostId, source: 'guest', ...w }, at).grantId);
    const guestName = personRef(db, guestId).name;
    const keyNames = keys.map((k) => k.name).join(', ');
    const affected = journalDoors(db, doorsOfKeys(db, keyIds), `${hostName} shared ${keyNames} with guest ${guestName}`, at);
    const guest = getPerson(db, guestId, ctx);
    logAccess(db, host.propertyId, { action: 'guest.invited', holderRef: guest.holderRef, message: `${hostName} invited guest ${guestName}: ${keyNames}` }, ctx);
    return { guest, created: !existing, grants: grantIds.map((id) => getGrant(db, id)), affectedDoors: affected };
  });
}

export interface GuestEntry {
  guest: Person;
  grants: Grant[];
}

/** The people a host shared keys with, and what they shared. */
export function listGuests(db: Db, hostId: number, ctx: Ctx = {}): GuestEntry[] {
  getPerson(db, hostId, ctx);
  const ids = all<{ id: number }>(db, 'SELECT DISTINCT person_id AS id FROM grants WHERE shared_by = ? ORDER BY person_id', hostId).map((r) => r.id);
  return ids.map((id) => ({
    guest: getPerson(db, id, ctx),
    grants: all<{ id: number }>(db, 'SELECT id FROM grants WHERE shared_by = ? AND person_id = ? ORDER BY id', hostId, id).map((g) => getGrant(db, g.id)),
  }));
}

/** The host (or a manager) takes back everything the host shared with this guest. */
export function revokeGuest(db: Db, hostId: number, guestId: number, ctx: Ctx = {}): AffectsDoors {
  return tx(db, () => {
    const host = getPerson(db, hostId, ctx);
    if (!one(db, 'SELECT 1 FROM grants WHERE shared_by = ? AND person_id = ?', hostId, guestId)) {
      throw new GatewayError('GUEST_NOT_FOUND', `person ${guestId} is not a guest of person ${hostId}`);
    }
    const hostName = `${host.firstName} ${host.lastName}`;
    const guest = personRef(db, guestId);
    const affected = revokeSharedGrants(db, { hostId, guestId }, `${hostName} revoked guest ${guest.name}`, nowOf(ctx));
    logAccess(db, host.propertyId, { action: 'guest.revoked', holderRef: guest.holderRef, message: `${hostName} revoked guest ${guest.name}` }, ctx);
    return { affectedDoors: affected };
  });
}
