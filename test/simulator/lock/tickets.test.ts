/**
 * Unlock tickets (PROTOCOL.md §9.8) at the control-point level: each attack the replay and
 * pre-play analysis names is refused, with the deny code the challenge path gives.
 */
import { describe, expect, it } from 'vitest';
import type { ControlResponse } from '@latchkit/protocol';
import {
  DenyReason,
  ProtocolErrorCodes,
  ticketSigningInput,
  unlockSigningInput,
} from '@latchkit/protocol';
import { TICKET_SECONDS, TICKETS_MAX, ticketsOf } from '../../../simulator/src/lock/index.js';
import { ControlLink as Link } from './control-link.js';
import { crypto, lockIdOf, phoneKeyOf, resident, testLock, type TestLock } from './fixtures.js';

const sign = (holder: number, lockId: Uint8Array, ticket: Uint8Array): Uint8Array => crypto.ed25519Sign(phoneKeyOf(holder).seed, ticketSigningInput(lockId, ticket));

function door(n = 1): TestLock {
  return testLock({ n, specs: [...resident(1000, '100010'), ...resident(2000, '200020')] });
}

describe('unlock tickets', () => {
  it('a ticket opens the door on the next link without a challenge, and the answer carries the next ticket', () => {
    const t = door();
    const a = new Link(t);
    const ticket = a.firstVisit(1000, t.device.lockId);
    a.close();
    const b = new Link(t);
    const r = b.ticketAnswer(1000, sign(1000, t.device.lockId, ticket));
    expect(r).toMatchObject({ result: 0, holder: 1000 });
    expect(r.ticket).not.toBeNull();
    expect(r.ticket).not.toEqual(ticket);
    const c = b.ticketAnswer(1000, sign(1000, t.device.lockId, r.ticket!));
    expect(c.result).toBe(0);
  });

  it('refuses a replayed answer (staleNonce) and issues no ticket for it', () => {
    const t = door();
    const a = new Link(t);
    const ticket = a.firstVisit(1000, t.device.lockId);
    const answer = sign(1000, t.device.lockId, ticket);
    expect(a.ticketAnswer(1000, answer).result).toBe(0);
    const replay = new Link(t).ticketAnswer(1000, answer);
    expect(replay).toMatchObject({ result: DenyReason.staleNonce, ticket: null });
  });

  it('refuses an answer signed for another lock (badProof)', () => {
    const t = door();
    const a = new Link(t);
    const ticket = a.firstVisit(1000, t.device.lockId);
    expect(a.ticketAnswer(1000, sign(1000, lockIdOf(99), ticket))).toMatchObject({ result: DenyReason.badProof, ticket: null });
  });

  it('refuses an answer for an old ticket once a newer one was issued, and keeps the newer one for its phone', () => {
    const t = door();
    const a = new Link(t);
    const old = a.firstVisit(1000, t.device.lockId);
    const newer = a.firstVisit(1000, t.device.lockId);
    expect(newer).not.toEqual(old);
    expect(new Link(t).ticketAnswer(1000, sign(1000, t.device.lockId, old))).toMatchObject({ result: DenyReason.badProof, ticket: null });
    expect(new Link(t).ticketAnswer(1000, sign(1000, t.device.lockId, newer)).result).toBe(0);
  });

  it('does not let a stranger spend a resident\'s ticket with a wrong signature under their (public) key', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    // The attacker's link was never granted and knows only the victim's public key.
    expect(new Link(t).ticketAnswer(1000, new Uint8Array(64))).toMatchObject({ result: DenyReason.badProof, ticket: null });
    expect(new Link(t).ticketAnswer(1000, sign(2000, t.device.lockId, ticket))).toMatchObject({ result: DenyReason.badProof, ticket: null });
    const answer = sign(1000, t.device.lockId, ticket);
    expect(new Link(t).ticketAnswer(1000, answer).result).toBe(0);
    // ...and the answer that verified spent it: the same answer again is a replay.
    expect(new Link(t).ticketAnswer(1000, answer).result).toBe(DenyReason.staleNonce);
  });

  it('spends a ticket on a verified answer even when the credential is denied, so that answer never counts later', () => {
    const t = testLock({ specs: [...resident(1000, '100010', { end: 1 })] });
    const ticket = ticketsOf(t.device.firmware).issue(phoneKeyOf(1000).publicKey);
    const answer = sign(1000, t.device.lockId, ticket);
    expect(new Link(t).ticketAnswer(1000, answer).result).toBe(DenyReason.expired);
    expect(ticketsOf(t.device.firmware).size).toBe(0);
  });

  it('refuses a relayed (pre-played) answer after the ticket rotated: the victim used it first', () => {
    const t = door();
    const victim = new Link(t);
    const ticket = victim.firstVisit(1000, t.device.lockId);
    // An attacker recorded the ticket on the air and got the victim's phone to sign it elsewhere.
    const stolen = sign(1000, t.device.lockId, ticket);
    expect(new Link(t).ticketAnswer(1000, stolen).result).toBe(0); // the victim's own visit rotates it
    expect(new Link(t).ticketAnswer(1000, stolen).result).toBe(DenyReason.staleNonce);
  });

  it('refuses a ticket past its lifetime (staleNonce), and after a reboot (tickets live in RAM)', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    t.clock.advance(TICKET_SECONDS * 1000 + 1);
    expect(new Link(t).ticketAnswer(1000, sign(1000, t.device.lockId, ticket)).result).toBe(DenyReason.staleNonce);
    const again = new Link(t).firstVisit(1000, t.device.lockId);
    t.device.powerCycle();
    expect(new Link(t).ticketAnswer(1000, sign(1000, t.device.lockId, again)).result).toBe(DenyReason.staleNonce);
  });

  it('keeps the two signing domains apart: a challenge answer is not a ticket answer', () => {
    const t = door();
    const a = new Link(t);
    const ticket = a.firstVisit(1000, t.device.lockId);
    const slowDomain = crypto.ed25519Sign(phoneKeyOf(1000).seed, unlockSigningInput(t.device.lockId, ticket));
    expect(a.ticketAnswer(1000, slowDomain).result).toBe(DenyReason.badProof);
  });

  it('issues a ticket only for the key granted on this link, and never for a stranger', () => {
    const t = door();
    const a = new Link(t);
    expect((a.call('ticketIssue') as ControlResponse).status).toBe(ProtocolErrorCodes.INVALID_ARGUMENT.wire);
    // Another holder's key without its own ticket: denied as a stale nonce, no ticket.
    a.firstVisit(1000, t.device.lockId);
    expect(new Link(t).ticketAnswer(2000, sign(2000, t.device.lockId, new Uint8Array(16))).result).toBe(DenyReason.staleNonce);
    expect(new Link(t).ticketAnswer(2000, sign(2000, t.device.lockId, new Uint8Array(16))).ticket).toBeNull();
  });

  it('refuses an unknown key as the challenge path does (unknownCredential), with no ticket', () => {
    const t = door();
    new Link(t).firstVisit(1000, t.device.lockId);
    expect(new Link(t).ticketAnswer(9999, sign(9999, t.device.lockId, new Uint8Array(16)))).toMatchObject({ result: DenyReason.unknownCredential, holder: 0, ticket: null });
  });

  it('keeps at most TICKETS_MAX tickets', () => {
    const t = door();
    const book = ticketsOf(t.device.firmware);
    for (let i = 0; i < TICKETS_MAX + 5; i++) book.issue(Uint8Array.from({ length: 32 }, (_, j) => (i * 7 + j) & 0xff));
    expect(book.size).toBe(TICKETS_MAX);
  });

  it('firmware without the fast path answers its opcodes as unknown', () => {
    const t = door();
    // What older firmware sends for any opcode it does not know; the phone then takes the challenge path.
    const r = new Link(t, { fastPath: false }).call('unlockTicket', new Uint8Array(96)) as ControlResponse;
    expect(r.status).toBe(ProtocolErrorCodes.UNKNOWN_OPCODE.wire);
    expect((new Link(t, { fastPath: false }).call('ticketIssue') as ControlResponse).status).toBe(ProtocolErrorCodes.UNKNOWN_OPCODE.wire);
  });
});
