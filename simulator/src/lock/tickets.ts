/**
 * Unlock tickets (PROTOCOL.md §9.8): the nonce a phone signs on its next visit, issued after a
 * granted unlock and kept in the lock's RAM only.
 *
 * Why RAM and a small table: a ticket only saves a round trip, so losing it (a reboot, an
 * eviction, expiry) costs the phone one challenge, never access; and nothing about a ticket
 * ever reaches flash, so issuing one costs no erase cycles. Tickets belong to the running
 * firmware: a power cycle boots a new firmware instance and with it an empty book.
 */
import { toHex } from '@latchkit/protocol';
import type { LockFirmware, PhoneChallenge } from './firmware.js';

/** A ticket stays valid this long after it was issued (the pre-play window, §9.8). */
export const TICKET_SECONDS = 12 * 3600;
/** Tickets the lock keeps (least recently issued dropped first): 64 × ~72 bytes of RAM (with K). */
export const TICKETS_MAX = 64;

interface Entry {
  ticket: PhoneChallenge;
  /** The ticket MAC key of this phone key at this lock, once a MAC answer needed it. */
  macKey: Uint8Array | null;
}

export class TicketBook {
  private readonly byKey = new Map<string, Entry>();

  constructor(private readonly fw: LockFirmware) {}

  /**
   * A fresh ticket for `publicKey`, replacing any older one for it (a superseded ticket is
   * refused from then on). Call only after that key was granted on this link.
   */
  issue(publicKey: Uint8Array): Uint8Array {
    const c = this.fw.createChallenge();
    // createChallenge sets the slow path's expiry; a ticket lives TICKET_SECONDS from now.
    const issuedAtMs = c.expiresAtMs - this.fw.profile.challengeSeconds * 1000;
    const key = toHex(publicKey);
    const macKey = this.byKey.get(key)?.macKey ?? null;
    this.byKey.delete(key);
    this.byKey.set(key, { ticket: { nonce: c.nonce, lockTime: c.lockTime, expiresAtMs: issuedAtMs + TICKET_SECONDS * 1000 }, macKey });
    while (this.byKey.size > TICKETS_MAX) this.byKey.delete(this.byKey.keys().next().value!);
    return c.nonce;
  }

  /** The ticket held for `publicKey`, left in place (the answer is checked against it first). */
  held(publicKey: Uint8Array): PhoneChallenge | null {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return null;
    return this.byKey.get(toHex(publicKey))?.ticket ?? null;
  }

  /** The cached ticket MAC key for `publicKey`, if its entry holds one. */
  macKey(publicKey: Uint8Array): Uint8Array | null {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return null;
    return this.byKey.get(toHex(publicKey))?.macKey ?? null;
  }

  /** Cache K in the entry of `publicKey` (no entry, no cache: K lives only as long as a ticket). */
  keepMacKey(publicKey: Uint8Array, macKey: Uint8Array): void {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return;
    const e = this.byKey.get(toHex(publicKey));
    if (e) e.macKey = macKey;
  }

  /** The ticket held for `publicKey`, removed: once an answer over it verified, it is used. */
  take(publicKey: Uint8Array): PhoneChallenge | null {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return null;
    const key = toHex(publicKey);
    const t = this.byKey.get(key)?.ticket ?? null;
    this.byKey.delete(key);
    return t;
  }

  get size(): number {
    return this.byKey.size;
  }
}

const books = new WeakMap<LockFirmware, TicketBook>();

/** The ticket book of a running firmware (created on first use, gone with the firmware instance). */
export function ticketsOf(fw: LockFirmware): TicketBook {
  let book = books.get(fw);
  if (!book) books.set(fw, (book = new TicketBook(fw)));
  return book;
}
