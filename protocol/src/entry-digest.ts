/**
 * The entry digest (PROTOCOL.md §4.7): a set digest a lock can update per change.
 *
 * The body digest (§4.6, SHA-256 over the packed body) costs a lock one pass over its whole
 * set for every delta — about 1.7 s of Cortex-M4 time at a 50,000-credential lobby door, for a
 * change of one resident. The entry digest is a keyed additive multiset hash: each logical
 * entry maps to one 32-byte element (one SHA-256 block under a key only the backend and the lock
 * hold), the set's accumulator is the sum of its elements mod 2^256, and the digest hashes the
 * accumulator with the entry count and the secrets. Adding or removing an entry adds or
 * subtracts its element, so a delta costs one block per entry it touches, whatever the set size.
 *
 * Why keyed: an unkeyed additive multiset hash falls to generalised-birthday attacks (Wagner's
 * k-tree), whereas with secret elements nobody without the key can even compute one (Clarke et
 * al.'s MSet-Add-Hash, ASIACRYPT 2003). The digest only ever has to convince the backend and the
 * lock, and both hold the content key it is derived from.
 *
 * Why the count and the canonical form matter: the sum is over a *multiset*; a set body never
 * holds one (kind, key) twice (§4.4 rules 10, 11) and a delta that would add a present key or
 * remove an absent one is refused, so the multiset is always the set.
 */
import { equalBytes, u32be } from './bytes.js';
import type { CryptoProvider } from './crypto.js';
import { getCryptoProvider, utf8 } from './crypto.js';
import { fail } from './errors.js';
import type { DeltaChanges } from './delta.js';
import type { CredentialSet, Entry, SetSecrets } from './set.js';
import { KEY_BYTES } from './set.js';
import { CredentialKind } from './types.js';

export const ENTRY_DIGEST_KEY_BYTES = 16;
/** Accumulator (32) ‖ entry count (u32): what a lock keeps next to its set. */
export const ENTRY_ACC_BYTES = 36;
const DIGEST_CONTEXT = utf8('latchkit/v1/entry-digest');
const OPEN_END = 0xffffffff;

const KEY_INFO = utf8('latchkit/v1/entry-digest-key');

/**
 * The 16-byte element key of one lock: HKDF-SHA256(content key, salt = lock id, info, 16). Written
 * out as its two HMACs through the provider (16 bytes are one expand block), so a lock's MCU meter
 * sees them like every other hash it computes.
 */
export function entryDigestKey(contentKey: Uint8Array, lockId: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  const prk = provider.hmacSha256(lockId, contentKey);
  const info = new Uint8Array(KEY_INFO.length + 1);
  info.set(KEY_INFO);
  info[KEY_INFO.length] = 1;
  return provider.hmacSha256(prk, info).slice(0, ENTRY_DIGEST_KEY_BYTES);
}

/**
 * key(16) ‖ kind ‖ entry key ‖ holder ‖ start ‖ end ‖ days ‖ from ‖ to: at most 42 bytes, so
 * the element is exactly one SHA-256 block. Open times are written as in the body (0 and
 * 0xFFFFFFFF), no schedule as three zero fields.
 */
function elementInput(key: Uint8Array, e: Entry): Uint8Array {
  const width = KEY_BYTES[e.kind];
  const out = new Uint8Array(ENTRY_DIGEST_KEY_BYTES + 1 + width + 17);
  const v = new DataView(out.buffer);
  out.set(key, 0);
  let at = ENTRY_DIGEST_KEY_BYTES;
  out[at++] = CredentialKind[e.kind];
  if (e.key.length !== width) fail('INVALID_ARGUMENT', `${e.kind} key must be ${width} bytes`);
  out.set(e.key, at);
  at += width;
  v.setUint32(at, e.holder);
  v.setUint32(at + 4, e.start ?? 0);
  v.setUint32(at + 8, e.end ?? OPEN_END);
  if (e.schedule) {
    out[at + 12] = e.schedule.days;
    v.setUint16(at + 13, e.schedule.from);
    v.setUint16(at + 15, e.schedule.to);
  }
  return out;
}

/** One entry's element: SHA-256(key ‖ encoded entry). Exported for test vectors. */
export function entryElement(key: Uint8Array, e: Entry, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  return provider.sha256(elementInput(key, e));
}

/**
 * A set's running accumulator. `add` and `remove` cost one SHA-256 block each (the lock's MCU
 * meter sees them through the provider), `digest` one more over 128 bytes.
 */
export class EntryAccumulator {
  private readonly acc: Uint8Array;
  private n: number;

  private constructor(
    private readonly key: Uint8Array,
    acc: Uint8Array,
    count: number,
    private readonly provider: CryptoProvider,
  ) {
    this.acc = acc;
    this.n = count;
  }

  /** The empty set's accumulator. */
  static empty(key: Uint8Array, provider: CryptoProvider = getCryptoProvider()): EntryAccumulator {
    if (!(key instanceof Uint8Array) || key.length !== ENTRY_DIGEST_KEY_BYTES) fail('INVALID_ARGUMENT', `entry digest key must be ${ENTRY_DIGEST_KEY_BYTES} bytes`);
    return new EntryAccumulator(key, new Uint8Array(32), 0, provider);
  }

  /** Every entry of a set: one block per entry (a full set's cost). */
  static of(key: Uint8Array, entries: Iterable<Entry>, provider: CryptoProvider = getCryptoProvider()): EntryAccumulator {
    const a = EntryAccumulator.empty(key, provider);
    for (const e of entries) a.add(e);
    return a;
  }

  /** An accumulator a lock kept (`bytes()`), for the next delta. */
  static fromBytes(key: Uint8Array, bytes: Uint8Array, provider: CryptoProvider = getCryptoProvider()): EntryAccumulator {
    if (!(bytes instanceof Uint8Array) || bytes.length !== ENTRY_ACC_BYTES) fail('MALFORMED', `entry accumulator must be ${ENTRY_ACC_BYTES} bytes`);
    const a = EntryAccumulator.empty(key, provider);
    a.acc.set(bytes.subarray(0, 32));
    a.n = new DataView(bytes.buffer, bytes.byteOffset + 32, 4).getUint32(0);
    return a;
  }

  get count(): number {
    return this.n;
  }

  add(e: Entry): void {
    const x = entryElement(this.key, e, this.provider);
    let carry = 0;
    for (let i = 31; i >= 0; i--) {
      const s = this.acc[i]! + x[i]! + carry;
      this.acc[i] = s & 0xff;
      carry = s >>> 8;
    }
    this.n++;
  }

  remove(e: Entry): void {
    if (this.n === 0) fail('DELTA_BASE_MISMATCH', 'entry digest: removing from an empty set');
    const x = entryElement(this.key, e, this.provider);
    let borrow = 0;
    for (let i = 31; i >= 0; i--) {
      const d = this.acc[i]! - x[i]! - borrow;
      this.acc[i] = d & 0xff;
      borrow = d < 0 ? 1 : 0;
    }
    this.n--;
  }

  /** acc(32) ‖ count(u32), what a lock stores with its set. */
  bytes(): Uint8Array {
    const out = new Uint8Array(ENTRY_ACC_BYTES);
    out.set(this.acc);
    out.set(u32be(this.n), 32);
    return out;
  }

  /** SHA-256("latchkit/v1/entry-digest" ‖ daily secret ‖ card master ‖ count ‖ acc). */
  digest(secrets: SetSecrets): Uint8Array {
    const input = new Uint8Array(DIGEST_CONTEXT.length + 64 + 4 + 32);
    input.set(DIGEST_CONTEXT, 0);
    input.set(secrets.daily, DIGEST_CONTEXT.length);
    input.set(secrets.cardMaster, DIGEST_CONTEXT.length + 32);
    input.set(u32be(this.n), DIGEST_CONTEXT.length + 64);
    input.set(this.acc, DIGEST_CONTEXT.length + 68);
    return this.provider.sha256(input);
  }

  equals(other: EntryAccumulator): boolean {
    return this.n === other.n && equalBytes(this.acc, other.acc);
  }
}

/**
 * Bring `acc` (the accumulator of `base`) to the set `changes` make of it: subtract each removed
 * entry and the old version of each changed one, add each upsert. One block per touched entry;
 * the base is only binary-searched. A removed key the base lacks is DELTA_BASE_MISMATCH.
 */
export function applyChangesToAccumulator(acc: EntryAccumulator, base: CredentialSet, changes: DeltaChanges): void {
  for (const r of changes.removed) {
    const row = base.rowIndex(r.kind, r.key);
    if (row < 0) fail('DELTA_BASE_MISMATCH', `delta removes a ${r.kind} credential the lock does not hold; send the full set`);
    acc.remove(base.entryAt(r.kind, row));
  }
  for (const e of changes.upserts) {
    const row = base.rowIndex(e.kind, e.key);
    if (row >= 0) acc.remove(base.entryAt(e.kind, row));
    acc.add(e);
  }
}
