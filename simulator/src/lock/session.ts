/**
 * One central's connection to a lock, at the level of characteristic values (no bleno here).
 *
 * The GATT service feeds it control-point writes and bulk writes and sends what it returns as
 * notifications; tests drive it directly with bytes. The phone's unlock challenge belongs to the
 * connection (a nonce issued on one link is useless on another), while the bulk receiver belongs
 * to the lock, so a transfer cut by a dropped link resumes on the next connection.
 */
import type { ControlRequest, DenyReasonName } from '@latchkit/protocol';
import {
  decodeBulkBegin,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeEventsRead,
  decodeRequest,
  decodeUnlockPhone,
  decodeUnlockTicketMac,
  DenyReason,
  equalBytes,
  encodeBulkProgress,
  encodeEvents,
  encodeLockInfo,
  encodeResponse,
  encodeUnlockChallenge,
  encodeUnlockResult,
  encodeTicketedUnlockResult,
  encodeUnknownOpcodeResponse,
  EVENT_RECORD_BYTES,
  MAX_CONTROL_MESSAGE_BYTES,
  MessageType,
  Opcode,
  parseSign1,
  ProtocolError,
  ProtocolErrorCodes,
  Reassembler,
  segment,
  lockTicketMacKey,
  ticketMac,
  ticketSigningInput,
  TRANSFER_ID_BYTES,
} from '@latchkit/protocol';
import { SimulatorError } from '../errors.js';
import type { LockFirmware, PhoneChallenge } from './firmware.js';
import type { McuMeter } from './mcu.js';
import { ticketsOf } from './tickets.js';

/** Records per eventsRead answer: what fits one control message after the 3-byte header. */

/**
 * Ticket answers that leave the ticket in place: the signature did not verify over it (a wrong
 * one, or a replay of an answer over an older nonce). Every other outcome spends it, including
 * denials decided before the check (an unknown key), so no answer over it can count later.
 */
const UNVERIFIED: ReadonlySet<DenyReasonName> = new Set<DenyReasonName>(['badProof', 'staleNonce']);

export const EVENTS_PER_READ = Math.floor((MAX_CONTROL_MESSAGE_BYTES - 3) / EVENT_RECORD_BYTES);

/** Requests whose payload is empty (PROTOCOL.md §9.4: a long fixed-size payload is MALFORMED). */
const EMPTY_REQUESTS: ReadonlySet<ControlRequest['opcode']> = new Set(['getInfo', 'unlockChallenge', 'bulkStatus', 'receiptRead', 'ticketIssue']);

/** Opcodes of the fast path (§9.8); firmware without it answers them as unknown. */
const FAST_OPCODES: ReadonlySet<ControlRequest['opcode']> = new Set(['unlockTicket', 'ticketIssue', 'unlockTicketMac']);

export interface SessionHooks {
  /** Send one notification value on the control point. */
  notify(value: Uint8Array): void;
  /** Current ATT MTU of the link. */
  mtu(): number;
  /** The lock lost power while handling a request: the link should drop. */
  halted?(err: SimulatorError): void;
  /** Drop the link (only the `drops-link` mutant asks for this). */
  dropLink?(): void;
  /** Charged with the work the crypto provider does not see (the set body's AEAD, X25519). */
  mcu?: McuMeter;
  /** Serve the fast path's opcodes (default true; false answers as firmware from before it). */
  fastPath?: boolean;
  /** Serve `unlockTicketMac` (default true; false answers it as fast-path firmware from before the ticket MAC). */
  ticketMac?: boolean;
}

export class LockSession {
  private challenge: PhoneChallenge | null = null;
  /** The phone key granted on this link: the only key `ticketIssue` may issue a ticket for. */
  private grantedKey: Uint8Array | null = null;
  private readonly reassembler = new Reassembler();
  private closed = false;

  constructor(
    readonly lock: LockFirmware,
    private readonly hooks: SessionHooks,
  ) {}

  /** A control-point write (one segment). Answers, segmented, once a whole request arrived. */
  onControlWrite(value: Uint8Array): void {
    if (this.closed) return;
    let message: Uint8Array | null;
    try {
      message = this.reassembler.push(value);
    } catch {
      // A broken segment stream has no request to answer; the central times out and retries.
      return;
    }
    if (message === null) return;
    // The misbehaviour mutants (./mutants.ts): a lock that hangs, drops the link or talks nonsense mid-run.
    if (this.lock.breaks('mute') && message[0] === Opcode.unlockPhone) return;
    if (this.lock.breaks('drops-link') && message[0] === Opcode.receiptRead) return this.hooks.dropLink?.();
    const response = this.lock.breaks('garbage') && message[0] === Opcode.eventsRead ? Uint8Array.of(0x5a, 0xa5, 0x00, 0xff) : this.handle(message);
    if (response === null || this.closed) return;
    for (const seg of segment(response, this.hooks.mtu())) this.hooks.notify(seg);
  }

  /** A bulk-channel write (write without response: no answer on any path). */
  onBulkWrite(value: Uint8Array): void {
    if (this.closed || this.lock.isHalted) return;
    this.lock.bulkReceiver.chunk(value);
  }

  /** The link went away: the challenge dies with it, the bulk transfer does not. */
  close(): void {
    this.closed = true;
    this.challenge = null;
    this.grantedKey = null;
    this.reassembler.reset();
    if (this.lock.breaks('forgets-transfer') && !this.lock.isHalted) this.lock.bulkReceiver.abort();
  }

  /** Handle one whole request; returns the encoded response, or null if the lock died. */
  handle(message: Uint8Array): Uint8Array | null {
    let request: ControlRequest;
    try {
      request = decodeRequest(message);
      if (this.hooks.fastPath === false && FAST_OPCODES.has(request.opcode)) return encodeUnknownOpcodeResponse(message[0]!, message[1]!);
      if (this.hooks.ticketMac === false && request.opcode === 'unlockTicketMac') return encodeUnknownOpcodeResponse(message[0]!, message[1]!);
    } catch (err) {
      const code = message[0] ?? 0;
      const token = message[1] ?? 0;
      if (err instanceof ProtocolError && err.code === 'UNKNOWN_OPCODE' && code < 0x80) return encodeUnknownOpcodeResponse(code, token);
      // Shorter than opcode + token (TRUNCATED): echo what there is so the central can match it.
      const status = err instanceof ProtocolError ? err.wire : ProtocolErrorCodes.MALFORMED.wire;
      return Uint8Array.of(code | 0x80, token, status);
    }
    try {
      return encodeResponse({ opcode: request.opcode, token: request.token, status: 0, payload: this.dispatch(request) });
    } catch (err) {
      if (err instanceof SimulatorError && (err.code === 'POWER_CUT' || err.code === 'LOCK_HALTED')) {
        this.hooks.halted?.(err);
        return null;
      }
      const wire = err instanceof ProtocolError ? err.wire : err instanceof SimulatorError && err.wire !== null ? err.wire : ProtocolErrorCodes.MALFORMED.wire;
      return encodeResponse({ opcode: request.opcode, token: request.token, status: wire, payload: new Uint8Array(0) });
    }
  }

  /**
   * A set or delta carries a sealed body the lock opens (XChaCha20-Poly1305, charged over the
   * whole message as an upper bound); commissioning unwraps the content key with X25519.
   */
  private chargeUnmetered(message: Uint8Array): void {
    const mcu = this.hooks.mcu;
    if (!mcu) return;
    let type: number;
    try {
      type = parseSign1(message, DEFAULT_MAX_MESSAGE_BYTES).type;
    } catch {
      return; // The apply refuses it before any crypto.
    }
    if (type === MessageType.fullSet || type === MessageType.delta) mcu.aead(message.length);
    else if (type === MessageType.commission) mcu.x25519();
  }

  /**
   * After a ticket answer (either proof): a grant replaces the ticket with the next one (the
   * entry, and any cached K, stay); a denial whose proof verified spends it; a proof that did
   * not verify (UNVERIFIED) leaves it for its phone.
   */
  private ticketAnswered(publicKey: Uint8Array, outcome: ReturnType<LockFirmware['unlockPhone']>): Uint8Array {
    const tickets = ticketsOf(this.lock);
    let next: Uint8Array | null = null;
    if (outcome.granted) {
      this.grantedKey = publicKey;
      next = tickets.issue(publicKey);
    } else if (!UNVERIFIED.has(outcome.reason)) tickets.take(publicKey);
    return encodeTicketedUnlockResult({ result: outcome.granted ? 0 : DenyReason[outcome.reason], holder: outcome.holder, eventIndex: outcome.event.index, ticket: next });
  }

  /**
   * K for `publicKey`, computed at most once per answer and only when the proof is checked: from
   * the ticket entry's cache, else one X25519 (charged to the meter: the provider does not see
   * it) and HKDF, cached in the entry. null when the key is no usable curve point (badProof).
   */
  private ticketMacKey(publicKey: Uint8Array): () => Uint8Array | null {
    const lock = this.lock;
    let k: Uint8Array | null | undefined;
    return () => {
      if (k !== undefined) return k;
      const tickets = ticketsOf(lock);
      k = tickets.macKey(publicKey);
      if (k) return k;
      this.hooks.mcu?.x25519();
      try {
        k = lockTicketMacKey(lock.device, lock.lockId, publicKey, lock.crypto);
      } catch {
        return (k = null);
      }
      tickets.keepMacKey(publicKey, k);
      return k;
    };
  }

  private dispatch(r: ControlRequest): Uint8Array {
    const lock = this.lock;
    if (EMPTY_REQUESTS.has(r.opcode) && r.payload.length !== 0) throw new ProtocolError('MALFORMED', `${r.opcode} takes no payload, got ${r.payload.length} byte(s)`);
    switch (r.opcode) {
      case 'getInfo':
        return encodeLockInfo(lock.info());
      case 'unlockChallenge': {
        this.challenge = lock.createChallenge();
        return encodeUnlockChallenge({ nonce: this.challenge.nonce, lockTime: this.challenge.lockTime });
      }
      case 'unlockPhone': {
        const { publicKey, signature } = decodeUnlockPhone(r.payload);
        // Single use: the nonce is spent by this answer whatever it says.
        const challenge = this.challenge;
        this.challenge = null;
        const outcome = lock.unlockPhone(challenge, publicKey, signature);
        if (outcome.granted) this.grantedKey = publicKey;
        return encodeUnlockResult({ result: outcome.granted ? 0 : DenyReason[outcome.reason], holder: outcome.holder, eventIndex: outcome.event.index });
      }
      case 'unlockTicket': {
        const { publicKey, signature } = decodeUnlockPhone(r.payload);
        // A ticket is spent by an answer whose signature verified over it (a grant, or a denial
        // for the credential's validity), not by one that did not verify: phone keys travel in
        // clear, so spending it on garbage or on a replayed old answer would let any central
        // knock every resident off the fast path (PROTOCOL.md §9.8).
        const outcome = lock.unlockPhone(ticketsOf(lock).held(publicKey), publicKey, signature, ticketSigningInput);
        return this.ticketAnswered(publicKey, outcome);
      }
      case 'unlockTicketMac': {
        const { publicKey, mac } = decodeUnlockTicketMac(r.payload);
        // The same decision, table and spending rule as unlockTicket; only the proof differs: one
        // HMAC under K instead of an Ed25519 verify. K is computed (X25519 + HKDF) on the first
        // MAC answer that needs it and cached in the key's ticket entry.
        const key = this.ticketMacKey(publicKey);
        const outcome = lock.unlockPhoneWith(ticketsOf(lock).held(publicKey), publicKey, (nonce) => {
          if (lock.breaks('accepts-any-mac')) return true;
          const k = key();
          return k !== null && equalBytes(ticketMac(k, lock.lockId, nonce, lock.crypto), mac);
        });
        return this.ticketAnswered(publicKey, outcome);
      }
      case 'ticketIssue':
        if (!this.grantedKey) throw new ProtocolError('INVALID_ARGUMENT', 'ticketIssue: no phone key was granted on this link');
        return ticketsOf(lock).issue(this.grantedKey);
      case 'bulkBegin':
        return encodeBulkProgress(lock.bulkReceiver.begin(decodeBulkBegin(r.payload)));
      case 'bulkStatus':
        return encodeBulkProgress(lock.bulkReceiver.progress());
      case 'bulkCommit': {
        if (r.payload.length !== TRANSFER_ID_BYTES) throw new ProtocolError('MALFORMED', `bulk commit: expected a ${TRANSFER_ID_BYTES}-byte transfer id`);
        const message = lock.bulkReceiver.commit(r.payload);
        this.chargeUnmetered(message);
        const applied = lock.applyMessage(message);
        return applied.sync?.receipt ?? lock.receipt();
      }
      case 'eventsRead': {
        const { from, max } = decodeEventsRead(r.payload);
        const start = lock.breaks('event-gap') && from > 0 ? from + 1 : lock.breaks('hides-log-start') && from === 0 ? 1 : from;
        return encodeEvents(lock.events.read(start, Math.min(max, EVENTS_PER_READ)));
      }
      case 'receiptRead':
        return lock.receipt();
      default:
        throw new ProtocolError('UNKNOWN_OPCODE', `control opcode ${Opcode[r.opcode as keyof typeof Opcode]} is not handled`);
    }
  }
}
