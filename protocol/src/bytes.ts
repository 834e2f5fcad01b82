/** Byte helpers shared by the codecs. Big-endian everywhere (PROTOCOL.md §2). */
import { fail } from './errors.js';

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  // Constant time over the length: used for MACs and card responses as well as keys.
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Lexicographic byte order; the sort order of every packed table. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    fail('INVALID_ARGUMENT', `expected an even-length hex string, got ${JSON.stringify(hex.slice(0, 20))}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Argument check at the API edge, with a message that says what arrived. */
export function expectBytes(value: unknown, name: string, length?: number | readonly [number, number]): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    fail('INVALID_ARGUMENT', `${name}: expected Uint8Array, got ${value === null ? 'null' : typeof value}`);
  }
  if (typeof length === 'number' && value.length !== length) {
    fail('INVALID_ARGUMENT', `${name}: expected Uint8Array of length ${length}, got length=${value.length}`);
  }
  if (Array.isArray(length) && (value.length < length[0] || value.length > length[1])) {
    fail('INVALID_ARGUMENT', `${name}: expected Uint8Array of length ${length[0]}..${length[1]}, got length=${value.length}`);
  }
  return value;
}

export function expectUint(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    fail('INVALID_ARGUMENT', `${name}: expected an integer in 0..${max}, got ${String(value)}`);
  }
  return value;
}

export const U32_MAX = 0xffff_ffff;

/** Growable big-endian writer. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Values outside the field's range are an error, not silently wrapped into it. */
  private check(v: number, max: number): void {
    if (!Number.isInteger(v) || v < 0 || v > max) fail('INVALID_ARGUMENT', `value ${String(v)} does not fit an unsigned field of max ${max}`);
  }

  u8(v: number): this {
    this.check(v, 0xff);
    this.reserve(1);
    this.buf[this.length++] = v;
    return this;
  }

  u16(v: number): this {
    this.check(v, 0xffff);
    this.reserve(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    this.check(v, U32_MAX);
    this.reserve(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Bounds-checked big-endian reader. Running out of bytes is TRUNCATED, so a caller can tell
 * "send the rest" from "this is garbage" (MALFORMED).
 */
export class ByteReader {
  private readonly view: DataView;
  offset = 0;

  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.bytes.length) {
      fail('TRUNCATED', `${this.what}: needs ${n} more byte(s) at offset ${this.offset}, only ${this.remaining} left`);
    }
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  /** A view (no copy) of the next `n` bytes. */
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  rest(): Uint8Array {
    return this.take(this.remaining);
  }

  end(): void {
    if (this.remaining !== 0) {
      fail('MALFORMED', `${this.what}: ${this.remaining} unexpected trailing byte(s) at offset ${this.offset}`);
    }
  }
}

export function u32be(v: number): Uint8Array {
  return new ByteWriter(4).u32(v).finish();
}
