import type { DigestForm } from '@latchkit/protocol';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { sealIssuerSecret } from '../store/key-encryption.js';
import { all, nowOf, one, run, tx, type Ctx } from './base.js';
import { CHANGE_COLUMNS, type DoorChange } from './journal.js';
import { doorsWithStaleTime } from './door-time.js';
import { entryDigestSupport } from './claim-support.js';

/** What the gateway compiled for a door and what the door last confirmed it enforces. */
export interface DoorSyncState {
  doorId: number;
  compiledSeq: number;
  compiledDigest: Uint8Array | null;
  compiledAt: number | null;
  enforcedSeq: number;
  enforcedDigest: Uint8Array | null;
  lastReceiptAt: number | null;
  /** Journal rows not yet in any compiled set. */
  pendingChanges: number;
}

const u8 = (b: Buffer | null): Uint8Array | null => (b === null ? null : Uint8Array.from(b));

export function doorSyncState(db: Db, doorId: number): DoorSyncState {
  const r = one<{
    doorId: number;
    compiledSeq: number;
    compiledDigest: Buffer | null;
    compiledAt: number | null;
    enforcedSeq: number;
    enforcedDigest: Buffer | null;
    lastReceiptAt: number | null;
    pendingChanges: number;
  }>(
    db,
    `SELECT s.door_id AS doorId, s.compiled_seq AS compiledSeq, s.compiled_digest AS compiledDigest, s.compiled_at AS compiledAt,
            s.enforced_seq AS enforcedSeq, s.enforced_digest AS enforcedDigest, s.last_receipt_at AS lastReceiptAt,
            (SELECT count(*) FROM door_changes c WHERE c.door_id = s.door_id AND c.id > s.compiled_through) AS pendingChanges
       FROM door_sync_state s WHERE s.door_id = ?`,
    doorId,
  );
  if (!r) throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist`);
  return { ...r, compiledDigest: u8(r.compiledDigest), enforcedDigest: u8(r.enforcedDigest) };
}

/** How a door's compiled and enforced sets name themselves, and whether its lock takes the entry digest. */
export interface DoorDigestForms {
  /** The newest compiled set's form (PROTOCOL.md §4.6, §4.7); null when none is compiled. */
  compiledDigestForm: DigestForm | null;
  /**
   * The form the lock enforces its set in: `body` also for an entry-form set whose lock took its
   * body-form full set (a relay bundle's `fullPlain`; the receipt named it by its body digest).
   * Null when the lock enforces no set the gateway keeps.
   */
  enforcedDigestForm: DigestForm | null;
  /** The lock takes the entry digest (true), refuses it (false), or is not known to (null). */
  entryDigestSupport: boolean | null;
}

export function doorDigestForms(db: Db, doorId: number): DoorDigestForms {
  const form = (seqColumn: 'compiled_seq' | 'enforced_seq') =>
    one<{ form: DigestForm; digest: Buffer; enforced: Buffer | null }>(
      db,
      `SELECT ds.digest_form AS form, ds.digest, s.enforced_digest AS enforced FROM door_sync_state s
         JOIN door_sets ds ON ds.door_id = s.door_id AND ds.seq = s.${seqColumn} WHERE s.door_id = ?`,
      doorId,
    );
  const compiled = form('compiled_seq');
  const enforced = form('enforced_seq');
  return {
    compiledDigestForm: compiled?.form ?? null,
    // The receipt's digest was checked against the set (recordReceipt): the entry digest, or for an entry-form set its body digest.
    enforcedDigestForm: enforced ? (enforced.form === 'entries' && enforced.enforced && Buffer.compare(enforced.digest, enforced.enforced) === 0 ? 'entries' : 'body') : null,
    entryDigestSupport: entryDigestSupport(db, doorId),
  };
}

/** The door's compiled and enforced sequences only: what a compile needs, without counting its journal. */
export function doorSeqs(db: Db, doorId: number): { compiledSeq: number; enforcedSeq: number } {
  const r = one<{ compiledSeq: number; enforcedSeq: number }>(db, 'SELECT compiled_seq AS compiledSeq, enforced_seq AS enforcedSeq FROM door_sync_state WHERE door_id = ?', doorId);
  if (!r) throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist`);
  return r;
}

export interface CompiledSetInput {
  doorId: number;
  /** Must exceed every sequence compiled for this door before (locks reject anything not newer). */
  seq: number;
  digest: Uint8Array;
  /** The signed full set, or null when it is to be made from the body when a lock needs it. */
  payload: Uint8Array | null;
  /** From dirtyDoors(): the journal rows this set includes. Later rows stay pending. */
  throughChangeId: number;
}

/**
 * Stores a newly compiled set and marks the journal rows it covers, in one transaction: a crash
 * between compiling and recording loses nothing (the rows are still pending and recompile).
 */
export function recordCompiledSet(db: Db, input: CompiledSetInput, ctx: Ctx = {}): DoorSyncState {
  return tx(db, () => {
    const s = doorSyncState(db, input.doorId);
    if (!Number.isSafeInteger(input.seq) || input.seq <= s.compiledSeq) {
      throw new GatewayError('SEQUENCE_NOT_NEWER', `door ${input.doorId} already has sequence ${s.compiledSeq}; got ${input.seq}`);
    }
    writeCompiledSet(db, input, s.enforcedSeq, nowOf(ctx));
    return doorSyncState(db, input.doorId);
  });
}

/** Pruning keeps a set while a kept recipe (a body stored as a patch of it) is based on it. */
const NOT_A_RECIPE_BASE = 'seq NOT IN (SELECT k.delta_base_seq FROM door_sets k WHERE k.door_id = door_sets.door_id AND k.recipe IS NOT NULL AND k.delta_base_seq IS NOT NULL)';

/** What the compiler stores beside a set: the plaintext body, the delta, and what the set reflects. */
export interface CompiledSetExtras {
  /** How the set's digest names it (migration 15): `entries` (PROTOCOL.md §4.7) or `body` (§4.6, the default). */
  digestForm?: DigestForm;
  /** The set's entry accumulator for an `entries` digest: the next delta's digest costs a block per change. */
  entryAcc?: Uint8Array | null;
  body?: Uint8Array | null;
  /** Instead of the body: the patch that makes it from the set at `delta.baseSeq`. */
  recipe?: Uint8Array | null;
  delta?: { bytes: Uint8Array; baseSeq: number } | null;
  /** Last access_touches id the set reflects (incremental compiles patch from there). */
  touchMark?: number | null;
  lockGeneration?: number | null;
  /** Minute at which the set's windows were judged. */
  compiledMin?: number | null;
}

/**
 * The writes of a compiled set, in the caller's transaction, with no checks or re-reads: the
 * compiler has already read the door's state and chosen a new sequence in the same
 * transaction. One INSERT carries the row whole (a lobby door's row is half a megabyte, and an
 * UPDATE after the INSERT would rewrite it).
 */
export function writeCompiledSet(db: Db, input: CompiledSetInput & CompiledSetExtras, enforcedSeq: number, at: number): void {
  // Views, not copies: SQLite copies the bytes itself, and these are up to half a megabyte.
  const blob = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  run(
    db,
    `INSERT INTO door_sets (door_id, seq, digest, digest_form, entry_acc, payload, created_at, body, recipe, delta, delta_base_seq, touch_mark, lock_generation, compiled_min)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    input.doorId,
    input.seq,
    blob(input.digest),
    input.digestForm ?? 'body',
    input.digestForm === 'entries' && input.entryAcc ? blob(input.entryAcc) : null,
    input.payload ? blob(input.payload) : null,
    at,
    input.body ? blob(input.body) : null,
    input.recipe ? blob(input.recipe) : null,
    input.delta ? blob(input.delta.bytes) : null,
    input.delta ? input.delta.baseSeq : null,
    input.touchMark ?? null,
    input.lockGeneration ?? null,
    input.compiledMin ?? null,
  );
  // The watermark marks every journal row up to throughChangeId as compiled in one row write
  // (migration 7); door_compiles remembers which sequence reached which change.
  run(
    db,
    'UPDATE door_sync_state SET compiled_seq = ?, compiled_digest = ?, compiled_at = ?, compiled_through = max(compiled_through, ?) WHERE door_id = ?',
    input.seq,
    blob(input.digest),
    at,
    input.throughChangeId,
    input.doorId,
  );
  run(db, 'INSERT INTO door_compiles (door_id, seq, through_change) SELECT door_id, ?, compiled_through FROM door_sync_state WHERE door_id = ?', input.seq, input.doorId);
  // Sets older than what the door enforces can never be a delta base again.
  if (enforcedSeq > 1) run(db, `DELETE FROM door_sets WHERE door_id = ? AND seq < ? AND seq < ? AND ${NOT_A_RECIPE_BASE}`, input.doorId, enforcedSeq, input.seq);
}

export interface StoredSet {
  seq: number;
  digest: Uint8Array;
  /** Null while the full set has not been made (compiler syncPayload makes it). */
  payload: Uint8Array | null;
  createdAt: number;
}

/** A kept compiled set (the delta base), or undefined if it was pruned or never existed. */
export function compiledSet(db: Db, doorId: number, seq: number): StoredSet | undefined {
  const r = one<{ seq: number; digest: Buffer; payload: Buffer | null; createdAt: number }>(
    db,
    'SELECT seq, digest, payload, created_at AS createdAt FROM door_sets WHERE door_id = ? AND seq = ?',
    doorId,
    seq,
  );
  return r && { seq: r.seq, digest: Uint8Array.from(r.digest), payload: r.payload ? Uint8Array.from(r.payload) : null, createdAt: r.createdAt };
}

export interface ReceiptInput {
  doorId: number;
  seq: number;
  digest: Uint8Array;
  /** Time on the receipt (the lock's clock), Unix ms. */
  at: number;
  /**
   * SHA-256 of the body of set `seq`, asked only when the set was compiled in the entry form and
   * the receipt's digest is not its entry digest: a lock from before the entry digest that took
   * the body-form full set of the same sequence (a relay bundle's `fullPlain`) names it so.
   */
  bodyDigest?: () => Uint8Array | null;
}

/**
 * Records a lock's (already verified) receipt. The enforced sequence only moves forward: a phone
 * may relay an old receipt late, and that must not make a door look further behind than it is.
 * The digest must be the one the set was compiled under, or, for a set compiled in the entry
 * form, SHA-256 of its body (`bodyDigest`); the digest the lock reported is what is recorded.
 */
export function recordReceipt(db: Db, r: ReceiptInput): { advanced: boolean; state: DoorSyncState } {
  return tx(db, () => {
    const s = doorSyncState(db, r.doorId);
    const set = compiledSet(db, r.doorId, r.seq);
    if (r.seq > s.compiledSeq) {
      throw new GatewayError('RECEIPT_MISMATCH', `door ${r.doorId} reports sequence ${r.seq}, but the gateway compiled only up to ${s.compiledSeq}`);
    }
    if (r.seq <= s.enforcedSeq) return { advanced: false, state: s };
    const same = (d: Uint8Array | null | undefined): boolean => !!d && Buffer.compare(Buffer.from(d), Buffer.from(r.digest)) === 0;
    const entryForm = (): boolean => one<{ form: string }>(db, 'SELECT digest_form AS form FROM door_sets WHERE door_id = ? AND seq = ?', r.doorId, r.seq)?.form === 'entries';
    if (!set || !(same(set.digest) || (r.bodyDigest && entryForm() && same(r.bodyDigest())))) {
      throw new GatewayError('RECEIPT_MISMATCH', `door ${r.doorId} reports a digest for sequence ${r.seq} that the gateway did not compile`);
    }
    run(db, 'UPDATE door_sync_state SET enforced_seq = ?, enforced_digest = ?, last_receipt_at = ? WHERE door_id = ?', r.seq, Buffer.from(r.digest), r.at, r.doorId);
    run(db, `DELETE FROM door_sets WHERE door_id = ? AND seq < ? AND ${NOT_A_RECIPE_BASE}`, r.doorId, r.seq);
    return { advanced: true, state: doorSyncState(db, r.doorId) };
  });
}

export interface SyncTask {
  doorId: number;
  doorName: string;
  lockId: string;
  connectivity: 'online' | 'offline';
  compiledSeq: number;
  enforcedSeq: number;
  lastReceiptAt: number | null;
  /** Journal rows the door does not enforce yet: compiled after its enforced sequence, or pending. */
  changes: DoorChange[];
  /**
   * The lock does not know the zone's offset now or its next change (daylight saving; model/
   * door-time.ts): a sync gives it a time sync even when its credentials are current.
   */
  needsTimeSync: boolean;
}

/** SQL: the door (door_sync_state `s`) runs an older set than compiled, or has changes not compiled yet. */
export const DOOR_BEHIND_SQL = '(s.enforced_seq < s.compiled_seq OR s.journal_head > s.compiled_through)';

/**
 * Door Sync tasks: every door of the property that runs older credentials than the gateway holds,
 * with what changed since the set it enforces.
 */
export function doorSyncTasks(db: Db, propertyId: number, opts: { connectivity?: 'online' | 'offline'; ctx?: Ctx } = {}): SyncTask[] {
  const staleTime = doorsWithStaleTime(db, nowOf(opts.ctx ?? {}), propertyId);
  const doors = all<Omit<SyncTask, 'changes' | 'needsTimeSync'>>(
    db,
    `SELECT d.id AS doorId, d.name AS doorName, d.lock_id AS lockId, d.connectivity, s.compiled_seq AS compiledSeq,
            s.enforced_seq AS enforcedSeq, s.last_receipt_at AS lastReceiptAt
       FROM doors d JOIN door_sync_state s ON s.door_id = d.id
      WHERE d.property_id = ? AND (? IS NULL OR d.connectivity = ?)
        AND (${DOOR_BEHIND_SQL} OR d.id IN (SELECT value FROM json_each(?)))
      ORDER BY d.id`,
    propertyId,
    opts.connectivity ?? null,
    opts.connectivity ?? null,
    JSON.stringify(staleTime),
  );
  const stale = new Set(staleTime);
  return doors.map((d) => ({
    ...d,
    needsTimeSync: stale.has(d.doorId),
    changes: all<DoorChange>(
      db,
      `SELECT ${CHANGE_COLUMNS} FROM door_changes c
        WHERE c.door_id = ? AND c.id > coalesce((SELECT max(through_change) FROM door_compiles WHERE door_id = ? AND seq <= ?), 0) ORDER BY c.id`,
      d.doorId,
      d.doorId,
      d.enforcedSeq,
    ),
  }));
}

export type IssuerKeyStatus = 'pending' | 'active' | 'retired';

export interface IssuerKey {
  id: number;
  propertyId: number;
  kid: string;
  algorithm: 'Ed25519';
  publicKey: Uint8Array;
  status: IssuerKeyStatus;
  createdAt: number;
  activatedAt: number | null;
  retiredAt: number | null;
}

export interface IssuerKeyWithSecret extends IssuerKey {
  /** The Ed25519 seed, or null when an external signer holds the key (registered by its public key only). */
  secretKey: Uint8Array | null;
}

interface IssuerRow extends Omit<IssuerKey, 'publicKey'> {
  publicKey: Buffer;
}

interface IssuerRowWithSecret extends IssuerRow {
  secretKey: Buffer | null;
}

const ISSUER_COLS = `id, property_id AS propertyId, kid, algorithm, public_key AS publicKey, status,
  created_at AS createdAt, activated_at AS activatedAt, retired_at AS retiredAt`;
/**
 * secret_key is the seed unsealed on read under the store's key-encryption key (migration 9,
 * store/key-encryption.ts); the file holds only secret_sealed. Selected only where needed.
 */
const ISSUER_COLS_WITH_SECRET = `${ISSUER_COLS}, secret_key AS secretKey`;

function toIssuer(r: IssuerRow): IssuerKey {
  return { ...r, publicKey: Uint8Array.from(r.publicKey) };
}

function toIssuerWithSecret(r: IssuerRowWithSecret): IssuerKeyWithSecret {
  return { ...toIssuer(r), secretKey: r.secretKey ? Uint8Array.from(r.secretKey) : null };
}

function issuerKeyPublic(db: Db, id: number): IssuerKey {
  const r = one<IssuerRow>(db, `SELECT ${ISSUER_COLS} FROM issuer_keys WHERE id = ?`, id);
  if (!r) throw new GatewayError('ISSUER_KEY_NOT_FOUND', `issuer key ${id} does not exist`);
  return toIssuer(r);
}

/**
 * Stores an issuer (signing) key pair generated by the protocol library, its secret sealed under
 * the store's key-encryption key; or, without `secretKey`, only the public half of a key an
 * external signer holds (migration 13: compiler `signerFor` must then sign for it, the store
 * cannot). A key starts `pending` unless `activate`: rotation first
 * distributes a pending key to locks as a trust anchor, then activates it (which retires the
 * previous active key).
 */
export function addIssuerKey(
  db: Db,
  input: { propertyId: number; kid: string; publicKey: Uint8Array; secretKey?: Uint8Array; activate?: boolean },
  ctx: Ctx = {},
): IssuerKey {
  if (input.publicKey.length !== 32 || (input.secretKey && input.secretKey.length !== 32)) {
    throw new GatewayError('INVALID_ARGUMENT', `expected 32-byte Ed25519 keys, got public=${input.publicKey.length} secret=${input.secretKey?.length ?? 'none'}`);
  }
  return tx(db, () => {
    if (!one(db, 'SELECT 1 FROM properties WHERE id = ?', input.propertyId)) throw new GatewayError('PROPERTY_NOT_FOUND', `property ${input.propertyId} does not exist`);
    if (one(db, 'SELECT 1 FROM issuer_keys WHERE property_id = ? AND kid = ?', input.propertyId, input.kid)) {
      throw new GatewayError('CONFLICT', `issuer key id ${input.kid} already exists in property ${input.propertyId}`);
    }
    const { lastInsertRowid: id } = run(
      db,
      "INSERT INTO issuer_keys (property_id, kid, public_key, secret_sealed, status, created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
      input.propertyId,
      input.kid,
      Buffer.from(input.publicKey),
      input.secretKey ? sealIssuerSecret(db, input, input.secretKey) : null,
      nowOf(ctx),
    );
    if (input.activate) activateIssuerKey(db, id, ctx);
    return issuerKeyPublic(db, id);
  });
}

/** An issuer key with its secret (unsealed under the store's key-encryption key). */
export function issuerKey(db: Db, id: number): IssuerKeyWithSecret {
  const r = one<IssuerRowWithSecret>(db, `SELECT ${ISSUER_COLS_WITH_SECRET} FROM issuer_keys WHERE id = ?`, id);
  if (!r) throw new GatewayError('ISSUER_KEY_NOT_FOUND', `issuer key ${id} does not exist`);
  return toIssuerWithSecret(r);
}

/** Makes the key the property's signing key; the previously active key becomes retired. */
export function activateIssuerKey(db: Db, id: number, ctx: Ctx = {}): IssuerKey {
  return tx(db, () => {
    const k = issuerKeyPublic(db, id);
    if (k.status === 'retired') throw new GatewayError('INVALID_ARGUMENT', `issuer key ${k.kid} is retired and cannot be reactivated`);
    if (k.status === 'active') return k;
    const at = nowOf(ctx);
    run(db, "UPDATE issuer_keys SET status = 'retired', retired_at = ? WHERE property_id = ? AND status = 'active'", at, k.propertyId);
    run(db, "UPDATE issuer_keys SET status = 'active', activated_at = ? WHERE id = ?", at, id);
    return issuerKeyPublic(db, id);
  });
}

export function retireIssuerKey(db: Db, id: number, ctx: Ctx = {}): IssuerKey {
  return tx(db, () => {
    issuerKeyPublic(db, id);
    run(db, "UPDATE issuer_keys SET status = 'retired', retired_at = coalesce(retired_at, ?) WHERE id = ?", nowOf(ctx), id);
    return issuerKeyPublic(db, id);
  });
}

/** The property's current signing key with its secret, or undefined if none was activated yet. */
export function activeIssuerKey(db: Db, propertyId: number): IssuerKeyWithSecret | undefined {
  const r = one<IssuerRowWithSecret>(db, `SELECT ${ISSUER_COLS_WITH_SECRET} FROM issuer_keys WHERE property_id = ? AND status = 'active'`, propertyId);
  return r && toIssuerWithSecret(r);
}

/** All keys of a property (trust anchors for commissioning: pending and active), without secrets. */
export function listIssuerKeys(db: Db, propertyId: number): IssuerKey[] {
  return all<IssuerRow>(db, `SELECT ${ISSUER_COLS} FROM issuer_keys WHERE property_id = ? ORDER BY id`, propertyId).map(toIssuer);
}
