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
import { applyChanges, Claim, concatBytes, CredentialSet, decodeCbor, DEFAULT_MAX_MESSAGE_BYTES, open, parseDelta, parseSign1, peekSetMessage, ProtocolError, u32be, utf8 } from '@latchkit/protocol';
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
  return { kind: peek.kind, seq: peek.seq, issuedAt: peek.issuedAt, digest: peek.digest, set: CredentialSet.parse(body), issuerKid: parsed.kid };
}
