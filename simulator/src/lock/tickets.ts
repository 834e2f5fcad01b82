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
/** Tickets the lock keeps (least recently issued dropped first): 64 × ~40 bytes of RAM. */
export const TICKETS_MAX = 64;

export class TicketBook {
  private readonly byKey = new Map<string, PhoneChallenge>();

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
    this.byKey.delete(key);
    this.byKey.set(key, { nonce: c.nonce, lockTime: c.lockTime, expiresAtMs: issuedAtMs + TICKET_SECONDS * 1000 });
    while (this.byKey.size > TICKETS_MAX) this.byKey.delete(this.byKey.keys().next().value!);
    return c.nonce;
  }

  /** The ticket held for `publicKey`, left in place (the answer is checked against it first). */
  held(publicKey: Uint8Array): PhoneChallenge | null {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return null;
    return this.byKey.get(toHex(publicKey)) ?? null;
  }

  /** The ticket held for `publicKey`, removed: once an answer over it verified, it is used. */
  take(publicKey: Uint8Array): PhoneChallenge | null {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return null;
    const key = toHex(publicKey);
    const t = this.byKey.get(key) ?? null;
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
