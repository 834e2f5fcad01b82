/**
 * GATT-level framing (PROTOCOL.md §9): the latchkit service, the control point's
 * request/response codec with MTU-sized segments, lock info, and the resumable bulk channel.
 *
 * ATT writes and notifications carry at most MTU-3 bytes. Control messages larger than that
 * (an unlock response with its 64-byte signature at the default MTU of 23) are split into
 * segments with a one-byte header. Set messages, which run to hundreds of kilobytes, go over
 * the bulk characteristic as write-without-response chunks addressed by offset, so a link
 * that drops mid-transfer resumes at the last byte the lock acknowledged instead of restarting.
 */
import { ByteReader, ByteWriter, equalBytes, expectBytes, expectUint, toHex, U32_MAX } from './bytes.js';
import type { CryptoProvider } from './crypto.js';
import { getCryptoProvider } from './crypto.js';
import { fail, ProtocolError, ProtocolErrorCodes } from './errors.js';
import { UNLOCK_NONCE_BYTES } from './credentials.js';
import { DIGEST_BYTES } from './messages.js';

/** 128-bit UUIDs, written as bleno/noble expect them (lower-case hex, no dashes). */
export const GattUuid = {
  service: '6c6b0001a0b14d6f8c3b2f1e5d4c3b2a',
  info: '6c6b0002a0b14d6f8c3b2f1e5d4c3b2a',
  control: '6c6b0003a0b14d6f8c3b2f1e5d4c3b2a',
  bulk: '6c6b0004a0b14d6f8c3b2f1e5d4c3b2a',
  events: '6c6b0005a0b14d6f8c3b2f1e5d4c3b2a',
} as const;

export const ATT_HEADER_BYTES = 3;
export const MIN_ATT_MTU = 23;
export const MAX_ATT_MTU = 517;
export const MAX_CONTROL_MESSAGE_BYTES = 4096;

export const Opcode = {
  getInfo: 0x01,
  unlockChallenge: 0x10,
  unlockPhone: 0x11,
  /** Fast path (§9.8): answer the ticket the lock issued on the last granted unlock. */
  unlockTicket: 0x12,
  /** Fast path (§9.8): a ticket for the key granted on this link (after a slow-path unlock). */
  ticketIssue: 0x13,
  /** Fast path (§9.8): answer the ticket with a MAC under the phone's ticket MAC key instead of a signature. */
  unlockTicketMac: 0x14,
  bulkBegin: 0x20,
  bulkStatus: 0x21,
  bulkCommit: 0x22,
  eventsRead: 0x30,
  receiptRead: 0x31,
} as const;
export type OpcodeName = keyof typeof Opcode;
const OPCODE_BY_CODE = new Map<number, OpcodeName>(Object.entries(Opcode).map(([n, c]) => [c, n as OpcodeName]));
const RESPONSE_BIT = 0x80;

function checkMtu(mtu: number): number {
  return expectUint(mtu, 'ATT MTU', MAX_ATT_MTU) < MIN_ATT_MTU ? fail('INVALID_ARGUMENT', `ATT MTU ${mtu} is below ${MIN_ATT_MTU}`) : mtu;
}

// ---------------------------------------------------------------- segmentation

const SEG_FIRST = 0x40;
const SEG_LAST = 0x80;

/** Split one control message into ATT values of at most MTU-3 bytes. */
export function segment(message: Uint8Array, mtu: number): Uint8Array[] {
  const room = checkMtu(mtu) - ATT_HEADER_BYTES - 1;
  if (message.length > MAX_CONTROL_MESSAGE_BYTES) fail('OVERSIZE', `control message of ${message.length} bytes exceeds ${MAX_CONTROL_MESSAGE_BYTES}`);
  const out: Uint8Array[] = [];
  let counter = 0;
  for (let at = 0; at === 0 || at < message.length; at += room) {
    const part = message.subarray(at, at + room);
    const last = at + room >= message.length;
    const hdr = (at === 0 ? SEG_FIRST : 0) | (last ? SEG_LAST : 0) | (counter++ & 0x3f);
    out.push(new ByteWriter(part.length + 1).u8(hdr).bytes(part).finish());
    if (last) break;
  }
  return out;
}

/** Reassembles segments; `push` returns the whole message when its last segment arrives. */
export class Reassembler {
  private parts: Uint8Array[] = [];
  private size = 0;
  private next = -1;

  push(value: Uint8Array): Uint8Array | null {
    if (value.length < 1) fail('TRUNCATED', 'control segment: empty write');
    const hdr = value[0]!;
    const counter = hdr & 0x3f;
    if (hdr & SEG_FIRST) {
      this.reset();
      if (counter !== 0) fail('MALFORMED', 'control segment: first segment must have counter 0');
    } else if (this.next < 0 || counter !== this.next) {
      this.reset();
      fail('MALFORMED', `control segment: expected counter ${this.next < 0 ? 'a first segment' : this.next}, got ${counter}`);
    }
    this.size += value.length - 1;
    if (this.size > MAX_CONTROL_MESSAGE_BYTES) {
      this.reset();
      fail('OVERSIZE', `control message exceeds ${MAX_CONTROL_MESSAGE_BYTES} bytes`);
    }
    this.parts.push(value.slice(1));
    this.next = (counter + 1) & 0x3f;
    if (!(hdr & SEG_LAST)) return null;
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    this.reset();
    return out;
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
    this.next = -1;
  }
}

// ---------------------------------------------------------------- control messages

export interface ControlRequest {
  opcode: OpcodeName;
  token: number;
  payload: Uint8Array;
}

export interface ControlResponse {
  opcode: OpcodeName;
  token: number;
  /** 0 = success; otherwise a ProtocolError wire code (PROTOCOL.md §10). */
  status: number;
  payload: Uint8Array;
}

export function encodeRequest(r: ControlRequest): Uint8Array {
  return new ByteWriter(r.payload.length + 2).u8(Opcode[r.opcode]).u8(expectUint(r.token, 'token', 0xff)).bytes(r.payload).finish();
}

export function decodeRequest(bytes: Uint8Array): ControlRequest {
  const r = new ByteReader(bytes, 'control request');
  const code = r.u8();
  const token = r.u8();
  const opcode = OPCODE_BY_CODE.get(code);
  if (!opcode) fail('UNKNOWN_OPCODE', `control opcode 0x${code.toString(16)} is not known`, { token });
  return { opcode, token, payload: r.rest().slice() };
}

export function encodeResponse(r: ControlResponse): Uint8Array {
  return new ByteWriter(r.payload.length + 3).u8(Opcode[r.opcode] | RESPONSE_BIT).u8(r.token).u8(r.status).bytes(r.payload).finish();
}

/** The lock's answer to a request whose opcode it does not know (status UNKNOWN_OPCODE). */
export interface UnknownOpcodeResponse {
  opcode: 'unknown';
  /** The request's opcode byte, echoed. */
  opcodeByte: number;
  token: number;
  status: number;
  payload: Uint8Array;
}

export function encodeUnknownOpcodeResponse(opcodeByte: number, token: number): Uint8Array {
  expectUint(opcodeByte, 'opcode byte', 0x7f);
  return new ByteWriter(3).u8(opcodeByte | RESPONSE_BIT).u8(token).u8(ProtocolErrorCodes.UNKNOWN_OPCODE.wire).finish();
}

export function decodeResponse(bytes: Uint8Array): ControlResponse | UnknownOpcodeResponse {
  const r = new ByteReader(bytes, 'control response');
  const code = r.u8();
  const token = r.u8();
  const status = r.u8();
  if (!(code & RESPONSE_BIT)) fail('MALFORMED', `control response: opcode byte 0x${code.toString(16)} lacks the response bit`);
  const opcode = OPCODE_BY_CODE.get(code & ~RESPONSE_BIT);
  if (!opcode) {
    // Only an error can answer an opcode the lock does not know.
    if (status === 0) fail('MALFORMED', `control response: success for unknown opcode 0x${(code & ~RESPONSE_BIT).toString(16)}`);
    return { opcode: 'unknown', opcodeByte: code & ~RESPONSE_BIT, token, status, payload: r.rest().slice() };
  }
  return { opcode, token, status, payload: r.rest().slice() };
}

/** Throw the typed error a non-zero status stands for. */
export function checkStatus<R extends ControlResponse | UnknownOpcodeResponse>(r: R): R {
  if (r.status !== 0) throw ProtocolError.fromWire(r.status, `lock answered ${r.opcode} with error status 0x${r.status.toString(16)}`);
  return r;
}

// ---------------------------------------------------------------- payloads

export interface LockInfo {
  lockId: Uint8Array;
  /** Sequence of the enforced set, 0 when none. */
  seq: number;
  /** Digest of the enforced set (zeros when none). */
  digest: Uint8Array;
  /** Lock clock, Unix seconds. */
  clock: number;
  batteryPercent: number;
  commissioned: boolean;
  lockedOut: boolean;
  /** Index the next event will get (events 0..nextEventIndex-1 exist). */
  nextEventIndex: number;
  deviceSigningPublic: Uint8Array;
  deviceEncryptionPublic: Uint8Array;
  firmware: string;
}

const LOCK_INFO_VERSION = 1;

export function encodeLockInfo(i: LockInfo): Uint8Array {
  const fw = new TextEncoderLite().encode(i.firmware);
  if (fw.length > 32) fail('INVALID_ARGUMENT', 'firmware version: at most 32 bytes');
  return new ByteWriter(128)
    .u8(LOCK_INFO_VERSION)
    .bytes(expectBytes(i.lockId, 'lock id', 8))
    .u32(i.seq)
    .bytes(expectBytes(i.digest, 'digest', DIGEST_BYTES))
    .u32(i.clock)
    .u8(expectUint(i.batteryPercent, 'battery', 100))
    .u8((i.commissioned ? 1 : 0) | (i.lockedOut ? 2 : 0))
    .u32(i.nextEventIndex)
    .bytes(expectBytes(i.deviceSigningPublic, 'device signing key', 32))
    .bytes(expectBytes(i.deviceEncryptionPublic, 'device encryption key', 32))
    .u8(fw.length)
    .bytes(fw)
    .finish();
}

export function decodeLockInfo(bytes: Uint8Array): LockInfo {
  const r = new ByteReader(bytes, 'lock info');
  const version = r.u8();
  if (version !== LOCK_INFO_VERSION) fail('UNSUPPORTED_VERSION', `lock info version ${version}`);
  const lockId = r.take(8).slice();
  const seq = r.u32();
  const digest = r.take(DIGEST_BYTES).slice();
  const clock = r.u32();
  const batteryPercent = r.u8();
  if (batteryPercent > 100) fail('MALFORMED', `lock info: battery ${batteryPercent}% is over 100`);
  const flags = r.u8();
  if (flags & ~3) fail('MALFORMED', 'lock info: reserved flag bits set');
  const nextEventIndex = r.u32();
  const deviceSigningPublic = r.take(32).slice();
  const deviceEncryptionPublic = r.take(32).slice();
  const fwLen = r.u8();
  if (fwLen > 32) fail('MALFORMED', 'lock info: firmware version longer than 32 bytes');
  const fw = r.take(fwLen);
  r.end();
  let firmware = '';
  for (const b of fw) {
    if (b < 0x20 || b > 0x7e) fail('MALFORMED', 'lock info: firmware version must be printable ASCII');
    firmware += String.fromCharCode(b);
  }
  return { lockId, seq, digest, clock, batteryPercent, commissioned: !!(flags & 1), lockedOut: !!(flags & 2), nextEventIndex, deviceSigningPublic, deviceEncryptionPublic, firmware };
}

/** ASCII-only encoder: firmware strings are printable ASCII, and protocol code avoids DOM globals. */
class TextEncoderLite {
  encode(s: string): Uint8Array {
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) fail('INVALID_ARGUMENT', 'firmware version must be printable ASCII');
      out[i] = c;
    }
    return out;
  }
}

export interface UnlockChallenge {
  nonce: Uint8Array;
  lockTime: number;
}

export function encodeUnlockChallenge(c: UnlockChallenge): Uint8Array {
  return new ByteWriter(20).bytes(expectBytes(c.nonce, 'nonce', UNLOCK_NONCE_BYTES)).u32(c.lockTime).finish();
}

export function decodeUnlockChallenge(bytes: Uint8Array): UnlockChallenge {
  const r = new ByteReader(bytes, 'unlock challenge');
  const nonce = r.take(UNLOCK_NONCE_BYTES).slice();
  const lockTime = r.u32();
  r.end();
  return { nonce, lockTime };
}

export interface UnlockPhoneRequest {
  publicKey: Uint8Array;
  signature: Uint8Array;
}

export function encodeUnlockPhone(u: UnlockPhoneRequest): Uint8Array {
  return new ByteWriter(96).bytes(expectBytes(u.publicKey, 'public key', 32)).bytes(expectBytes(u.signature, 'signature', 64)).finish();
}

export function decodeUnlockPhone(bytes: Uint8Array): UnlockPhoneRequest {
  const r = new ByteReader(bytes, 'unlock request');
  const publicKey = r.take(32).slice();
  const signature = r.take(64).slice();
  r.end();
  return { publicKey, signature };
}

export interface UnlockResult {
  /** 0 = granted, otherwise a DenyReason code. */
  result: number;
  holder: number;
  eventIndex: number;
}

export function encodeUnlockResult(u: UnlockResult): Uint8Array {
  return new ByteWriter(9).u8(expectUint(u.result, 'result', 0xff)).u32(u.holder).u32(u.eventIndex).finish();
}

export function decodeUnlockResult(bytes: Uint8Array): UnlockResult {
  const r = new ByteReader(bytes, 'unlock result');
  const out = { result: r.u8(), holder: r.u32(), eventIndex: r.u32() };
  r.end();
  return out;
}

export interface EventsReadRequest {
  from: number;
  max: number;
}

export function encodeEventsRead(e: EventsReadRequest): Uint8Array {
  return new ByteWriter(6).u32(expectUint(e.from, 'from', U32_MAX)).u16(expectUint(e.max, 'max', 0xffff)).finish();
}

export function decodeEventsRead(bytes: Uint8Array): EventsReadRequest {
  const r = new ByteReader(bytes, 'events read');
  const out = { from: r.u32(), max: r.u16() };
  r.end();
  return out;
}

// ---------------------------------------------------------------- bulk transfer

export const TRANSFER_ID_BYTES = 16;
export const BULK_CHUNK_HEADER_BYTES = 4;

/** A transfer is named by the first 16 bytes of SHA-256 of the whole message it carries. */
export function transferId(message: Uint8Array, provider: CryptoProvider = getCryptoProvider()): Uint8Array {
  return provider.sha256(message).slice(0, TRANSFER_ID_BYTES);
}

export interface BulkBegin {
  id: Uint8Array;
  total: number;
}

export function encodeBulkBegin(b: BulkBegin): Uint8Array {
  return new ByteWriter(20).bytes(expectBytes(b.id, 'transfer id', TRANSFER_ID_BYTES)).u32(b.total).finish();
}

export function decodeBulkBegin(bytes: Uint8Array): BulkBegin {
  const r = new ByteReader(bytes, 'bulk begin');
  const out = { id: r.take(TRANSFER_ID_BYTES).slice(), total: r.u32() };
  r.end();
  return out;
}

/** Lock's answer to begin and status: where to (re)start. */
export interface BulkProgress {
  id: Uint8Array;
  received: number;
}

export function encodeBulkProgress(p: BulkProgress): Uint8Array {
  return new ByteWriter(20).bytes(expectBytes(p.id, 'transfer id', TRANSFER_ID_BYTES)).u32(p.received).finish();
}

export function decodeBulkProgress(bytes: Uint8Array): BulkProgress {
  const r = new ByteReader(bytes, 'bulk progress');
  const out = { id: r.take(TRANSFER_ID_BYTES).slice(), received: r.u32() };
  r.end();
  return out;
}

/** Payload bytes per bulk chunk at a given ATT MTU. */
export function bulkChunkSize(mtu: number): number {
  return checkMtu(mtu) - ATT_HEADER_BYTES - BULK_CHUNK_HEADER_BYTES;
}

/** Chunks of `message` from `offset` on, each `[u32 offset][data]`, sized to the MTU. */
export function* bulkChunks(message: Uint8Array, offset: number, mtu: number): IterableIterator<Uint8Array> {
  const size = bulkChunkSize(mtu);
  for (let at = offset; at < message.length; at += size) {
    const data = message.subarray(at, at + size);
    yield new ByteWriter(data.length + 4).u32(at).bytes(data).finish();
  }
}

/**
 * Lock side of the bulk channel. Keeps the contiguous prefix received so far; out-of-order or
 * repeated chunks are dropped (write-without-response has no per-chunk error path), and the
 * sender learns where to continue from the progress answers.
 */
export class BulkReceiver {
  private id: Uint8Array | null = null;
  private buf: Uint8Array = new Uint8Array(0);
  private received = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly provider: CryptoProvider = getCryptoProvider(),
  ) {}

  /** Start or resume. Same id and size as the pending transfer resumes at the received offset. */
  begin(b: BulkBegin): BulkProgress {
    if (b.total === 0) fail('MALFORMED', 'bulk begin: empty transfer');
    if (b.total > this.maxBytes) fail('OVERSIZE', `bulk transfer of ${b.total} bytes exceeds this lock's limit of ${this.maxBytes}`, { limit: this.maxBytes });
    if (this.id && equalBytes(this.id, b.id) && this.buf.length === b.total) return { id: b.id, received: this.received };
    this.id = b.id.slice();
    this.buf = new Uint8Array(b.total);
    this.received = 0;
    return { id: b.id, received: 0 };
  }

  /** Returns whether the chunk extended the received prefix. */
  chunk(value: Uint8Array): boolean {
    if (!this.id || value.length <= BULK_CHUNK_HEADER_BYTES) return false;
    const offset = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0);
    const data = value.subarray(BULK_CHUNK_HEADER_BYTES);
    if (offset !== this.received || offset + data.length > this.buf.length) return false;
    this.buf.set(data, offset);
    this.received += data.length;
    return true;
  }

  progress(): BulkProgress {
    return { id: this.id ?? new Uint8Array(TRANSFER_ID_BYTES), received: this.received };
  }

  /**
   * The complete message, checked against its id. An unknown id or a short transfer leaves the
   * pending transfer in place (the sender may still resume it); a hash mismatch clears it.
   */
  commit(id: Uint8Array): Uint8Array {
    if (!this.id || !equalBytes(this.id, id)) fail('TRANSFER_UNKNOWN', `no bulk transfer ${toHex(id)} in progress`);
    if (this.received < this.buf.length) {
      fail('TRANSFER_INCOMPLETE', `bulk transfer has ${this.received} of ${this.buf.length} bytes`, { received: this.received, total: this.buf.length });
    }
    const message = this.buf;
    this.abort();
    if (!equalBytes(transferId(message, this.provider), id)) fail('MALFORMED', 'bulk transfer: bytes do not hash to the transfer id');
    return message;
  }

  abort(): void {
    this.id = null;
    this.buf = new Uint8Array(0);
    this.received = 0;
  }
}
