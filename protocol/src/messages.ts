/**
 * Every signed latchkit message: issue (backend or lock) and open (the receiving side).
 *
 * Each `open*` function checks, in this order, and stops at the first failure
 * (PROTOCOL.md §6): size → envelope → algorithm → message type → claims shape → audience →
 * key id → signature → sequence/freshness → decryption → body → digest. The signature is
 * verified before anything is decrypted, so a forged or tampered set costs the lock one
 * Ed25519 verify and never touches the AEAD key.
 */
import { concatBytes, equalBytes, expectBytes, expectUint, toHex, U32_MAX, u32be } from './bytes.js';
import { canonicalMap, decodeCbor, encodeCbor } from './cbor.js';
import type { IssuerIdentity, IssuerSigner, ParsedSign1, SigningKey } from './cose.js';
import { keyId, MessageType, parseSign1, prepareSign1, signerSignature, signingKeyFromSeed, signSign1, verifySign1 } from './cose.js';
import { checkLockId } from './credentials.js';
import type { CryptoProvider } from './crypto.js';
import { AEAD_NONCE_BYTES, getCryptoProvider, hkdfSha256, open, seal, sealWith, utf8, x25519PublicKey, x25519Shared } from './crypto.js';
import type { DeltaChanges } from './delta.js';
import { applyChanges, diffEntries, packDelta, parseDelta } from './delta.js';
import { applyChangesToAccumulator, EntryAccumulator, entryDigestKey } from './entry-digest.js';
import { fail } from './errors.js';
import type { Entry, SetSecrets } from './set.js';
import { CredentialSet, packSet } from './set.js';

/** Claim keys (PROTOCOL.md §3.4). 1/3/6 are CWT's iss/aud/iat; the rest are private-use. */
export const Claim = {
  iss: 1,
  aud: 3,
  iat: 6,
  seq: -65537,
  base: -65538,
  digest: -65539,
  body: -65540,
  anchors: -65541,
  wrappedKey: -65542,
  utcOffset: -65543,
  eventIndex: -65544,
  eventHash: -65545,
  transition: -65546,
  entryDigest: -65547,
} as const;
type ClaimName = keyof typeof Claim;

export const DIGEST_BYTES = 32;
export const EVENT_HASH_BYTES = 12;
export const WRAPPED_KEY_BYTES = 32 + AEAD_NONCE_BYTES + 32 + 16;
export const MAX_ANCHORS = 8;
/** Default ceiling for one signed message; a lock may pass a lower one (its flash slot). */
export const DEFAULT_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
const MAX_UTC_OFFSET = 18 * 60;

const REQUIRED: Record<keyof typeof MessageType, readonly ClaimName[]> = {
  fullSet: ['aud', 'iat', 'seq', 'body'],
  delta: ['aud', 'iat', 'seq', 'base', 'body'],
  commission: ['aud', 'iat', 'seq', 'anchors', 'wrappedKey', 'utcOffset'],
  rotateAnchors: ['aud', 'iat', 'seq', 'anchors'],
  timeSync: ['aud', 'iat', 'utcOffset'],
  receipt: ['iss', 'iat', 'seq', 'digest', 'eventIndex', 'eventHash'],
};

/**
 * Claims a message may carry or leave out. A decoder of this version reads them when present and
 * a message without them means what it meant before they existed (no transition known), so
 * messages signed by an older backend still open (PROTOCOL.md §3.4, §7.4).
 */
const OPTIONAL: Record<keyof typeof MessageType, readonly ClaimName[]> = {
  fullSet: ['digest', 'entryDigest'],
  delta: ['digest', 'entryDigest'],
  commission: ['transition'],
  rotateAnchors: [],
  timeSync: ['transition'],
  receipt: [],
};

/**
 * The next change of the property's UTC offset (daylight saving): from `at` (Unix seconds) the
 * lock's local time is `offset` minutes east of UTC. It travels as the claim `[at, offset]`.
 */
export interface OffsetTransition {
  at: number;
  offset: number;
}

/**
 * The offset a lock applies at `nowSeconds`: the transition's from its instant on, else the
 * base. Computed on every read rather than folded into the stored offset when the instant
 * passes, so the change happens exactly then, offline, with no write and no timer to miss.
 */
export function offsetAt(base: number, transition: OffsetTransition | null | undefined, nowSeconds: number): number {
  return transition && nowSeconds >= transition.at ? transition.offset : base;
}

/**
 * Claims of which a message carries exactly one. A set message names the set it results in by
 * its body digest (§4.6) or its entry digest (§4.7); firmware from before the entry digest
 * refuses the second as an extra claim, which is how a backend learns to send the first.
 */
const ONE_OF: Partial<Record<keyof typeof MessageType, readonly ClaimName[]>> = {
  fullSet: ['digest', 'entryDigest'],
  delta: ['digest', 'entryDigest'],
};

function checkOneOf(type: keyof typeof MessageType, claims: Claims, code: 'MALFORMED' | 'INVALID_ARGUMENT'): void {
  const names = ONE_OF[type];
  if (!names) return;
  const present = names.filter((n) => claims[n] !== undefined);
  if (present.length !== 1) fail(code, `${type} claims: exactly one of ${names.join(', ')} is required, got ${present.length === 0 ? 'none' : present.join(' and ')}`);
}

export interface Claims {
  iss?: Uint8Array;
  aud?: Uint8Array;
  iat?: number;
  seq?: number;
  base?: number;
  digest?: Uint8Array;
  body?: Uint8Array;
  anchors?: Uint8Array[];
  wrappedKey?: Uint8Array;
  utcOffset?: number;
  eventIndex?: number;
  eventHash?: Uint8Array;
  transition?: [number, number];
  entryDigest?: Uint8Array;
}

const NAME_BY_KEY = new Map<number, ClaimName>(Object.entries(Claim).map(([n, k]) => [k, n as ClaimName]));

function typeName(type: number): keyof typeof MessageType {
  return (Object.keys(MessageType) as (keyof typeof MessageType)[]).find((k) => MessageType[k] === type)!;
}

function encodeClaims(type: keyof typeof MessageType, claims: Claims): Uint8Array {
  const entries: [number, unknown][] = [];
  for (const name of REQUIRED[type]) {
    const v = claims[name];
    if (v === undefined) fail('INVALID_ARGUMENT', `${type}: claim ${name} is required`);
    // Refuse to sign what every lock would reject, with the caller's error class.
    try {
      checkClaim(name, v);
    } catch (err) {
      fail('INVALID_ARGUMENT', `${type}: ${(err as Error).message}`);
    }
    entries.push([Claim[name], v]);
  }
  for (const name of OPTIONAL[type]) {
    const v = claims[name];
    if (v === undefined) continue;
    try {
      checkClaim(name, v);
    } catch (err) {
      fail('INVALID_ARGUMENT', `${type}: ${(err as Error).message}`);
    }
    entries.push([Claim[name], v]);
  }
  try {
    checkTransitionAfterIat(claims);
  } catch (err) {
    fail('INVALID_ARGUMENT', `${type}: ${(err as Error).message}`);
  }
  checkOneOf(type, claims, 'INVALID_ARGUMENT');
  return encodeCbor(canonicalMap(entries));
}

function checkClaim(name: ClaimName, v: unknown): void {
  const bad = (what: string): never => fail('MALFORMED', `claim ${name}: expected ${what}`);
  switch (name) {
    case 'iss':
    case 'aud':
      if (!(v instanceof Uint8Array) || v.length !== 8) bad('an 8-byte lock id');
      return;
    case 'iat':
    case 'seq':
    case 'base':
    case 'eventIndex':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) bad('an unsigned 32-bit integer');
      return;
    case 'digest':
    case 'entryDigest':
      if (!(v instanceof Uint8Array) || v.length !== DIGEST_BYTES) bad(`${DIGEST_BYTES} bytes`);
      return;
    case 'body':
      if (!(v instanceof Uint8Array)) bad('a byte string');
      return;
    case 'anchors':
      if (!Array.isArray(v) || v.length < 1 || v.length > MAX_ANCHORS || !v.every((a) => a instanceof Uint8Array && a.length === 32)) {
        bad(`1..${MAX_ANCHORS} Ed25519 public keys of 32 bytes`);
      }
      if (new Set((v as Uint8Array[]).map(toHex)).size !== (v as Uint8Array[]).length) bad('distinct anchors (a key is listed twice)');
      return;
    case 'wrappedKey':
      if (!(v instanceof Uint8Array) || v.length !== WRAPPED_KEY_BYTES) bad(`${WRAPPED_KEY_BYTES} bytes`);
      return;
    case 'utcOffset':
      if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > MAX_UTC_OFFSET) bad(`minutes in -${MAX_UTC_OFFSET}..${MAX_UTC_OFFSET}`);
      return;
    case 'eventHash':
      if (!(v instanceof Uint8Array) || v.length !== EVENT_HASH_BYTES) bad(`${EVENT_HASH_BYTES} bytes`);
      return;
    case 'transition': {
      const ok =
        Array.isArray(v) &&
        v.length === 2 &&
        typeof v[0] === 'number' &&
        Number.isInteger(v[0]) &&
        v[0] > 0 &&
        v[0] <= U32_MAX &&
        typeof v[1] === 'number' &&
        Number.isInteger(v[1]) &&
        Math.abs(v[1]) <= MAX_UTC_OFFSET;
      if (!ok) bad(`[Unix seconds 1..2^32-1, minutes in -${MAX_UTC_OFFSET}..${MAX_UTC_OFFSET}]`);
      return;
    }
  }
}

/**
 * A transition is news about the future: one at or before the message's own time says nothing
 * the offset does not, and a lock would otherwise have to guess which of the two wins.
 */
function checkTransitionAfterIat(claims: Claims): void {
  if (claims.transition && claims.iat !== undefined && claims.transition[0] <= claims.iat) {
    fail('MALFORMED', `claim transition: its time ${claims.transition[0]} is not after iat ${claims.iat}`);
  }
}

function transitionOf(claims: Claims): { transition?: OffsetTransition } {
  return claims.transition ? { transition: { at: claims.transition[0], offset: claims.transition[1] } } : {};
}

function transitionClaim(t: OffsetTransition | null | undefined): { transition?: [number, number] } {
  return t ? { transition: [t.at, t.offset] } : {};
}

function decodeClaims(parsed: ParsedSign1, maxBytes: number): Claims {
  const type = typeName(parsed.type);
  const map = decodeCbor(parsed.payload, `${type} claims`, maxBytes);
  if (!(map instanceof Map)) fail('MALFORMED', `${type} claims: expected a map`);
  const required = new Set(REQUIRED[type]);
  const allowed = new Set([...REQUIRED[type], ...OPTIONAL[type]]);
  const out: Record<string, unknown> = {};
  let lastKey: Uint8Array | null = null;
  for (const [k, v] of map) {
    const name = typeof k === 'number' ? NAME_BY_KEY.get(k) : undefined;
    if (name === undefined || !allowed.has(name)) fail('MALFORMED', `${type} claims: unexpected claim key ${String(k)}`);
    const kb = encodeCbor(k);
    if (lastKey && compareKey(lastKey, kb) >= 0) fail('MALFORMED', `${type} claims: keys not in canonical order`);
    lastKey = kb;
    checkClaim(name, v);
    out[name] = v instanceof Uint8Array ? v.slice() : Array.isArray(v) ? v.map((a: unknown) => (a instanceof Uint8Array ? a.slice() : a)) : v;
  }
  for (const name of required) if (!(name in out)) fail('MALFORMED', `${type} claims: ${name} missing`);
  checkOneOf(type, out as Claims, 'MALFORMED');
  checkTransitionAfterIat(out as Claims);
  return out as Claims;
}

function compareKey(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Parse + claims, common to every open* function. */
function parseMessage(bytes: Uint8Array, expected: keyof typeof MessageType, maxBytes: number): { parsed: ParsedSign1; claims: Claims } {
  const parsed = parseSign1(bytes, maxBytes);
  if (parsed.type !== MessageType[expected]) {
    fail('MALFORMED', `expected a ${expected} message, got ${typeName(parsed.type)}`, { got: typeName(parsed.type) });
  }
  return { parsed, claims: decodeClaims(parsed, maxBytes) };
}

function checkAudience(claims: Claims, lockId: Uint8Array): void {
  if (!equalBytes(claims.aud!, lockId)) {
    fail('WRONG_LOCK', `message is for lock ${toHex(claims.aud!)}, this is lock ${toHex(lockId)}`, { aud: toHex(claims.aud!) });
  }
}

/** Find the anchor named by kid and verify; UNKNOWN_KEY_ID if none matches. */
function verifyWithAnchors(parsed: ParsedSign1, anchors: readonly Uint8Array[], lockId: Uint8Array, provider: CryptoProvider): Uint8Array {
  const anchor = anchors.find((a) => equalBytes(keyId(a, provider), parsed.kid));
  if (!anchor) fail('UNKNOWN_KEY_ID', `kid ${toHex(parsed.kid)} is not a trust anchor of this lock`, { kid: toHex(parsed.kid) });
  verifySign1(parsed, anchor, lockId, provider);
  return anchor;
}

function bodyAad(type: number, lockId: Uint8Array, seq: number): Uint8Array {
  return concatBytes(utf8('latchkit/v1/body'), Uint8Array.of(type), lockId, u32be(seq));
}

export interface IssueCommon {
  issuer: SigningKey;
  lockId: Uint8Array;
  /** Unix seconds. */
  issuedAt: number;
  provider?: CryptoProvider;
}

// ---------------------------------------------------------------- signing now or later

/**
 * A message ready but for the issuer's signature. Every `issueX` has a `prepareX` (taking only
 * the issuer's public key and kid) and an `issueXAsync` (taking an IssuerSigner): a gateway whose
 * key sits in a KMS prepares many messages, has them signed concurrently, and completes each.
 */
export interface PreparedMessage<T> {
  /** The COSE Sig_structure: the exact bytes the Ed25519 signature covers. */
  readonly toBeSigned: Uint8Array;
  /** The finished message from its 64-byte signature (not verified here: see signPrepared). */
  complete(signature: Uint8Array): T;
}

/** Arguments of a `prepareX`: the issuer is only its public identity. */
export type PrepareArgs<A extends { issuer: SigningKey }> = Omit<A, 'issuer'> & { issuer: IssuerIdentity };
/** Arguments of an `issueXAsync`: the issuer is a signer that may be remote. */
export type AsyncIssueArgs<A extends { issuer: SigningKey }> = Omit<A, 'issuer'> & { issuer: IssuerSigner };

function prepared<T>(type: number, kid: Uint8Array, payload: Uint8Array, lockId: Uint8Array, make: (bytes: Uint8Array) => T): PreparedMessage<T> {
  const unsigned = prepareSign1(type, kid, payload, lockId);
  return { toBeSigned: unsigned.toBeSigned, complete: (signature) => make(unsigned.withSignature(signature)) };
}

function signNow<T>(message: PreparedMessage<T>, key: SigningKey, provider: CryptoProvider | undefined): T {
  return message.complete((provider ?? getCryptoProvider()).ed25519Sign(key.seed, message.toBeSigned));
}

/** Complete a prepared message with the signer's signature, checked first (signerSignature). */
export async function signPrepared<T>(message: PreparedMessage<T>, signer: IssuerSigner, provider: CryptoProvider = getCryptoProvider()): Promise<T> {
  return message.complete(await signerSignature(signer, message.toBeSigned, provider));
}

// ---------------------------------------------------------------- credential sets

/**
 * How a set message names the set it results in: `entries` (the entry digest, §4.7, which a
 * lock updates per change) or `body` (SHA-256 of the body, §4.6, for firmware from before the
 * entry digest: it refuses the `entryDigest` claim as MALFORMED).
 */
export type DigestForm = 'entries' | 'body';

export interface IssueSetArgs extends IssueCommon {
  contentKey: Uint8Array;
  seq: number;
  entries: readonly Entry[];
  secrets: SetSecrets;
  /** Default `entries`. */
  digestForm?: DigestForm;
  /** AEAD nonce; random by default (fixed only for test vectors). */
  nonce?: Uint8Array;
}

export interface IssuedSet {
  bytes: Uint8Array;
  seq: number;
  /** The digest the message carries, in its `digestForm`. */
  digest: Uint8Array;
  digestForm: DigestForm;
  /** The entry accumulator of the resulting set (§4.7) when the form is `entries`, else null. */
  entryAcc: Uint8Array | null;
  body: Uint8Array;
}

function checkDigestForm(form: unknown, digest?: Uint8Array): DigestForm {
  // A digest the caller computed means nothing without its form: before the entry digest a bare
  // `digest` was SHA-256 of the body, so a bare one is refused rather than signed as the other.
  if (digest !== undefined && form === undefined) fail('INVALID_ARGUMENT', "a given digest needs its digestForm ('entries' or 'body')");
  if (form === undefined) return 'entries';
  if (form !== 'entries' && form !== 'body') fail('INVALID_ARGUMENT', `digestForm must be 'entries' or 'body', got ${String(form)}`);
  return form;
}

function digestClaim(form: DigestForm, digest: Uint8Array): { digest: Uint8Array } | { entryDigest: Uint8Array } {
  return form === 'entries' ? { entryDigest: digest } : { digest };
}

export function issueFullSet(args: IssueSetArgs): IssuedSet {
  return signNow(prepareFullSet(args), args.issuer, args.provider);
}

export function issueFullSetAsync(args: AsyncIssueArgs<IssueSetArgs>): Promise<IssuedSet> {
  return signPrepared(prepareFullSet(args), args.issuer, args.provider);
}

export function prepareFullSet(args: PrepareArgs<IssueSetArgs>): PreparedMessage<IssuedSet> {
  checkLockId(args.lockId);
  expectUint(args.seq, 'seq', U32_MAX);
  expectUint(args.issuedAt, 'issuedAt', U32_MAX);
  return prepareFullSetBody({ ...args, body: packSet(args.entries, args.secrets) });
}

/** Arguments of the *Body issuers: a set body the caller already packed (packSet or patchSet). */
export interface IssueBodyArgs extends IssueCommon {
  contentKey: Uint8Array;
  seq: number;
  /** A complete canonical set body (with secrets), exactly as packSet / patchSet return it. */
  body: Uint8Array;
  /** Default `entries`. */
  digestForm?: DigestForm;
  /** The digest of `body` in `digestForm`, if the caller has it already (with `entryAcc` for `entries`). */
  digest?: Uint8Array;
  entryAcc?: Uint8Array;
  nonce?: Uint8Array;
}

/** The digest of a complete body in `form` (and its accumulator), unless the caller gave both. */
function digestOfBody(args: { contentKey: Uint8Array; lockId: Uint8Array; digest?: Uint8Array; entryAcc?: Uint8Array }, form: DigestForm, body: Uint8Array, provider: CryptoProvider): { digest: Uint8Array; entryAcc: Uint8Array | null } {
  if (form === 'body') return { digest: args.digest ?? provider.sha256(body), entryAcc: null };
  if (args.digest && args.entryAcc) return { digest: args.digest, entryAcc: args.entryAcc };
  // The same accumulation a lock makes for a full set (S10).
  const named = digestOfResult({ contentKey: args.contentKey, lockId: args.lockId, current: null }, CredentialSet.fromTrustedBody(body), null, 'entries', provider);
  return { digest: args.digest ?? named.digest, entryAcc: named.entryAcc };
}

/**
 * issueFullSet for a body the caller packed already: a compiler that patched the previous
 * body (patchSet) or issues the full set and the delta of one sequence packs it once.
 */
export function issueFullSetBody(args: IssueBodyArgs): IssuedSet {
  return signNow(prepareFullSetBody(args), args.issuer, args.provider);
}

export function issueFullSetBodyAsync(args: AsyncIssueArgs<IssueBodyArgs>): Promise<IssuedSet> {
  return signPrepared(prepareFullSetBody(args), args.issuer, args.provider);
}

export function prepareFullSetBody(args: PrepareArgs<IssueBodyArgs>): PreparedMessage<IssuedSet> {
  const provider = args.provider ?? getCryptoProvider();
  checkLockId(args.lockId);
  expectUint(args.seq, 'seq', U32_MAX);
  expectUint(args.issuedAt, 'issuedAt', U32_MAX);
  const body = args.body;
  if ((body[1]! & 1) === 0) fail('INVALID_ARGUMENT', 'a full set body must carry the property secrets');
  const digestForm = checkDigestForm(args.digestForm, args.digest);
  const { digest, entryAcc } = digestOfBody(args, digestForm, body, provider);
  const sealed = sealWith(provider, args.contentKey, body, bodyAad(MessageType.fullSet, args.lockId, args.seq), args.nonce ?? provider.randomBytes(AEAD_NONCE_BYTES));
  const payload = encodeClaims('fullSet', { aud: args.lockId, iat: args.issuedAt, seq: args.seq, ...digestClaim(digestForm, digest), body: sealed });
  return prepared(MessageType.fullSet, args.issuer.kid, payload, args.lockId, (bytes) => ({ bytes, seq: args.seq, digest, digestForm, entryAcc, body }));
}

export interface IssueDeltaArgs extends IssueSetArgs {
  /**
   * The set the lock has receipted: its sequence and body, and optionally its entry accumulator
   * (IssuedSet.entryAcc of the message that made exactly this body), which makes the new entry
   * digest cost a block per change. Keep the two together (the reference gateway stores them in
   * one row): an accumulator of another set with the same count would sign a digest of a set
   * this delta does not make, and only the count is checked here.
   */
  base: { seq: number; body: Uint8Array; entryAcc?: Uint8Array };
}

export interface IssuedDelta extends IssuedSet {
  changes: DeltaChanges;
}

export function issueDelta(args: IssueDeltaArgs): IssuedDelta {
  return signNow(prepareDelta(args), args.issuer, args.provider);
}

export function issueDeltaAsync(args: AsyncIssueArgs<IssueDeltaArgs>): Promise<IssuedDelta> {
  return signPrepared(prepareDelta(args), args.issuer, args.provider);
}

export function prepareDelta(args: PrepareArgs<IssueDeltaArgs>): PreparedMessage<IssuedDelta> {
  checkLockId(args.lockId);
  expectUint(args.seq, 'seq', U32_MAX);
  expectUint(args.base.seq, 'base.seq', U32_MAX);
  if (args.seq <= args.base.seq) fail('INVALID_ARGUMENT', `delta seq ${args.seq} must be greater than base ${args.base.seq}`);
  const base = CredentialSet.parse(args.base.body);
  return prepareDeltaBody({ ...args, body: packSet(args.entries, args.secrets), base: { seq: args.base.seq, set: base, ...(args.base.entryAcc ? { entryAcc: args.base.entryAcc } : {}) }, changes: diffEntries(base, args.entries, args.secrets) });
}

/**
 * issueDelta for a next body the caller packed already. `changes` (from base to body) may be
 * passed when known (patchSet returns them); otherwise they are found by diffing the bodies.
 * `base.set` may be a `CredentialSet.fromTrustedBody` of a body this process packed.
 */
/** Arguments of issueDeltaBody: a packed next body and the set the lock holds. */
export interface IssueDeltaBodyArgs extends IssueBodyArgs {
  /** `entryAcc`: the base's entry accumulator (IssuedSet.entryAcc), so the new one costs a block per change. */
  base: { seq: number; set: CredentialSet; entryAcc?: Uint8Array };
  changes?: DeltaChanges;
}

export function issueDeltaBody(args: IssueDeltaBodyArgs): IssuedDelta {
  return signNow(prepareDeltaBody(args), args.issuer, args.provider);
}

export function issueDeltaBodyAsync(args: AsyncIssueArgs<IssueDeltaBodyArgs>): Promise<IssuedDelta> {
  return signPrepared(prepareDeltaBody(args), args.issuer, args.provider);
}

export function prepareDeltaBody(args: PrepareArgs<IssueDeltaBodyArgs>): PreparedMessage<IssuedDelta> {
  const provider = args.provider ?? getCryptoProvider();
  checkLockId(args.lockId);
  expectUint(args.seq, 'seq', U32_MAX);
  expectUint(args.issuedAt, 'issuedAt', U32_MAX);
  expectUint(args.base.seq, 'base.seq', U32_MAX);
  if (args.seq <= args.base.seq) fail('INVALID_ARGUMENT', `delta seq ${args.seq} must be greater than base ${args.base.seq}`);
  const body = args.body;
  const digestForm = checkDigestForm(args.digestForm, args.digest);
  let changes = args.changes;
  if (!changes) {
    const next = CredentialSet.fromTrustedBody(body);
    changes = diffEntries(args.base.set, [...next.entries()], next.secrets);
  }
  let named: { digest: Uint8Array; entryAcc: Uint8Array | null };
  if (digestForm === 'entries' && args.base.entryAcc && !(args.digest && args.entryAcc)) {
    const key = entryDigestKey(args.contentKey, args.lockId, provider);
    const acc = EntryAccumulator.fromBytes(key, args.base.entryAcc, provider);
    // The accumulator must be the base's: one of another set would name a set this delta does
    // not make. Its count is the cheap part of that check; the rest is the caller's contract.
    if (acc.count !== args.base.set.size) fail('INVALID_ARGUMENT', `base.entryAcc counts ${acc.count} entries, the base set holds ${args.base.set.size}: it is not this base's accumulator`);
    applyChangesToAccumulator(acc, args.base.set, changes);
    named = { digest: args.digest ?? acc.digest(changes.secrets ?? args.base.set.secrets!), entryAcc: acc.bytes() };
  } else {
    named = digestOfBody(args, digestForm, body, provider);
  }
  const { digest, entryAcc } = named;
  const deltaBody = packDelta(changes);
  const sealed = sealWith(provider, args.contentKey, deltaBody, bodyAad(MessageType.delta, args.lockId, args.seq), args.nonce ?? provider.randomBytes(AEAD_NONCE_BYTES));
  const payload = encodeClaims('delta', { aud: args.lockId, iat: args.issuedAt, seq: args.seq, base: args.base.seq, ...digestClaim(digestForm, digest), body: sealed });
  const done = changes;
  return prepared(MessageType.delta, args.issuer.kid, payload, args.lockId, (bytes) => ({ bytes, seq: args.seq, digest, digestForm, entryAcc, body, changes: done }));
}

/** What the lock knows when a set or delta arrives. */
export interface LockSetState {
  lockId: Uint8Array;
  anchors: readonly Uint8Array[];
  contentKey: Uint8Array;
  /** Sequence of the set the lock enforces now; 0 = none. */
  seq: number;
  /** The body the lock enforces now, or null. */
  current: CredentialSet | null;
  /**
   * The entry accumulator of `current` (AcceptedSet.entryAcc), when the lock kept one: an
   * entry-digest delta then costs one SHA-256 block per changed entry. Without it the lock
   * accumulates its whole set once.
   */
  entryAcc?: Uint8Array | null;
  maxBytes?: number;
  provider?: CryptoProvider;
}

export interface AcceptedSet {
  kind: 'full' | 'delta';
  seq: number;
  issuedAt: number;
  /** The digest the message signed, in `digestForm`: what the lock reports for this set. */
  digest: Uint8Array;
  digestForm: DigestForm;
  /** The new set's entry accumulator: always for an `entries` message, and for a delta on a set that had one. */
  entryAcc: Uint8Array | null;
  set: CredentialSet;
  issuerKid: Uint8Array;
  /** A delta's decrypted body (§4.5), what a lock journals instead of rewriting its set; null for a full set. */
  deltaPlain: Uint8Array | null;
}

/**
 * Verify and open a full set or a delta for this lock. Throws a ProtocolError for every
 * rejection; on success returns the complete new set, which the caller commits atomically.
 */
export function openSetMessage(bytes: Uint8Array, state: LockSetState): AcceptedSet {
  const provider = state.provider ?? getCryptoProvider();
  const maxBytes = state.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const parsed = parseSign1(bytes, maxBytes);
  const kind = parsed.type === MessageType.fullSet ? 'full' : parsed.type === MessageType.delta ? 'delta' : null;
  if (kind === null) fail('MALFORMED', `expected a fullSet or delta message, got ${typeName(parsed.type)}`);
  const claims = decodeClaims(parsed, maxBytes);
  checkAudience(claims, state.lockId);
  verifyWithAnchors(parsed, state.anchors, state.lockId, provider);
  const seq = claims.seq!;
  if (seq <= state.seq) fail('STALE_SEQUENCE', `sequence ${seq} is not newer than ${state.seq}`, { seq, current: state.seq });
  if (kind === 'delta') {
    if (claims.base !== state.seq || state.current === null) {
      fail('DELTA_BASE_MISMATCH', `delta applies to sequence ${claims.base}, lock holds ${state.seq}; send the full set`, { base: claims.base, current: state.seq });
    }
  }
  const plain = open(state.contentKey, claims.body!, bodyAad(parsed.type, state.lockId, seq));
  const changes = kind === 'delta' ? parseDelta(plain) : null;
  const body = changes ? applyChanges(state.current!, changes) : plain;
  const set = CredentialSet.parse(body);
  if (set.secrets === null) fail('MALFORMED', 'a complete set must carry the property secrets');
  const digestForm: DigestForm = claims.entryDigest ? 'entries' : 'body';
  const signed = claims.entryDigest ?? claims.digest!;
  const { digest, entryAcc } = digestOfResult(state, set, changes, digestForm, provider);
  if (!equalBytes(digest, signed)) {
    fail('DIGEST_MISMATCH', `resulting set ${digestForm === 'entries' ? 'entry ' : ''}digest ${toHex(digest).slice(0, 16)}… differs from the signed ${toHex(signed).slice(0, 16)}…; send the full set`);
  }
  return { kind, seq, issuedAt: claims.iat!, digest, digestForm, entryAcc, set, issuerKid: parsed.kid, deltaPlain: changes ? plain : null };
}

/**
 * The digest of the set a message results in, in the message's form (S10), and its entry
 * accumulator: carried forward per change when the lock kept one, accumulated over the whole set
 * when an entry-digest message needs it and the lock had none (one block per credential, once).
 */
export function digestOfResult(
  state: Pick<LockSetState, 'contentKey' | 'lockId' | 'current' | 'entryAcc'>,
  set: CredentialSet,
  changes: DeltaChanges | null,
  form: DigestForm,
  provider: CryptoProvider = getCryptoProvider(),
): { digest: Uint8Array; entryAcc: Uint8Array | null } {
  let acc: EntryAccumulator | null = null;
  const key = () => entryDigestKey(state.contentKey, state.lockId, provider);
  if (changes && state.entryAcc && state.current) {
    acc = EntryAccumulator.fromBytes(key(), state.entryAcc, provider);
    applyChangesToAccumulator(acc, state.current, changes);
  } else if (form === 'entries') {
    acc = EntryAccumulator.of(key(), set.entries(), provider);
  }
  if (set.secrets === null) fail('MALFORMED', 'a complete set must carry the property secrets');
  return { digest: form === 'entries' ? acc!.digest(set.secrets) : set.digest(provider), entryAcc: acc ? acc.bytes() : null };
}

/** Read the unauthenticated header of a set message (e.g. a phone deciding whether to relay). */
export function peekSetMessage(bytes: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): { kind: 'full' | 'delta'; lockId: Uint8Array; seq: number; base: number | null; issuedAt: number; digest: Uint8Array; digestForm: DigestForm } {
  const parsed = parseSign1(bytes, maxBytes);
  if (parsed.type !== MessageType.fullSet && parsed.type !== MessageType.delta) fail('MALFORMED', `not a set message (${typeName(parsed.type)})`);
  const claims = decodeClaims(parsed, maxBytes);
  return {
    kind: parsed.type === MessageType.fullSet ? 'full' : 'delta',
    lockId: claims.aud!,
    seq: claims.seq!,
    base: claims.base ?? null,
    issuedAt: claims.iat!,
    digest: claims.entryDigest ?? claims.digest!,
    digestForm: claims.entryDigest ? 'entries' : 'body',
  };
}

// ---------------------------------------------------------------- device keys and commissioning

/** A lock's factory identity: one seed gives its receipt signing key and its key-wrap key. */
export interface DeviceKeys {
  signing: SigningKey;
  encryptionSecret: Uint8Array;
  encryptionPublic: Uint8Array;
}

export function deviceKeysFromSeed(seed: Uint8Array, provider: CryptoProvider = getCryptoProvider()): DeviceKeys {
  expectBytes(seed, 'device seed', 32);
  const encryptionSecret = hkdfSha256(seed, new Uint8Array(0), 'latchkit/v1/device-x25519', 32);
  return { signing: signingKeyFromSeed(seed, provider), encryptionSecret, encryptionPublic: x25519PublicKey(encryptionSecret) };
}

function wrapInfo(ephPublic: Uint8Array, lockPublic: Uint8Array): Uint8Array {
  return concatBytes(utf8('latchkit/v1/wrap'), ephPublic, lockPublic);
}

/** Wrap the content key for one lock: ephemeral-static X25519, HKDF-SHA256, XChaCha20-Poly1305. */
export function wrapContentKey(contentKey: Uint8Array, lockId: Uint8Array, lockEncryptionPublic: Uint8Array, provider: CryptoProvider = getCryptoProvider(), ephemeralSecret?: Uint8Array, nonce?: Uint8Array): Uint8Array {
  expectBytes(contentKey, 'content key', 32);
  const eph = ephemeralSecret ?? provider.randomBytes(32);
  const ephPublic = x25519PublicKey(eph);
  const kek = hkdfSha256(x25519Shared(eph, lockEncryptionPublic), lockId, wrapInfo(ephPublic, lockEncryptionPublic), 32);
  return concatBytes(ephPublic, seal(kek, contentKey, lockId, nonce ?? provider.randomBytes(AEAD_NONCE_BYTES)));
}

export function unwrapContentKey(wrapped: Uint8Array, lockId: Uint8Array, device: DeviceKeys): Uint8Array {
  expectBytes(wrapped, 'wrapped key', WRAPPED_KEY_BYTES);
  const ephPublic = wrapped.subarray(0, 32);
  const kek = hkdfSha256(x25519Shared(device.encryptionSecret, ephPublic), lockId, wrapInfo(ephPublic, device.encryptionPublic), 32);
  return open(kek, wrapped.subarray(32), lockId);
}

export interface IssueCommissionArgs extends IssueCommon {
  /** Trust anchors (issuer public keys); must include the issuer's own key. */
  anchors: readonly Uint8Array[];
  lockEncryptionPublic: Uint8Array;
  contentKey: Uint8Array;
  utcOffset: number;
  /** The next offset change after `issuedAt`, if the property's zone has one (PROTOCOL.md §7.4). */
  transition?: OffsetTransition | null;
  /** Commissioning generation; a re-commissioning must use a higher one. */
  generation: number;
  ephemeralSecret?: Uint8Array;
  nonce?: Uint8Array;
}

export function issueCommission(args: IssueCommissionArgs): Uint8Array {
  return signNow(prepareCommission(args), args.issuer, args.provider);
}

export function issueCommissionAsync(args: AsyncIssueArgs<IssueCommissionArgs>): Promise<Uint8Array> {
  return signPrepared(prepareCommission(args), args.issuer, args.provider);
}

export function prepareCommission(args: PrepareArgs<IssueCommissionArgs>): PreparedMessage<Uint8Array> {
  const provider = args.provider ?? getCryptoProvider();
  checkLockId(args.lockId);
  if (!args.anchors.some((a) => equalBytes(a, args.issuer.publicKey))) fail('INVALID_ARGUMENT', 'commissioning anchors must include the issuer key');
  const wrappedKey = wrapContentKey(args.contentKey, args.lockId, args.lockEncryptionPublic, provider, args.ephemeralSecret, args.nonce);
  const payload = encodeClaims('commission', {
    aud: args.lockId,
    iat: args.issuedAt,
    seq: args.generation,
    anchors: [...args.anchors],
    wrappedKey,
    utcOffset: args.utcOffset,
    ...transitionClaim(args.transition),
  });
  return prepared(MessageType.commission, args.issuer.kid, payload, args.lockId, (bytes) => bytes);
}

export interface Commissioning {
  anchors: Uint8Array[];
  contentKey: Uint8Array;
  issuedAt: number;
  utcOffset: number;
  /** Present when the message carried the next offset change. */
  transition?: OffsetTransition;
  generation: number;
}

/**
 * Open a commissioning message. A factory-fresh lock (no anchors) trusts the message's own
 * anchors on first use, as an installer's phone provisions it in person; a commissioned lock
 * only accepts one signed by a current anchor with a higher generation.
 */
export function openCommission(
  bytes: Uint8Array,
  lock: { lockId: Uint8Array; device: DeviceKeys; anchors: readonly Uint8Array[] | null; generation: number; provider?: CryptoProvider },
): Commissioning {
  const provider = lock.provider ?? getCryptoProvider();
  const { parsed, claims } = parseMessage(bytes, 'commission', 64 * 1024);
  checkAudience(claims, lock.lockId);
  verifyWithAnchors(parsed, lock.anchors ?? claims.anchors!, lock.lockId, provider);
  if (lock.anchors !== null && claims.seq! <= lock.generation) {
    fail('STALE_SEQUENCE', `commissioning generation ${claims.seq} is not newer than ${lock.generation}`);
  }
  return {
    anchors: claims.anchors!,
    contentKey: unwrapContentKey(claims.wrappedKey!, lock.lockId, lock.device),
    issuedAt: claims.iat!,
    utcOffset: claims.utcOffset!,
    ...transitionOf(claims),
    generation: claims.seq!,
  };
}

// ---------------------------------------------------------------- anchor rotation and time

export interface IssueAnchorRotationArgs extends IssueCommon {
  anchors: readonly Uint8Array[];
  seq: number;
}

export function issueAnchorRotation(args: IssueAnchorRotationArgs): Uint8Array {
  return signNow(prepareAnchorRotation(args), args.issuer, args.provider);
}

export function issueAnchorRotationAsync(args: AsyncIssueArgs<IssueAnchorRotationArgs>): Promise<Uint8Array> {
  return signPrepared(prepareAnchorRotation(args), args.issuer, args.provider);
}

export function prepareAnchorRotation(args: PrepareArgs<IssueAnchorRotationArgs>): PreparedMessage<Uint8Array> {
  const payload = encodeClaims('rotateAnchors', { aud: checkLockId(args.lockId), iat: args.issuedAt, seq: args.seq, anchors: [...args.anchors] });
  return prepared(MessageType.rotateAnchors, args.issuer.kid, payload, args.lockId, (bytes) => bytes);
}

/** Anchors are replaced as a whole; `seq` must exceed the lock's last rotation counter. */
export function openAnchorRotation(
  bytes: Uint8Array,
  lock: { lockId: Uint8Array; anchors: readonly Uint8Array[]; rotationSeq: number; provider?: CryptoProvider },
): { anchors: Uint8Array[]; seq: number; issuedAt: number } {
  const provider = lock.provider ?? getCryptoProvider();
  const { parsed, claims } = parseMessage(bytes, 'rotateAnchors', 64 * 1024);
  checkAudience(claims, lock.lockId);
  verifyWithAnchors(parsed, lock.anchors, lock.lockId, provider);
  if (claims.seq! <= lock.rotationSeq) fail('STALE_SEQUENCE', `rotation ${claims.seq} is not newer than ${lock.rotationSeq}`);
  return { anchors: claims.anchors!, seq: claims.seq!, issuedAt: claims.iat! };
}

/**
 * Signed time: `utcOffset` is the offset in force at `issuedAt`; `transition`, when the zone has
 * one ahead, is the next change, which the lock applies on its own at that instant.
 */
export interface IssueTimeSyncArgs extends IssueCommon {
  utcOffset: number;
  transition?: OffsetTransition | null;
}

export function issueTimeSync(args: IssueTimeSyncArgs): Uint8Array {
  return signNow(prepareTimeSync(args), args.issuer, args.provider);
}

export function issueTimeSyncAsync(args: AsyncIssueArgs<IssueTimeSyncArgs>): Promise<Uint8Array> {
  return signPrepared(prepareTimeSync(args), args.issuer, args.provider);
}

export function prepareTimeSync(args: PrepareArgs<IssueTimeSyncArgs>): PreparedMessage<Uint8Array> {
  const payload = encodeClaims('timeSync', { aud: checkLockId(args.lockId), iat: args.issuedAt, utcOffset: args.utcOffset, ...transitionClaim(args.transition) });
  return prepared(MessageType.timeSync, args.issuer.kid, payload, args.lockId, (bytes) => bytes);
}

/**
 * Verify a signed time. Freshness is the lock's rule, not the message's: it only ever moves
 * its clock forward, so a replayed old time sync is harmless (PROTOCOL.md §7).
 */
export function openTimeSync(
  bytes: Uint8Array,
  lock: { lockId: Uint8Array; anchors: readonly Uint8Array[]; provider?: CryptoProvider },
): { time: number; utcOffset: number; transition?: OffsetTransition } {
  const provider = lock.provider ?? getCryptoProvider();
  const { parsed, claims } = parseMessage(bytes, 'timeSync', 4096);
  checkAudience(claims, lock.lockId);
  verifyWithAnchors(parsed, lock.anchors, lock.lockId, provider);
  return { time: claims.iat!, utcOffset: claims.utcOffset!, ...transitionOf(claims) };
}

// ---------------------------------------------------------------- receipts

export interface Receipt {
  lockId: Uint8Array;
  seq: number;
  digest: Uint8Array;
  /** Lock clock when it signed, Unix seconds. */
  time: number;
  /** Index of the newest event in the lock's log and its chain hash (authenticates the log). */
  eventIndex: number;
  eventHash: Uint8Array;
}

export function issueReceipt(device: SigningKey, r: Receipt, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  checkLockId(r.lockId);
  const payload = encodeClaims('receipt', { iss: r.lockId, iat: r.time, seq: r.seq, digest: r.digest, eventIndex: r.eventIndex, eventHash: r.eventHash });
  return signSign1(MessageType.receipt, device, payload, r.lockId, provider);
}

/** Backend side: verify a receipt against the lock's known device public key. */
export function openReceipt(bytes: Uint8Array, lock: { lockId: Uint8Array; devicePublicKey: Uint8Array; provider?: CryptoProvider }): Receipt {
  const provider = lock.provider ?? getCryptoProvider();
  const { parsed, claims } = parseMessage(bytes, 'receipt', 4096);
  if (!equalBytes(claims.iss!, lock.lockId)) fail('WRONG_LOCK', `receipt is from lock ${toHex(claims.iss!)}, expected ${toHex(lock.lockId)}`);
  if (!equalBytes(parsed.kid, keyId(lock.devicePublicKey, provider))) fail('UNKNOWN_KEY_ID', `receipt kid ${toHex(parsed.kid)} is not this lock's device key`);
  verifySign1(parsed, lock.devicePublicKey, lock.lockId, provider);
  return { lockId: claims.iss!, seq: claims.seq!, digest: claims.digest!, time: claims.iat!, eventIndex: claims.eventIndex!, eventHash: claims.eventHash! };
}
