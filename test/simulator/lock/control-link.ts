/**
 * A phone's side of the control point, straight on a LockSession (no radio): requests segmented
 * and answers reassembled as on the air, with the unlock exchanges the ticket tests drive.
 */
import { expect } from 'vitest';
import type { ControlResponse, OpcodeName, TicketedUnlockResult, UnknownOpcodeResponse } from '@latchkit/protocol';
import {
  decodeResponse,
  decodeTicketedUnlockResult,
  decodeUnlockChallenge,
  encodeRequest,
  encodeUnlockPhone,
  encodeUnlockTicketMac,
  Reassembler,
  segment,
  unlockSigningInput,
} from '@latchkit/protocol';
import { LockSession } from '../../../simulator/src/lock/index.js';
import { crypto, phoneKeyOf, type TestLock } from './fixtures.js';

export class ControlLink {
  readonly session: LockSession;
  private readonly out: Uint8Array[] = [];
  private token = 0;

  /** `hooks` switch the lock's fast path or ticket MAC off, as firmware without them. */
  constructor(t: TestLock, hooks: { fastPath?: boolean; ticketMac?: boolean } = {}) {
    this.session = new LockSession(t.device.firmware, { notify: (v) => this.out.push(v), mtu: () => 185, ...(t.device.mcu ? { mcu: t.device.mcu } : {}), ...hooks });
  }

  call(opcode: OpcodeName, payload: Uint8Array = new Uint8Array(0)): ControlResponse | UnknownOpcodeResponse {
    const token = (this.token = (this.token + 1) & 0xff);
    for (const seg of segment(encodeRequest({ opcode, token, payload }), 185)) this.session.onControlWrite(seg);
    const r = new Reassembler();
    let whole: Uint8Array | null = null;
    for (const v of this.out.splice(0)) whole = r.push(v) ?? whole;
    return decodeResponse(whole!);
  }

  /** Slow path: challenge, answer; then a ticket for the granted key. */
  firstVisit(holder: number, lockId: Uint8Array): Uint8Array {
    const { nonce } = decodeUnlockChallenge((this.call('unlockChallenge') as ControlResponse).payload);
    const key = phoneKeyOf(holder);
    const r = this.call('unlockPhone', encodeUnlockPhone({ publicKey: key.publicKey, signature: crypto.ed25519Sign(key.seed, unlockSigningInput(lockId, nonce)) })) as ControlResponse;
    expect(r.payload[0]).toBe(0);
    const t = this.call('ticketIssue') as ControlResponse;
    expect(t.status).toBe(0);
    return t.payload;
  }

  ticketAnswer(holder: number, signature: Uint8Array): TicketedUnlockResult {
    const r = this.call('unlockTicket', encodeUnlockPhone({ publicKey: phoneKeyOf(holder).publicKey, signature })) as ControlResponse;
    expect(r.status).toBe(0);
    return decodeTicketedUnlockResult(r.payload);
  }

  macAnswer(holder: number, mac: Uint8Array): TicketedUnlockResult {
    const r = this.call('unlockTicketMac', encodeUnlockTicketMac({ publicKey: phoneKeyOf(holder).publicKey, mac })) as ControlResponse;
    expect(r.status).toBe(0);
    return decodeTicketedUnlockResult(r.payload);
  }

  close(): void {
    this.session.close();
  }
}
