/**
 * The lock's audit log (PROTOCOL.md §8): fixed 32-byte records, hash-chained.
 *
 * Each record carries the first 12 bytes of SHA-256(previous chain value || its first 20
 * bytes). A receipt signs the newest index and chain value, so an uploaded batch is
 * authenticated end to end by one device signature: dropping, reordering or editing any
 * record breaks the chain before the signed head.
 */
import { ByteReader, ByteWriter, concatBytes, equalBytes, expectUint, U32_MAX } from './bytes.js';
import { checkLockId } from './credentials.js';
import type { CryptoProvider } from './crypto.js';
import { getCryptoProvider, utf8 } from './crypto.js';
import { fail } from './errors.js';
import { EVENT_HASH_BYTES } from './messages.js';

export const EVENT_RECORD_BYTES = 32;
const EVENT_BODY_BYTES = 20;

export const EventType = {
  granted: 1,
  denied: 2,
  syncApplied: 3,
  lockout: 4,
  tamper: 5,
  clockSet: 6,
  commissioned: 7,
  anchorsRotated: 8,
  boot: 9,
  syncRejected: 10,
} as const;
export type EventTypeName = keyof typeof EventType;

/** Why an access attempt was denied (record byte 10 for `denied`). */
export const DenyReason = {
  none: 0,
  unknownCredential: 1,
  notYetValid: 2,
  expired: 3,
  outsideSchedule: 4,
  lockedOut: 5,
  badProof: 6,
  staleNonce: 7,
  noSet: 8,
} as const;
export type DenyReasonName = keyof typeof DenyReason;

export interface EventRecord {
  index: number;
  /** Lock clock, Unix seconds. */
  time: number;
  type: EventTypeName;
  /** Credential kind byte (PROTOCOL.md §4.1), 0 when not about a credential. */
  kind: number;
  reason: DenyReasonName;
  /** Holder reference, 0 when unknown. */
  holder: number;
  /** Type-specific: set sequence for syncApplied, failed attempts for lockout, error wire code for syncRejected. */
  detail: number;
  /** Chain value after this record. */
  chain: Uint8Array;
}

const TYPE_BY_CODE = new Map<number, EventTypeName>(Object.entries(EventType).map(([n, c]) => [c, n as EventTypeName]));
const REASON_BY_CODE = new Map<number, DenyReasonName>(Object.entries(DenyReason).map(([n, c]) => [c, n as DenyReasonName]));

/** Chain value before the first record: bound to the lock so logs cannot be swapped. */
export function genesisChain(lockId: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  return provider.sha256(concatBytes(utf8('latchkit/v1/events'), checkLockId(lockId))).slice(0, EVENT_HASH_BYTES);
}

function bodyBytes(e: Omit<EventRecord, 'chain'>): Uint8Array {
  expectUint(e.index, 'event index', U32_MAX);
  expectUint(e.time, 'event time', U32_MAX);
  expectUint(e.holder, 'event holder', U32_MAX);
  expectUint(e.detail, 'event detail', U32_MAX);
  expectUint(e.kind, 'event kind', 4);
  return new ByteWriter(EVENT_BODY_BYTES)
    .u32(e.index)
    .u32(e.time)
    .u8(EventType[e.type])
    .u8(e.kind)
    .u8(DenyReason[e.reason])
    .u8(0)
    .u32(e.holder)
    .u32(e.detail)
    .finish();
}

/** Append: compute the record's chain value from the previous one. */
export function chainEvent(prevChain: Uint8Array, e: Omit<EventRecord, 'chain'>, provider: CryptoProvider = getCryptoProvider()): EventRecord {
  const chain = provider.sha256(concatBytes(prevChain, bodyBytes(e))).slice(0, EVENT_HASH_BYTES);
  return { ...e, chain };
}

export function encodeEvent(e: EventRecord): Uint8Array {
  return concatBytes(bodyBytes(e), e.chain);
}

export function decodeEvent(bytes: Uint8Array): EventRecord {
  const r = new ByteReader(bytes, 'event record');
  const index = r.u32();
  const time = r.u32();
  const typeCode = r.u8();
  const kind = r.u8();
  const reasonCode = r.u8();
  const reserved = r.u8();
  const holder = r.u32();
  const detail = r.u32();
  const chain = r.take(EVENT_HASH_BYTES).slice();
  r.end();
  const type = TYPE_BY_CODE.get(typeCode);
  const reason = REASON_BY_CODE.get(reasonCode);
  if (!type) fail('MALFORMED', `event record: unknown type ${typeCode}`);
  if (!reason) fail('MALFORMED', `event record: unknown reason ${reasonCode}`);
  if (kind > 4) fail('MALFORMED', `event record: unknown credential kind ${kind}`);
  if (reserved !== 0) fail('MALFORMED', 'event record: reserved byte must be 0');
  return { index, time, type, kind, reason, holder, detail, chain };
}

/** Concatenated records, as uploaded over the control point. */
export function encodeEvents(events: readonly EventRecord[]): Uint8Array {
  return concatBytes(...events.map(encodeEvent));
}

export function decodeEvents(bytes: Uint8Array): EventRecord[] {
  if (bytes.length % EVENT_RECORD_BYTES !== 0) {
    fail('TRUNCATED', `event batch: ${bytes.length} bytes is not a whole number of ${EVENT_RECORD_BYTES}-byte records`);
  }
  const out: EventRecord[] = [];
  for (let at = 0; at < bytes.length; at += EVENT_RECORD_BYTES) out.push(decodeEvent(bytes.subarray(at, at + EVENT_RECORD_BYTES)));
  return out;
}

/**
 * Check that `events` continue the chain from `prevChain` with consecutive indices, and
 * (optionally) end at a signed head. Returns the last chain value.
 */
export function verifyEventChain(
  prevChain: Uint8Array,
  firstIndex: number,
  events: readonly EventRecord[],
  head?: { index: number; hash: Uint8Array },
  provider: CryptoProvider = getCryptoProvider(),
): Uint8Array {
  let chain = prevChain;
  events.forEach((e, i) => {
    if (e.index !== firstIndex + i) fail('MALFORMED', `event chain: expected index ${firstIndex + i}, got ${e.index}`);
    const expected = chainEvent(chain, e, provider).chain;
    if (!equalBytes(expected, e.chain)) fail('DIGEST_MISMATCH', `event chain broken at index ${e.index}`);
    chain = e.chain;
  });
  if (head) {
    const last = events.length > 0 ? events[events.length - 1]!.index : firstIndex - 1;
    if (last !== head.index || !equalBytes(chain, head.hash)) fail('DIGEST_MISMATCH', `event chain does not end at the signed head (index ${head.index})`);
  }
  return chain;
}
