/**
 * Crypto provider: the one place that does signatures, hashes and randomness.
 *
 * The portable default runs everywhere (@noble/*). Node servers inject a node:crypto provider
 * (`@latchkit/protocol/node`), about 8-12x faster for Ed25519 on the machines we measured; the
 * test suite proves both produce byte-identical signatures and the same verify verdicts.
 *
 * Ed25519 verification follows RFC 8032 (cofactorless, canonical S and A encodings), not
 * ZIP-215, because OpenSSL does and a lock must reach the same verdict whichever provider the
 * backend used to sign or test.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { randomBytes as nobleRandomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { concatBytes, expectBytes } from './bytes.js';
import { fail } from './errors.js';

// Ed25519 comes from @noble/curves, which carries its own SHA-512: @noble/ed25519 needed a
// module-level `ed.hashes.sha512 = …` assignment for its synchronous API, an import-time side
// effect that made the package's `"sideEffects": false` untrue for bundlers.

export interface CryptoProvider {
  readonly name: string;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** Ed25519 public key (32 bytes) from a 32-byte secret seed (RFC 8032 §5.1.5). */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  /** RFC 8032 verification; returns false (never throws) for any bad signature or key. */
  ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  randomBytes(length: number): Uint8Array;
  /**
   * Optional faster XChaCha20-Poly1305 seal with exactly `seal`'s output (`nonce || ct || tag`).
   * A gateway seals every full set it compiles (half a megabyte for a lobby door); the portable
   * cipher costs ~10x OpenSSL's there. Absent: `seal` is used.
   */
  xchacha20Poly1305Seal?(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Optional HMAC-SHA256 under one key for many messages, same bytes as `hmacSha256`. A
   * compiler hashes every credential of a lock under its index key (45,000 at a lobby door);
   * keyed once, each message costs two SHA-256 blocks instead of a fresh HMAC. Absent:
   * `hmacSha256` per message.
   */
  hmacSha256Keyed?(key: Uint8Array): (data: Uint8Array) => Uint8Array;
}

/** HMAC-SHA256 under `key` for many messages, through the provider's keyed path if it has one. */
export function keyedHmac(provider: CryptoProvider, key: Uint8Array): (data: Uint8Array) => Uint8Array {
  return provider.hmacSha256Keyed ? provider.hmacSha256Keyed(key) : (data) => provider.hmacSha256(key, data);
}

// SHA-256 round constants (FIPS 180-4 §4.2.2).
const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV256 = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** One SHA-256 compression of the 64-byte block at `block[at..]` into `h` (in place). */
function compress256(h: Uint32Array, block: Uint8Array, at: number, w: Uint32Array): void {
  for (let i = 0; i < 16; i++) {
    const j = at + i * 4;
    w[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K256[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

/**
 * HMAC-SHA256 (RFC 2104) with the key's inner and outer pad blocks compressed once: every
 * message then costs its own blocks plus one outer block. Portable (no platform crypto), so
 * both providers use it and stay byte-identical (test/protocol/provider-fast-paths.test.ts).
 */
export function hmacSha256KeyedPortable(key: Uint8Array): (data: Uint8Array) => Uint8Array {
  const k = new Uint8Array(64);
  k.set(key.length > 64 ? sha256(key) : key);
  const pad = new Uint8Array(64);
  const w = new Uint32Array(64);
  const inner0 = IV256.slice();
  for (let i = 0; i < 64; i++) pad[i] = k[i]! ^ 0x36;
  compress256(inner0, pad, 0, w);
  const outer0 = IV256.slice();
  for (let i = 0; i < 64; i++) pad[i] = k[i]! ^ 0x5c;
  compress256(outer0, pad, 0, w);
  const h = new Uint32Array(8);
  let buf = new Uint8Array(128);
  return (data) => {
    // Inner hash: data after the 64-byte ipad block, padded (total length 64 + data.length).
    const blocks = Math.ceil((data.length + 9) / 64);
    if (buf.length < blocks * 64) buf = new Uint8Array(blocks * 64);
    buf.fill(0, 0, blocks * 64);
    buf.set(data, 0);
    buf[data.length] = 0x80;
    const bits = (64 + data.length) * 8;
    const end = blocks * 64;
    buf[end - 4] = (bits >>> 24) & 0xff;
    buf[end - 3] = (bits >>> 16) & 0xff;
    buf[end - 2] = (bits >>> 8) & 0xff;
    buf[end - 1] = bits & 0xff;
    buf[end - 5] = Math.floor(bits / 2 ** 32) & 0xff;
    h.set(inner0);
    for (let at = 0; at < end; at += 64) compress256(h, buf, at, w);
    // Outer hash: the 32-byte inner digest after the opad block (total length 96 bytes).
    buf.fill(0, 0, 64);
    for (let i = 0; i < 8; i++) {
      buf[i * 4] = h[i]! >>> 24;
      buf[i * 4 + 1] = (h[i]! >>> 16) & 0xff;
      buf[i * 4 + 2] = (h[i]! >>> 8) & 0xff;
      buf[i * 4 + 3] = h[i]! & 0xff;
    }
    buf[32] = 0x80;
    buf[62] = (96 * 8) >>> 8;
    buf[63] = (96 * 8) & 0xff;
    h.set(outer0);
    compress256(h, buf, 0, w);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      out[i * 4] = h[i]! >>> 24;
      out[i * 4 + 1] = (h[i]! >>> 16) & 0xff;
      out[i * 4 + 2] = (h[i]! >>> 8) & 0xff;
      out[i * 4 + 3] = h[i]! & 0xff;
    }
    return out;
  };
}

export const nobleProvider: CryptoProvider = {
  name: 'noble',
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  ed25519PublicKey: (seed) => ed25519.getPublicKey(expectBytes(seed, 'seed', 32)),
  ed25519Sign: (seed, message) => ed25519.sign(message, expectBytes(seed, 'seed', 32)),
  ed25519Verify: (signature, message, publicKey) => {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  randomBytes: (length) => nobleRandomBytes(length),
  hmacSha256Keyed: (key) => hmacSha256KeyedPortable(key),
};

let defaultProvider: CryptoProvider = nobleProvider;

/** The provider used when a call does not pass one. */
export function getCryptoProvider(): CryptoProvider {
  return defaultProvider;
}

/** Replace the process-wide default provider (e.g. with the node:crypto one on a server). */
export function setCryptoProvider(provider: CryptoProvider): void {
  defaultProvider = provider;
}

export const utf8 = utf8ToBytes;

/** HKDF-SHA256 (RFC 5869). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: string | Uint8Array, length: number): Uint8Array {
  return hkdf(sha256, ikm, salt, typeof info === 'string' ? utf8(info) : info, length);
}

export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;

/**
 * XChaCha20-Poly1305 with a random 24-byte nonce, output `nonce || ciphertext || tag`.
 * A random extended nonce is safe even if a backend crash makes it re-sign the same sequence
 * with different content, which a sequence-derived 12-byte nonce would not be.
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, nonce: Uint8Array): Uint8Array {
  expectBytes(key, 'content key', 32);
  expectBytes(nonce, 'nonce', AEAD_NONCE_BYTES);
  return concatBytes(nonce, xchacha20poly1305(key, nonce, aad).encrypt(plaintext));
}

/** `seal` through the provider's faster cipher when it has one (same bytes either way). */
export function sealWith(provider: CryptoProvider, key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, nonce: Uint8Array): Uint8Array {
  if (!provider.xchacha20Poly1305Seal) return seal(key, plaintext, aad, nonce);
  expectBytes(key, 'content key', 32);
  expectBytes(nonce, 'nonce', AEAD_NONCE_BYTES);
  return provider.xchacha20Poly1305Seal(key, nonce, aad, plaintext);
}

export function open(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  if (sealed.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) {
    fail('MALFORMED', `sealed body: ${sealed.length} bytes is shorter than nonce + tag`);
  }
  try {
    return xchacha20poly1305(key, sealed.subarray(0, AEAD_NONCE_BYTES), aad).decrypt(sealed.subarray(AEAD_NONCE_BYTES));
  } catch {
    fail('DECRYPTION_FAILED', 'sealed body did not authenticate under this lock content key');
  }
}

/** X25519 public key for a 32-byte secret. */
export function x25519PublicKey(secret: Uint8Array): Uint8Array {
  return x25519.getPublicKey(expectBytes(secret, 'x25519 secret', 32));
}

export function x25519Shared(secret: Uint8Array, publicKey: Uint8Array): Uint8Array {
  try {
    return x25519.getSharedSecret(secret, expectBytes(publicKey, 'x25519 public key', 32));
  } catch (cause) {
    // Low-order points give an all-zero secret, which noble refuses; treat as a bad message.
    fail('MALFORMED', `x25519 key agreement failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * The X25519 (Montgomery) form of an Ed25519 public key: u = (1 + y) / (1 − y), the birational
 * map of RFC 7748 §4.1 (libsodium's `crypto_sign_ed25519_pk_to_curve25519`). A key that is not a
 * point on the curve is MALFORMED.
 */
export function ed25519PublicToX25519(publicKey: Uint8Array): Uint8Array {
  expectBytes(publicKey, 'ed25519 public key', 32);
  try {
    return ed25519.utils.toMontgomery(publicKey);
  } catch (cause) {
    fail('MALFORMED', `ed25519 public key is not a curve point: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * The X25519 secret of an Ed25519 key pair: the clamped first half of SHA-512(seed), the scalar
 * Ed25519 signs with (libsodium's `crypto_sign_ed25519_sk_to_curve25519`). Its X25519 public key
 * is `ed25519PublicToX25519` of the pair's Ed25519 public key.
 */
export function ed25519SeedToX25519(seed: Uint8Array): Uint8Array {
  return ed25519.utils.toMontgomerySecret(expectBytes(seed, 'ed25519 seed', 32));
}
