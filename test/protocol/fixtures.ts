/** Shared fixtures for protocol tests: deterministic keys, a lock, an issuer, sets. */
import type { CredentialSpec, CryptoProvider, ProtocolErrorCode, SetSecrets } from '@latchkit/protocol';
import { deriveIndexKey, deviceKeysFromSeed, entriesFromSpecs, nobleProvider, ProtocolError, signingKeyFromSeed } from '@latchkit/protocol';
import { sha256 } from '@noble/hashes/sha2.js';

/** Deterministic bytes for fixtures: SHA-256 of a label, stretched. */
export function det(label: string, n = 32): Uint8Array {
  const out = new Uint8Array(n);
  let block = sha256(new TextEncoder().encode(label));
  for (let at = 0; at < n; at += 32) {
    out.set(block.subarray(0, Math.min(32, n - at)), at);
    block = sha256(block);
  }
  return out;
}

/** Provider whose randomness is a counter-mode hash of a seed, so vectors are reproducible. */
export function seededProvider(seed: string, base: CryptoProvider = nobleProvider): CryptoProvider {
  let counter = 0;
  return { ...base, name: `${base.name}+seeded`, randomBytes: (n) => det(`${seed}/${counter++}`, n) };
}

export const lockId = Uint8Array.from([0x4c, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]);
export const otherLockId = Uint8Array.from([0x4c, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02]);
export const issuer = signingKeyFromSeed(det('issuer-1'));
export const issuer2 = signingKeyFromSeed(det('issuer-2'));
export const device = deviceKeysFromSeed(det('device-1'));
export const contentKey = det('content-key-1');
export const secrets: SetSecrets = { daily: det('daily-secret'), cardMaster: det('card-master') };
export const indexKey = deriveIndexKey(contentKey, lockId);
/** 2026-11-23T12:00Z in seconds and minutes. */
export const NOW_S = 1_795_435_200;
export const NOW_MIN = NOW_S / 60;

export function specsForResident(holder: number, code: string, extra: Partial<Pick<CredentialSpec, 'start' | 'end'>> = {}): CredentialSpec[] {
  const common = { holder, start: extra.start ?? null, end: extra.end ?? null, schedule: null };
  return [
    { ...common, kind: 'phone', publicKey: signingKeyFromSeed(det(`phone-${holder}`)).publicKey },
    { ...common, kind: 'doorcode', code },
    { ...common, kind: 'keycard', uid: det(`uid-${holder}`, 7) },
    { ...common, kind: 'daily' },
  ];
}

export function entriesFor(specs: CredentialSpec[]) {
  return entriesFromSpecs(specs, indexKey);
}

/** The ProtocolError code `f` throws, or null when it returns; anything else is rethrown. */
export function protocolCodeOf(f: () => unknown): ProtocolErrorCode | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
}
