/** Every "must reject" rule of the protocol, each fed the bad input and checked for its code. */
import { describe, expect, it } from 'vitest';
import {
  BulkReceiver,
  ByteWriter,
  CredentialSet,
  decodeCbor,
  decodeEvents,
  decodeLockInfo,
  decodeRequest,
  decodeResponse,
  encodeCbor,
  encodeRequest,
  encodeUnknownOpcodeResponse,
  encodeUnlockChallenge,
  issueAnchorRotation,
  issueTimeSync,
  canonicalMap,
  nobleProvider,
  openTimeSync,
  sigStructure,
  issueCommission,
  issueDelta,
  issueFullSet,
  issueFullSetBody,
  openCommission,
  openSetMessage,
  packDelta,
  packSet,
  parseDelta,
  ProtocolError,
  Reassembler,
  segment,
  signSign1,
  Tag,
  transferId,
  type ProtocolErrorCode,
} from '@latchkit/protocol';
import { contentKey, det, device, entriesFor, issuer, issuer2, lockId, NOW_S, otherLockId, secrets, specsForResident } from './fixtures.js';

function code(fn: () => unknown): ProtocolErrorCode | 'no error' {
  try {
    fn();
    return 'no error';
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
}

const common = { issuer, lockId, contentKey, secrets, issuedAt: NOW_S };
const entries = entriesFor([...specsForResident(1, '111111'), ...specsForResident(2, '222222')]);
const full = issueFullSet({ ...common, seq: 5, entries });
const state = (over = {}) => ({ lockId, anchors: [issuer.publicKey], contentKey, seq: 0, current: null, ...over });

describe('set messages must be rejected when', () => {
  it('oversize for the lock', () => {
    expect(code(() => openSetMessage(full.bytes, state({ maxBytes: full.bytes.length - 1 })))).toBe('OVERSIZE');
  });
  it('truncated at any point', () => {
    for (const cut of [1, 2, 10, full.bytes.length / 2, full.bytes.length - 1]) {
      expect(code(() => openSetMessage(full.bytes.subarray(0, Math.floor(cut)), state()))).toBe('TRUNCATED');
    }
  });
  it('empty', () => expect(code(() => openSetMessage(new Uint8Array(0), state()))).toBe('TRUNCATED'));
  it('garbage', () => expect(code(() => openSetMessage(Uint8Array.of(0xff, 0x00), state()))).toBe('MALFORMED'));
  it('non-canonical CBOR (an integer in a longer form than needed)', () => {
    expect(code(() => decodeCbor(Uint8Array.of(0x19, 0x00, 0xff), 'x', 10))).toBe('MALFORMED');
    expect(decodeCbor(encodeCbor(255), 'x', 10)).toBe(255);
  });
  it('addressed to another lock', () => {
    const other = issueFullSet({ ...common, lockId: otherLockId, seq: 5, entries });
    expect(code(() => openSetMessage(other.bytes, state()))).toBe('WRONG_LOCK');
  });
  it('signed by an unknown key', () => {
    const stranger = issueFullSet({ ...common, issuer: issuer2, seq: 5, entries });
    expect(code(() => openSetMessage(stranger.bytes, state()))).toBe('UNKNOWN_KEY_ID');
  });
  it('rolled back or replayed', () => {
    expect(code(() => openSetMessage(full.bytes, state({ seq: 5 })))).toBe('STALE_SEQUENCE');
    expect(code(() => openSetMessage(full.bytes, state({ seq: 9 })))).toBe('STALE_SEQUENCE');
    expect(code(() => openSetMessage(full.bytes, state({ seq: 4 })))).toBe('no error');
  });
  it('tampered ciphertext: rejected by the signature before decryption', () => {
    const t = full.bytes.slice();
    t[t.length - 150]! ^= 0x80;
    expect(code(() => openSetMessage(t, state()))).toBe('BAD_SIGNATURE');
  });
  it('encrypted under another lock content key', () => {
    const wrong = issueFullSet({ ...common, contentKey: det('other-content-key'), seq: 5, entries });
    expect(code(() => openSetMessage(wrong.bytes, state()))).toBe('DECRYPTION_FAILED');
  });
  it('a message of another type in its place', () => {
    const comm = issueCommission({ issuer, lockId, anchors: [issuer.publicKey], lockEncryptionPublic: device.encryptionPublic, contentKey, issuedAt: NOW_S, utcOffset: 0, generation: 1 });
    expect(code(() => openSetMessage(comm, state()))).toBe('MALFORMED');
  });
  it('signed claims with an unexpected claim key', () => {
    const payload = encodeCbor(new Map<number, unknown>([[3, lockId], [6, NOW_S], [99, 1]]));
    const bytes = signSign1(1, issuer, payload, lockId);
    expect(code(() => openSetMessage(bytes, state()))).toBe('MALFORMED');
  });
  it('an unprotected header that is not empty', () => {
    const decoded = decodeCbor(full.bytes, 'x', 1 << 20) as Tag;
    const arr = decoded.value as unknown[];
    const bytes = encodeCbor(new Tag([arr[0], new Map([[4, new Uint8Array(8)]]), arr[2], arr[3]], 18));
    expect(code(() => openSetMessage(bytes, state()))).toBe('MALFORMED');
  });
});

describe('deltas must be rejected when', () => {
  const next = entriesFor([...specsForResident(1, '111111'), ...specsForResident(3, '333333')]);
  const delta = issueDelta({ ...common, seq: 6, entries: next, base: { seq: 5, body: full.body } });
  const current = CredentialSet.parse(full.body);
  it('the lock holds another sequence', () => {
    expect(code(() => openSetMessage(delta.bytes, state({ seq: 4, current })))).toBe('DELTA_BASE_MISMATCH');
  });
  it('the lock holds the same sequence with other content (removed key absent)', () => {
    const otherBody = CredentialSet.fromEntries(entriesFor(specsForResident(9, '999999')), secrets);
    expect(code(() => openSetMessage(delta.bytes, state({ seq: 5, current: otherBody })))).toBe('DELTA_BASE_MISMATCH');
  });
  it('the result does not hash to the signed digest', () => {
    // Same keys, other validity: the removals find their keys, only the digest can tell.
    const shifted = CredentialSet.fromEntries(entries.map((e) => ({ ...e, end: 99_999_999 })), secrets);
    expect(code(() => openSetMessage(delta.bytes, state({ seq: 5, current: shifted })))).toBe('DIGEST_MISMATCH');
  });
  it('applied on top of exactly N it succeeds', () => {
    expect(openSetMessage(delta.bytes, state({ seq: 5, current })).set.body).toEqual(packSet(next, secrets));
  });
});

describe('set bodies must be rejected when not canonical', () => {
  const body = packSet(entries, secrets);
  it('version', () => {
    const b = body.slice();
    b[0] = 2;
    expect(code(() => CredentialSet.parse(b))).toBe('UNSUPPORTED_VERSION');
  });
  it('truncated / trailing bytes', () => {
    expect(code(() => CredentialSet.parse(body.subarray(0, body.length - 1)))).toBe('TRUNCATED');
    expect(code(() => CredentialSet.parse(new Uint8Array([...body, 0])))).toBe('MALFORMED');
  });
  it('rows out of order', () => {
    // Swap the first two phone rows (the last table, 10-byte rows).
    const n = 2 * 1; // two residents -> two phone rows
    const b = body.slice();
    const end = b.length;
    const a = b.slice(end - 10 * n, end - 10 * (n - 1));
    const c = b.slice(end - 10 * (n - 1), end - 10 * (n - 2));
    b.set(c, end - 10 * n);
    b.set(a, end - 10 * (n - 1));
    expect(code(() => CredentialSet.parse(b))).toBe('MALFORMED');
  });
  it('a holder index out of range', () => {
    const b = body.slice();
    b[b.length - 1] = 0xff;
    b[b.length - 2] = 0xff;
    expect(code(() => CredentialSet.parse(b))).toBe('MALFORMED');
  });
  it('duplicate credentials are refused when packing', () => {
    expect(code(() => packSet([...entries, entries[0]!], secrets))).toBe('DUPLICATE_CREDENTIAL');
  });
  it('bad entry arguments are refused with INVALID_ARGUMENT', () => {
    expect(code(() => packSet([{ ...entries[0]!, key: new Uint8Array(3) }], secrets))).toBe('INVALID_ARGUMENT');
    expect(code(() => packSet([{ ...entries[0]!, start: 10, end: 5 }], secrets))).toBe('INVALID_ARGUMENT');
    expect(code(() => packSet([{ ...entries[0]!, schedule: { days: 0, from: 0, to: 10 } }], secrets))).toBe('INVALID_ARGUMENT');
  });
  it('delta body: key both removed and upserted, unsorted removals', () => {
    expect(code(() => packDelta({ removed: [{ kind: entries[0]!.kind, key: entries[0]!.key }], upserts: [entries[0]!], secrets: null }))).toBe('INVALID_ARGUMENT');
    const w = new ByteWriter().u8(1).u8(0).u16(2).u16(0).u16(0).u16(0).bytes(Uint8Array.of(9, 9, 9, 9, 9)).bytes(Uint8Array.of(1, 1, 1, 1, 1));
    w.bytes(packSet([], null));
    expect(code(() => parseDelta(w.finish()))).toBe('MALFORMED');
  });
});

describe('commissioning must be rejected when', () => {
  const msg = issueCommission({ issuer, lockId, anchors: [issuer.publicKey], lockEncryptionPublic: device.encryptionPublic, contentKey, issuedAt: NOW_S, utcOffset: 60, generation: 1 });
  it('signed by a key outside its own anchors (fresh lock)', () => {
    const m = issueCommission({ issuer: issuer2, lockId, anchors: [issuer2.publicKey], lockEncryptionPublic: device.encryptionPublic, contentKey, issuedAt: NOW_S, utcOffset: 60, generation: 1 });
    // Valid self-signed by issuer2 for a fresh lock, but an already-commissioned lock refuses it.
    expect(openCommission(m, { lockId, device, anchors: null, generation: 0 }).anchors).toHaveLength(1);
    expect(code(() => openCommission(m, { lockId, device, anchors: [issuer.publicKey], generation: 1 }))).toBe('UNKNOWN_KEY_ID');
  });
  it('the content key was wrapped for another device', () => {
    const other = issueCommission({ issuer, lockId, anchors: [issuer.publicKey], lockEncryptionPublic: new Uint8Array(32).fill(9), contentKey, issuedAt: NOW_S, utcOffset: 60, generation: 1 });
    expect(code(() => openCommission(other, { lockId, device, anchors: null, generation: 0 }))).toBe('DECRYPTION_FAILED');
  });
  it('for another lock', () => {
    expect(code(() => openCommission(msg, { lockId: otherLockId, device, anchors: null, generation: 0 }))).toBe('WRONG_LOCK');
  });
});

describe('framing must be rejected when', () => {
  it('a control segment arrives out of order', () => {
    const segs = segment(new Uint8Array(100), 23);
    const r = new Reassembler();
    r.push(segs[0]!);
    expect(code(() => r.push(segs[2]!))).toBe('MALFORMED');
    expect(code(() => r.push(segs[1]!))).toBe('MALFORMED'); // no first segment pending any more
    expect(code(() => r.push(new Uint8Array(0)))).toBe('TRUNCATED');
  });
  it('a control message exceeds the limit', () => {
    expect(code(() => segment(new Uint8Array(5000), 23))).toBe('OVERSIZE');
    const r = new Reassembler();
    r.push(Uint8Array.of(0x40, ...new Uint8Array(2000)));
    r.push(Uint8Array.of(0x01, ...new Uint8Array(2000)));
    expect(code(() => r.push(Uint8Array.of(0x02, ...new Uint8Array(200))))).toBe('OVERSIZE');
  });
  it('an unknown opcode', () => expect(code(() => decodeRequest(Uint8Array.of(0x7e, 1)))).toBe('UNKNOWN_OPCODE'));
  it('a bulk transfer is committed early, unknown, too big or corrupted', () => {
    const msg = det('bulk', 1000);
    const id = transferId(msg);
    const rx = new BulkReceiver(800);
    expect(code(() => rx.begin({ id, total: msg.length }))).toBe('OVERSIZE');
    const rx2 = new BulkReceiver(4096);
    expect(code(() => rx2.commit(id))).toBe('TRANSFER_UNKNOWN');
    rx2.begin({ id, total: msg.length });
    expect(code(() => rx2.commit(id))).toBe('TRANSFER_INCOMPLETE');
    rx2.begin({ id, total: msg.length });
    const bad = det('other', 1000);
    rx2.chunk(new ByteWriter().u32(0).bytes(bad).finish());
    expect(code(() => rx2.commit(id))).toBe('MALFORMED');
  });
  it('event batches and lock info that are cut short', () => {
    expect(code(() => decodeEvents(new Uint8Array(33)))).toBe('TRUNCATED');
    expect(code(() => decodeLockInfo(new Uint8Array(10).fill(1)))).toBe('TRUNCATED');
  });
});

describe('review findings stay fixed', () => {
  it('a protected header with its labels out of canonical order is rejected, even with a valid signature', () => {
    const payload = encodeCbor(canonicalMap([[3, lockId], [6, NOW_S], [-65543, 0]]));
    const signed = (prot: Uint8Array) => encodeCbor(new Tag([prot, new Map(), payload, nobleProvider.ed25519Sign(issuer.seed, sigStructure(prot, lockId, payload))], 18));
    const inOrder = Uint8Array.of(0xa3, 0x01, 0x32, 0x03, 0x19, 0xff, 0x05, 0x04, 0x48, ...issuer.kid);
    const swapped = Uint8Array.of(0xa3, 0x03, 0x19, 0xff, 0x05, 0x01, 0x32, 0x04, 0x48, ...issuer.kid);
    const lock = { lockId, anchors: [issuer.publicKey] };
    expect(openTimeSync(signed(inOrder), lock)).toEqual({ time: NOW_S, utcOffset: 0 });
    expect(code(() => openTimeSync(signed(swapped), lock))).toBe('MALFORMED');
  });
  it('the transition claim: optional, [after iat, offset in range], and only on commission and timeSync', () => {
    const prot = Uint8Array.of(0xa3, 0x01, 0x32, 0x03, 0x19, 0xff, 0x05, 0x04, 0x48, ...issuer.kid);
    const signedClaims = (claims: [number, unknown][]) => {
      const payload = encodeCbor(canonicalMap(claims));
      return encodeCbor(new Tag([prot, new Map(), payload, nobleProvider.ed25519Sign(issuer.seed, sigStructure(prot, lockId, payload))], 18));
    };
    const lock = { lockId, anchors: [issuer.publicKey] };
    const base: [number, unknown][] = [[3, lockId], [6, NOW_S], [-65543, -300]];
    expect(openTimeSync(signedClaims([...base, [-65546, [NOW_S + 60, -240]]]), lock)).toEqual({ time: NOW_S, utcOffset: -300, transition: { at: NOW_S + 60, offset: -240 } });
    for (const bad of [[NOW_S, -240], [NOW_S - 1, -240], [NOW_S + 60, 5000], [NOW_S + 60], [NOW_S + 60, -240, 0], [NOW_S + 60, 1.5], 'soon', [-1, 0]]) {
      expect(code(() => openTimeSync(signedClaims([...base, [-65546, bad]]), lock)), JSON.stringify(bad)).toBe('MALFORMED');
    }
    expect(code(() => issueTimeSync({ issuer, lockId, issuedAt: NOW_S, utcOffset: -300, transition: { at: NOW_S, offset: -240 } }))).toBe('INVALID_ARGUMENT');
    expect(code(() => issueTimeSync({ issuer, lockId, issuedAt: NOW_S, utcOffset: -300, transition: { at: NOW_S + 60, offset: 2000 } }))).toBe('INVALID_ARGUMENT');
  });
  it('a set message names its set by exactly one of digest and entryDigest, each 32 bytes', () => {
    // fullSet: content type 0xff01. The claims check (E13) comes before the signature, so the
    // sealed body need not open.
    const prot = Uint8Array.of(0xa3, 0x01, 0x32, 0x03, 0x19, 0xff, 0x01, 0x04, 0x48, ...issuer.kid);
    const signedClaims = (claims: [number, unknown][]) => {
      const payload = encodeCbor(canonicalMap(claims));
      return encodeCbor(new Tag([prot, new Map(), payload, nobleProvider.ed25519Sign(issuer.seed, sigStructure(prot, lockId, payload))], 18));
    };
    const base: [number, unknown][] = [[3, lockId], [6, NOW_S], [-65537, 7], [-65540, new Uint8Array(64)]];
    const d32 = new Uint8Array(32).fill(7);
    expect(code(() => openSetMessage(signedClaims(base), state()))).toBe('MALFORMED');
    expect(code(() => openSetMessage(signedClaims([...base, [-65539, d32], [-65547, d32]]), state()))).toBe('MALFORMED');
    expect(code(() => openSetMessage(signedClaims([...base, [-65547, d32.subarray(0, 31)]]), state()))).toBe('MALFORMED');
    // One of them, well formed: past the claims check, the sealed zeros fail to open.
    expect(code(() => openSetMessage(signedClaims([...base, [-65547, d32]]), state()))).toBe('DECRYPTION_FAILED');
    expect(code(() => openSetMessage(signedClaims([...base, [-65539, d32]]), state()))).toBe('DECRYPTION_FAILED');
    expect(code(() => issueFullSet({ ...common, seq: 5, entries, digestForm: 'sha1' as never }))).toBe('INVALID_ARGUMENT');
  });
  it('an entry digest that does not name the result is DIGEST_MISMATCH, for a full set too', () => {
    const body = packSet(entries, secrets);
    // A digest the caller brings needs its form: a bare one used to mean SHA-256 of the body.
    expect(code(() => issueFullSetBody({ ...common, seq: 5, body, digest: new Uint8Array(32).fill(9) }))).toBe('INVALID_ARGUMENT');
    const wrong = issueFullSetBody({ ...common, seq: 5, body, digest: new Uint8Array(32).fill(9), digestForm: 'entries' });
    expect(wrong.digestForm).toBe('entries');
    expect(code(() => openSetMessage(wrong.bytes, state()))).toBe('DIGEST_MISMATCH');
    expect(openSetMessage(full.bytes, state()).digestForm).toBe('entries');
  });
  it("a delta's base accumulator must count the base's entries", () => {
    const next = entriesFor([...specsForResident(1, '111111'), ...specsForResident(3, '333333')]);
    const other = issueFullSet({ ...common, seq: 4, entries: entries.slice(0, 3) });
    expect(code(() => issueDelta({ ...common, seq: 6, entries: next, base: { seq: 5, body: full.body, entryAcc: other.entryAcc! } }))).toBe('INVALID_ARGUMENT');
    const ok = issueDelta({ ...common, seq: 6, entries: next, base: { seq: 5, body: full.body, entryAcc: full.entryAcc! } });
    expect(ok.digest).toEqual(issueFullSet({ ...common, seq: 6, entries: next }).digest);
  });
  it('issue functions refuse values every lock would reject', () => {
    expect(code(() => issueTimeSync({ issuer, lockId, issuedAt: NOW_S, utcOffset: 5000 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => issueAnchorRotation({ issuer, lockId, issuedAt: NOW_S, seq: -1, anchors: [issuer.publicKey] }))).toBe('INVALID_ARGUMENT');
    expect(code(() => issueAnchorRotation({ issuer, lockId, issuedAt: NOW_S, seq: 1, anchors: Array(9).fill(0).map((_, i) => det(`a${i}`)) }))).toBe('INVALID_ARGUMENT');
    expect(code(() => issueAnchorRotation({ issuer, lockId, issuedAt: NOW_S, seq: 1, anchors: [issuer.publicKey, issuer.publicKey] }))).toBe('INVALID_ARGUMENT');
  });
  it('binary encoders refuse out-of-range numbers instead of wrapping them', () => {
    expect(code(() => encodeRequest({ opcode: 'getInfo', token: 256, payload: new Uint8Array(0) }))).toBe('INVALID_ARGUMENT');
    expect(code(() => encodeUnlockChallenge({ nonce: new Uint8Array(16), lockTime: 2 ** 32 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new ByteWriter().u16(-1))).toBe('INVALID_ARGUMENT');
  });
  it('an unknown-opcode error response decodes; a success for an unknown opcode does not', () => {
    expect(decodeResponse(encodeUnknownOpcodeResponse(0x7e, 3))).toMatchObject({ opcode: 'unknown', opcodeByte: 0x7e, status: 0x13 });
    expect(code(() => decodeResponse(Uint8Array.of(0xfe, 3, 0)))).toBe('MALFORMED');
  });
});
