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
 *
 * Updates are signed through the property's signer (compiler `issuerSigner`: `signerFor`, else
 * the key in the store), outside any transaction, and recorded with the key change in one
 * transaction only if nothing they describe changed meanwhile: a signer that fails leaves the
 * rotation where it was. A property whose key an external signer holds rotates to another key
 * that signer holds: `next` names it by its public key, and the store never has either secret.
 */
import type { IssuerIdentity, PreparedMessage } from '@latchkit/protocol';
import { equalBytes, fromHex, getCryptoProvider, keyId, prepareAnchorRotation, signingKeyFromSeed, toHex } from '@latchkit/protocol';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx } from '../model/base.js';
import { journalDoors } from '../model/journal.js';
import { activateIssuerKey, activeIssuerKey, addIssuerKey } from '../model/sync-state.js';
import { activeIssuer, signAs, type CompilerOptions, type PropertyIssuer } from './index.js';

interface PendingKey {
  id: number;
  issuer: PropertyIssuer;
}

function pendingKey(db: Db, propertyId: number): PendingKey | undefined {
  const r = one<{ id: number; pk: Buffer; sk: Buffer | null; kid: string }>(
    db,
    "SELECT id, public_key AS pk, secret_key AS sk, kid FROM issuer_keys WHERE property_id = ? AND status = 'pending' ORDER BY id DESC LIMIT 1",
    propertyId,
  );
  return r && { id: r.id, issuer: { propertyId, publicKey: Uint8Array.from(r.pk), kid: fromHex(r.kid), seed: r.sk ? Uint8Array.from(r.sk) : null } };
}

function commissionedDoors(db: Db, propertyId: number): { doorId: number; lockId: string }[] {
  return all(db, 'SELECT d.id AS doorId, d.lock_id AS lockId FROM doors d JOIN lock_identities l ON l.door_id = d.id WHERE d.property_id = ? ORDER BY d.id', propertyId);
}

function nextSeq(db: Db, doorId: number): number {
  return (one<{ m: number | null }>(db, 'SELECT max(seq) AS m FROM anchor_updates WHERE door_id = ?', doorId)?.m ?? 0) + 1;
}

interface PlannedUpdate {
  doorId: number;
  seq: number;
  message: PreparedMessage<Uint8Array>;
}

/** An update per commissioned lock of the property, trusting `anchors`, prepared for the issuer's signature. */
function planUpdates(db: Db, propertyId: number, issuer: IssuerIdentity, anchors: Uint8Array[], at: number, o: CompilerOptions): PlannedUpdate[] {
  return commissionedDoors(db, propertyId).map((d) => {
    const seq = nextSeq(db, d.doorId);
    const message = prepareAnchorRotation({ issuer, lockId: fromHex(d.lockId), anchors, seq, issuedAt: Math.floor(at / 1000), ...(o.provider ? { provider: o.provider } : {}) });
    return { doorId: d.doorId, seq, message };
  });
}

/** Updates signed in batches of this many concurrent requests (a remote signer pays its latency per batch). */
const SIGN_BATCH = 64;

async function signUpdates(issuer: PropertyIssuer, planned: PlannedUpdate[], o: CompilerOptions): Promise<{ doorId: number; seq: number; message: Uint8Array }[]> {
  const out: { doorId: number; seq: number; message: Uint8Array }[] = [];
  for (let i = 0; i < planned.length; i += SIGN_BATCH) {
    const batch = planned.slice(i, i + SIGN_BATCH);
    const signed = await Promise.all(batch.map((u) => signAs(issuer, u.message, `anchor update ${u.seq} for door ${u.doorId}`, o)));
    batch.forEach((u, k) => out.push({ doorId: u.doorId, seq: u.seq, message: signed[k]! }));
  }
  return out;
}

/** Store signed updates, refusing (CONFLICT) if a lock was commissioned or updated since they were planned. */
function storeUpdates(db: Db, propertyId: number, signed: { doorId: number; seq: number; message: Uint8Array }[], at: number): void {
  const doors = commissionedDoors(db, propertyId);
  if (doors.length !== signed.length || doors.some((d, i) => d.doorId !== signed[i]!.doorId || nextSeq(db, d.doorId) !== signed[i]!.seq)) {
    throw new GatewayError('CONFLICT', `property ${propertyId}: a lock was commissioned or given an anchor update while the rotation's updates were being signed; try again`);
  }
  for (const u of signed) run(db, 'INSERT INTO anchor_updates (door_id, seq, message, created_at) VALUES (?, ?, ?, ?)', u.doorId, u.seq, Buffer.from(u.message), at);
}

/**
 * Step 1: a pending key, and an update per lock that trusts old and new. Returns the new kid.
 * The new key is made in process unless `next` names one an external signer holds (its public
 * key); a property whose active key a signer holds must name one, so no rotation puts a
 * private key in the store behind the signer's back.
 */
export async function beginIssuerRotation(db: Db, propertyId: number, o: CompilerOptions & { next?: { publicKey: Uint8Array } } = {}): Promise<{ kid: string; doors: number }> {
  const ctx = o.ctx ?? {};
  const provider = o.provider ?? getCryptoProvider();
  const plan = tx(db, () => {
    if (pendingKey(db, propertyId)) throw new GatewayError('ROTATION_IN_PROGRESS', `property ${propertyId} is already rotating its issuer key; complete it first`);
    const current = activeIssuer(db, propertyId, o);
    if (!o.next && !current.seed) {
      throw new GatewayError('SIGNER_REQUIRED', `property ${propertyId}'s issuer key is held by an external signer: name the new key the signer holds (next), so its secret never enters the store`);
    }
    const made = o.next ? null : signingKeyFromSeed(provider.randomBytes(32), provider);
    const publicKey = o.next ? Uint8Array.from(o.next.publicKey) : made!.publicKey;
    if (publicKey.length !== 32) throw new GatewayError('INVALID_ARGUMENT', `expected a 32-byte Ed25519 public key, got ${publicKey.length} bytes`);
    const at = nowOf(ctx);
    return { current, made, publicKey, at, updates: planUpdates(db, propertyId, current, [current.publicKey, publicKey], at, o) };
  });
  const signed = await signUpdates(plan.current, plan.updates, o);
  const kid = keyId(plan.publicKey, provider);
  return tx(db, () => {
    if (pendingKey(db, propertyId)) throw new GatewayError('ROTATION_IN_PROGRESS', `property ${propertyId} is already rotating its issuer key; complete it first`);
    const active = activeIssuerKey(db, propertyId);
    if (!active || !equalBytes(fromHex(active.kid), plan.current.kid)) throw new GatewayError('CONFLICT', `property ${propertyId}'s active issuer key changed while the rotation was being signed; try again`);
    addIssuerKey(db, { propertyId, kid: toHex(kid), publicKey: plan.publicKey, ...(plan.made ? { secretKey: plan.made.seed } : {}) }, ctx);
    storeUpdates(db, propertyId, signed, plan.at);
    return { kid: toHex(kid), doors: signed.length };
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

function requireAllApplied(db: Db, propertyId: number): void {
  const behind = doorsBehindOnAnchors(db, propertyId);
  if (behind.length > 0) {
    throw new GatewayError('ROTATION_INCOMPLETE', `${behind.length} door(s) have not applied the new trust anchor yet (doors ${behind.slice(0, 10).join(', ')}${behind.length > 10 ? ', …' : ''}); sync them first`);
  }
}

/**
 * Step 3: switch signers once every lock trusts the new key; queue the update that drops the
 * old one, signed by the new key (through its signer when one holds it).
 */
export async function completeIssuerRotation(db: Db, propertyId: number, o: CompilerOptions = {}): Promise<{ kid: string; doors: number }> {
  const ctx = o.ctx ?? {};
  const plan = tx(db, () => {
    const next = pendingKey(db, propertyId);
    if (!next) throw new GatewayError('NO_ROTATION', `property ${propertyId} has no issuer key rotation in progress`);
    requireAllApplied(db, propertyId);
    const at = nowOf(ctx);
    return { next, at, updates: planUpdates(db, propertyId, next.issuer, [next.issuer.publicKey], at, o) };
  });
  const signed = await signUpdates(plan.next.issuer, plan.updates, o);
  return tx(db, () => {
    if (pendingKey(db, propertyId)?.id !== plan.next.id) throw new GatewayError('CONFLICT', `property ${propertyId}'s rotation changed while its updates were being signed; try again`);
    requireAllApplied(db, propertyId);
    const old = activeIssuerKey(db, propertyId);
    activateIssuerKey(db, plan.next.id, ctx);
    storeUpdates(db, propertyId, signed, plan.at);
    const kid = toHex(plan.next.issuer.kid);
    journalDoors(db, signed.map((u) => u.doorId), `issuer key rotated to ${kid}${old ? ` (was ${old.kid})` : ''}`, plan.at);
    return { kid, doors: signed.length };
  });
}
