/**
 * The set compiler: turns the access model into signed, lock-encrypted sets per door.
 *
 * Each access change journals the doors it affects (model/journal.ts). `compileDirty` compiles
 * exactly those doors into a new sequence: the full set (always kept: it is the fallback and
 * the base of the next delta) and, when the door has receipted an earlier set, a delta from the
 * sequence it enforces. Journal rows are marked compiled in the same transaction that stores the
 * set, so a crash between compiling and recording loses nothing.
 *
 * Also here: commissioning (a per-door content key wrapped to the lock's device key), choosing
 * what to send a lock that reports sequence N, and accepting receipts and event uploads.
 */
import type { CredentialSpec, CryptoProvider, DeltaChanges, DigestForm, Entry, EventRecord, IssuedSet, IssuerIdentity, IssuerSigner, PreparedMessage, Receipt, SetSecrets, SigningKey } from '@latchkit/protocol';
import {
  applyChangesToAccumulator,
  CredentialKind,
  CredentialSet,
  decodeEvents,
  deriveIndexKey,
  diffEntries,
  entriesFromSpecs,
  EntryAccumulator,
  entryDigestKey,
  equalBytes,
  fromHex,
  genesisChain,
  getCryptoProvider,
  keyId,
  localSigner,
  openReceipt,
  packDelta,
  packSet,
  parseDelta,
  patchSet,
  prepareCommission,
  prepareDeltaBody,
  prepareFullSetBody,
  prepareTimeSync,
  ProtocolError,
  signerSignature,
  signingKeyFromSeed,
  toHex,
  verifyEventChain,
} from '@latchkit/protocol';
import { durableBarrier, relaxedCommit, type Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, allRaw, nowOf, one, run, tx, type Ctx } from '../model/base.js';
import { credentialsForDoor, credentialsForHolders, credentialsForProperty } from '../model/compile-input.js';
import { minuteOf } from '../time.js';
import { dirtyDoorHeads, journalDoors } from '../model/journal.js';
import { activeIssuerKey, addIssuerKey, doorSeqs, doorSyncState, recordReceipt, writeCompiledSet, type DoorSyncState } from '../model/sync-state.js';
import { recordLockEvents, type LockEvent } from '../model/activity.js';
import { recordDoorTime, transitionSupport, zoneTimeAt, type LockLocalTime } from '../model/door-time.js';
import { journalDueWindows, recordWindowBoundary } from '../model/window-boundaries.js';
import { entryDigestSupport, forgetClaimSupport } from '../model/claim-support.js';

/**
 * Who signs for an issuer key of a property: a KMS, an HSM, a signing process, or undefined
 * for the key in the store. Asked with the key the message must be signed by (the active key,
 * or during a rotation the pending one); the signer's kid must be that key's.
 */
export type SignerResolver = (issuer: IssuerIdentity & { propertyId: number }) => IssuerSigner | undefined;

export interface CompilerOptions {
  ctx?: Ctx;
  provider?: CryptoProvider;
  /**
   * The property's external issuer signer, the one place it is resolved (issuerSigner). A
   * function that may sign and takes these options signs through it; the synchronous ones
   * (compileDirty, compileDoor, issuerFor) refuse with SIGNER_REQUIRED when it answers, so a
   * configured signer is never bypassed by the key in the store.
   */
  signerFor?: SignerResolver;
  /** An external signature not back within this many ms is SIGNER_FAILED (default 30,000). */
  signTimeoutMs?: number;
}

const providerOf = (o: CompilerOptions): CryptoProvider => o.provider ?? getCryptoProvider();

const SIGN_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------- property keys

/** The property's daily-code secret and card master key, created on first use. */
export function propertySecrets(db: Db, propertyId: number, o: CompilerOptions = {}): SetSecrets {
  return tx(db, () => {
    const r = one<{ daily: Buffer; card: Buffer }>(db, 'SELECT daily_secret AS daily, card_master AS card FROM property_secrets WHERE property_id = ?', propertyId);
    if (r) return { daily: Uint8Array.from(r.daily), cardMaster: Uint8Array.from(r.card) };
    const p = providerOf(o);
    const s = { daily: p.randomBytes(32), cardMaster: p.randomBytes(32) };
    run(db, 'INSERT INTO property_secrets (property_id, daily_secret, card_master, created_at) VALUES (?, ?, ?, ?)', propertyId, Buffer.from(s.daily), Buffer.from(s.cardMaster), nowOf(o.ctx ?? {}));
    return s;
  });
}

/** An issuer key of a property as the store has it: the seed is null when an external signer holds it. */
export interface PropertyIssuer extends IssuerIdentity {
  propertyId: number;
  seed: Uint8Array | null;
}

/**
 * The property's active issuer key. A property with none gets an in-process key, generated and
 * activated here (the default); a property whose key an external signer holds has it
 * registered first, by its public key only (addIssuerKey without secretKey).
 */
export function activeIssuer(db: Db, propertyId: number, o: CompilerOptions = {}): PropertyIssuer {
  const existing = activeIssuerKey(db, propertyId);
  if (existing) return { propertyId, publicKey: existing.publicKey, kid: fromHex(existing.kid), seed: existing.secretKey };
  const key = signingKeyFromSeed(providerOf(o).randomBytes(32), providerOf(o));
  addIssuerKey(db, { propertyId, kid: toHex(key.kid), publicKey: key.publicKey, secretKey: key.seed, activate: true }, o.ctx ?? {});
  return { propertyId, publicKey: key.publicKey, kid: key.kid, seed: key.seed };
}

/**
 * The stored key of `issuer` for a synchronous signature. Refuses (SIGNER_REQUIRED) a key an
 * external signer holds, and a key `o.signerFor` answers for: that signer must not be bypassed.
 */
function storedKey(issuer: PropertyIssuer, o: CompilerOptions): SigningKey {
  if (o.signerFor?.(issuer)) {
    throw new GatewayError('SIGNER_REQUIRED', `property ${issuer.propertyId}'s issuer key ${toHex(issuer.kid)} has an external signer; this path signs only with the stored key (use the async compile)`, { kid: toHex(issuer.kid) });
  }
  return inProcess(issuer, o);
}

function inProcess(issuer: PropertyIssuer, o: CompilerOptions): SigningKey {
  if (!issuer.seed) {
    throw new GatewayError('SIGNER_REQUIRED', `property ${issuer.propertyId}'s issuer key ${toHex(issuer.kid)} is held by an external signer (the store has only its public key), and none is configured for it`, { kid: toHex(issuer.kid) });
  }
  return signingKeyFromSeed(issuer.seed, providerOf(o));
}

/** The property's active issuer key, in process: for the synchronous compile and tests. */
export function issuerFor(db: Db, propertyId: number, o: CompilerOptions = {}): SigningKey {
  return storedKey(activeIssuer(db, propertyId, o), o);
}

/**
 * The signer of an issuer key: the one point where `signerFor` is asked, falling back to the
 * key in the store. The external signer must name the key the locks trust (SIGNER_FAILED if not).
 */
export function issuerSigner(issuer: PropertyIssuer, o: CompilerOptions = {}): IssuerSigner {
  const external = o.signerFor?.(issuer);
  if (!external) return localSigner(inProcess(issuer, o), providerOf(o));
  if (!equalBytes(external.kid, issuer.kid)) {
    throw new ProtocolError('SIGNER_FAILED', `the signer's key ${toHex(external.kid)} is not property ${issuer.propertyId}'s issuer key ${toHex(issuer.kid)}, which its locks trust`);
  }
  return external;
}

/**
 * A signature of `toBeSigned` by `signer`, checked (signerSignature), within the timeout. Every
 * failure is a ProtocolError SIGNER_FAILED naming `what`.
 */
export async function signatureBy(signer: IssuerSigner, toBeSigned: Uint8Array, what: string, o: CompilerOptions = {}): Promise<Uint8Array> {
  const timeoutMs = o.signTimeoutMs ?? SIGN_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProtocolError('SIGNER_FAILED', `${what}: issuer signer ${toHex(signer.kid)} did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([signerSignature(signer, toBeSigned, providerOf(o)), timeout]);
  } catch (e) {
    throw new ProtocolError('SIGNER_FAILED', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, ...(e instanceof ProtocolError && e.details ? { details: { ...e.details } } : {}) });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A prepared message signed by the issuer's signer (issuerSigner, signatureBy). A failure is
 * the gateway's SIGNER_FAILED (HTTP 502): callers sign before they write, so nothing is left
 * half-written and the operation can simply be tried again.
 */
export async function signAs<T>(issuer: PropertyIssuer, message: PreparedMessage<T>, what: string, o: CompilerOptions = {}): Promise<T> {
  try {
    return message.complete(await signatureBy(issuerSigner(issuer, o), message.toBeSigned, what, o));
  } catch (e) {
    if (e instanceof ProtocolError && e.code === 'SIGNER_FAILED') throw new GatewayError('SIGNER_FAILED', e.message, { protocolCode: e.code, kid: toHex(issuer.kid) });
    throw e;
  }
}

/**
 * A signed time for a door's lock, issued now: the lock's clock moves forward to it (never
 * back), and it takes the zone's offset now and next transition (PROTOCOL.md §7.4). Gateways
 * and Door Syncs push it when the lock reports a clock more than a minute behind or does not
 * know the zone's next change (model/door-time.ts); phones carry one in their relay bundles.
 * `told` is what the message says, for recordDoorTime once the lock has it.
 *
 * The transition goes only to a lock that takes the claim (`withTransition`; PROTOCOL.md §3.4):
 * firmware from before it refuses the whole message. Relay bundles carry one only to a lock known
 * to take it, since a phone's relay cannot fall back; the sync engine asks a lock not known
 * either way, and records its answer (model/door-time.ts transitionSupport).
 */
export async function timeSyncFor(db: Db, doorId: number, o: CompilerOptions = {}): Promise<Uint8Array> {
  return (await doorTimeSync(db, doorId, o)).message;
}

export async function doorTimeSync(
  db: Db,
  doorId: number,
  o: CompilerOptions = {},
  withTransition = transitionSupport(db, doorId) === true,
): Promise<{ message: Uint8Array; told: LockLocalTime }> {
  const d = door(db, doorId);
  const now = nowOf(o.ctx ?? {});
  const told = withoutTransition(zoneTimeAt(d.timeZone, now), withTransition);
  const issuer = activeIssuer(db, d.propertyId, o);
  const prepared = prepareTimeSync({ issuer, lockId: fromHex(d.lockId), issuedAt: Math.floor(now / 1000), utcOffset: told.offset, transition: told.transition, provider: providerOf(o) });
  return { message: await signAs(issuer, prepared, `time sync for door ${doorId}`, o), told };
}

/** `t` as told to a lock that does (or does not) take the transition claim. */
function withoutTransition(t: LockLocalTime, withTransition: boolean): LockLocalTime {
  return withTransition ? t : { offset: t.offset, transition: null };
}

/** Public keys a lock should trust: the active key and any pending one being rolled out. */
export function trustAnchors(db: Db, propertyId: number): Uint8Array[] {
  return all<{ pk: Buffer }>(db, "SELECT public_key AS pk FROM issuer_keys WHERE property_id = ? AND status IN ('active', 'pending') ORDER BY status, id", propertyId).map((r) =>
    Uint8Array.from(r.pk),
  );
}

// ---------------------------------------------------------------- commissioning

export interface LockDeviceKeys {
  signingPublic: Uint8Array;
  encryptionPublic: Uint8Array;
}

export interface LockIdentity extends LockDeviceKeys {
  doorId: number;
  lockId: Uint8Array;
  propertyId: number;
  contentKey: Uint8Array;
  generation: number;
  commissionMessage: Uint8Array;
  confirmedAt: number | null;
  eventsNextIndex: number;
  eventsChain: Uint8Array;
}

interface DoorRow {
  id: number;
  propertyId: number;
  lockId: string;
  timeZone: string;
}

function door(db: Db, doorId: number): DoorRow {
  const d = one<DoorRow>(db, 'SELECT d.id, d.property_id AS propertyId, d.lock_id AS lockId, p.time_zone AS timeZone FROM doors d JOIN properties p ON p.id = d.property_id WHERE d.id = ?', doorId);
  if (!d) throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist`);
  return d;
}

export function lockIdentity(db: Db, doorId: number): LockIdentity | undefined {
  const r = one<{
    doorId: number;
    lockId: string;
    propertyId: number;
    sp: Buffer;
    ep: Buffer;
    ck: Buffer;
    generation: number;
    msg: Buffer;
    confirmedAt: number | null;
    nextIndex: number;
    chain: Buffer | null;
  }>(
    db,
    `SELECT l.door_id AS doorId, d.lock_id AS lockId, d.property_id AS propertyId, l.device_signing_public AS sp, l.device_encryption_public AS ep,
            l.content_key AS ck, l.generation, l.commission_message AS msg, l.confirmed_at AS confirmedAt,
            l.events_next_index AS nextIndex, l.events_chain AS chain
       FROM lock_identities l JOIN doors d ON d.id = l.door_id WHERE l.door_id = ?`,
    doorId,
  );
  if (!r) return undefined;
  const lockId = fromHex(r.lockId);
  return {
    doorId: r.doorId,
    lockId,
    propertyId: r.propertyId,
    signingPublic: Uint8Array.from(r.sp),
    encryptionPublic: Uint8Array.from(r.ep),
    contentKey: Uint8Array.from(r.ck),
    generation: r.generation,
    commissionMessage: Uint8Array.from(r.msg),
    confirmedAt: r.confirmedAt,
    eventsNextIndex: r.nextIndex,
    eventsChain: r.chain ? Uint8Array.from(r.chain) : genesisOf(r.lockId, lockId),
  };
}

/** A cache of values derived per lock that forgets everything once it holds `limit` entries. */
function boundedMemo<V>(limit: number): (key: string, make: () => V) => V {
  const map = new Map<string, V>();
  return (key, make) => {
    let v = map.get(key);
    if (v === undefined) {
      if (map.size >= limit) map.clear();
      v = make();
      map.set(key, v);
    }
    return v;
  };
}

/**
 * The index key a door's credential keys are hashed under (HKDF of the content key, ~75 us in
 * the portable HKDF) is the same for every compile of one lock generation. Keyed by the content
 * key itself, so stores that reuse door ids and re-commissioned locks never share an entry.
 */
const indexKeys = boundedMemo<Uint8Array>(100_000);
const indexKeyOf = (contentKey: Uint8Array, lockId: Uint8Array): Uint8Array =>
  indexKeys(toHex(contentKey) + toHex(lockId), () => deriveIndexKey(contentKey, lockId));

/** The entry digest key (PROTOCOL.md §4.7) of a lock generation: an HKDF, derived once like the index key. */
const entryKeys = boundedMemo<Uint8Array>(100_000);
const entryKeyOf = (contentKey: Uint8Array, lockId: Uint8Array): Uint8Array =>
  entryKeys(toHex(contentKey) + toHex(lockId), () => entryDigestKey(contentKey, lockId));

/**
 * The form a door's next set names itself in (PROTOCOL.md §4.6, §4.7): the entry digest, which
 * the lock updates per change, unless the door's lock is known to refuse it (firmware from before
 * it answers MALFORMED; the sync engine learns that, model/claim-support.ts).
 */
export function doorDigestForm(db: Db, doorId: number): DigestForm {
  return entryDigestSupport(db, doorId) === false ? 'body' : 'entries';
}

/**
 * A lock's genesis chain value depends only on its id; a compile of every door reads every
 * identity, and hashing each genesis again was ~45 ms of a 10,000-door compile.
 */
const genesisValues = boundedMemo<Uint8Array>(100_000);
const genesisOf = (hex: string, lockId: Uint8Array): Uint8Array => genesisValues(hex, () => genesisChain(lockId)).slice();

/**
 * Commission (or re-commission) the lock of a door: a fresh content key wrapped to the lock's
 * device key, the property's trust anchors, the time, the UTC offset and the zone's next offset
 * change, signed by the active issuer. The door is journaled so its first set compiles.
 * Returns the message to deliver.
 */
export async function commissionDoor(
  db: Db,
  doorId: number,
  device: LockDeviceKeys,
  o: CompilerOptions = {},
  withTransition = true,
): Promise<{ message: Uint8Array; generation: number; told: LockLocalTime }> {
  const p = providerOf(o);
  const ctx = o.ctx ?? {};
  // The message is made from one read, signed outside any transaction (the signer may be
  // remote), and recorded only if nothing it says changed meanwhile: a failed signature
  // leaves the door exactly as it was.
  const plan = tx(db, () => {
    const d = door(db, doorId);
    const issuer = activeIssuer(db, d.propertyId, o);
    // Created here, in an fsync'd transaction, not by the first compile: compiles commit
    // without an fsync, and these secrets are not derived data (they cannot be made again).
    propertySecrets(db, d.propertyId, o);
    const prev = lockIdentity(db, doorId);
    const generation = (prev?.generation ?? 0) + 1;
    const contentKey = p.randomBytes(32);
    const now = nowOf(ctx);
    const told = withoutTransition(zoneTimeAt(d.timeZone, now), withTransition);
    const anchors = trustAnchors(db, d.propertyId);
    const prepared = prepareCommission({
      issuer,
      lockId: fromHex(d.lockId),
      anchors,
      lockEncryptionPublic: device.encryptionPublic,
      contentKey,
      issuedAt: Math.floor(now / 1000),
      utcOffset: told.offset,
      transition: told.transition,
      generation,
      provider: p,
    });
    return { propertyId: d.propertyId, issuer, prev, generation, contentKey, now, told, anchors, prepared };
  });
  const message = await signAs(plan.issuer, plan.prepared, `commissioning door ${doorId}`, o);
  const { prev, generation, contentKey, now, told } = plan;
  return tx(db, () => {
    const current = lockIdentity(db, doorId);
    const anchors = trustAnchors(db, plan.propertyId);
    if ((current?.generation ?? 0) !== generation - 1 || anchors.length !== plan.anchors.length || anchors.some((a, i) => !equalBytes(a, plan.anchors[i]!))) {
      throw new GatewayError('CONFLICT', `door ${doorId}: its lock was commissioned, or the property's issuer keys changed, while the commissioning was being signed; sync again`);
    }
    run(
      db,
      `INSERT INTO lock_identities (door_id, device_signing_public, device_encryption_public, content_key, generation, commission_message, commissioned_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (door_id) DO UPDATE SET device_signing_public = excluded.device_signing_public, device_encryption_public = excluded.device_encryption_public,
         content_key = excluded.content_key, generation = excluded.generation, commission_message = excluded.commission_message,
         commissioned_at = excluded.commissioned_at, confirmed_at = NULL`,
      doorId,
      Buffer.from(device.signingPublic),
      Buffer.from(device.encryptionPublic),
      Buffer.from(contentKey),
      generation,
      Buffer.from(message),
      now,
    );
    if (!prev || !sameDevice(prev, device)) {
      // Different hardware (or the first): it enforces nothing the gateway compiled, and its
      // event log starts over. Until its receipt says otherwise the door is fully behind.
      run(db, 'UPDATE door_sync_state SET enforced_seq = 0, enforced_digest = NULL, last_receipt_at = NULL WHERE door_id = ?', doorId);
      run(db, 'UPDATE lock_identities SET events_next_index = 0, events_chain = NULL WHERE door_id = ?', doorId);
      // Other hardware may run other firmware: what the old lock took says nothing about it.
      if (prev) forgetClaimSupport(db, doorId);
    }
    // What the lock will know about local time once it takes this message (it is only ever
    // delivered whole; a lock that never takes it is commissioned again, and told again).
    recordDoorTime(db, doorId, told, now);
    journalDoors(db, [doorId], prev ? 'lock re-commissioned' : 'lock commissioned', now);
    return { message, generation, told };
  });
}

/**
 * Operator action for replaced or factory-reset hardware: forget the door's lock identity, so
 * the next sync commissions whatever lock answers for the door. The sync engine never does this
 * on its own for a confirmed lock (an impostor advertising the lock id would get the keys).
 */
export function forgetLockIdentity(db: Db, doorId: number): void {
  tx(db, () => {
    door(db, doorId);
    // Keep the row: its generation must keep counting up, because the compiler reuses a
    // door's last body only within one generation (a new content key re-keys every entry).
    run(db, 'UPDATE lock_identities SET confirmed_at = NULL WHERE door_id = ?', doorId);
    run(db, 'UPDATE door_sync_state SET enforced_seq = 0, enforced_digest = NULL, last_receipt_at = NULL WHERE door_id = ?', doorId);
  });
}

/** The lock accepted its commissioning (seen in its lock info or a receipt). */
export function confirmCommissioning(db: Db, doorId: number, o: CompilerOptions = {}): void {
  run(db, 'UPDATE lock_identities SET confirmed_at = coalesce(confirmed_at, ?) WHERE door_id = ?', nowOf(o.ctx ?? {}), doorId);
}

// ---------------------------------------------------------------- compiling

export interface CompiledDoorSet {
  doorId: number;
  lockId: string;
  seq: number;
  /** The digest the set is signed under, in `digestForm` (what the lock's receipt will carry). */
  digest: Uint8Array;
  digestForm: DigestForm;
  credentials: number;
  /** Size of the plaintext body (the full set on the air is this plus ~130 bytes of envelope). */
  bodyBytes: number;
  /**
   * The signed full set, or null when the compile made a delta for a lock at its base and left
   * the full set to be made when a lock needs it (syncPayload).
   */
  fullBytes: Uint8Array | null;
  delta: { bytes: Uint8Array; baseSeq: number } | null;
}

/** A view on a blob as read (better-sqlite3 hands out a fresh Buffer): no 500 KB copies. */
const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * A stored body as a recipe (migration 7): the touched holders (u32 count, u32 each) and their
 * replacement entries as a delta body (upserts only). patchSet is a pure function, so the base
 * body plus this gives the compiled body byte for byte; the stored digest checks it.
 */
function encodeRecipe(touched: ReadonlySet<number>, replacement: readonly Entry[]): Uint8Array {
  const holders = [...touched].sort((a, b) => a - b);
  const entries = packDelta({ removed: [], upserts: [...replacement], secrets: null });
  const out = new Uint8Array(4 + holders.length * 4 + entries.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, holders.length);
  holders.forEach((h, i) => v.setUint32(4 + i * 4, h));
  out.set(entries, 4 + holders.length * 4);
  return out;
}

function decodeRecipe(b: Uint8Array): { touched: Set<number>; replacement: Entry[] } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = b.length >= 4 ? v.getUint32(0) : -1;
  if (n < 0 || 4 + n * 4 > b.length) throw new GatewayError('INTERNAL', `a stored set recipe is truncated (${b.length} bytes)`);
  const touched = new Set<number>();
  for (let i = 0; i < n; i++) touched.add(v.getUint32(4 + i * 4));
  return { touched, replacement: parseDelta(b.subarray(4 + n * 4)).upserts };
}

/**
 * The plaintext body of a compiled set: stored, or made from its recipe and the body it
 * patched, checked against the set's digest in the form it was signed in (migration 15): SHA-256
 * of the body, or the entry digest, carried from the base's accumulator by the patch's changes
 * (a block per change). Null when the set or its base is gone, or when an entry-form recipe is of
 * another lock generation (its key is gone with that generation's content key; no patch or delta
 * of the current lock starts from it).
 */
function bodyOf(db: Db, doorId: number, seq: number, o: CompilerOptions = {}): Uint8Array | null {
  const r = one<{ body: Buffer | null; recipe: Buffer | null; base: number | null; digest: Buffer; form: DigestForm; acc: Buffer | null; gen: number | null }>(
    db,
    'SELECT body, recipe, delta_base_seq AS base, digest, digest_form AS form, entry_acc AS acc, lock_generation AS gen FROM door_sets WHERE door_id = ? AND seq = ?',
    doorId,
    seq,
  );
  if (!r) return null;
  if (r.body) return view(r.body);
  if (!r.recipe || r.base === null || r.base >= seq) return null;
  const identity = r.form === 'entries' ? lockIdentity(db, doorId) : undefined;
  if (r.form === 'entries' && (!identity || (r.gen !== null && r.gen !== identity.generation))) return null;
  const baseBody = bodyOf(db, doorId, r.base, o);
  if (!baseBody) return null;
  const secrets = propertySecrets(db, door(db, doorId).propertyId, o);
  const p = providerOf(o);
  let matches: boolean;
  let body: Uint8Array;
  try {
    const { touched, replacement } = decodeRecipe(view(r.recipe));
    const base = CredentialSet.fromTrustedBody(baseBody);
    const patched = patchSet(base, touched, replacement, secrets);
    body = patched.body;
    if (r.form === 'body') {
      matches = equalBytes(p.sha256(body), view(r.digest));
    } else {
      const key = entryKeyOf(identity!.contentKey, identity!.lockId);
      const baseAcc = storedEntryAcc(db, doorId, r.base, identity!.generation);
      let acc: EntryAccumulator;
      if (baseAcc) {
        acc = EntryAccumulator.fromBytes(key, baseAcc, p);
        applyChangesToAccumulator(acc, base, patched.changes);
      } else {
        acc = EntryAccumulator.of(key, CredentialSet.fromTrustedBody(body).entries(), p);
      }
      matches = equalBytes(acc.digest(secrets), view(r.digest)) && (r.acc === null || equalBytes(acc.bytes(), view(r.acc)));
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    throw new GatewayError('INTERNAL', `door ${doorId}: the stored recipe of set ${seq} is unreadable (${err.code}: ${err.message})`);
  }
  if (!matches) {
    throw new GatewayError('INTERNAL', `door ${doorId}: set ${seq} made from its recipe does not match its ${r.form === 'entries' ? 'entry ' : ''}digest`);
  }
  return body;
}

/**
 * The entry accumulator a stored set was signed with (migration 15), when it is in the entry form
 * and of lock generation `generation` (another generation's accumulator is under another key).
 */
function storedEntryAcc(db: Db, doorId: number, seq: number, generation: number): Uint8Array | null {
  const r = one<{ acc: Buffer | null; gen: number | null }>(db, "SELECT entry_acc AS acc, lock_generation AS gen FROM door_sets WHERE door_id = ? AND seq = ? AND digest_form = 'entries'", doorId, seq);
  return r?.acc && r.gen === generation ? view(r.acc) : null;
}

/**
 * The form in which a lock that receipted set `seq` with `digest` enforces it: `entries` when the
 * set was compiled in the entry form and the digest is its entry digest; `body` when the digest is
 * SHA-256 of its body (a body-form set, or an entry-form set whose lock took the body-form full set
 * a relay bundle carries as a fallback, `fullPlain`); null when the set is no longer kept or the
 * digest is neither. The body is hashed only when the stored digest does not match.
 */
export function receiptedDigestForm(db: Db, doorId: number, seq: number, digest: Uint8Array, o: CompilerOptions = {}): DigestForm | null {
  const r = one<{ digest: Buffer; form: DigestForm }>(db, 'SELECT digest, digest_form AS form FROM door_sets WHERE door_id = ? AND seq = ?', doorId, seq);
  if (!r) return null;
  if (equalBytes(view(r.digest), digest)) return r.form;
  if (r.form !== 'entries') return null;
  const body = bodyOf(db, doorId, seq, o);
  return body && equalBytes(providerOf(o).sha256(body), digest) ? 'body' : null;
}

/** Exported for tests and tools: the body of a compiled set, however it is stored. */
export function compiledBody(db: Db, doorId: number, seq: number, o: CompilerOptions = {}): Uint8Array | null {
  return bodyOf(db, doorId, seq, o);
}

/**
 * Store the body of a set whose lock just receipted it: it becomes the base of the next patch
 * and delta, and the set its recipe was based on can then be pruned.
 */
function materializeBody(db: Db, doorId: number, seq: number, o: CompilerOptions): void {
  const r = one<{ recipe: number }>(db, 'SELECT recipe IS NOT NULL AND body IS NULL AS recipe FROM door_sets WHERE door_id = ? AND seq = ?', doorId, seq);
  if (!r?.recipe) return;
  const body = bodyOf(db, doorId, seq, o);
  if (body) run(db, 'UPDATE door_sets SET body = ?, recipe = NULL WHERE door_id = ? AND seq = ?', Buffer.from(body.buffer, body.byteOffset, body.byteLength), doorId, seq);
}

/** The door's last compiled body and what it reflects (migration 6), the base of a patch. */
interface SetBasis {
  body: Uint8Array;
  touchMark: number | null;
  generation: number | null;
  compiledMin: number | null;
}

function setBasis(db: Db, doorId: number, seq: number, o: CompilerOptions): SetBasis | null {
  const r = one<{ mark: number | null; gen: number | null; min: number | null }>(
    db,
    'SELECT touch_mark AS mark, lock_generation AS gen, compiled_min AS min FROM door_sets WHERE door_id = ? AND seq = ?',
    doorId,
    seq,
  );
  const body = r ? bodyOf(db, doorId, seq, o) : null;
  return r && body ? { body, touchMark: r.mark, generation: r.gen, compiledMin: r.min } : null;
}

/** Past this many changed holders a full recompile is about as fast as patching, and bounded. */
const MAX_PATCH_HOLDERS = 2048;

const lastTouch = (db: Db): number => one<{ m: number }>(db, 'SELECT coalesce(max(id), 0) AS m FROM access_touches')!.m;

// Holders whose window (own grant, or a guest's cut to the host's grant) ended in (from, to]:
// compile input judges windows against "now", so these differ from the base without any touch.
const ENDED_SQL = `SELECT p.holder_ref FROM grants g JOIN people p ON p.id = g.person_id WHERE g.end_min > ? AND g.end_min <= ?
  UNION SELECT p.holder_ref FROM grants hg JOIN grants g ON g.shared_by = hg.person_id AND g.key_id = hg.key_id JOIN people p ON p.id = g.person_id
   WHERE hg.end_min > ? AND hg.end_min <= ?`;

/**
 * The holders to re-derive for a patch of `basis`, or null when the door must recompile in
 * full: the basis predates migration 6 or another lock generation (new index key, every key
 * changes), the clock went back, a change was not one person's (touch 0), or too many changed.
 */
function touchedSince(db: Db, basis: SetBasis, generation: number, nowMin: number): Set<number> | null {
  if (basis.touchMark === null || basis.generation !== generation || basis.compiledMin === null || nowMin < basis.compiledMin) return null;
  const touched = new Set<number>();
  for (const [ref] of allRaw<[number]>(db, 'SELECT DISTINCT holder_ref FROM access_touches WHERE id > ? LIMIT ?', basis.touchMark, MAX_PATCH_HOLDERS + 1)) {
    if (ref === 0) return null;
    touched.add(ref);
  }
  if (nowMin > basis.compiledMin) {
    for (const [ref] of allRaw<[number]>(db, ENDED_SQL, basis.compiledMin, nowMin, basis.compiledMin, nowMin)) touched.add(ref);
  }
  return touched.size > MAX_PATCH_HOLDERS ? null : touched;
}

/** Credential count of a body, from its header (PROTOCOL.md §4.2: four u16 counts at 8..15). */
function credentialCount(body: Uint8Array): number {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return v.getUint16(8) + v.getUint16(10) + v.getUint16(12) + v.getUint16(14);
}

/** Per-compile-run cache of what every door of a property shares. */
interface RunCache {
  keys: Map<number, { secrets: SetSecrets; issuer: PropertyIssuer }>;
  /** The synchronous path's in-process keys (storedKey), made once per property and run. */
  stored?: Map<number, SigningKey>;
  /**
   * Full compile input of a door, when the run loaded the whole property at once, with the
   * last access touch the input reflects (the run commits in chunks, so later chunks must not
   * claim touches committed after the load).
   */
  specsFor?: (doorId: number) => { specs: CredentialSpec[]; mark: number; boundary: number | null } | undefined;
}

function propertyKeys(db: Db, propertyId: number, o: CompilerOptions, cache: RunCache): { secrets: SetSecrets; issuer: PropertyIssuer } {
  let k = cache.keys.get(propertyId);
  if (!k) {
    k = { secrets: propertySecrets(db, propertyId, o), issuer: activeIssuer(db, propertyId, o) };
    cache.keys.set(propertyId, k);
  }
  return k;
}

/**
 * Compile one door into its next sequence. Returns null when the door's lock is not
 * commissioned yet (its changes stay pending until it is). `specs` may be passed in when the
 * caller already loaded them (a whole-property compile).
 *
 * When the door's last compiled body can vouch for everything but a few holders (migration
 * 6: access_touches), only those holders' credentials are loaded and hashed and the body is
 * patched (patchSet), which gives byte for byte the body a full recompile gives
 * (test/gateway/compiler/incremental.test.ts). The delta from that body comes with the patch.
 */
export function compileDoor(db: Db, doorId: number, o: CompilerOptions & { throughChangeId?: number; specs?: CredentialSpec[] } = {}): CompiledDoorSet | null {
  return relaxedCommit(db, () => compileOne(db, doorId, o, { keys: new Map() }));
}

/**
 * A door's next set, compiled and sealed, waiting for the issuer's signature (exactly one
 * message: the delta when one reaches the lock, else the full set). Nothing is written until
 * `finish`, so a signer that fails or never answers leaves the door as it was: still pending.
 */
interface PreparedDoor {
  doorId: number;
  propertyId: number;
  /** The issuer key that must sign (issuerSigner; the synchronous path: storedKey). */
  issuer: PropertyIssuer;
  message: PreparedMessage<IssuedSet>;
  /** False when the door's sequences, lock or digest form changed since the set was prepared (another compile, a receipt, a refusal of the entry digest). */
  stillCurrent(db: Db): boolean;
  /** Store the signed set (in the caller's transaction) and describe it. */
  finish(signature: Uint8Array): CompiledDoorSet;
}

function compileOne(db: Db, doorId: number, o: CompilerOptions & { throughChangeId?: number; specs?: CredentialSpec[] }, cache: RunCache): CompiledDoorSet | null {
  const p = providerOf(o);
  return tx(db, () => {
    const prepared = prepareOne(db, doorId, o, cache);
    if (!prepared) return null;
    const stored = (cache.stored ??= new Map());
    let key = stored.get(prepared.propertyId);
    if (!key) {
      key = storedKey(prepared.issuer, o);
      stored.set(prepared.propertyId, key);
    }
    return prepared.finish(p.ed25519Sign(key.seed, prepared.message.toBeSigned));
  });
}

function prepareOne(db: Db, doorId: number, o: CompilerOptions & { throughChangeId?: number; specs?: CredentialSpec[] }, cache: RunCache): PreparedDoor | null {
  const p = providerOf(o);
  // One clock reading per compile: the windows judged, issuedAt and the recorded compiled_min
  // must agree, or the next patch could miss a window that ended in between.
  const t = nowOf(o.ctx ?? {});
  const ctx: Ctx = { ...(o.ctx ?? {}), now: () => t };
  // Reads and writes in one transaction: the touch mark recorded must match the data read.
  return tx(db, () => {
    const identity = lockIdentity(db, doorId);
    if (!identity) return null;
    const through =
      o.throughChangeId ?? one<{ h: number }>(db, 'SELECT journal_head AS h FROM door_sync_state WHERE door_id = ?', doorId)?.h ?? 0;
    const { secrets, issuer } = propertyKeys(db, identity.propertyId, o, cache);
    const state = doorSeqs(db, doorId);
    const seq = state.compiledSeq + 1;
    const nowMin = minuteOf(t);
    let mark = lastTouch(db);
    const indexKey = indexKeyOf(identity.contentKey, identity.lockId);
    const patchFrom = (baseSeq: number): { seq: number; set: CredentialSet; touched: Set<number> } | null => {
      const basis = setBasis(db, doorId, baseSeq, o);
      const touched = basis ? touchedSince(db, basis, identity.generation, nowMin) : null;
      return basis && touched ? { seq: baseSeq, set: CredentialSet.fromTrustedBody(basis.body), touched } : null;
    };
    // Entries form (PROTOCOL.md §4.7) unless the lock is known to refuse it.
    const digestForm = doorDigestForm(db, doorId);
    const entryKey = digestForm === 'entries' ? entryKeyOf(identity.contentKey, identity.lockId) : null;
    // Patch from the set the door enforces when possible: the same patch then yields the new
    // body and the delta's changes (everyone not touched since that set is unchanged in it).
    // Otherwise patch from the last compiled set, or compile in full.
    const fromEnforced = o.specs === undefined && state.enforcedSeq > 0 ? patchFrom(state.enforcedSeq) : null;
    const patchBase = fromEnforced ?? (o.specs === undefined && state.compiledSeq > 0 && state.compiledSeq !== state.enforcedSeq ? patchFrom(state.compiledSeq) : null);
    // A door that cannot be patched takes the property-wide input when the run loaded one.
    const loaded = patchBase || o.specs ? undefined : cache.specsFor?.(doorId);
    if (loaded) mark = loaded.mark;
    const given = patchBase ? undefined : (o.specs ?? loaded?.specs);

    let body: Uint8Array;
    let changes: DeltaChanges | null = null;
    let entries: Entry[] | null = null;
    let recipe: Uint8Array | null = null;
    // The new set's entry digest, carried from its patch base's accumulator by the patch's changes:
    // one SHA-256 block per changed entry, where accumulating the set costs one per credential.
    let named: { digest: Uint8Array; entryAcc: Uint8Array } | null = null;
    // The enforced set's accumulator, read once: a delta from it carries it forward.
    const enforcedAcc = entryKey && state.enforcedSeq > 0 ? storedEntryAcc(db, doorId, state.enforcedSeq, identity.generation) : null;
    if (patchBase) {
      const replacement = entriesFromSpecs(credentialsForHolders(db, doorId, [...patchBase.touched], ctx), indexKey, p);
      const patched = patchSet(patchBase.set, patchBase.touched, replacement, secrets);
      body = patched.body;
      const baseAcc = !entryKey ? null : patchBase.seq === state.enforcedSeq ? enforcedAcc : storedEntryAcc(db, doorId, patchBase.seq, identity.generation);
      if (entryKey && baseAcc) {
        const acc = EntryAccumulator.fromBytes(entryKey, baseAcc, p);
        applyChangesToAccumulator(acc, patchBase.set, patched.changes);
        named = { digest: acc.digest(secrets), entryAcc: acc.bytes() };
      }
      if (fromEnforced) {
        changes = patched.changes;
        recipe = encodeRecipe(patchBase.touched, replacement);
      }
    } else {
      entries = entriesFromSpecs(given ?? credentialsForDoor(db, doorId, ctx), indexKey, p);
      body = packSet(entries, secrets);
      // Unless the delta carries the enforced set's accumulator forward (below), one block per
      // credential, over the entries at hand (the protocol would parse them out of the body first).
      if (entryKey && !enforcedAcc) {
        const acc = EntryAccumulator.of(entryKey, entries, p);
        named = { digest: acc.digest(secrets), entryAcc: acc.bytes() };
      }
    }

    const common = { issuer, lockId: identity.lockId, contentKey: identity.contentKey, seq, issuedAt: Math.floor(t / 1000), digestForm, ...(named ?? {}), provider: p };
    let delta: PreparedMessage<IssuedSet> | null = null;
    if (state.enforcedSeq > 0) {
      const base = fromEnforced ? fromEnforced.set : (() => {
        const b = bodyOf(db, doorId, state.enforcedSeq, o);
        return b ? CredentialSet.fromTrustedBody(b) : null;
      })();
      if (base) {
        // Without a patch from the base: diff the entries, or (rare: patched from a later set
        // while the base is not patchable) the two bodies.
        if (!changes && entries) changes = diffEntries(base, entries, secrets);
        // Not named by a patch: the delta's changes carry the base's accumulator, when it has one.
        const baseAcc = named ? null : enforcedAcc;
        delta = prepareDeltaBody({ ...common, body, base: { seq: state.enforcedSeq, set: base, ...(baseAcc ? { entryAcc: baseAcc } : {}) }, ...(changes ? { changes } : {}) });
      }
    }
    // The full set is sealed and signed now only when no delta reaches the door's lock: a lock
    // at the delta base never needs it unless the delta fails, and a big door's full set costs
    // ~2.5 ms (SHA-512 twice over half a megabyte for Ed25519, the AEAD, the CBOR copy) per
    // compile. syncPayload makes it from the stored body when a lock does need it.
    const message = delta ?? prepareFullSetBody({ ...common, body });
    const finish = (signature: Uint8Array): CompiledDoorSet => {
      const signed = message.complete(signature);
      const digest = signed.digest;
      const full = delta ? null : signed;
      const deltaBytes = delta ? signed.bytes : null;
      writeCompiledSet(
        db,
        {
          doorId,
          seq,
          digest,
          digestForm: signed.digestForm,
          entryAcc: signed.entryAcc,
          payload: full ? full.bytes : null,
          throughChangeId: through,
          // A patch of the enforced set with a delta from it is stored as its recipe.
          ...(recipe && delta ? { body: null, recipe } : { body }),
          delta: deltaBytes ? { bytes: deltaBytes, baseSeq: state.enforcedSeq } : null,
          touchMark: mark,
          lockGeneration: identity.generation,
          // Specs a caller loaded were judged at a time this compile cannot vouch for.
          compiledMin: o.specs ? null : nowMin,
        },
        state.enforcedSeq,
        t,
      );
      // The set carries one window per credential: when one of them ends and its holder has a
      // later one, the door is due again (model/window-boundaries.ts).
      recordWindowBoundary(db, doorId, ctx, loaded?.boundary);
      return {
        doorId,
        lockId: toHex(identity.lockId),
        seq,
        digest,
        digestForm: signed.digestForm,
        credentials: entries ? entries.length : credentialCount(body),
        bodyBytes: body.length,
        fullBytes: full ? full.bytes : null,
        delta: deltaBytes ? { bytes: deltaBytes, baseSeq: state.enforcedSeq } : null,
      };
    };
    const stillCurrent = (now: Db): boolean => {
      const s = doorSeqs(now, doorId);
      return (
        s.compiledSeq === state.compiledSeq &&
        s.enforcedSeq === state.enforcedSeq &&
        lockIdentity(now, doorId)?.generation === identity.generation &&
        // A refusal of the entry digest learned while the set was being signed (or a forgotten one).
        doorDigestForm(now, doorId) === digestForm
      );
    };
    return { doorId, propertyId: identity.propertyId, issuer, message, stillCurrent, finish };
  });
}

/** Dirty doors of one property at or above which a full compile input is loaded in one pass. */
const PROPERTY_PASS_MIN_DOORS = 64;

/**
 * A compile run commits at least this often: another writer (a CLI revoke, the API) waits at
 * most about this long for the write lock, while a 10,000-door run needs only ~50 commits.
 */
const COMMIT_EVERY_MS = 50;

/**
 * Compile every door with pending changes (optionally of one property).
 *
 * The returned bytes are for inspection (sizes, tests): they may not be on disk yet. Anything
 * handed to a lock or a phone comes from syncPayload, which makes it durable first.
 */
export function compileDirty(db: Db, opts: CompilerOptions & { propertyId?: number } = {}): CompiledDoorSet[] {
  const { o, order, cache, restore } = planRun(db, opts);
  const results = new Array<CompiledDoorSet | null>(order.length).fill(null);
  try {
    // Committed in chunks without an fsync (store/db.ts relaxedCommit): sets are derived data,
    // made durable before they leave the gateway (syncPayload). Chunks, not one transaction:
    // the write lock is never held for a whole property (another process's revoke would wait
    // seconds and could time out), and a door that fails keeps the chunks before it.
    let next = 0;
    do {
      relaxedCommit(db, () => {
        const started = performance.now();
        while (next < order.length) {
          const { d, i } = order[next++]!;
          results[i] = compileOne(db, d.doorId, { ...o, throughChangeId: d.throughChangeId }, cache);
          if (next < order.length && performance.now() - started >= COMMIT_EVERY_MS) return;
        }
        pruneTouches(db);
      });
    } while (next < order.length);
  } finally {
    restore();
  }
  return results.filter((r): r is CompiledDoorSet => r !== null);
}

/** What every door of a compile run shares: one clock, the dirty doors in compile order, caches. */
function planRun(db: Db, opts: CompilerOptions & { propertyId?: number; doorIds?: readonly number[] }) {
  // One clock for the run: a property-wide input loaded now must be judged at the minute each
  // door records as compiled_min.
  const t = nowOf(opts.ctx ?? {});
  const o = { ...opts, ctx: { ...(opts.ctx ?? {}), now: () => t } };
  const only = opts.doorIds ? new Set(opts.doorIds) : null;
  // Doors with a window that just ended and a later one for the same person compile now too.
  journalDueWindows(db, { ctx: o.ctx, ...(o.propertyId === undefined ? {} : { propertyId: o.propertyId }) });
  const dirty = dirtyDoorHeads(db, o.propertyId === undefined ? {} : { propertyId: o.propertyId }).filter((d) => !only || only.has(d.doorId));
  const perProperty = new Map<number, number>();
  for (const d of dirty) perProperty.set(d.propertyId, (perProperty.get(d.propertyId) ?? 0) + 1);
  // Many doors of a property at once (first compile, a key's doors changed): one pass over the
  // property's grants (credentialsForProperty), loaded only if some door cannot be patched.
  const loaded = new Map<number, { specs: Map<number, CredentialSpec[]>; mark: number; boundaries: Map<number, number | null> }>();
  const doorProperty = new Map(dirty.map((d) => [d.doorId, d.propertyId]));
  const cache: RunCache = {
    keys: new Map(),
    specsFor: (doorId) => {
      const pid = doorProperty.get(doorId);
      if (pid === undefined || (perProperty.get(pid) ?? 0) < PROPERTY_PASS_MIN_DOORS) return undefined;
      let m = loaded.get(pid);
      if (!m) {
        // Read in one transaction with the input: the input reflects exactly these touches.
        const boundaries = new Map<number, number | null>();
        m = { mark: lastTouch(db), specs: credentialsForProperty(db, pid, o.ctx, boundaries), boundaries };
        loaded.set(pid, m);
      }
      const specs = m.specs.get(doorId);
      return specs && { specs, mark: m.mark, boundary: m.boundaries.get(doorId) ?? null };
    },
  };
  // A whole-property run reads and writes tens of megabytes of pages (journal rows, sets: the
  // 10,000-unit bench store is 50 MB), more than the connection's default 16 MB page cache.
  const big = dirty.length >= PROPERTY_PASS_MIN_DOORS;
  const cacheSize = big ? (db.pragma('cache_size', { simple: true }) as number) : 0;
  if (big) db.pragma('cache_size = -65536');
  // Doors with few pending changes (few holders, as a rule) go first in a big run, and the
  // results are returned in journal order: packing a 45,000-credential lobby door before the
  // packer is JIT-compiled cost ~200 ms per door, against ~30 ms once warm (measured).
  const order = big ? dirty.map((d, i) => ({ d, i })).sort((a, b) => a.d.pending - b.d.pending || a.i - b.i) : dirty.map((d, i) => ({ d, i }));
  const restore = (): void => {
    if (big) db.pragma(`cache_size = ${cacheSize}`);
  };
  return { o, order, cache, restore };
}

export interface AsyncCompileOptions extends CompilerOptions {
  propertyId?: number;
  /** Only these doors (of those with pending changes): a sync of one door compiles just it. */
  doorIds?: readonly number[];
  /** Doors whose signatures are requested at once (default 64): the latency is paid once per batch. */
  batch?: number;
}

export interface AsyncCompileResult {
  compiled: CompiledDoorSet[];
  /**
   * Doors whose signature failed (SIGNER_FAILED; SIGNER_REQUIRED when no signer holds the key):
   * nothing of theirs was written, they stay pending for the next run.
   */
  failed: { doorId: number; error: ProtocolError | GatewayError }[];
}

const SIGN_BATCH = 64;

/**
 * compileDirty with an issuer signer that may be asynchronous. A batch of doors is compiled
 * and sealed in one transaction, the batch's signatures are requested concurrently (so a 5 ms
 * KMS costs ~5 ms per batch, not per door), and the signed sets are stored in a second
 * transaction. A door whose signature fails or times out is reported in `failed` and left
 * untouched: it stays in the journal, so the next compile run (the sync engine's next pass) does
 * it again. A door that changed meanwhile (another compile, a receipt, a refusal of the entry
 * digest) is not written either; it is prepared again in this run while it is still pending (at
 * most STALE_ROUNDS times), so a set named in a form the lock is now known to refuse is never stored.
 */
export async function compileDirtyAsync(db: Db, opts: AsyncCompileOptions = {}): Promise<AsyncCompileResult> {
  const compiled: CompiledDoorSet[] = [];
  const failed: AsyncCompileResult['failed'] = [];
  let doorIds = opts.doorIds;
  for (let round = 0; round <= STALE_ROUNDS; round++) {
    const r = await compileDirtyAsyncOnce(db, { ...opts, ...(doorIds ? { doorIds } : {}) });
    compiled.push(...r.compiled);
    failed.push(...r.failed);
    if (r.stale.length === 0) break;
    doorIds = r.stale;
  }
  return { compiled, failed };
}

/** Rounds compileDirtyAsync prepares a door again that changed while its signature was out. */
const STALE_ROUNDS = 2;

async function compileDirtyAsyncOnce(db: Db, opts: AsyncCompileOptions): Promise<AsyncCompileResult & { stale: number[] }> {
  const { o, order, cache, restore } = planRun(db, opts);
  const batchSize = Math.max(1, opts.batch ?? SIGN_BATCH);
  const signers = new Map<number, IssuerSigner>();
  const sign = async (d: PreparedDoor): Promise<Uint8Array> => {
    let signer = signers.get(d.propertyId);
    if (!signer) {
      signer = issuerSigner(d.issuer, o);
      signers.set(d.propertyId, signer);
    }
    return signatureBy(signer, d.message.toBeSigned, `door ${d.doorId}`, o);
  };
  const results = new Array<CompiledDoorSet | null>(order.length).fill(null);
  const failed: AsyncCompileResult['failed'] = [];
  const stale: number[] = [];
  try {
    let next = 0;
    while (next < order.length) {
      const batch: { i: number; door: PreparedDoor }[] = [];
      relaxedCommit(db, () => {
        const started = performance.now();
        while (next < order.length && batch.length < batchSize) {
          const { d, i } = order[next++]!;
          const door = prepareOne(db, d.doorId, { ...o, throughChangeId: d.throughChangeId }, cache);
          if (door) batch.push({ i, door });
          if (performance.now() - started >= COMMIT_EVERY_MS) return;
        }
      });
      const signatures = await Promise.allSettled(batch.map(({ door }) => sign(door)));
      relaxedCommit(db, () => {
        batch.forEach(({ i, door }, k) => {
          const s = signatures[k]!;
          if (s.status === 'rejected') {
            const e = s.reason as unknown;
            // SIGNER_REQUIRED (no signer for a key the store does not hold) fails the door the same way.
            failed.push({ doorId: door.doorId, error: e instanceof ProtocolError || e instanceof GatewayError ? e : new ProtocolError('SIGNER_FAILED', `door ${door.doorId}: ${String(e)}`, { cause: e }) });
          } else if (door.stillCurrent(db)) {
            results[i] = door.finish(s.value);
          } else {
            stale.push(door.doorId);
          }
        });
      });
    }
    relaxedCommit(db, () => pruneTouches(db));
  } finally {
    restore();
  }
  return { compiled: results.filter((r): r is CompiledDoorSet => r !== null), failed, stale };
}

/**
 * Compile one door's pending changes the way the options sign: through the property's signer
 * (compileDirtyAsync) when one is configured, else in process (compileDoor). A signature that
 * fails is thrown as SIGNER_FAILED, with nothing of the door's written.
 */
export async function compileDoorNow(db: Db, doorId: number, o: CompilerOptions = {}): Promise<void> {
  if (!o.signerFor) {
    compileDoor(db, doorId, o);
    return;
  }
  const { failed } = await compileDirtyAsync(db, { ...o, doorIds: [doorId] });
  const f = failed[0];
  if (f) throw f.error instanceof GatewayError ? f.error : new GatewayError('SIGNER_FAILED', f.error.message, { protocolCode: f.error.code });
}

/**
 * Touches every door's last set already reflects are dropped, once there are a million of
 * them: the check is two rowid lookups, but the prune scans every door's set and deletes in
 * bulk, so it runs rarely and stays off the per-change path (building the 10,000-unit bench
 * property leaves ~91,000).
 */
const PRUNE_TOUCHES_AT = 1_000_000;

function pruneTouches(db: Db): void {
  // Two subqueries: SQLite answers a lone min() or max() from the rowid b-tree, but scans the
  // table for both in one SELECT (~3 ms per compile with the 10,000-unit bench store).
  const r = one<{ lo: number | null; hi: number | null }>(db, 'SELECT (SELECT min(id) FROM access_touches) AS lo, (SELECT max(id) FROM access_touches) AS hi')!;
  if (r.lo === null || r.hi === null || r.hi - r.lo < PRUNE_TOUCHES_AT) return;
  run(
    db,
    `DELETE FROM access_touches WHERE id <= (SELECT min(ds.touch_mark) FROM door_sync_state s JOIN door_sets ds ON ds.door_id = s.door_id AND ds.seq = s.compiled_seq)`,
  );
}

// ---------------------------------------------------------------- what to send, what came back

export interface SyncPayload {
  kind: 'full' | 'delta';
  seq: number;
  baseSeq: number | null;
  bytes: Uint8Array;
  /** How the set names itself (PROTOCOL.md §4.6, §4.7): firmware from before the entry digest refuses `entries` as MALFORMED. */
  digestForm: DigestForm;
}

/**
 * What to send a lock that reports sequence `lockSeq`: the delta when it was compiled from
 * exactly that sequence, otherwise the full set. Null when the lock is up to date.
 *
 * Everything returned is durable first (durableBarrier): compiles commit without an fsync, and
 * a set that reached a lock must survive a power cut. A full set the compile left unsigned
 * (a delta covered the lock at its base) is sealed, signed and stored here, once.
 */
export async function syncPayload(db: Db, doorId: number, lockSeq: number, opts: { forceFull?: boolean } & CompilerOptions = {}): Promise<SyncPayload | null> {
  const state = doorSeqs(db, doorId);
  if (lockSeq >= state.compiledSeq || state.compiledSeq === 0) return null;
  const r = one<{ payload: Buffer | null; delta: Buffer | null; base: number | null; digestForm: DigestForm }>(
    db,
    'SELECT payload, delta, delta_base_seq AS base, digest_form AS digestForm FROM door_sets WHERE door_id = ? AND seq = ?',
    doorId,
    state.compiledSeq,
  );
  if (!r) throw new GatewayError('INTERNAL', `door ${doorId}: compiled set ${state.compiledSeq} is missing`);
  if (!opts.forceFull && r.delta && r.base === lockSeq) {
    durableBarrier(db);
    return { kind: 'delta', seq: state.compiledSeq, baseSeq: r.base, bytes: Uint8Array.from(r.delta), digestForm: r.digestForm };
  }
  if (r.payload) {
    durableBarrier(db);
    return { kind: 'full', seq: state.compiledSeq, baseSeq: null, bytes: Uint8Array.from(r.payload), digestForm: r.digestForm };
  }
  const { issuer, message } = fullSetOf(db, doorId, state.compiledSeq, opts);
  const made = (await signAs(issuer, message, `full set ${state.compiledSeq} of door ${doorId}`, opts)).bytes;
  // Stored only if no other caller stored one while this was being signed (the two differ in
  // their nonce; every caller then hands out the same one).
  let stored: Buffer | null | undefined;
  durableBarrier(db, () => {
    run(db, 'UPDATE door_sets SET payload = ? WHERE door_id = ? AND seq = ? AND payload IS NULL', Buffer.from(made), doorId, state.compiledSeq);
    stored = one<{ payload: Buffer | null }>(db, 'SELECT payload FROM door_sets WHERE door_id = ? AND seq = ?', doorId, state.compiledSeq)?.payload;
  });
  return { kind: 'full', seq: state.compiledSeq, baseSeq: null, bytes: stored ? Uint8Array.from(stored) : made, digestForm: r.digestForm };
}

/** The form the door's newest compiled set is named in (migration 15), or null when none is compiled. */
export function compiledDigestForm(db: Db, doorId: number): DigestForm | null {
  return one<{ form: DigestForm }>(db, 'SELECT ds.digest_form AS form FROM door_sync_state s JOIN door_sets ds ON ds.door_id = s.door_id AND ds.seq = s.compiled_seq WHERE s.door_id = ?', doorId)?.form ?? null;
}

/**
 * Compile the door again when its newest set, which its lock has not taken yet, is named in
 * another form than the lock is now known to take (PROTOCOL.md §4.7): it was found to refuse the
 * entry digest, or an updated firmware is to be asked again. The change is journaled with `why`.
 */
export async function recompileForDigestForm(db: Db, doorId: number, why: string, o: CompilerOptions = {}): Promise<boolean> {
  const s = doorSeqs(db, doorId);
  if (s.enforcedSeq >= s.compiledSeq || compiledDigestForm(db, doorId) === doorDigestForm(db, doorId)) return false;
  journalDoors(db, [doorId], why, nowOf(o.ctx ?? {}));
  await compileDoorNow(db, doorId, o);
  return true;
}

/**
 * The door's newest compiled set, when it is named by its entry digest, as a full set named by
 * SHA-256 of its body instead (PROTOCOL.md §4.6): the fallback a relay bundle carries for a lock
 * not known to take the entry digest (`fullPlain`; firmware from before it refuses the entry form
 * as MALFORMED, and a phone cannot come back to ask). Signed now through the property's signer,
 * not stored: the lock's receipt then carries the body digest, which acceptReceipt takes for
 * this sequence. Null when the newest set is in the body form already, or none is compiled.
 */
export async function fullSetPlain(db: Db, doorId: number, o: CompilerOptions = {}): Promise<Uint8Array | null> {
  const { compiledSeq } = doorSeqs(db, doorId);
  if (compiledSeq === 0 || compiledDigestForm(db, doorId) !== 'entries') return null;
  const { issuer, message } = fullSetOf(db, doorId, compiledSeq, o, 'body');
  return (await signAs(issuer, message, `full set ${compiledSeq} of door ${doorId} (body digest)`, o)).bytes;
}

/**
 * The stored body of a compiled set, sealed as the full set it stands for, ready for the issuer's
 * signature; `asBody`: named by SHA-256 of its body whatever form it was compiled in (fullSetPlain).
 */
function fullSetOf(db: Db, doorId: number, seq: number, o: CompilerOptions, asBody?: 'body'): { issuer: PropertyIssuer; message: PreparedMessage<IssuedSet> } {
  const identity = lockIdentity(db, doorId);
  const row = one<{ digest: Buffer; form: DigestForm; acc: Buffer | null; createdAt: number; gen: number | null }>(
    db,
    'SELECT digest, digest_form AS form, entry_acc AS acc, created_at AS createdAt, lock_generation AS gen FROM door_sets WHERE door_id = ? AND seq = ?',
    doorId,
    seq,
  );
  const body = row ? bodyOf(db, doorId, seq, o) : null;
  // A set compiled for another lock generation was sealed for another content key: never send it.
  if (!identity || !row || !body || (row.gen !== null && row.gen !== identity.generation)) {
    throw new GatewayError('INTERNAL', `door ${doorId}: set ${seq} cannot be issued as a full set (no body for the current lock)`);
  }
  const issuer = activeIssuer(db, identity.propertyId, o);
  const message = prepareFullSetBody({
    issuer,
    lockId: identity.lockId,
    contentKey: identity.contentKey,
    seq,
    issuedAt: Math.floor(row.createdAt / 1000),
    body,
    // The form and digest the set was compiled under: the delta of the same sequence names the
    // same set the same way, and the lock's receipt must match what the door_sets row says.
    ...(asBody
      ? { digestForm: 'body' as const }
      : { digestForm: row.form, digest: view(row.digest), ...(row.acc ? { entryAcc: view(row.acc) } : {}) }),
    provider: providerOf(o),
  });
  return { issuer, message };
}

/** Verify a receipt from the door's lock and record what the door now enforces. */
export function acceptReceipt(db: Db, doorId: number, receiptBytes: Uint8Array, o: CompilerOptions = {}): { receipt: Receipt; advanced: boolean; state: DoorSyncState } {
  const identity = lockIdentity(db, doorId);
  if (!identity) throw new GatewayError('LOCK_NOT_COMMISSIONED', `door ${doorId} has no commissioned lock`);
  const receipt = openReceipt(receiptBytes, { lockId: identity.lockId, devicePublicKey: identity.signingPublic, provider: providerOf(o) });
  confirmCommissioning(db, doorId, o);
  if (receipt.seq === 0) return { receipt, advanced: false, state: doorSyncState(db, doorId) };
  const r = tx(db, () => {
    const rec = recordReceipt(db, {
      doorId,
      seq: receipt.seq,
      digest: receipt.digest,
      at: receipt.time * 1000,
      // An entry-form set whose lock took its body-form full set (fullSetPlain) instead.
      bodyDigest: () => {
        const body = bodyOf(db, doorId, receipt.seq, o);
        return body ? providerOf(o).sha256(body) : null;
      },
    });
    if (rec.advanced) materializeBody(db, doorId, receipt.seq, o);
    return rec;
  });
  return { receipt, ...r };
}

const KIND_NAME = new Map<number, LockEvent['credentialKind']>(Object.entries(CredentialKind).map(([n, v]) => [v, n as LockEvent['credentialKind']]));

/**
 * Verify an uploaded batch of event records against the chain the gateway holds for this lock
 * (and, when given, the head a receipt signed), then store the access events as activity.
 * A batch that does not continue the verified chain is refused whole.
 */
export function acceptEvents(db: Db, doorId: number, batch: Uint8Array | readonly EventRecord[], head: { index: number; hash: Uint8Array }, o: CompilerOptions = {}): { inserted: number; verifiedThrough: number } {
  const identity = lockIdentity(db, doorId);
  if (!identity) throw new GatewayError('LOCK_NOT_COMMISSIONED', `door ${doorId} has no commissioned lock`);
  const events = batch instanceof Uint8Array ? decodeEvents(batch) : [...batch];
  // The hash chain alone authenticates nothing (anyone can chain a record); only the head a
  // receipt signed does. So accept exactly the records from the verified prefix up to that head
  // and nothing after it: later records wait for the next signed head. An old (replayed)
  // receipt whose head is behind what we verified adds nothing.
  const fresh = events.filter((e) => e.index >= identity.eventsNextIndex && e.index <= head.index);
  if (fresh.length === 0 || head.index < identity.eventsNextIndex) return { inserted: 0, verifiedThrough: identity.eventsNextIndex - 1 };
  const chain = verifyEventChain(identity.eventsChain, identity.eventsNextIndex, fresh, head, providerOf(o));
  return tx(db, () => {
    const access = fresh
      .filter((e) => e.type === 'granted' || e.type === 'denied')
      .map<LockEvent>((e) => ({
        at: e.time * 1000,
        holder: e.holder === 0 ? null : e.holder,
        credentialKind: KIND_NAME.get(e.kind) ?? null,
        result: e.type === 'granted' ? 'granted' : 'denied',
        ...(e.type === 'denied' ? { reason: e.reason } : {}),
        lockSeq: e.index,
      }));
    const { inserted } = recordLockEvents(db, doorId, access);
    // The lock logs each trust-anchor update it applies (detail = its rotation counter), and
    // these records are covered by a signed head: the proof a phone relaying the updates
    // cannot forge. Updates up to that counter are applied (or superseded: the lock refuses
    // any counter not above its own).
    const rotated = fresh.filter((e) => e.type === 'anchorsRotated');
    if (rotated.length > 0) {
      const counter = Math.max(...rotated.map((e) => e.detail));
      run(db, 'UPDATE anchor_updates SET applied_at = ? WHERE door_id = ? AND seq <= ? AND applied_at IS NULL', nowOf(o.ctx ?? {}), doorId, counter);
    }
    const last = fresh[fresh.length - 1]!;
    run(db, 'UPDATE lock_identities SET events_next_index = ?, events_chain = ? WHERE door_id = ?', last.index + 1, Buffer.from(chain), doorId);
    return { inserted, verifiedThrough: last.index };
  });
}

/** kid (hex) of a lock's device signing key, as its receipts name it. */
export function deviceKid(identity: LockDeviceKeys): string {
  return toHex(keyId(identity.signingPublic));
}

/** True if `a` and `b` name the same device keys (re-commissioning the same hardware). */
export function sameDevice(a: LockDeviceKeys, b: LockDeviceKeys): boolean {
  return equalBytes(a.signingPublic, b.signingPublic) && equalBytes(a.encryptionPublic, b.encryptionPublic);
}
