/**
 * How each credential kind is turned into a set key and checked (PROTOCOL.md §5).
 *
 * Keys in a set are truncated HMACs under a per-lock index key, never raw material: a set
 * extracted from one lock cannot be ground offline for another lock's phones or cards, and
 * a static doorcode's digits never appear anywhere. The truncation widths (5/6/8 bytes) are
 * safe because the HMAC key is secret: guessing must happen online, at the door, where the
 * keypad lockout and the challenge-response limit it.
 */
import { concatBytes, equalBytes, expectBytes, expectUint, u32be } from './bytes.js';
import type { CryptoProvider } from './crypto.js';
import { getCryptoProvider, hkdfSha256, keyedHmac, utf8 } from './crypto.js';
import { fail } from './errors.js';
import type { Entry } from './set.js';
import { KEY_BYTES } from './set.js';
import type { CredentialSpec } from './types.js';

export const LOCK_ID_BYTES = 8;
export const DAILY_CODE_DIGITS = 6;
const DOMAIN = { doorcode: 0x01, daily: 0x02, keycard: 0x03, phone: 0x04 } as const;

export function checkLockId(lockId: Uint8Array): Uint8Array {
  return expectBytes(lockId, 'lock id', LOCK_ID_BYTES);
}

/** Per-lock key for the credential index; both backend and lock derive it from the content key. */
export function deriveIndexKey(contentKey: Uint8Array, lockId: Uint8Array): Uint8Array {
  expectBytes(contentKey, 'content key', 32);
  return hkdfSha256(contentKey, checkLockId(lockId), 'latchkit/v1/index', 32);
}

export function checkDoorcode(code: string): string {
  if (typeof code !== 'string' || !/^[0-9]{4,12}$/.test(code)) {
    fail('INVALID_ARGUMENT', `doorcode: expected 4 to 12 digits, got ${typeof code === 'string' ? `${code.length} characters` : typeof code}`);
  }
  return code;
}

export function doorcodeKey(indexKey: Uint8Array, code: string, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  return provider.hmacSha256(indexKey, concatBytes(Uint8Array.of(DOMAIN.doorcode), utf8(checkDoorcode(code)))).slice(0, KEY_BYTES.doorcode);
}

export function keycardKey(indexKey: Uint8Array, uid: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  expectBytes(uid, 'card uid', [4, 10]);
  return provider.hmacSha256(indexKey, concatBytes(Uint8Array.of(DOMAIN.keycard), uid)).slice(0, KEY_BYTES.keycard);
}

export function phoneKey(indexKey: Uint8Array, publicKey: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  expectBytes(publicKey, 'phone public key', 32);
  return provider.hmacSha256(indexKey, concatBytes(Uint8Array.of(DOMAIN.phone), publicKey)).slice(0, KEY_BYTES.phone);
}

/** Local day number for daily codes: whole days since 1970-01-01 in the property's local time. */
export function localDay(unixMinutes: number, utcOffsetMinutes: number): number {
  return Math.floor((unixMinutes + utcOffsetMinutes) / 1440);
}

/**
 * A holder's daily doorcode for one local day. Backend and lock compute it independently
 * from the property's daily secret, so it changes every day without any sync.
 */
export function dailyCode(dailySecret: Uint8Array, holder: number, day: number, provider: CryptoProvider = getCryptoProvider()): string {
  expectBytes(dailySecret, 'daily secret', 32);
  expectUint(holder, 'holder', 0xffff_ffff);
  expectUint(day, 'day', 0xffff_ffff);
  const mac = provider.hmacSha256(dailySecret, concatBytes(Uint8Array.of(DOMAIN.daily), u32be(holder), u32be(day)));
  // 64 bits reduced mod 10^6: the modulo bias is below 2^-40, irrelevant next to guessing.
  const v = new DataView(mac.buffer, mac.byteOffset, 8).getBigUint64(0);
  return (v % 10n ** BigInt(DAILY_CODE_DIGITS)).toString().padStart(DAILY_CODE_DIGITS, '0');
}

/**
 * The key a keycard holds: diversified per card from the property's card master key, so a
 * card cloned by UID alone (without this key) cannot answer the lock's challenge.
 */
export function diversifyCardKey(cardMaster: Uint8Array, uid: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  expectBytes(cardMaster, 'card master key', 32);
  expectBytes(uid, 'card uid', [4, 10]);
  return provider.hmacSha256(cardMaster, concatBytes(utf8('latchkit/v1/card'), uid)).slice(0, 16);
}

export const CARD_CHALLENGE_BYTES = 16;

/** What a genuine card answers to the lock's challenge. */
export function cardResponse(cardKey: Uint8Array, lockId: Uint8Array, challenge: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  expectBytes(cardKey, 'card key', 16);
  expectBytes(challenge, 'card challenge', CARD_CHALLENGE_BYTES);
  return provider.hmacSha256(cardKey, concatBytes(checkLockId(lockId), challenge)).slice(0, 16);
}

export function verifyCardResponse(
  cardMaster: Uint8Array,
  uid: Uint8Array,
  lockId: Uint8Array,
  challenge: Uint8Array,
  response: Uint8Array,
  provider: CryptoProvider = getCryptoProvider(),
): boolean {
  if (response.length !== 16) return false;
  return equalBytes(cardResponse(diversifyCardKey(cardMaster, uid, provider), lockId, challenge, provider), response);
}

export const UNLOCK_NONCE_BYTES = 16;
const UNLOCK_CONTEXT = utf8('latchkit/v1/unlock');

/** The bytes a phone signs to unlock: bound to this lock and this lock-chosen nonce. */
export function unlockSigningInput(lockId: Uint8Array, nonce: Uint8Array): Uint8Array {
  expectBytes(nonce, 'unlock nonce', UNLOCK_NONCE_BYTES);
  return concatBytes(UNLOCK_CONTEXT, checkLockId(lockId), nonce);
}

/** Backend side: turn plaintext credentials into the entries of one lock's set. */
export function entriesFromSpecs(specs: readonly CredentialSpec[], indexKey: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Entry[] {
  // Keyed once per lock (the same HMAC as doorcodeKey / keycardKey / phoneKey, §5.1).
  const mac = keyedHmac(provider, indexKey);
  const keyed = (domain: number, material: Uint8Array, width: number): Uint8Array => {
    const msg = new Uint8Array(1 + material.length);
    msg[0] = domain;
    msg.set(material, 1);
    return mac(msg).slice(0, width);
  };
  return specs.map((s) => {
    let key: Uint8Array;
    switch (s.kind) {
      case 'doorcode':
        key = keyed(DOMAIN.doorcode, utf8(checkDoorcode(s.code)), KEY_BYTES.doorcode);
        break;
      case 'daily':
        key = u32be(expectUint(s.holder, 'holder', 0xffff_ffff));
        break;
      case 'keycard':
        key = keyed(DOMAIN.keycard, expectBytes(s.uid, 'card uid', [4, 10]), KEY_BYTES.keycard);
        break;
      case 'phone':
        key = keyed(DOMAIN.phone, expectBytes(s.publicKey, 'phone public key', 32), KEY_BYTES.phone);
        break;
      default:
        fail('INVALID_ARGUMENT', `credential kind: unknown ${JSON.stringify((s as { kind: unknown }).kind)}`);
    }
    return { kind: s.kind, key, holder: s.holder, start: s.start ?? null, end: s.end ?? null, schedule: s.schedule ?? null };
  });
}
