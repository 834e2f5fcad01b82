/**
 * CBOR through cbor-x, configured for the small COSE profile latchkit uses (PROTOCOL.md §3).
 *
 * cbor-x cannot emit deterministic CBOR by itself and its decoder accepts non-shortest forms.
 * So: byte strings untagged, maps as Map with keys inserted in canonical order, and every
 * decoded structure is re-encoded and compared, which rejects non-shortest heads and
 * indefinite lengths. Re-encoding keeps the received map key order, so callers check key
 * order themselves (protected header: cose.ts; claims: messages.ts). Signatures are always
 * checked over the received bytes, never a re-encoding.
 */
import { Decoder, Encoder, Tag as CborXTag } from 'cbor-x';
import { compareBytes } from './bytes.js';
import { fail } from './errors.js';

const options = {
  useRecords: false,
  mapsAsObjects: false,
  tagUint8Array: false,
  variableMapSize: true,
  useTag259ForMaps: false,
  pack: false,
  structuredClone: false,
} as const;

const encoder = new Encoder(options);
const decoder = new Decoder(options);

/** A CBOR tag (RFC 8949 §3.4): what decodeCbor returns for a tagged item, and encodeCbor writes. */
export interface CborTag {
  value: unknown;
  tag: number;
}
// cbor-x's class under a type of our own: its declarations name Node's Buffer and 'stream', so
// re-exporting its type would make every TypeScript consumer of this isomorphic package need
// @types/node (the pack check type-checks one without it).
export const Tag: new (value: unknown, tag: number) => CborTag = CborXTag;
export type Tag = CborTag;

export function encodeCbor(value: unknown): Uint8Array {
  const out = encoder.encode(value);
  // Return a plain Uint8Array that owns its memory: cbor-x may hand back a pooled Buffer view.
  return new Uint8Array(out);
}

/** Decode one complete CBOR item of at most `maxBytes`, in canonical form only. */
export function decodeCbor(bytes: Uint8Array, what: string, maxBytes: number): unknown {
  if (!(bytes instanceof Uint8Array)) fail('INVALID_ARGUMENT', `${what}: expected Uint8Array, got ${typeof bytes}`);
  if (bytes.length > maxBytes) fail('OVERSIZE', `${what}: ${bytes.length} bytes exceeds the limit of ${maxBytes}`, { limit: maxBytes, size: bytes.length });
  if (bytes.length === 0) fail('TRUNCATED', `${what}: empty input`);
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (err) {
    const e = err as Error & { incomplete?: boolean };
    if (e.incomplete) fail('TRUNCATED', `${what}: CBOR ends early (${bytes.length} bytes)`);
    fail('MALFORMED', `${what}: not valid CBOR (${e.message})`);
  }
  let again: Uint8Array;
  try {
    again = encodeCbor(value);
  } catch {
    fail('MALFORMED', `${what}: holds values outside the latchkit CBOR profile`);
  }
  if (compareBytes(again, bytes) !== 0) fail('MALFORMED', `${what}: CBOR is not in canonical (shortest, definite-length) form`);
  return value;
}

/** Canonical key order of RFC 8949 §4.2.1: bytewise order of the encoded keys. */
export function canonicalMap(entries: [number, unknown][]): Map<number, unknown> {
  const withBytes = entries.map(([k, v]) => ({ k, v, kb: encodeCbor(k) }));
  withBytes.sort((a, b) => compareBytes(a.kb, b.kb));
  return new Map(withBytes.map(({ k, v }) => [k, v]));
}

/** Encoded CBOR head for a major type and argument, in shortest form (RFC 8949 §4.2.1). */
export function cborHead(major: number, arg: number): Uint8Array {
  const m = major << 5;
  if (arg < 24) return Uint8Array.of(m | arg);
  if (arg < 0x100) return Uint8Array.of(m | 24, arg);
  if (arg < 0x10000) return Uint8Array.of(m | 25, arg >>> 8, arg & 0xff);
  return Uint8Array.of(m | 26, arg >>> 24, (arg >>> 16) & 0xff, (arg >>> 8) & 0xff, arg & 0xff);
}
