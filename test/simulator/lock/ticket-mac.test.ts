/**
 * The ticket MAC (PROTOCOL.md §9.8, `unlockTicketMac`) at the control-point level: the same
 * table, spending rule and result codes as the Ed25519 ticket answer; each attack of the §9.8
 * table that concerns the MAC is fed to the lock and refused with its exact code; and what the
 * lock MCU is charged for it (one X25519 and HKDF on the first MAC answer of a key, one HMAC
 * after).
 */
import { describe, expect, it } from 'vitest';
import type { ControlResponse } from '@latchkit/protocol';
import {
  DenyReason,
  encodeUnlockTicketMac,
  lockTicketMacKey,
  phoneTicketMacKey,
  ProtocolErrorCodes,
  ticketMac,
  ticketSigningInput,
  x25519PublicKey,
} from '@latchkit/protocol';
import { MCU_PROFILES, TICKET_SECONDS, ticketsOf } from '../../../simulator/src/lock/index.js';
import { ControlLink as Link } from './control-link.js';
import { crypto, lockIdOf, phoneKeyOf, resident, testLock, type TestLock } from './fixtures.js';

/** K as the phone computes it, from the lock's X25519 public key (lock info). */
const kOf = (t: TestLock, holder: number, lockPublic = t.device.firmware.device.encryptionPublic, lockId = t.device.lockId): Uint8Array => phoneTicketMacKey(phoneKeyOf(holder), lockId, lockPublic, crypto);
const macOf = (t: TestLock, holder: number, ticket: Uint8Array, lockId = t.device.lockId): Uint8Array => ticketMac(kOf(t, holder, undefined, lockId), lockId, ticket, crypto);
const sign = (holder: number, lockId: Uint8Array, ticket: Uint8Array): Uint8Array => crypto.ed25519Sign(phoneKeyOf(holder).seed, ticketSigningInput(lockId, ticket));

function door(n = 1, mcu: 'nrf52840' | null = null): TestLock {
  return testLock({ n, specs: [...resident(1000, '100010'), ...resident(2000, '200020')], mcu });
}

describe('ticket MAC (unlockTicketMac)', () => {
  it('the phone and the lock derive the same K; each phone key has its own', () => {
    const t = door();
    const fw = t.device.firmware;
    expect(lockTicketMacKey(fw.device, fw.lockId, phoneKeyOf(1000).publicKey, crypto)).toEqual(kOf(t, 1000));
    expect(kOf(t, 2000)).not.toEqual(kOf(t, 1000));
    expect(kOf(door(2), 1000)).not.toEqual(kOf(t, 1000));
  });

  it('opens the door with a MAC answer; the answer carries the next ticket, which a MAC or a signature can answer', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    const r = new Link(t).macAnswer(1000, macOf(t, 1000, ticket));
    expect(r).toMatchObject({ result: 0, holder: 1000 });
    expect(r.ticket).not.toBeNull();
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, r.ticket!)).result).toBe(0);
    const next = ticketsOf(t.device.firmware).held(phoneKeyOf(1000).publicKey)!.nonce;
    expect(new Link(t).ticketAnswer(1000, sign(1000, t.device.lockId, next)).result).toBe(0);
    const events = t.device.firmware.events.read(0, 100).filter((e) => e.kind === 4);
    expect(events.map((e) => [e.type, e.holder])).toEqual([
      ['granted', 1000],
      ['granted', 1000],
      ['granted', 1000],
      ['granted', 1000],
    ]);
  });

  it('refuses a replayed MAC answer (staleNonce) and issues no ticket for it', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    const answer = macOf(t, 1000, ticket);
    expect(new Link(t).macAnswer(1000, answer).result).toBe(0);
    expect(new Link(t).macAnswer(1000, answer)).toMatchObject({ result: DenyReason.staleNonce, ticket: null });
  });

  it('refuses a MAC made for another lock (badProof): K and the lock id differ', () => {
    const t = door();
    const other = door(2);
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    // The phone's K at lock 2 over this ticket, with lock 2's id, and with this lock's id.
    expect(new Link(t).macAnswer(1000, ticketMac(kOf(other, 1000), other.device.lockId, ticket, crypto))).toMatchObject({ result: DenyReason.badProof, ticket: null });
    expect(new Link(t).macAnswer(1000, ticketMac(kOf(other, 1000), t.device.lockId, ticket, crypto))).toMatchObject({ result: DenyReason.badProof, ticket: null });
    // This lock's K, but the MAC input names lock 99.
    expect(new Link(t).macAnswer(1000, ticketMac(kOf(t, 1000), lockIdOf(99), ticket, crypto)).result).toBe(DenyReason.badProof);
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, ticket)).result).toBe(0);
  });

  it('refuses a MAC over an old ticket once a newer one was issued (badProof), and keeps the newer one', () => {
    const t = door();
    const a = new Link(t);
    const old = a.firstVisit(1000, t.device.lockId);
    const newer = a.firstVisit(1000, t.device.lockId);
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, old))).toMatchObject({ result: DenyReason.badProof, ticket: null });
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, newer)).result).toBe(0);
  });

  it('garbage under a victim\'s key does not spend the ticket (badProof), nor does a MAC under another phone\'s K', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    expect(new Link(t).macAnswer(1000, new Uint8Array(16))).toMatchObject({ result: DenyReason.badProof, ticket: null });
    expect(new Link(t).macAnswer(1000, ticketMac(kOf(t, 2000), t.device.lockId, ticket, crypto)).result).toBe(DenyReason.badProof);
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, ticket)).result).toBe(0);
  });

  it('keeps the MAC and the signature apart: neither answer counts as the other', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    const mac = macOf(t, 1000, ticket);
    // The MAC sent as a ticket signature (padded to 64 bytes), and a ticket signature cut to a MAC.
    const asSignature = new Uint8Array(64);
    asSignature.set(mac);
    expect(new Link(t).ticketAnswer(1000, asSignature).result).toBe(DenyReason.badProof);
    expect(new Link(t).macAnswer(1000, sign(1000, t.device.lockId, ticket).slice(0, 16)).result).toBe(DenyReason.badProof);
    // The ticket survived both, and the honest MAC opens.
    expect(new Link(t).macAnswer(1000, mac).result).toBe(0);
  });

  it('a MAC under K from a forged lock X25519 key is badProof and leaves the ticket', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    const forged = x25519PublicKey(new Uint8Array(32).fill(7));
    const r = new Link(t).macAnswer(1000, ticketMac(kOf(t, 1000, forged), t.device.lockId, ticket, crypto));
    expect(r).toMatchObject({ result: DenyReason.badProof, ticket: null });
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, ticket)).result).toBe(0);
  });

  it('spends the ticket on a verified MAC answer even when the credential is denied', () => {
    const t = testLock({ specs: [...resident(1000, '100010', { end: 1 })], mcu: null });
    const ticket = ticketsOf(t.device.firmware).issue(phoneKeyOf(1000).publicKey);
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, ticket)).result).toBe(DenyReason.expired);
    expect(ticketsOf(t.device.firmware).size).toBe(0);
  });

  it('no ticket (expired, rebooted, never issued) is staleNonce; an unknown key is unknownCredential', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    t.clock.advance(TICKET_SECONDS * 1000 + 1);
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, ticket)).result).toBe(DenyReason.staleNonce);
    const again = new Link(t).firstVisit(1000, t.device.lockId);
    t.device.powerCycle();
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, again)).result).toBe(DenyReason.staleNonce);
    expect(new Link(t).macAnswer(2000, macOf(t, 2000, new Uint8Array(16))).result).toBe(DenyReason.staleNonce);
    expect(new Link(t).macAnswer(9999, new Uint8Array(16))).toMatchObject({ result: DenyReason.unknownCredential, holder: 0, ticket: null });
  });

  it('checks the payload length like any fixed-size request', () => {
    const t = door();
    expect((new Link(t).call('unlockTicketMac', new Uint8Array(47)) as ControlResponse).status).toBe(ProtocolErrorCodes.TRUNCATED.wire);
    expect((new Link(t).call('unlockTicketMac', new Uint8Array(49)) as ControlResponse).status).toBe(ProtocolErrorCodes.MALFORMED.wire);
  });

  it('firmware without the ticket MAC (or without the fast path) answers the opcode as unknown and keeps the ticket', () => {
    const t = door();
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    const payload = encodeUnlockTicketMac({ publicKey: phoneKeyOf(1000).publicKey, mac: macOf(t, 1000, ticket) });
    expect((new Link(t, { ticketMac: false }).call('unlockTicketMac', payload) as ControlResponse).status).toBe(ProtocolErrorCodes.UNKNOWN_OPCODE.wire);
    expect((new Link(t, { fastPath: false }).call('unlockTicketMac', payload) as ControlResponse).status).toBe(ProtocolErrorCodes.UNKNOWN_OPCODE.wire);
    expect(new Link(t, { ticketMac: false }).ticketAnswer(1000, sign(1000, t.device.lockId, ticket)).result).toBe(0);
  });

  it('the accepts-any-mac mutant breaks the MAC check and nothing else', () => {
    const t = testLock({ specs: [...resident(1000, '100010')], mcu: null, mutant: 'accepts-any-mac' });
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    expect(new Link(t).ticketAnswer(1000, new Uint8Array(64)).result).toBe(DenyReason.badProof);
    expect(new Link(t).macAnswer(9999, new Uint8Array(16)).result).toBe(DenyReason.unknownCredential);
    expect(new Link(t).macAnswer(1000, new Uint8Array(16)).result).toBe(0);
    expect(ticket).toHaveLength(16);
  });

  it('a phone revoked by a delta is denied even with K cached and a ticket held', () => {
    const t = door(1, 'nrf52840');
    const ticket = new Link(t).firstVisit(1000, t.device.lockId);
    // Garbage first so K is computed and cached in the entry.
    expect(new Link(t).macAnswer(1000, new Uint8Array(16)).result).toBe(DenyReason.badProof);
    expect(ticketsOf(t.device.firmware).macKey(phoneKeyOf(1000).publicKey)).not.toBeNull();
    const v1 = t.backend.full(1, [...resident(1000, '100010'), ...resident(2000, '200020')]);
    const v2 = t.backend.delta(v1, 2, [...resident(1000, '100010').filter((s) => s.kind !== 'phone'), ...resident(2000, '200020')]);
    t.device.firmware.applySetMessage(v2.bytes);
    expect(new Link(t).macAnswer(1000, macOf(t, 1000, ticket)).result).toBe(DenyReason.unknownCredential);
  });
  it('a public key or MAC one byte short or long is MALFORMED or TRUNCATED, not a decision', () => {
    const t = door();
    new Link(t).firstVisit(1000, t.device.lockId);
    const pub = phoneKeyOf(1000).publicKey;
    for (const p of [new Uint8Array([...pub.subarray(0, 31), ...new Uint8Array(16)]), new Uint8Array([...pub, 0, ...new Uint8Array(16)]), new Uint8Array([...pub, ...new Uint8Array(15)]), new Uint8Array([...pub, ...new Uint8Array(17)])]) {
      const r = new Link(t).call('unlockTicketMac', p) as ControlResponse;
      expect([ProtocolErrorCodes.MALFORMED.wire, ProtocolErrorCodes.TRUNCATED.wire]).toContain(r.status);
    }
  });
  describe('lock MCU time', () => {
    const nrf = MCU_PROFILES.nrf52840;
    const x25519Ms = nrf.x25519Cycles / (nrf.clockMhz * 1000);
    const verifyMs = nrf.ed25519VerifyCycles / (nrf.clockMhz * 1000);

    it('charges one X25519 + HKDF on the first MAC answer of a key, then one HMAC; no Ed25519 verify', () => {
      const t = door(1, 'nrf52840');
      const meter = t.device.mcu!;
      let ticket = new Link(t).firstVisit(1000, t.device.lockId);
      const answer = (): { ms: number; x25519: number; verify: number } => {
        const [total, x, v] = [meter.total, meter.breakdown.x25519, meter.breakdown.ed25519Verify];
        const r = new Link(t).macAnswer(1000, macOf(t, 1000, ticket));
        expect(r.result).toBe(0);
        ticket = r.ticket!;
        return { ms: meter.total - total, x25519: meter.breakdown.x25519 - x, verify: meter.breakdown.ed25519Verify - v };
      };
      const first = answer();
      const second = answer();
      const third = answer();
      expect(first.x25519).toBeCloseTo(x25519Ms, 6);
      expect(second.x25519).toBe(0);
      expect(first.verify + second.verify + third.verify).toBe(0);
      expect(third.ms).toBeCloseTo(second.ms, 6);
      // The MAC answer: the phone-row lookup and one HMAC, a few ms against the 31 ms verify.
      expect(second.ms).toBeLessThan(3);
      expect(first.ms - second.ms).toBeGreaterThan(x25519Ms);
      expect(first.ms - second.ms).toBeLessThan(x25519Ms + 2);
      // The Ed25519 ticket answer it replaces costs the verify.
      const [total] = [meter.total];
      expect(new Link(t).ticketAnswer(1000, sign(1000, t.device.lockId, ticket)).result).toBe(0);
      expect(meter.total - total).toBeGreaterThan(verifyMs);
    });

    it('K is cached in the key\'s ticket entry: carried to the next ticket, gone on reboot', () => {
      const t = door(1, 'nrf52840');
      const pub = phoneKeyOf(1000).publicKey;
      const book = () => ticketsOf(t.device.firmware);
      const ticket = new Link(t).firstVisit(1000, t.device.lockId);
      expect(book().macKey(pub)).toBeNull();
      new Link(t).macAnswer(1000, macOf(t, 1000, ticket));
      expect(book().macKey(pub)).toEqual(kOf(t, 1000));
      // A slow-path visit replaces the ticket; K stays with the entry.
      new Link(t).firstVisit(1000, t.device.lockId);
      expect(book().macKey(pub)).toEqual(kOf(t, 1000));
      t.device.powerCycle();
      expect(book().macKey(pub)).toBeNull();
    });
  });
});
