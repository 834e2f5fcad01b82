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
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { randomBytes as nobleRandomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { concatBytes, expectBytes } from './bytes.js';
import { fail } from './errors.js';

// @noble/ed25519 needs a synchronous SHA-512 to offer the synchronous API.
ed.hashes.sha512 = sha512;

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
}

export const nobleProvider: CryptoProvider = {
  name: 'noble',
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  ed25519PublicKey: (seed) => ed.getPublicKey(expectBytes(seed, 'seed', 32)),
  ed25519Sign: (seed, message) => ed.sign(message, expectBytes(seed, 'seed', 32)),
  ed25519Verify: (signature, message, publicKey) => {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    try {
      return ed.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  randomBytes: (length) => nobleRandomBytes(length),
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
