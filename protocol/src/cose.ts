/**
 * COSE_Sign1 (RFC 9052 §4.2) with Ed25519, the envelope of every signed latchkit message.
 *
 * Protected header: {1: alg, 3: content type, 4: kid}. alg is -19 (Ed25519, RFC 9864) when
 * we sign; -8 (EdDSA, RFC 9053) is accepted because older COSE libraries still emit it.
 * Content type carries the latchkit message type from the CoAP experimental range, so a lock
 * dispatches on signed data. The lock id is the external AAD: a message for another lock
 * fails the signature even if an attacker edits the visible audience claim.
 */
import { concatBytes, equalBytes, expectBytes, toHex } from './bytes.js';
import { cborHead, decodeCbor, encodeCbor, Tag } from './cbor.js';
import type { CryptoProvider } from './crypto.js';
import { getCryptoProvider, utf8 } from './crypto.js';
import { fail } from './errors.js';

export const ALG_ED25519 = -19;
export const ALG_EDDSA = -8;
export const COSE_SIGN1_TAG = 18;
export const KID_BYTES = 8;

/** Message types (PROTOCOL.md §3.3); content type on the wire is 0xFF00 + type. */
export const MessageType = {
  fullSet: 1,
  delta: 2,
  commission: 3,
  rotateAnchors: 4,
  timeSync: 5,
  receipt: 6,
} as const;
export type MessageTypeName = keyof typeof MessageType;
const CT_BASE = 0xff00;

export interface SigningKey {
  /** 32-byte Ed25519 secret seed. */
  seed: Uint8Array;
  publicKey: Uint8Array;
  kid: Uint8Array;
}

/** kid = first 8 bytes of SHA-256(public key); stable, and cheap to send in every header. */
export function keyId(publicKey: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  return provider.sha256(expectBytes(publicKey, 'public key', 32)).slice(0, KID_BYTES);
}

export function signingKeyFromSeed(seed: Uint8Array, provider: CryptoProvider = getCryptoProvider()): SigningKey {
  expectBytes(seed, 'signing key seed', 32);
  const publicKey = provider.ed25519PublicKey(seed);
  return { seed: seed.slice(), publicKey, kid: keyId(publicKey, provider) };
}

export function generateSigningKey(provider: CryptoProvider = getCryptoProvider()): SigningKey {
  return signingKeyFromSeed(provider.randomBytes(32), provider);
}

function protectedHeader(alg: number, type: number, kid: Uint8Array): Uint8Array {
  // Hand-encoded so the signed bytes never depend on an encoder's defaults.
  return concatBytes(
    Uint8Array.of(0xa3, 0x01),
    alg === ALG_ED25519 ? Uint8Array.of(0x32) : Uint8Array.of(0x27),
    Uint8Array.of(0x03),
    cborHead(0, CT_BASE + type),
    Uint8Array.of(0x04),
    cborHead(2, kid.length),
    kid,
  );
}

const SIGNATURE1 = concatBytes(cborHead(3, 10), utf8('Signature1'));

/** Sig_structure = ["Signature1", protected, external_aad, payload] (RFC 9052 §4.4). */
export function sigStructure(protectedBytes: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  return concatBytes(
    Uint8Array.of(0x84),
    SIGNATURE1,
    cborHead(2, protectedBytes.length),
    protectedBytes,
    cborHead(2, externalAad.length),
    externalAad,
    cborHead(2, payload.length),
    payload,
  );
}

/** What a lock knows of an issuer key: its public half and the kid its messages name. */
export interface IssuerIdentity {
  /** 32-byte Ed25519 public key (a lock's trust anchor). */
  readonly publicKey: Uint8Array;
  /** keyId(publicKey). */
  readonly kid: Uint8Array;
}

/**
 * An issuer key that signs on request, possibly elsewhere: a KMS, an HSM, a signing process.
 * Only `sign` touches the private key, so it can stay where it lives. The in-process key
 * (`localSigner`) is the default; the synchronous `issue*` functions take a `SigningKey`.
 */
export interface IssuerSigner extends IssuerIdentity {
  /** The 64-byte Ed25519 signature of `message` (RFC 8032, pure Ed25519: the whole message). */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** The in-process key as an IssuerSigner. */
export function localSigner(key: SigningKey, provider: CryptoProvider = getCryptoProvider()): IssuerSigner {
  return { publicKey: key.publicKey, kid: key.kid, sign: async (message) => provider.ed25519Sign(key.seed, message) };
}

/**
 * A COSE_Sign1 message complete but for its signature: what a remote signer is sent
 * (`toBeSigned`, the Sig_structure) and how its answer becomes the message.
 */
export interface UnsignedSign1 {
  readonly toBeSigned: Uint8Array;
  withSignature(signature: Uint8Array): Uint8Array;
}

export function prepareSign1(type: number, kid: Uint8Array, payload: Uint8Array, externalAad: Uint8Array): UnsignedSign1 {
  const prot = protectedHeader(ALG_ED25519, type, expectBytes(kid, 'kid', KID_BYTES));
  return {
    toBeSigned: sigStructure(prot, externalAad, payload),
    withSignature: (signature) => encodeCbor(new Tag([prot, new Map(), payload, expectBytes(signature, 'signature', 64)], COSE_SIGN1_TAG)),
  };
}

export function signSign1(
  type: number,
  key: SigningKey,
  payload: Uint8Array,
  externalAad: Uint8Array,
  provider: CryptoProvider = getCryptoProvider(),
): Uint8Array {
  const unsigned = prepareSign1(type, key.kid, payload, externalAad);
  return unsigned.withSignature(provider.ed25519Sign(key.seed, unsigned.toBeSigned));
}

/**
 * The signature of `toBeSigned` from a signer that may be remote, checked before it is used:
 * a wrong key or a corrupted answer would otherwise be found only by every lock refusing the
 * set. Anything that goes wrong (the signer throws or rejects, answers with the wrong length,
 * or with a signature that does not verify under its own public key) is SIGNER_FAILED.
 */
export async function signerSignature(signer: IssuerSigner, toBeSigned: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Promise<Uint8Array> {
  const name = `issuer signer ${toHex(signer.kid)}`;
  if (!equalBytes(keyId(signer.publicKey, provider), signer.kid)) fail('SIGNER_FAILED', `${name}: kid is not the key id of its public key`);
  let signature: unknown;
  try {
    signature = await signer.sign(toBeSigned);
  } catch (cause) {
    fail('SIGNER_FAILED', `${name} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { kid: toHex(signer.kid) }, cause);
  }
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    fail('SIGNER_FAILED', `${name}: expected a 64-byte signature, got ${signature instanceof Uint8Array ? `${signature.length} bytes` : typeof signature}`);
  }
  if (!provider.ed25519Verify(signature, toBeSigned, signer.publicKey)) fail('SIGNER_FAILED', `${name}: the signature does not verify under the signer's public key`);
  return signature;
}

export interface ParsedSign1 {
  type: number;
  alg: number;
  kid: Uint8Array;
  protectedBytes: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
}

/** Parse the envelope without verifying; every field is checked for type and size. */
export function parseSign1(bytes: Uint8Array, maxBytes: number): ParsedSign1 {
  const outer = decodeCbor(bytes, 'COSE_Sign1', maxBytes);
  if (!(outer instanceof Tag) || outer.tag !== COSE_SIGN1_TAG) fail('MALFORMED', 'COSE_Sign1: expected CBOR tag 18');
  const arr = outer.value as unknown;
  if (!Array.isArray(arr) || arr.length !== 4) fail('MALFORMED', 'COSE_Sign1: expected an array of 4');
  const [prot, unprot, payload, signature] = arr as unknown[];
  if (!(prot instanceof Uint8Array)) fail('MALFORMED', 'COSE_Sign1: protected header must be a byte string');
  if (!(unprot instanceof Map) || unprot.size !== 0) fail('MALFORMED', 'COSE_Sign1: unprotected header must be an empty map');
  if (!(payload instanceof Uint8Array)) fail('MALFORMED', 'COSE_Sign1: payload must be a byte string (detached payloads are not used)');
  if (!(signature instanceof Uint8Array) || signature.length !== 64) fail('MALFORMED', 'COSE_Sign1: signature must be 64 bytes');
  const header = decodeCbor(prot, 'protected header', 64);
  if (!(header instanceof Map)) fail('MALFORMED', 'protected header: expected a map');
  // Exactly labels 1, 3, 4 in that (canonical) order: the re-encoding check in decodeCbor keeps
  // the received key order, so order has to be checked here.
  const labels = [...header.keys()];
  if (labels.length !== 3 || labels[0] !== 1 || labels[1] !== 3 || labels[2] !== 4) {
    fail('MALFORMED', `protected header: expected labels 1, 3, 4 in that order, got ${labels.map(String).join(', ')}`);
  }
  const alg = header.get(1);
  if (typeof alg !== 'number') fail('MALFORMED', 'protected header: alg (1) missing');
  if (alg !== ALG_ED25519 && alg !== ALG_EDDSA) fail('UNSUPPORTED_ALGORITHM', `alg ${alg} is not Ed25519 (-19) or EdDSA (-8)`, { alg });
  const ct = header.get(3);
  if (typeof ct !== 'number') fail('MALFORMED', 'protected header: content type (3) missing');
  const type = ct - CT_BASE;
  if (!Object.values(MessageType).includes(type as never)) fail('UNSUPPORTED_VERSION', `content type ${ct} is not a latchkit message type`);
  const kid = header.get(4);
  if (!(kid instanceof Uint8Array) || kid.length !== KID_BYTES) fail('MALFORMED', `protected header: kid must be ${KID_BYTES} bytes`);
  return { type, alg, kid: kid.slice(), protectedBytes: prot.slice(), payload: payload.slice(), signature: signature.slice() };
}

export function verifySign1(parsed: ParsedSign1, publicKey: Uint8Array, externalAad: Uint8Array, provider: CryptoProvider = getCryptoProvider()): void {
  if (!provider.ed25519Verify(parsed.signature, sigStructure(parsed.protectedBytes, externalAad, parsed.payload), publicKey)) {
    fail('BAD_SIGNATURE', 'signature does not verify for this key and lock');
  }
}
