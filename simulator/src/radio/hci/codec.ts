/** Builders for the HCI events the virtual controller sends, and small parsers for what hosts send. */
import { ADV_REPORT, EVT, H4, LE_SUBEVENT } from './constants.js';

/** Bluetooth addresses travel little-endian on HCI; we keep them as "aa:bb:cc:dd:ee:ff". */
export function addressToBytes(address: string): Buffer {
  return Buffer.from(address.split(':').reverse().join(''), 'hex');
}

export function bytesToAddress(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let i = bytes.length - 1; i >= 0; i--) parts.push(bytes[i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

function event(code: number, params: Buffer): Buffer {
  const out = Buffer.allocUnsafe(3 + params.length);
  out[0] = H4.EVENT;
  out[1] = code;
  out[2] = params.length;
  params.copy(out, 3);
  return out;
}

export function commandComplete(opcode: number, status: number, returnParams: Buffer = Buffer.alloc(0)): Buffer {
  const params = Buffer.alloc(4 + returnParams.length);
  params[0] = 1; // Num_HCI_Command_Packets: the host may send one more command
  params.writeUInt16LE(opcode, 1);
  params[3] = status;
  returnParams.copy(params, 4);
  return event(EVT.COMMAND_COMPLETE, params);
}

export function commandStatus(opcode: number, status: number): Buffer {
  const params = Buffer.alloc(4);
  params[0] = status;
  params[1] = 1;
  params.writeUInt16LE(opcode, 2);
  return event(EVT.COMMAND_STATUS, params);
}

export function disconnectionComplete(handle: number, reason: number): Buffer {
  const params = Buffer.alloc(4);
  params[0] = 0;
  params.writeUInt16LE(handle, 1);
  params[3] = reason;
  return event(EVT.DISCONNECTION_COMPLETE, params);
}

export function numberOfCompletedPackets(handle: number, count: number): Buffer {
  const params = Buffer.alloc(5);
  params[0] = 1;
  params.writeUInt16LE(handle, 1);
  params.writeUInt16LE(count, 3);
  return event(EVT.NUMBER_OF_COMPLETED_PACKETS, params);
}

export function hardwareError(code: number): Buffer {
  return event(EVT.HARDWARE_ERROR, Buffer.from([code]));
}

export interface ConnectionCompleteFields {
  status: number;
  handle: number;
  /** 0 = central, 1 = peripheral. */
  role: 0 | 1;
  peerAddress: string;
  intervalMs: number;
  latency: number;
  supervisionTimeoutMs: number;
}

export function leConnectionComplete(f: ConnectionCompleteFields): Buffer {
  const p = Buffer.alloc(19);
  p[0] = LE_SUBEVENT.CONNECTION_COMPLETE;
  p[1] = f.status;
  p.writeUInt16LE(f.handle, 2);
  p[4] = f.role;
  p[5] = 0; // peer address type: public
  addressToBytes(f.peerAddress).copy(p, 6);
  p.writeUInt16LE(Math.round(f.intervalMs / 1.25), 12);
  p.writeUInt16LE(f.latency, 14);
  p.writeUInt16LE(Math.round(f.supervisionTimeoutMs / 10), 16);
  p[18] = 0; // central clock accuracy: 500 ppm
  return event(EVT.LE_META, p);
}

export function leConnectionUpdateComplete(handle: number, intervalMs: number, latency: number, supervisionTimeoutMs: number): Buffer {
  const p = Buffer.alloc(10);
  p[0] = LE_SUBEVENT.CONNECTION_UPDATE_COMPLETE;
  p[1] = 0;
  p.writeUInt16LE(handle, 2);
  p.writeUInt16LE(Math.round(intervalMs / 1.25), 4);
  p.writeUInt16LE(latency, 6);
  p.writeUInt16LE(Math.round(supervisionTimeoutMs / 10), 8);
  return event(EVT.LE_META, p);
}

export function leAdvertisingReport(type: number, address: string, data: Buffer, rssi: number): Buffer {
  const p = Buffer.alloc(12 + data.length);
  p[0] = LE_SUBEVENT.ADVERTISING_REPORT;
  p[1] = 1; // one report
  p[2] = type;
  p[3] = 0; // public address
  addressToBytes(address).copy(p, 4);
  p[10] = data.length;
  data.copy(p, 11);
  p.writeInt8(Math.max(-127, Math.min(20, Math.round(rssi))), 11 + data.length);
  return event(EVT.LE_META, p);
}

export function isScanResponse(type: number): boolean {
  return type === ADV_REPORT.SCAN_RSP;
}

/** An ACL data packet as H4 bytes; `pb` goes into bits 12–13 of the handle field. */
export function aclPacket(handle: number, pb: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = H4.ACL;
  out.writeUInt16LE((handle & 0x0fff) | (pb << 12), 1);
  out.writeUInt16LE(payload.length, 3);
  payload.copy(out, 5);
  return out;
}
