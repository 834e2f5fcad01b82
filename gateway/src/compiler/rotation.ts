/**
 * Issuer key rotation, delivered to locks as signed anchor updates (PROTOCOL.md §11.2).
 *
 * 1. `beginIssuerRotation`: a new key is stored as pending, and each commissioned lock gets an
 *    update, signed by the current key, that trusts both keys. New commissionings during the
 *    rotation already trust both (`trustAnchors` includes pending keys).
 * 2. The sync engine, or a resident's phone (relay bundles), delivers pending updates before
 *    anything else on each visit. An update counts as applied only when the lock's own
 *    `anchorsRotated` event record comes back verified up to a receipt-signed head
 *    (compiler acceptEvents), never on a status byte or a phone's word.
 * 3. `completeIssuerRotation` (only once every lock has applied step 1): the new key becomes
 *    the signer, the old one is retired, every door recompiles under the new key, and a second
 *    update (signed by the new key) drops the old key from each lock.
 */
import { fromHex, getCryptoProvider, issueAnchorRotation, signingKeyFromSeed, toHex } from '@latchkit/protocol';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx } from '../model/base.js';
import { journalDoors } from '../model/journal.js';
import { activateIssuerKey, activeIssuerKey, addIssuerKey } from '../model/sync-state.js';
import { issuerFor, type CompilerOptions } from './index.js';

interface PendingKey {
  id: number;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  kid: string;
}

function pendingKey(db: Db, propertyId: number): PendingKey | undefined {
  const r = one<{ id: number; pk: Buffer; sk: Buffer; kid: string }>(
    db,
    "SELECT id, public_key AS pk, secret_key AS sk, kid FROM issuer_keys WHERE property_id = ? AND status = 'pending' ORDER BY id DESC LIMIT 1",
    propertyId,
  );
  return r && { id: r.id, publicKey: Uint8Array.from(r.pk), secretKey: Uint8Array.from(r.sk), kid: r.kid };
}

function commissionedDoors(db: Db, propertyId: number): { doorId: number; lockId: string }[] {
  return all(db, 'SELECT d.id AS doorId, d.lock_id AS lockId FROM doors d JOIN lock_identities l ON l.door_id = d.id WHERE d.property_id = ? ORDER BY d.id', propertyId);
}

function nextSeq(db: Db, doorId: number): number {
  return (one<{ m: number | null }>(db, 'SELECT max(seq) AS m FROM anchor_updates WHERE door_id = ?', doorId)?.m ?? 0) + 1;
}

function queue(db: Db, doorId: number, lockId: string, signer: ReturnType<typeof signingKeyFromSeed>, anchors: Uint8Array[], at: number, o: CompilerOptions): void {
  const seq = nextSeq(db, doorId);
  const message = issueAnchorRotation({ issuer: signer, lockId: fromHex(lockId), anchors, seq, issuedAt: Math.floor(at / 1000), ...(o.provider ? { provider: o.provider } : {}) });
  run(db, 'INSERT INTO anchor_updates (door_id, seq, message, created_at) VALUES (?, ?, ?, ?)', doorId, seq, Buffer.from(message), at);
}

/** Step 1: a pending key, and an update per lock that trusts old and new. Returns the new kid. */
export function beginIssuerRotation(db: Db, propertyId: number, o: CompilerOptions = {}): { kid: string; doors: number } {
  const ctx = o.ctx ?? {};
  return tx(db, () => {
    if (pendingKey(db, propertyId)) throw new GatewayError('ROTATION_IN_PROGRESS', `property ${propertyId} is already rotating its issuer key; complete it first`);
    const current = issuerFor(db, propertyId, o);
    const provider = o.provider ?? getCryptoProvider();
    const next = signingKeyFromSeed(provider.randomBytes(32), provider);
    addIssuerKey(db, { propertyId, kid: toHex(next.kid), publicKey: next.publicKey, secretKey: next.seed }, ctx);
    const at = nowOf(ctx);
    const doors = commissionedDoors(db, propertyId);
    for (const d of doors) queue(db, d.doorId, d.lockId, current, [current.publicKey, next.publicKey], at, o);
    return { kid: toHex(next.kid), doors: doors.length };
  });
}

/** Anchor updates the door's lock has not applied yet, oldest first. */
export function pendingAnchorUpdates(db: Db, doorId: number): { id: number; seq: number; message: Uint8Array }[] {
  return all<{ id: number; seq: number; message: Buffer }>(db, 'SELECT id, seq, message FROM anchor_updates WHERE door_id = ? AND applied_at IS NULL ORDER BY seq', doorId).map((r) => ({
    ...r,
    message: Uint8Array.from(r.message),
  }));
}

/** Doors whose locks still miss an anchor update (the rotation cannot complete before they apply it). */
export function doorsBehindOnAnchors(db: Db, propertyId: number): number[] {
  return all<{ id: number }>(
    db,
    'SELECT DISTINCT u.door_id AS id FROM anchor_updates u JOIN doors d ON d.id = u.door_id WHERE d.property_id = ? AND u.applied_at IS NULL ORDER BY u.door_id',
    propertyId,
  ).map((r) => r.id);
}

/** Step 3: switch signers once every lock trusts the new key; queue the update that drops the old one. */
export function completeIssuerRotation(db: Db, propertyId: number, o: CompilerOptions = {}): { kid: string; doors: number } {
  const ctx = o.ctx ?? {};
  return tx(db, () => {
    const next = pendingKey(db, propertyId);
    if (!next) throw new GatewayError('NO_ROTATION', `property ${propertyId} has no issuer key rotation in progress`);
    const behind = doorsBehindOnAnchors(db, propertyId);
    if (behind.length > 0) {
      throw new GatewayError('ROTATION_INCOMPLETE', `${behind.length} door(s) have not applied the new trust anchor yet (doors ${behind.slice(0, 10).join(', ')}${behind.length > 10 ? ', …' : ''}); sync them first`);
    }
    const old = activeIssuerKey(db, propertyId);
    activateIssuerKey(db, next.id, ctx);
    const signer = signingKeyFromSeed(next.secretKey, o.provider);
    const at = nowOf(ctx);
    const doors = commissionedDoors(db, propertyId);
    for (const d of doors) queue(db, d.doorId, d.lockId, signer, [next.publicKey], at, o);
    journalDoors(db, doors.map((d) => d.doorId), `issuer key rotated to ${next.kid}${old ? ` (was ${old.kid})` : ''}`, at);
    return { kid: next.kid, doors: doors.length };
  });
}
