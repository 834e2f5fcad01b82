/**
 * The control point and bulk channel at the byte level (what the GATT service carries): resume
 * after a link drop at every chunk boundary, bad transfers, replayed unlock answers across
 * connections, unknown opcodes, event reads, and a power cut while committing.
 */
import { describe, expect, it } from 'vitest';
import type { ControlResponse, OpcodeName, UnknownOpcodeResponse } from '@latchkit/protocol';
import {
  bulkChunks,
  decodeBulkProgress,
  decodeEvents,
  decodeResponse,
  decodeUnlockChallenge,
  decodeUnlockResult,
  DenyReason,
  encodeBulkBegin,
  encodeEventsRead,
  encodeRequest,
  encodeUnlockPhone,
  openReceipt,
  ProtocolErrorCodes,
  Reassembler,
  segment,
  transferId,
  unlockSigningInput,
  verifyEventChain,
} from '@latchkit/protocol';
import type { SimulatorError } from '../../../simulator/src/errors.js';
import { LockSession } from '../../../simulator/src/lock/index.js';
import { crypto, phoneKeyOf, resident, testLock, type TestLock } from './fixtures.js';

/** A connection as a central sees it: segmented requests in, reassembled responses out. */
class Link {
  readonly session: LockSession;
  private readonly out: Uint8Array[] = [];
  private token = 0;
  halted: SimulatorError | null = null;

  constructor(
    t: TestLock,
    readonly mtu = 23,
  ) {
    this.session = new LockSession(t.device.firmware, { notify: (v) => this.out.push(v), mtu: () => this.mtu, halted: (e) => (this.halted = e) });
  }

  call(opcode: OpcodeName, payload: Uint8Array = new Uint8Array(0)): ControlResponse | UnknownOpcodeResponse | null {
    const token = (this.token = (this.token + 1) & 0xff);
    for (const seg of segment(encodeRequest({ opcode, token, payload }), this.mtu)) this.session.onControlWrite(seg);
    const r = new Reassembler();
    let whole: Uint8Array | null = null;
    for (const v of this.out.splice(0)) {
      expect(v.length).toBeLessThanOrEqual(this.mtu - 3);
      whole = r.push(v) ?? whole;
    }
    if (whole === null) return null;
    const res = decodeResponse(whole);
    expect(res.token).toBe(token);
    return res;
  }

  ok(opcode: OpcodeName, payload?: Uint8Array): Uint8Array {
    const r = this.call(opcode, payload);
    expect(r?.status, `${opcode} status`).toBe(0);
    return r!.payload;
  }
}

const specs1 = [...resident(1, '111111'), ...resident(2, '222222')];
const specs2 = [...resident(1, '111111'), ...resident(3, '333333'), ...resident(4, '444444')];

describe('bulk transfer', () => {
  it('resumes at the last acknowledged offset after a link drop at every chunk boundary', () => {
    const probe = testLock({ specs: specs1 });
    const message = probe.backend.full(2, specs2).bytes;
    const mtu = 23;
    const chunks = [...bulkChunks(message, 0, mtu)];
    const id = transferId(message, crypto);
    expect(chunks.length).toBeGreaterThan(20);
    for (let boundary = 0; boundary <= chunks.length; boundary++) {
      const t = testLock({ specs: specs1 });
      const first = new Link(t, mtu);
      expect(decodeBulkProgress(first.ok('bulkBegin', encodeBulkBegin({ id, total: message.length }))).received).toBe(0);
      for (const c of chunks.slice(0, boundary)) first.session.onBulkWrite(c);
      first.session.close(); // the link drops; chunks sent after this are lost
      for (const c of chunks.slice(boundary, boundary + 3)) first.session.onBulkWrite(c);
      const second = new Link(t, 185); // the next connection may negotiate another MTU
      const resumed = decodeBulkProgress(second.ok('bulkBegin', encodeBulkBegin({ id, total: message.length }))).received;
      expect(resumed).toBe(Math.min(message.length, boundary * (mtu - 7)));
      for (const c of bulkChunks(message, resumed, second.mtu)) second.session.onBulkWrite(c);
      expect(decodeBulkProgress(second.ok('bulkStatus')).received).toBe(message.length);
      const receipt = openReceipt(second.ok('bulkCommit', id), { lockId: t.device.lockId, devicePublicKey: t.backend.device.signing.publicKey, provider: crypto });
      expect(receipt.seq).toBe(2);
      expect(t.device.firmware.enterCode('444444').granted).toBe(true);
    }
  });

  it('drops out-of-order and repeated chunks, and refuses an early commit, an unknown transfer and an oversize one', () => {
    const t = testLock({ specs: specs1 });
    const link = new Link(t, 64);
    const message = t.backend.full(2, specs2).bytes;
    const id = transferId(message, crypto);
    const chunks = [...bulkChunks(message, 0, 64)];
    link.ok('bulkBegin', encodeBulkBegin({ id, total: message.length }));
    link.session.onBulkWrite(chunks[1]!);
    link.session.onBulkWrite(chunks[0]!);
    link.session.onBulkWrite(chunks[0]!);
    link.session.onBulkWrite(Uint8Array.of(1, 2));
    expect(decodeBulkProgress(link.ok('bulkStatus')).received).toBe(64 - 7);
    expect(link.call('bulkCommit', id)!.status).toBe(ProtocolErrorCodes.TRANSFER_INCOMPLETE.wire);
    expect(link.call('bulkCommit', new Uint8Array(16))!.status).toBe(ProtocolErrorCodes.TRANSFER_UNKNOWN.wire);
    expect(link.call('bulkBegin', encodeBulkBegin({ id, total: 50 * 1024 * 1024 }))!.status).toBe(ProtocolErrorCodes.OVERSIZE.wire);
    // A transfer whose bytes do not hash to its id is refused at commit. (The receiver still
    // holds the genuine first chunk, so the forgery resumes after it.)
    const forged = message.slice();
    forged[200]! ^= 1;
    link.ok('bulkBegin', encodeBulkBegin({ id, total: forged.length }));
    for (const c of bulkChunks(forged, 0, 64)) link.session.onBulkWrite(c);
    expect(link.call('bulkCommit', id)!.status).toBe(ProtocolErrorCodes.MALFORMED.wire);
    expect(t.device.firmware.seq).toBe(1);
  });

  it('answers a refused set with its wire status (delta on the wrong base: the sender falls back)', () => {
    const t = testLock({ specs: specs1 });
    const link = new Link(t, 185);
    const other = t.backend.full(5, specs1);
    const delta = t.backend.delta(other, 6, specs2).bytes;
    const push = (m: Uint8Array): ControlResponse | UnknownOpcodeResponse => {
      const id = transferId(m, crypto);
      link.ok('bulkBegin', encodeBulkBegin({ id, total: m.length }));
      for (const c of bulkChunks(m, 0, 185)) link.session.onBulkWrite(c);
      return link.call('bulkCommit', id)!;
    };
    expect(push(delta).status).toBe(ProtocolErrorCodes.DELTA_BASE_MISMATCH.wire);
    expect(push(t.backend.full(6, specs2).bytes).status).toBe(0);
  });

  it('a power cut while committing answers nothing and reports the halt', () => {
    const t = testLock({ specs: specs1 });
    const link = new Link(t, 185);
    const m = t.backend.full(2, specs2).bytes;
    const id = transferId(m, crypto);
    link.ok('bulkBegin', encodeBulkBegin({ id, total: m.length }));
    for (const c of bulkChunks(m, 0, 185)) link.session.onBulkWrite(c);
    t.device.flash.cutAt({ atWrite: t.device.flash.writes + 2 });
    expect(link.call('bulkCommit', id)).toBeNull();
    expect(link.halted?.code).toBe('POWER_CUT');
    expect(t.device.powerCycle().seq).toBe(1);
  });
});

describe('unlock over the control point', () => {
  it('a replayed unlockPhone answer is refused, on the same connection and on a new one', () => {
    const t = testLock({ specs: specs1 });
    const key = phoneKeyOf(1);
    const a = new Link(t);
    const { nonce } = decodeUnlockChallenge(a.ok('unlockChallenge'));
    const answer = encodeUnlockPhone({ publicKey: key.publicKey, signature: crypto.ed25519Sign(key.seed, unlockSigningInput(t.device.lockId, nonce)) });
    expect(decodeUnlockResult(a.ok('unlockPhone', answer))).toMatchObject({ result: 0, holder: 1 });
    expect(decodeUnlockResult(a.ok('unlockPhone', answer)).result).toBe(DenyReason.staleNonce);
    const b = new Link(t);
    expect(decodeUnlockResult(b.ok('unlockPhone', answer)).result).toBe(DenyReason.staleNonce);
    b.ok('unlockChallenge');
    expect(decodeUnlockResult(b.ok('unlockPhone', answer)).result).toBe(DenyReason.staleNonce);
    // A challenge issued on one connection cannot be answered on another.
    const c = new Link(t);
    const d = new Link(t);
    const n2 = decodeUnlockChallenge(c.ok('unlockChallenge')).nonce;
    c.session.close();
    const a2 = encodeUnlockPhone({ publicKey: key.publicKey, signature: crypto.ed25519Sign(key.seed, unlockSigningInput(t.device.lockId, n2)) });
    expect(decodeUnlockResult(d.ok('unlockPhone', a2)).result).toBe(DenyReason.staleNonce);
  });
});

describe('control point hygiene', () => {
  it('answers an unknown opcode with UNKNOWN_OPCODE and a truncated payload with TRUNCATED', () => {
    const t = testLock({ specs: specs1 });
    const out: Uint8Array[] = [];
    const s = new LockSession(t.device.firmware, { notify: (v) => out.push(v), mtu: () => 23 });
    const unknown = s.handle(Uint8Array.of(0x7e, 9))!;
    expect([...unknown]).toEqual([0xfe, 9, ProtocolErrorCodes.UNKNOWN_OPCODE.wire]);
    const link = new Link(t);
    expect(link.call('bulkBegin', new Uint8Array(3))!.status).toBe(ProtocolErrorCodes.TRUNCATED.wire);
    expect(link.call('eventsRead', new Uint8Array(9))!.status).toBe(ProtocolErrorCodes.MALFORMED.wire);
    // A broken segment stream is dropped without an answer; the next request works.
    s.onControlWrite(Uint8Array.of(0x05, 1, 2));
    expect(out).toHaveLength(0);
    expect(link.ok('getInfo').length).toBeGreaterThan(80);
  });

  it('uploads the event log in batches that chain to the receipt head', () => {
    const t = testLock({ specs: specs1 });
    const fw = t.device.firmware;
    for (let i = 0; i < 300; i++) fw.enterCode(i % 2 ? '111111' : '222222');
    const link = new Link(t, 185);
    const receipt = openReceipt(link.ok('receiptRead'), { lockId: t.device.lockId, devicePublicKey: t.backend.device.signing.publicKey, provider: crypto });
    const all = [];
    for (let from = 0; ; ) {
      const batch = decodeEvents(link.ok('eventsRead', encodeEventsRead({ from, max: 1000 })));
      if (batch.length === 0) break;
      expect(batch.length).toBeLessThanOrEqual(127);
      all.push(...batch);
      from = batch.at(-1)!.index + 1;
    }
    expect(all.length).toBe(fw.events.nextIndex);
    verifyEventChain(fw.events.chainBefore(0)!, 0, all, { index: receipt.eventIndex, hash: receipt.eventHash }, crypto);
    const tampered = all.map((e) => ({ ...e }));
    tampered[100]!.holder = 2;
    expect(() => verifyEventChain(fw.events.chainBefore(0)!, 0, tampered, { index: receipt.eventIndex, hash: receipt.eventHash }, crypto)).toThrow(/broken/);
  });
});
