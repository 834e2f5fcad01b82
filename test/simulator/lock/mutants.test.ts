/**
 * The set-opening mutants that loosen a check inside the library's opener (kid-as-hint: §6.2
 * S2, ignores-alg: §6.1 E8, unchecked-tag: §6.2 S7) break exactly that check: each takes a set,
 * correctly signed by its anchor, that only that check refuses, and still refuses everything
 * the other checks refuse. The conformance suite (../conformance/suite.test.ts) shows which
 * cases catch them; this shows they are the bug their name says and no other.
 */
import { describe, expect, it } from 'vitest';
import { equalBytes, parseSign1, ProtocolError, sigStructure, type IssuedSet } from '@latchkit/protocol';
import { issueFullSet } from '@latchkit/protocol';
import type { MutantName } from '../../../simulator/src/lock/index.js';
import { crypto, det, issuer, issuer2, resident, secrets, T0, testLock } from './fixtures.js';

const specs1 = [...resident(1, '111111'), ...resident(2, '222222')];
const specs2 = [...resident(1, '111111'), ...resident(3, '333333')];

/** Where the protected header sits in a set message (tag 18, array of 4, bstr of 17 bytes). */
const PROTECTED = { start: 3, end: 20 };
const ALG_BYTE = 5;
const CONTENT_TYPE_LOW_BYTE = 9;
const KID_LAST_BYTE = 19;
/** The signature bstr that ends the message (0x58 0x40, 64 bytes). */
const SIGNATURE_BSTR = 66;
/**
 * The last claim before it: the entry digest (key 3a0001000a, bstr 0x58 0x20, 32 bytes). The
 * sealed body comes just before that claim and ends with its AEAD tag.
 */
const ENTRY_DIGEST_CLAIM = 39;
const TAG_END = SIGNATURE_BSTR + ENTRY_DIGEST_CLAIM;

/** `set` with `edit` applied to its bytes, then signed again by the anchor: only the edited field is wrong. */
function resigned(set: IssuedSet, lockId: Uint8Array, edit: (bytes: Uint8Array) => void): Uint8Array {
  const length = parseSign1(set.bytes, 1 << 20).payload.length;
  const bytes = set.bytes.slice();
  edit(bytes);
  // The payload ends where the signature bstr starts; read it after the edit, which may be in it.
  const payload = bytes.slice(bytes.length - SIGNATURE_BSTR - length, bytes.length - SIGNATURE_BSTR);
  const signature = crypto.ed25519Sign(issuer.seed, sigStructure(bytes.slice(PROTECTED.start, PROTECTED.end), lockId, payload));
  bytes.set(signature, bytes.length - 64);
  return bytes;
}

function outcome(mutant: MutantName | undefined, message: (t: ReturnType<typeof testLock>) => Uint8Array): string {
  const t = testLock({ specs: specs1, ...(mutant ? { mutant } : {}) });
  const fw = t.device.firmware;
  try {
    fw.applyMessage(message(t));
  } catch (e) {
    if (e instanceof ProtocolError) return `${e.code}, holds ${fw.seq}`;
    throw e;
  }
  return `accepted seq ${fw.seq}, 333333 ${fw.enterCode('333333').granted ? 'granted' : 'denied'}`;
}

describe('set-opening mutants break exactly one check', () => {
  it('kid-as-hint takes an anchor-signed set whose kid names no anchor, but no stranger-signed set', () => {
    const wrongKid = (t: ReturnType<typeof testLock>) => resigned(t.backend.full(2, specs2), t.backend.lockId, (b) => void (b[KID_LAST_BYTE]! ^= 0x01));
    const stranger = (t: ReturnType<typeof testLock>) => issueFullSet({ issuer: issuer2, lockId: t.backend.lockId, contentKey: det('content-key'), seq: 2, entries: t.backend.entries(specs2), secrets, issuedAt: T0, provider: crypto }).bytes;
    expect(outcome(undefined, wrongKid)).toBe('UNKNOWN_KEY_ID, holds 1');
    expect(outcome('kid-as-hint', wrongKid)).toBe('accepted seq 2, 333333 granted');
    expect(outcome(undefined, stranger)).toBe('UNKNOWN_KEY_ID, holds 1');
    expect(outcome('kid-as-hint', stranger)).toBe('BAD_SIGNATURE, holds 1');
  });

  it('ignores-alg takes an anchor-signed set whose alg is -20, but still checks the content type and the signature', () => {
    const alg = (t: ReturnType<typeof testLock>) => resigned(t.backend.full(2, specs2), t.backend.lockId, (b) => void (b[ALG_BYTE] = 0x33));
    const contentType = (t: ReturnType<typeof testLock>) => resigned(t.backend.full(2, specs2), t.backend.lockId, (b) => void (b[CONTENT_TYPE_LOW_BYTE] = 0x00));
    const algUnsigned = (t: ReturnType<typeof testLock>) => {
      const b = t.backend.full(2, specs2).bytes.slice();
      b[ALG_BYTE] = 0x33;
      return b;
    };
    expect(outcome(undefined, alg)).toBe('UNSUPPORTED_ALGORITHM, holds 1');
    expect(outcome('ignores-alg', alg)).toBe('accepted seq 2, 333333 granted');
    expect(outcome('ignores-alg', contentType)).toBe('UNSUPPORTED_VERSION, holds 1');
    expect(outcome('ignores-alg', algUnsigned)).toBe('BAD_SIGNATURE, holds 1');
  });

  it('unchecked-tag takes an anchor-signed set whose AEAD tag is wrong, and reads garbage under another content key', () => {
    const badTag = (t: ReturnType<typeof testLock>) => resigned(t.backend.full(2, specs2), t.backend.lockId, (b) => void (b[b.length - TAG_END - 1]! ^= 0x01));
    const otherKey = (t: ReturnType<typeof testLock>) => issueFullSet({ issuer, lockId: t.backend.lockId, contentKey: new Uint8Array(32).fill(0xc7), seq: 2, entries: t.backend.entries(specs2), secrets, issuedAt: T0, provider: crypto }).bytes;
    expect(outcome(undefined, badTag)).toBe('DECRYPTION_FAILED, holds 1');
    expect(outcome('unchecked-tag', badTag)).toBe('accepted seq 2, 333333 granted');
    expect(outcome(undefined, otherKey)).toBe('DECRYPTION_FAILED, holds 1');
    expect(outcome('unchecked-tag', otherKey)).not.toMatch(/^(accepted|DECRYPTION_FAILED)/);
  });

  it('the header offsets are those of a real set message', () => {
    const t = testLock({ specs: specs1 });
    const bytes = t.backend.full(2, specs2).bytes;
    const parsed = parseSign1(bytes, 1 << 20);
    expect(equalBytes(bytes.slice(PROTECTED.start, PROTECTED.end), parsed.protectedBytes)).toBe(true);
    expect([bytes[ALG_BYTE], bytes[CONTENT_TYPE_LOW_BYTE], bytes[KID_LAST_BYTE]]).toEqual([0x32, 0x01, parsed.kid[7]]);
    expect([...bytes.slice(-SIGNATURE_BSTR, -64)]).toEqual([0x58, 0x40]);
    expect(equalBytes(parsed.payload.slice(-ENTRY_DIGEST_CLAIM), bytes.slice(-TAG_END, -SIGNATURE_BSTR))).toBe(true);
    expect([...bytes.slice(-TAG_END, -TAG_END + 7)]).toEqual([0x3a, 0x00, 0x01, 0x00, 0x0a, 0x58, 0x20]);
    const sealed = parsed.payload.slice(-ENTRY_DIGEST_CLAIM - 16, -ENTRY_DIGEST_CLAIM);
    expect(equalBytes(sealed, bytes.slice(-TAG_END - 16, -TAG_END))).toBe(true);
  });
});
