/** The providers' optional fast paths must give exactly the portable bytes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacSha256KeyedPortable, keyedHmac, nobleProvider, open, seal, sealWith } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';

describe('XChaCha20-Poly1305 seal through the node provider', () => {
  it('is byte-identical to the portable seal and opens with the portable open', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 3000 }),
        (key, nonce, aad, pt) => {
          const portable = seal(key, pt, aad, nonce);
          const fast = sealWith(nodeCryptoProvider, key, pt, aad, nonce);
          expect(fast).toEqual(portable);
          expect(open(key, fast, aad)).toEqual(pt);
          expect(sealWith(nobleProvider, key, pt, aad, nonce)).toEqual(portable);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a large body (a lobby set) too', () => {
    const key = new Uint8Array(32).fill(7);
    const nonce = Uint8Array.from({ length: 24 }, (_, i) => i * 11);
    const pt = Uint8Array.from({ length: 500_001 }, (_, i) => (i * 31) & 0xff);
    expect(sealWith(nodeCryptoProvider, key, pt, Uint8Array.of(1, 2), nonce)).toEqual(seal(key, pt, Uint8Array.of(1, 2), nonce));
  });

  it('refuses a bad key or nonce length like the portable seal', () => {
    expect(() => sealWith(nodeCryptoProvider, new Uint8Array(31), new Uint8Array(1), new Uint8Array(0), new Uint8Array(24))).toThrow(/content key/);
    expect(() => sealWith(nodeCryptoProvider, new Uint8Array(32), new Uint8Array(1), new Uint8Array(0), new Uint8Array(12))).toThrow(/nonce/);
  });
});

describe('keyed HMAC-SHA256', () => {
  it('gives the bytes of hmacSha256 for any key and message length (block boundaries included)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 4 }), (key, msgs) => {
        for (const provider of [nobleProvider, nodeCryptoProvider]) {
          const mac = keyedHmac(provider, key);
          // Several messages under one key: the reused buffers must not leak between calls.
          for (const m of msgs) expect(mac(m)).toEqual(nobleProvider.hmacSha256(key, m));
        }
      }),
      { numRuns: 300 },
    );
    for (const len of [0, 1, 54, 55, 56, 63, 64, 65, 119, 120, 128]) {
      const m = Uint8Array.from({ length: len }, (_, i) => i);
      expect(hmacSha256KeyedPortable(new Uint8Array(32).fill(1))(m)).toEqual(nodeCryptoProvider.hmacSha256(new Uint8Array(32).fill(1), m));
    }
  });

  it('a provider without the keyed path falls back to its own hmacSha256', () => {
    const calls: number[] = [];
    const plain = { ...nobleProvider, hmacSha256Keyed: undefined, hmacSha256: (k: Uint8Array, d: Uint8Array) => (calls.push(d.length), nobleProvider.hmacSha256(k, d)) };
    expect(keyedHmac(plain, new Uint8Array(3))(new Uint8Array(5))).toEqual(nobleProvider.hmacSha256(new Uint8Array(3), new Uint8Array(5)));
    expect(calls).toEqual([5]);
  });
});

describe('node provider randomBytes (nonces from a pool)', () => {
  it('never hands out the same bytes twice, across pool refills, and gives keys their own draw', () => {
    const seen = new Set<string>();
    // 24-byte nonces: 4096 / 24 per pool, so this crosses several refills.
    for (let i = 0; i < 2_000; i++) {
      const n = nodeCryptoProvider.randomBytes(24);
      expect(n).toHaveLength(24);
      const hex = Buffer.from(n).toString('hex');
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
    const a = nodeCryptoProvider.randomBytes(32);
    const b = nodeCryptoProvider.randomBytes(32);
    expect(a).toHaveLength(32);
    expect(a).not.toEqual(b);
  });

  it('refuses a negative or non-integer length instead of rewinding or breaking the pool', () => {
    for (const bad of [-8, Number.NaN, 1.5]) expect(() => nodeCryptoProvider.randomBytes(bad)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const next = nodeCryptoProvider.randomBytes(24);
    expect(next).toHaveLength(24);
    expect(next.some((x) => x !== 0)).toBe(true);
  });
});
