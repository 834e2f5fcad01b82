/**
 * `@latchkit/protocol/node`: a CryptoProvider on node:crypto (OpenSSL).
 *
 * Lives outside `src/` so the core package never sees Node types. On the 2-vCPU machines we
 * measure on, OpenSSL signs ~8x and verifies ~12x faster than the portable provider
 * (`npm run bench -- protocol` reports both providers), which matters to a gateway signing thousands of
 * sets. Tests prove the two providers produce byte-identical signatures and agree on every
 * verify verdict (test/protocol/provider.test.ts).
 */
import { createCipheriv, createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, randomFillSync, sign, verify, type KeyObject } from 'node:crypto';
import { hchacha } from '@noble/ciphers/chacha.js';
import type { CryptoProvider } from '../src/index.js';
import { expectBytes, expectUint, hmacSha256KeyedPortable } from '../src/index.js';

// DER prefixes of PKCS#8 (private) and SPKI (public) Ed25519 keys, RFC 8410; the raw 32-byte
// key follows. node:crypto has no raw-key import for Ed25519 on Node 20.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Small bounded cache: gateways sign with a handful of issuer keys and verify a few device keys. */
class KeyCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit: number) {}
  get(key: Uint8Array, make: () => V): V {
    const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
    let v = this.map.get(k);
    if (v === undefined) {
      v = make();
      if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value!);
      this.map.set(k, v);
    }
    return v;
  }
}

// "expand 32-byte k" as little-endian words: the ChaCha constants.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function wordsLE(b: Uint8Array): Uint32Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Uint32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = v.getUint32(i * 4, true);
  return out;
}

/**
 * XChaCha20-Poly1305 = ChaCha20-Poly1305 (RFC 8439, which OpenSSL has) under the HChaCha20
 * subkey of the first 16 nonce bytes, with nonce 0^4 || the last 8 (draft-irtf-cfrg-xchacha §2.3).
 * HChaCha20 is one block, so the portable one is fine; the bulk cipher is what costs.
 */
function xchachaSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const sub = new Uint32Array(8);
  hchacha(SIGMA, wordsLE(key), wordsLE(nonce.subarray(0, 16)), sub);
  const subkey = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) subkey.writeUInt32LE(sub[i]!, i * 4);
  const iv = Buffer.alloc(12);
  iv.set(nonce.subarray(16, 24), 4);
  const c = createCipheriv('chacha20-poly1305', subkey, iv, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const out = new Uint8Array(nonce.length + plaintext.length + 16);
  out.set(nonce, 0);
  const head = c.update(plaintext);
  out.set(head, nonce.length);
  const tail = c.final();
  out.set(tail, nonce.length + head.length);
  out.set(c.getAuthTag(), nonce.length + head.length + tail.length);
  return out;
}

/**
 * Nonce-sized random values (two nonces per compiled set) come from a pool refilled 4 KiB at a
 * time: each randomBytes() call into OpenSSL cost ~5 us, ~0.1 s of a 10,000-door compile. The
 * pool is CSPRNG output like any other; each byte is handed out once and the slot zeroed. Keys
 * (32 bytes) and odd requests go straight to OpenSSL, so no future key sits in memory.
 */
const POOL_BYTES = 4096;
const POOLED_MAX = 24;
const pool = new Uint8Array(POOL_BYTES);
let poolAt = POOL_BYTES;
function pooledRandomBytes(length: number): Uint8Array {
  expectUint(length, 'randomBytes length', 0x7fff_ffff);
  if (length === 0 || length > POOLED_MAX) return new Uint8Array(randomBytes(length));
  if (poolAt + length > POOL_BYTES) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const out = pool.slice(poolAt, poolAt + length);
  pool.fill(0, poolAt, poolAt + length);
  poolAt += length;
  return out;
}

export function createNodeCryptoProvider(): CryptoProvider {
  const privateKeys = new KeyCache<KeyObject>(64);
  const publicKeys = new KeyCache<KeyObject | null>(1024);
  const priv = (seed: Uint8Array): KeyObject =>
    privateKeys.get(seed, () => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }));
  return {
    name: 'node',
    sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
    hmacSha256: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
    ed25519PublicKey: (seed) => {
      expectBytes(seed, 'seed', 32);
      const der = createPublicKey(priv(seed)).export({ format: 'der', type: 'spki' });
      return new Uint8Array(der.subarray(SPKI_PREFIX.length));
    },
    ed25519Sign: (seed, message) => {
      expectBytes(seed, 'seed', 32);
      return new Uint8Array(sign(null, message, priv(seed)));
    },
    ed25519Verify: (signature, message, publicKey) => {
      if (signature.length !== 64 || publicKey.length !== 32) return false;
      const key = publicKeys.get(publicKey, () => {
        try {
          return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
        } catch {
          return null; // not a valid point encoding: every signature under it is bad
        }
      });
      if (key === null) return false;
      try {
        return verify(null, message, key, signature);
      } catch {
        return false;
      }
    },
    randomBytes: pooledRandomBytes,
    xchacha20Poly1305Seal: xchachaSeal,
    // Per-message cost of node:crypto's HMAC is mostly object set-up (~3.5 us); the keyed
    // portable path does two SHA-256 blocks (1.1 us of compression per credential in the
    // 10,000-unit compile profile) and gives the same bytes.
    hmacSha256Keyed: hmacSha256KeyedPortable,
  };
}

export const nodeCryptoProvider: CryptoProvider = createNodeCryptoProvider();
