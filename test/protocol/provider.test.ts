/** The node:crypto provider must be a drop-in for the portable one: same bytes, same verdicts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function toLE(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}
function fromLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

describe('crypto providers are byte-identical', () => {
  it('hashes, HMAC, public keys and signatures', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, msg) => {
        expect(nodeCryptoProvider.sha256(msg)).toEqual(nobleProvider.sha256(msg));
        expect(nodeCryptoProvider.hmacSha256(seed, msg)).toEqual(nobleProvider.hmacSha256(seed, msg));
        const pub = nobleProvider.ed25519PublicKey(seed);
        expect(nodeCryptoProvider.ed25519PublicKey(seed)).toEqual(pub);
        const sig = nobleProvider.ed25519Sign(seed, msg);
        expect(nodeCryptoProvider.ed25519Sign(seed, msg)).toEqual(sig);
        expect(nodeCryptoProvider.ed25519Verify(sig, msg, pub)).toBe(true);
        expect(nobleProvider.ed25519Verify(sig, msg, pub)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('agree on rejecting corrupted signatures, keys and messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.nat(95), fc.integer({ min: 1, max: 255 }), (seed, msg, at, x) => {
        const pub = nobleProvider.ed25519PublicKey(seed);
        const sig = nobleProvider.ed25519Sign(seed, msg);
        const both = (s: Uint8Array, m: Uint8Array, p: Uint8Array) => {
          const a = nobleProvider.ed25519Verify(s, m, p);
          expect(nodeCryptoProvider.ed25519Verify(s, m, p)).toBe(a);
          return a;
        };
        const s2 = sig.slice();
        const p2 = pub.slice();
        const m2 = msg.slice();
        if (at < 64) s2[at]! ^= x;
        else p2[at - 64]! ^= x;
        m2[0]! ^= x;
        expect(both(s2, msg, p2)).toBe(false);
        expect(both(sig, m2, pub)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('both reject a non-canonical S (S + L), as RFC 8032 requires', () => {
    const seed = new Uint8Array(32).fill(5);
    const msg = Uint8Array.of(1, 2, 3);
    const pub = nobleProvider.ed25519PublicKey(seed);
    const sig = nobleProvider.ed25519Sign(seed, msg);
    const s = fromLE(sig.subarray(32));
    const malleated = new Uint8Array([...sig.subarray(0, 32), ...toLE(s + L)]);
    expect(nobleProvider.ed25519Verify(malleated, msg, pub)).toBe(false);
    expect(nodeCryptoProvider.ed25519Verify(malleated, msg, pub)).toBe(false);
  });

  it('wrong lengths are false, never a throw', () => {
    for (const p of [nobleProvider, nodeCryptoProvider]) {
      expect(p.ed25519Verify(new Uint8Array(63), new Uint8Array(0), new Uint8Array(32))).toBe(false);
      expect(p.ed25519Verify(new Uint8Array(64), new Uint8Array(0), new Uint8Array(31))).toBe(false);
      expect(p.ed25519Verify(new Uint8Array(64), new Uint8Array(0), new Uint8Array(32).fill(0xff))).toBe(false);
    }
  });
});
