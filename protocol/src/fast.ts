/**
 * The fast unlock path (PROTOCOL.md §9.8): what lets a phone that has been at a door before open
 * it in one write and one notification after the link is up.
 *
 * - A **ticket** replaces the challenge round trip: after a granted unlock the lock hands the
 *   phone a fresh single-use nonce bound to that phone key, kept in the lock's RAM. On the next
 *   visit the phone signs it at once (`unlockTicket`), before the lock has said anything. The
 *   signature covers its own context string, so an answer to a slow-path challenge is never a
 *   valid ticket answer and the reverse (§9.8 gives the replay and pre-play analysis).
 * - A **ticket MAC** answers the same ticket with a symmetric proof (`unlockTicketMac`): an
 *   HMAC under a key the lock and the phone share through X25519 between the lock's device
 *   X25519 key and the Montgomery form of the phone's Ed25519 key. The lock checks it with one
 *   HMAC instead of one Ed25519 verify (§9.8, "Ticket MAC").
 * - A **GATT layout hash** lets the phone reuse the attribute handles it learnt on its first
 *   visit: the lock exposes the hash of its service layout in the `layout` characteristic, and
 *   the phone reads it by its cached handle in the same connection event as its first writes.
 */
import { ByteReader, ByteWriter, concatBytes, expectBytes } from './bytes.js';
import { UNLOCK_NONCE_BYTES } from './credentials.js';
import type { CryptoProvider } from './crypto.js';
import { ed25519PublicToX25519, ed25519SeedToX25519, getCryptoProvider, utf8, x25519Shared } from './crypto.js';
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

export const TICKET_MAC_BYTES = 16;
export const TICKET_MAC_KEY_BYTES = 32;
const TICKET_MAC_CONTEXT = utf8('latchkit/v1/unlock-ticket-mac');
const TICKET_MAC_KEY_INFO = utf8('latchkit/v1/ticket-mac');

/** HKDF-SHA256 (RFC 5869) for one 32-byte output block, through the provider's HMAC (so a metered provider sees it). */
function hkdf32(provider: CryptoProvider, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array {
  const prk = provider.hmacSha256(salt, ikm);
  return provider.hmacSha256(prk, concatBytes(info, Uint8Array.of(1)));
}

function ticketMacKeyFromShared(shared: Uint8Array, lockId: Uint8Array, phonePublic: Uint8Array, lockEncryptionPublic: Uint8Array, provider: CryptoProvider): Uint8Array {
  expectBytes(lockId, 'lock id', 8);
  const info = concatBytes(TICKET_MAC_KEY_INFO, expectBytes(phonePublic, 'phone public key', 32), expectBytes(lockEncryptionPublic, 'lock x25519 public key', 32));
  return hkdf32(provider, shared, lockId, info);
}

/**
 * The ticket MAC key K of one phone key at one lock, as the lock computes it:
 * `HKDF-SHA256(X25519(lock x25519 secret, mont(phone ed25519 public)), salt = lockId,
 * info = "latchkit/v1/ticket-mac" ‖ phone ed25519 public ‖ lock x25519 public, 32)`.
 * A phone key that is no curve point (or a low-order one) is MALFORMED.
 */
export function lockTicketMacKey(
  device: { encryptionSecret: Uint8Array; encryptionPublic: Uint8Array },
  lockId: Uint8Array,
  phonePublic: Uint8Array,
  provider: CryptoProvider = getCryptoProvider(),
): Uint8Array {
  const shared = x25519Shared(device.encryptionSecret, ed25519PublicToX25519(phonePublic));
  return ticketMacKeyFromShared(shared, lockId, phonePublic, device.encryptionPublic, provider);
}

/**
 * The same K as the phone computes it, from its Ed25519 seed (its X25519 secret is the
 * Montgomery form of the Ed25519 scalar) and the lock's X25519 public key (lock info,
 * `deviceEncryptionPublic`). A wrong lock key gives a wrong K, and the lock answers badProof.
 */
export function phoneTicketMacKey(
  phone: { seed: Uint8Array; publicKey: Uint8Array },
  lockId: Uint8Array,
  lockEncryptionPublic: Uint8Array,
  provider: CryptoProvider = getCryptoProvider(),
): Uint8Array {
  const shared = x25519Shared(ed25519SeedToX25519(phone.seed), lockEncryptionPublic);
  return ticketMacKeyFromShared(shared, lockId, phone.publicKey, lockEncryptionPublic, provider);
}

/** The bytes the ticket MAC covers: `"latchkit/v1/unlock-ticket-mac" ‖ lockId(8) ‖ ticket(16)`. */
export function ticketMacInput(lockId: Uint8Array, ticket: Uint8Array): Uint8Array {
  expectBytes(ticket, 'unlock ticket', TICKET_BYTES);
  expectBytes(lockId, 'lock id', 8);
  return concatBytes(TICKET_MAC_CONTEXT, lockId, ticket);
}

/** `HMAC-SHA256(K, ticketMacInput(lockId, ticket))[0..16)`: the answer of `unlockTicketMac`. */
export function ticketMac(key: Uint8Array, lockId: Uint8Array, ticket: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  return provider.hmacSha256(expectBytes(key, 'ticket mac key', TICKET_MAC_KEY_BYTES), ticketMacInput(lockId, ticket)).slice(0, TICKET_MAC_BYTES);
}

/** The `unlockTicketMac` request payload: `publicKey(32) ‖ mac(16)`. */
export interface UnlockTicketMacRequest {
  publicKey: Uint8Array;
  mac: Uint8Array;
}

export function encodeUnlockTicketMac(u: UnlockTicketMacRequest): Uint8Array {
  return new ByteWriter(32 + TICKET_MAC_BYTES).bytes(expectBytes(u.publicKey, 'public key', 32)).bytes(expectBytes(u.mac, 'ticket mac', TICKET_MAC_BYTES)).finish();
}

export function decodeUnlockTicketMac(bytes: Uint8Array): UnlockTicketMacRequest {
  const r = new ByteReader(bytes, 'unlock ticket mac request');
  const publicKey = r.take(32).slice();
  const mac = r.take(TICKET_MAC_BYTES).slice();
  r.end();
  return { publicKey, mac };
}

/** An `unlockTicket`, `unlockTicketMac` or `unlockPhone` result, with the next ticket when the lock issued one. */
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
