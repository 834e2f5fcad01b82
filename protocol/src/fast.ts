/**
 * The fast unlock path (PROTOCOL.md §9.8): what lets a phone that has been at a door before open
 * it in one write and one notification after the link is up.
 *
 * - A **ticket** replaces the challenge round trip: after a granted unlock the lock hands the
 *   phone a fresh single-use nonce bound to that phone key, kept in the lock's RAM. On the next
 *   visit the phone signs it at once (`unlockTicket`), before the lock has said anything. The
 *   signature covers its own context string, so an answer to a slow-path challenge is never a
 *   valid ticket answer and the reverse (§9.8 gives the replay and pre-play analysis).
 * - A **GATT layout hash** lets the phone reuse the attribute handles it learnt on its first
 *   visit: the lock exposes the hash of its service layout in the `layout` characteristic, and
 *   the phone reads it by its cached handle in the same connection event as its first writes.
 */
import { ByteReader, ByteWriter, concatBytes, expectBytes } from './bytes.js';
import { UNLOCK_NONCE_BYTES } from './credentials.js';
import type { CryptoProvider } from './crypto.js';
import { getCryptoProvider, utf8 } from './crypto.js';
import type { UnlockResult } from './gatt.js';
import { GattUuid } from './gatt.js';

export const TICKET_BYTES = UNLOCK_NONCE_BYTES;
const TICKET_CONTEXT = utf8('latchkit/v1/unlock-ticket');

/** UUID of the layout characteristic (read): the 8-byte hash of the service layout. */
export const LAYOUT_UUID = '6c6b0006a0b14d6f8c3b2f1e5d4c3b2a';
export const LAYOUT_HASH_BYTES = 8;

/** The bytes a phone signs to answer a ticket: bound to this lock and this ticket, in its own domain. */
export function ticketSigningInput(lockId: Uint8Array, ticket: Uint8Array): Uint8Array {
  expectBytes(ticket, 'unlock ticket', TICKET_BYTES);
  expectBytes(lockId, 'lock id', 8);
  return concatBytes(TICKET_CONTEXT, lockId, ticket);
}

/** An `unlockTicket` or `unlockPhone` result, with the next ticket when the lock issued one. */
export interface TicketedUnlockResult extends UnlockResult {
  ticket: Uint8Array | null;
}

export function encodeTicketedUnlockResult(u: TicketedUnlockResult): Uint8Array {
  const w = new ByteWriter(9 + (u.ticket ? TICKET_BYTES : 0)).u8(u.result).u32(u.holder).u32(u.eventIndex);
  if (u.ticket) w.bytes(expectBytes(u.ticket, 'ticket', TICKET_BYTES));
  return w.finish();
}

export function decodeTicketedUnlockResult(bytes: Uint8Array): TicketedUnlockResult {
  const r = new ByteReader(bytes, 'ticketed unlock result');
  const out = { result: r.u8(), holder: r.u32(), eventIndex: r.u32() };
  const ticket = bytes.length > 9 ? r.take(TICKET_BYTES).slice() : null;
  r.end();
  return { ...out, ticket };
}

/** One characteristic of the service as the layout hash sees it: order, UUID, properties. */
export interface LayoutEntry {
  uuid: string;
  properties: readonly string[];
}

/** The latchkit service layout a lock with the fast path serves (PROTOCOL.md §9.1). */
export const SERVICE_LAYOUT: readonly LayoutEntry[] = Object.freeze([
  { uuid: GattUuid.info, properties: ['read'] },
  { uuid: GattUuid.control, properties: ['write', 'writeWithoutResponse', 'notify'] },
  { uuid: GattUuid.bulk, properties: ['writeWithoutResponse'] },
  { uuid: GattUuid.events, properties: ['notify'] },
  { uuid: LAYOUT_UUID, properties: ['read'] },
]);

/**
 * Hash of a service layout (first 8 bytes of SHA-256 over `service uuid | uuid:props;...`).
 * The same idea as Bluetooth 5.1's Database Hash (0x2B2A): any change of characteristics, their
 * order or properties moves the handles, and changes the hash.
 */
export function layoutHash(layout: readonly LayoutEntry[] = SERVICE_LAYOUT, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  const text = `${GattUuid.service}|${layout.map((e) => `${e.uuid}:${e.properties.join(',')}`).join(';')}`;
  return provider.sha256(utf8(text)).slice(0, LAYOUT_HASH_BYTES);
}
