/**
 * btsnoop capture files (the format of BlueZ `btmon -w` and Android's HCI snoop log), which
 * Wireshark and tshark open directly. Datalink 1002 = HCI UART (H4): each record holds the H4
 * packet type byte followed by the HCI packet.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const BTSNOOP_MAGIC = Buffer.from('btsnoop\0', 'latin1');
export const BTSNOOP_VERSION = 1;
export const DATALINK_H4 = 1002;
/** µs from 0001-01-01 (the btsnoop epoch) to 1970-01-01. */
export const BTSNOOP_EPOCH_DELTA_US = 0x00dcddb30f2f8000n;

export type CaptureDirection = 'host-to-controller' | 'controller-to-host';

export interface BtsnoopRecord {
  direction: CaptureDirection;
  /** True for HCI commands and events, false for ACL/SCO/ISO data. */
  commandOrEvent: boolean;
  /** Microseconds since 1970-01-01. */
  timestampUs: bigint;
  originalLength: number;
  cumulativeDrops: number;
  /** H4 bytes: packet type then the HCI packet. */
  data: Buffer;
}

export interface BtsnoopFile {
  version: number;
  datalink: number;
  records: BtsnoopRecord[];
}

const FLUSH_BYTES = 64 * 1024;

/**
 * Buffers records and appends them to the file in blocks, without keeping a descriptor open
 * (a fleet of thousands of captured controllers would otherwise run out of descriptors).
 */
export class BtsnoopWriter {
  private chunks: Buffer[] = [];
  private size = 0;
  private closed = false;

  constructor(
    readonly path: string,
    /** Unix ms that modelled time 0 corresponds to, so tools show plausible wall times. */
    private readonly baseUnixMs: number,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    const header = Buffer.alloc(16);
    BTSNOOP_MAGIC.copy(header, 0);
    header.writeUInt32BE(BTSNOOP_VERSION, 8);
    header.writeUInt32BE(DATALINK_H4, 12);
    writeFileSync(path, header);
  }

  record(direction: CaptureDirection, h4: Buffer, modelledMs: number): void {
    if (this.closed || h4.length === 0) return;
    const rec = Buffer.allocUnsafe(24 + h4.length);
    rec.writeUInt32BE(h4.length, 0);
    rec.writeUInt32BE(h4.length, 4);
    const isData = h4[0] === 0x02 || h4[0] === 0x03 || h4[0] === 0x05;
    rec.writeUInt32BE((direction === 'controller-to-host' ? 1 : 0) | (isData ? 0 : 2), 8);
    rec.writeUInt32BE(0, 12);
    const us = BigInt(Math.round((this.baseUnixMs + modelledMs) * 1000)) + BTSNOOP_EPOCH_DELTA_US;
    rec.writeBigInt64BE(us, 16);
    h4.copy(rec, 24);
    this.chunks.push(rec);
    this.size += rec.length;
    if (this.size >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    appendFileSync(this.path, Buffer.concat(this.chunks, this.size));
    this.chunks = [];
    this.size = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }
}

/** Parses a btsnoop file; throws on a bad header and tells a truncated record apart from junk. */
export function parseBtsnoop(bytes: Uint8Array): BtsnoopFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 16) throw new Error(`btsnoop: expected a 16-byte header, got ${buf.length} bytes`);
  if (!buf.subarray(0, 8).equals(BTSNOOP_MAGIC)) throw new Error('btsnoop: bad magic (expected "btsnoop\\0")');
  const version = buf.readUInt32BE(8);
  const datalink = buf.readUInt32BE(12);
  const records: BtsnoopRecord[] = [];
  let off = 16;
  while (off < buf.length) {
    if (buf.length - off < 24) throw new Error(`btsnoop: truncated record header at offset ${off}`);
    const originalLength = buf.readUInt32BE(off);
    const included = buf.readUInt32BE(off + 4);
    const flags = buf.readUInt32BE(off + 8);
    const cumulativeDrops = buf.readUInt32BE(off + 12);
    const ts = buf.readBigInt64BE(off + 16);
    if (included > originalLength) throw new Error(`btsnoop: record at offset ${off} includes more than its original length`);
    if (buf.length - off - 24 < included) throw new Error(`btsnoop: truncated record data at offset ${off}`);
    records.push({
      direction: flags & 1 ? 'controller-to-host' : 'host-to-controller',
      commandOrEvent: (flags & 2) !== 0,
      timestampUs: ts - BTSNOOP_EPOCH_DELTA_US,
      originalLength,
      cumulativeDrops,
      data: Buffer.from(buf.subarray(off + 24, off + 24 + included)),
    });
    off += 24 + included;
  }
  return { version, datalink, records };
}

export function readBtsnoopFile(path: string): BtsnoopFile {
  return parseBtsnoop(readFileSync(path));
}
