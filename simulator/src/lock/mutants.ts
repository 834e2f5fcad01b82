/**
 * Deliberately broken firmwares ("mutants"), for proving that the conformance runner
 * (../conformance) catches a lock that breaks a rule.
 *
 * Each rule mutant breaks exactly one MUST of PROTOCOL.md and nothing else, so the case that
 * catches it names the rule. The correct firmware consults `LockOptions.mutant` at each of
 * those rules through `breaks(name)`; with no mutant (the default, and the only setting any
 * production path uses) every branch is the correct one. Misbehaviour mutants do not break a
 * protocol rule but a transport promise (they go silent, answer garbage, drop the link): they
 * exist to show the runner reports such a lock case by case instead of hanging.
 */
import type { AcceptedSet, CryptoProvider, LockSetState } from '@latchkit/protocol';
import type { CborTag, ParsedSign1 } from '@latchkit/protocol';
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  applyChanges,
  Claim,
  concatBytes,
  CredentialSet,
  decodeCbor,
  DEFAULT_MAX_MESSAGE_BYTES,
  equalBytes,
  fail,
  keyId,
  MessageType,
  open,
  parseDelta,
  parseSign1,
  peekSetMessage,
  ProtocolError,
  seal,
  sigStructure,
  u32be,
  utf8,
  verifySign1,
} from '@latchkit/protocol';
import { badArgument } from '../errors.js';

export interface MutantInfo {
  /** What the mutant does wrong, in one line. */
  description: string;
  /** The PROTOCOL.md section whose rule it breaks. */
  section: string;
  /** `rule`: breaks a protocol MUST (counted in the mutation score); `misbehaviour`: a transport fault. */
  kind: 'rule' | 'misbehaviour';
}

export const MUTANTS = {
  'stale-sequence': { description: 'accepts a full set whose sequence is not newer than the one it holds', section: '§6.2 S4', kind: 'rule' },
  'skips-signature': { description: 'opens sets without verifying the issuer signature', section: '§6.2 S3', kind: 'rule' },
  'other-lock': { description: "opens a set as if it were the lock named in the set's aud claim", section: '§6.2 S1', kind: 'rule' },
  'delta-any-base': { description: 'applies a delta on top of whatever set it holds, trusting the base claim', section: '§6.2 S5', kind: 'rule' },
  'ignores-digest': { description: "commits a delta's result without comparing it with the signed digest", section: '§6.2 S10', kind: 'rule' },
  'accepts-oversize': { description: 'has no limit on the size of a bulk transfer', section: '§9.7', kind: 'rule' },
  'forgets-transfer': { description: 'discards the pending bulk transfer when the link drops', section: '§9.7', kind: 'rule' },
  'reuses-nonce': { description: 'hands out the same unlock nonce for every challenge', section: '§9.6', kind: 'rule' },
  'nonce-never-expires': { description: 'accepts an unlock answer however old its nonce is', section: '§9.6', kind: 'rule' },
  'skips-phone-proof': { description: "grants a known phone key without verifying the phone's signature", section: '§9.6', kind: 'rule' },
  'clock-backwards': { description: 'lets a signed time earlier than its clock move the clock back', section: '§7', kind: 'rule' },
  'unsigned-time': { description: 'takes a time sync without verifying its signature', section: '§6.5', kind: 'rule' },
  'torn-commit': { description: 'writes a new state over the slot in force, so a power cut during apply loses the set', section: '§6.7', kind: 'rule' },
  'event-gap': { description: 'eventsRead from a non-zero index skips the first record asked for', section: '§9.4', kind: 'rule' },
  'hides-log-start': { description: 'eventsRead from index 0 leaves out record 0, as if its log had wrapped', section: '§8.2', kind: 'rule' },
  'ignores-transition': { description: 'never applies the announced UTC offset transition: keeps the offset it was told', section: '§7.4', kind: 'rule' },
  'replayed-offset': { description: 'takes the UTC offset of a time sync older than the newest signed time it accepted', section: '§7.4', kind: 'rule' },
  'kid-as-hint': { description: 'takes a set whose kid names no trust anchor, if the signature verifies under one of its anchors', section: '§6.2 S2', kind: 'rule' },
  'ignores-alg': { description: 'never checks the alg of a set: verifies as Ed25519 whatever the header says', section: '§6.1 E8', kind: 'rule' },
  'unchecked-tag': { description: 'decrypts a set body without checking its AEAD tag', section: '§6.2 S7', kind: 'rule' },
  mute: { description: 'never answers an unlockPhone request', section: '§9.2', kind: 'misbehaviour' },
  garbage: { description: 'answers eventsRead with bytes that are not a response', section: '§9.2', kind: 'misbehaviour' },
  'drops-link': { description: 'drops the link when asked for a receipt (receiptRead)', section: '§9.4', kind: 'misbehaviour' },
} as const satisfies Record<string, MutantInfo>;

export type MutantName = keyof typeof MUTANTS;

export const MUTANT_NAMES = Object.keys(MUTANTS) as MutantName[];

export function checkMutant(name: string): MutantName {
  if (!(name in MUTANTS)) throw badArgument('mutant', `one of ${MUTANT_NAMES.join(', ')}`, name);
  return name as MutantName;
}

/** A provider whose Ed25519 verification always succeeds: what "skips the signature check" means. */
export function acceptingAnySignature(provider: CryptoProvider): CryptoProvider {
  return { ...provider, ed25519Verify: () => true };
}

/**
 * The set-opening state a mutant that breaks one of S1, S3, S4, S5 would use, or the correct
 * one. Only the one field the mutant gets wrong differs.
 */
export function mutantSetState(mutant: MutantName | undefined, bytes: Uint8Array, state: LockSetState & { provider: CryptoProvider }): LockSetState {
  switch (mutant) {
    case 'stale-sequence':
      // Compares the new sequence with 0 instead of the held one (full sets; a delta still needs its base).
      return peekSetMessage(bytes).kind === 'full' ? { ...state, seq: 0 } : state;
    case 'skips-signature':
      return { ...state, provider: acceptingAnySignature(state.provider) };
    case 'other-lock':
      return { ...state, lockId: peekSetMessage(bytes).lockId };
    case 'delta-any-base': {
      const peek = peekSetMessage(bytes);
      // Still refuses an old sequence; only the base comparison is gone.
      return peek.kind === 'delta' && peek.base !== null && peek.seq > state.seq ? { ...state, seq: peek.base } : state;
    }
    default:
      return state;
  }
}

/**
 * What `ignores-digest` commits when the correct check says DIGEST_MISMATCH: the delta applied
 * to the held set, whatever it hashes to. The library reports DIGEST_MISMATCH last (§6.2), so
 * the signature, sequence and base checks have all passed by then.
 */
export function openIgnoringDigest(bytes: Uint8Array, state: LockSetState, err: unknown): AcceptedSet {
  if (!(err instanceof ProtocolError && err.code === 'DIGEST_MISMATCH') || state.current === null) throw err;
  const parsed = parseSign1(bytes, DEFAULT_MAX_MESSAGE_BYTES);
  const peek = peekSetMessage(bytes);
  const claims = decodeCbor(parsed.payload, 'claims', DEFAULT_MAX_MESSAGE_BYTES) as Map<number, unknown>;
  const sealed = claims.get(Claim.body) as Uint8Array;
  const aad = concatBytes(utf8('latchkit/v1/body'), Uint8Array.of(parsed.type), state.lockId, u32be(peek.seq));
  const plain = open(state.contentKey, sealed, aad);
  const body = peek.kind === 'full' ? plain : applyChanges(state.current, parseDelta(plain));
  return { kind: peek.kind, seq: peek.seq, issuedAt: peek.issuedAt, digest: peek.digest, set: CredentialSet.parse(body), issuerKid: parsed.kid, entryAcc: null };
}

/**
 * The §6.2 opening of the three mutants that loosen a check the library makes inside
 * `openSetMessage` and cannot be handed a different state for: `kid-as-hint` (S2),
 * `ignores-alg` (E8) and `unchecked-tag` (S7). Each runs only once the library has refused
 * the set with that rule's own code, so every check before it has passed; from there it makes
 * every other check the library makes, in the same order and with the same codes. Any other
 * refusal is rethrown as it came.
 */
export function openLoosened(mutant: MutantName, bytes: Uint8Array, state: LockSetState & { provider: CryptoProvider }, err: unknown): AcceptedSet {
  const code = err instanceof ProtocolError ? err.code : null;
  const loosened = (mutant === 'kid-as-hint' && code === 'UNKNOWN_KEY_ID') || (mutant === 'ignores-alg' && code === 'UNSUPPORTED_ALGORITHM') || (mutant === 'unchecked-tag' && code === 'DECRYPTION_FAILED');
  if (!loosened) throw err;
  const maxBytes = state.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const parsed = mutant === 'ignores-alg' ? parseIgnoringAlg(bytes, maxBytes) : parseSign1(bytes, maxBytes);
  const kind = parsed.type === MessageType.fullSet ? 'full' : parsed.type === MessageType.delta ? 'delta' : fail('MALFORMED', 'expected a fullSet or delta message');
  // kid-as-hint, unchecked-tag: E13 passed in the library. ignores-alg: the library stopped at E8, so the claims get only this map check.
  const claims = decodeCbor(parsed.payload, 'claims', maxBytes) as Map<number, unknown>;
  if (!(claims instanceof Map)) fail('MALFORMED', 'claims: expected a map');
  const aud = claims.get(Claim.aud) as Uint8Array;
  if (!equalBytes(aud, state.lockId)) fail('WRONG_LOCK', 'message is for another lock'); // S1
  if (mutant === 'kid-as-hint') {
    // S2 broken: the kid is only a hint; with no anchor of that kid, try every anchor (S3 still holds).
    if (!state.anchors.some((a) => state.provider.ed25519Verify(parsed.signature, sigStructure(parsed.protectedBytes, state.lockId, parsed.payload), a))) fail('BAD_SIGNATURE', 'signature does not verify under any anchor');
  } else {
    const anchor = state.anchors.find((a) => equalBytes(keyId(a, state.provider), parsed.kid)) ?? fail('UNKNOWN_KEY_ID', 'kid is not a trust anchor of this lock'); // S2
    verifySign1(parsed, anchor, state.lockId, state.provider); // S3
  }
  const seq = claims.get(Claim.seq) as number;
  if (seq <= state.seq) fail('STALE_SEQUENCE', `sequence ${seq} is not newer than ${state.seq}`); // S4
  if (kind === 'delta' && (claims.get(Claim.base) !== state.seq || state.current === null)) fail('DELTA_BASE_MISMATCH', 'delta does not apply to the held set'); // S5
  const sealed = claims.get(Claim.body) as Uint8Array;
  const aad = concatBytes(utf8('latchkit/v1/body'), Uint8Array.of(parsed.type), state.lockId, u32be(seq));
  const plain = mutant === 'unchecked-tag' ? decryptWithoutTag(state.contentKey, sealed, aad) : open(state.contentKey, sealed, aad); // S6, S7
  const body = kind === 'full' ? plain : applyChanges(state.current!, parseDelta(plain)); // S8
  const set = CredentialSet.parse(body);
  if (set.secrets === null) fail('MALFORMED', 'a complete set must carry the property secrets'); // S9
  const digest = set.digest(state.provider);
  if (!equalBytes(digest, claims.get(Claim.digest) as Uint8Array)) fail('DIGEST_MISMATCH', 'resulting set digest differs from the signed one'); // S10
  return { kind, seq, issuedAt: claims.get(Claim.iat) as number, digest, set, issuerKid: parsed.kid, entryAcc: null };
}

/**
 * `parseSign1` without E8. The library got as far as the alg (E8), so E1..E7a hold; the
 * content type (E9, E10) and the kid (E11) are still checked, with the library's codes.
 */
export function parseIgnoringAlg(bytes: Uint8Array, maxBytes: number): ParsedSign1 {
  const [prot, , payload, signature] = (decodeCbor(bytes, 'COSE_Sign1', maxBytes) as CborTag).value as [Uint8Array, unknown, Uint8Array, Uint8Array];
  const header = decodeCbor(prot, 'protected header', 64) as Map<number, unknown>;
  const ct = header.get(3);
  if (typeof ct !== 'number') fail('MALFORMED', 'protected header: content type (3) missing');
  const type = ct - 0xff00;
  if (!Object.values(MessageType).includes(type as never)) fail('UNSUPPORTED_VERSION', `content type ${ct} is not a latchkit message type`);
  const kid = header.get(4);
  if (!(kid instanceof Uint8Array) || kid.length !== 8) fail('MALFORMED', 'protected header: kid must be 8 bytes');
  return { type, alg: header.get(1) as number, kid: kid.slice(), protectedBytes: prot.slice(), payload: payload.slice(), signature: signature.slice() };
}

/**
 * XChaCha20 decryption with the Poly1305 tag never compared: the keystream is what sealing
 * zeros of the same length under the same key, nonce and AAD gives, so the result is exactly
 * what a firmware that skips the tag comparison reads (garbage under a wrong key).
 */
function decryptWithoutTag(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  if (sealed.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) fail('MALFORMED', `sealed body: ${sealed.length} bytes is shorter than nonce + tag`);
  const nonce = sealed.subarray(0, AEAD_NONCE_BYTES);
  const ciphertext = sealed.subarray(AEAD_NONCE_BYTES, sealed.length - AEAD_TAG_BYTES);
  const keystream = seal(key, new Uint8Array(ciphertext.length), aad, nonce).subarray(AEAD_NONCE_BYTES, AEAD_NONCE_BYTES + ciphertext.length);
  return ciphertext.map((b, i) => b ^ keystream[i]!);
}
