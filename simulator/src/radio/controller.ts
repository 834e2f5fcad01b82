/**
 * A virtual LE controller: parses what its host writes (HCI commands and ACL data), answers with
 * the events a real controller sends, and hands advertising, scanning, connecting and data to the
 * air. Bad input never throws: it ends in an HCI error status, a dropped packet and a diagnostic.
 */
import { ADV_REPORT, H4, MAX_CONNECTION_HANDLE, OP, PB, STATUS } from './hci/constants.js';
import {
  addressToBytes,
  bytesToAddress,
  commandComplete,
  commandStatus,
  hardwareError,
  leAdvertisingReport,
  leConnectionComplete,
  numberOfCompletedPackets,
} from './hci/codec.js';
import type { BtsnoopWriter } from './btsnoop.js';
import type { Link, Side } from './link.js';
import type { LinkProfile, Phy } from './profiles.js';
import { hash32 } from './rng.js';
import type { ControllerPort, VirtualHciSocket } from './socket.js';
import { Timeline, type Pacer, type Scheduled } from './timeline.js';

export type DeviceRole = 'central' | 'peripheral' | 'raw';

/** Largest ACL payload the controller accepts from its host (LE Read Buffer Size). */
export const ACL_BUFFER_LENGTH = 251;

export type DiagnosticKind =
  | 'malformed-packet'
  | 'unknown-command'
  | 'invalid-parameters'
  | 'acl-unknown-handle'
  | 'acl-on-closed-link'
  | 'acl-malformed'
  | 'acl-buffer-overflow'
  | 'write-after-close'
  | 'host-threw'
  | 'internal-error';

export interface ScanWindow {
  intervalMs: number;
  windowMs: number;
  startedAt: number;
}

export interface CreateConnectionRequest {
  peerAddress: string;
  scanIntervalMs: number;
  scanWindowMs: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  latency: number;
  supervisionTimeoutMs: number;
}

/** What a controller needs from the air. */
export interface AirInternals {
  readonly pacer: Pacer;
  readonly seed: number;
  diagnostic(device: VirtualController, kind: DiagnosticKind, detail: string): void;
  internalError(device: VirtualController, error: unknown): void;
  hostError(device: VirtualController, error: unknown): void;
  advertisingChanged(device: VirtualController): void;
  scanningChanged(device: VirtualController): void;
  initiatingChanged(device: VirtualController): void;
  advertisers(): Iterable<VirtualController>;
  inRange(a: VirtualController, b: VirtualController): boolean;
  rssi(a: VirtualController, b: VirtualController): number;
  /** First advertising event of `adv` at or after `from` that a scanner with `scan` receives. */
  nextAdvertisingEvent(adv: VirtualController, scanner: VirtualController, from: number, scan: ScanWindow): number;
  /** Resolves a pending connection attempt whose initiator caught an advertising event at `t`. */
  establish(central: VirtualController, target: VirtualController, t: number, request: CreateConnectionRequest): void;
  byAddress(address: string): VirtualController | undefined;
}

export interface ControllerCapabilities {
  phy: Phy;
  dataLength: number;
  aclBuffers: number;
}

interface AdvertisingState {
  enabled: boolean;
  /**
   * Modelled time (on this device's host clock) advertising was last switched on. Nobody can
   * hear or connect to the device before it, whatever their own clock says.
   */
  enabledAt: number;
  intervalMs: number;
  type: number;
  data: Buffer;
  scanResponse: Buffer;
}

interface ScanState {
  active: boolean;
  intervalMs: number;
  windowMs: number;
  enabled: boolean;
  filterDuplicates: boolean;
  startedAt: number;
  seen: Set<string>;
  pending: Map<VirtualController, Scheduled>;
}

interface Initiation {
  request: CreateConnectionRequest;
  startedAt: number;
  attempt: Scheduled | undefined;
  timeout: Scheduled;
}

interface LinkEnd {
  link: Link;
  side: Side;
}

export class VirtualController implements ControllerPort {
  readonly addressBytes: Buffer;
  powered = true;
  closed = false;
  /** Latest modelled time this controller's host has heard about. */
  hostTime = 0;
  readonly adv: AdvertisingState = {
    enabled: false,
    enabledAt: 0,
    intervalMs: 1280,
    type: ADV_REPORT.ADV_IND,
    data: Buffer.alloc(0),
    scanResponse: Buffer.alloc(0),
  };
  scan: ScanState = { active: false, intervalMs: 10, windowMs: 10, enabled: false, filterDuplicates: false, startedAt: 0, seen: new Set(), pending: new Map() };
  initiating: Initiation | undefined;
  readonly links = new Map<number, LinkEnd>();
  private socket: VirtualHciSocket | undefined;
  private timelineInstance: Timeline | undefined;
  private nextHandle: number;

  constructor(
    private readonly air: AirInternals,
    readonly devId: number,
    readonly address: string,
    readonly role: DeviceRole,
    readonly capabilities: ControllerCapabilities,
    /** For centrals: the profile links it initiates start from. */
    readonly profile: LinkProfile | undefined,
    public capture: BtsnoopWriter | undefined,
  ) {
    this.addressBytes = addressToBytes(address);
    // Handles start at an address-dependent point so the two ends of a link rarely share one,
    // which would hide handle mix-ups in the hosts or in the air.
    this.nextHandle = 1 + (hash32(air.seed, 'handles', address) % (MAX_CONNECTION_HANDLE - 1));
  }

  /** Timeline for command-level work: scanning, initiating. Created on first use. */
  get timeline(): Timeline {
    this.timelineInstance ??= new Timeline(this.air.pacer, (e) => this.air.internalError(this, e));
    return this.timelineInstance;
  }

  get timelineNow(): number {
    return this.timelineInstance?.now ?? 0;
  }

  /** The modelled time this controller's host acts at. */
  hostNow(): number {
    return Math.max(this.hostTime, this.wallNow());
  }

  wallNow(): number {
    return this.air.pacer.pacing === 'realtime' ? this.air.pacer.wallElapsedMs() : -Infinity;
  }

  /** Latest modelled time of anything on this device: its host, its command timeline, its links. */
  now(): number {
    let t = Math.max(this.hostTime, this.timelineNow);
    for (const { link } of this.links.values()) t = Math.max(t, link.modelledMs);
    return t;
  }

  attach(socket: VirtualHciSocket): void {
    this.socket = socket;
  }

  detach(socket: VirtualHciSocket): void {
    if (this.socket === socket) this.socket = undefined;
  }

  hostThrew(error: unknown): void {
    this.air.diagnostic(this, 'host-threw', error instanceof Error ? error.message : String(error));
    this.air.hostError(this, error);
  }

  droppedWrite(reason: string, data: Buffer): void {
    this.air.diagnostic(this, 'write-after-close', `${reason}: dropped ${data.length} bytes`);
  }

  /** Queues bytes for the host; `onEmit` runs when the host actually receives them. */
  toHost(data: Buffer, stamp: number, onEmit?: () => void): void {
    if (this.closed || !this.socket) return;
    this.capture?.record('controller-to-host', data, stamp);
    this.socket.deliver(data, () => {
      if (stamp > this.hostTime) this.hostTime = stamp;
      onEmit?.();
    });
  }

  releaseHandle(handle: number): void {
    this.links.delete(handle);
  }

  allocateHandle(): number {
    for (let i = 0; i < MAX_CONNECTION_HANDLE; i++) {
      const h = this.nextHandle;
      this.nextHandle = h >= MAX_CONNECTION_HANDLE ? 1 : h + 1;
      if (!this.links.has(h)) return h;
    }
    throw new Error('no free connection handle');
  }

  linkTo(peer: VirtualController): Link | undefined {
    for (const { link } of this.links.values()) {
      if (link.state !== 'closed' && (link.centralEnd === peer || link.peripheralEnd === peer)) return link;
    }
    return undefined;
  }

  get peripheralLink(): Link | undefined {
    for (const end of this.links.values()) if (end.side === 'peripheral' && end.link.state !== 'closed') return end.link;
    return undefined;
  }

  /** Everything the host writes arrives here. */
  fromHost(data: Buffer): void {
    try {
      this.capture?.record('host-to-controller', data, this.hostNow());
      if (this.closed || !this.powered) {
        this.droppedWrite('controller closed', data);
        return;
      }
      if (data.length === 0) {
        this.malformed('empty packet');
        return;
      }
      switch (data[0]) {
        case H4.COMMAND:
          this.command(data);
          return;
        case H4.ACL:
          this.acl(data);
          return;
        default:
          this.malformed(`unsupported H4 packet type 0x${data[0]!.toString(16).padStart(2, '0')}`);
      }
    } catch (error) {
      this.air.internalError(this, error);
    }
  }

  /** Ends everything on this controller (the air is closing or the device was removed). */
  shutdown(): void {
    if (this.closed) return;
    this.stopScan();
    this.cancelInitiation();
    this.adv.enabled = false;
    this.closed = true;
    this.socket?.close();
    this.socket = undefined;
    this.timelineInstance?.dispose();
    this.capture?.close();
  }

  // ---- HCI commands -------------------------------------------------------------------------

  private command(data: Buffer): void {
    if (data.length < 4) {
      this.malformed(`command packet of ${data.length} bytes is shorter than the 4-byte header`);
      return;
    }
    const opcode = data.readUInt16LE(1);
    const plen = data[3]!;
    if (data.length !== 4 + plen) {
      this.air.diagnostic(this, 'invalid-parameters', `opcode 0x${hex4(opcode)}: length byte says ${plen}, packet carries ${data.length - 4}`);
      this.complete(opcode, STATUS.INVALID_PARAMETERS);
      return;
    }
    const p = data.subarray(4);
    const need = (n: number, status: 'complete' | 'status' = 'complete'): boolean => {
      if (p.length >= n) return true;
      this.air.diagnostic(this, 'invalid-parameters', `opcode 0x${hex4(opcode)}: expected ${n} parameter bytes, got ${p.length}`);
      if (status === 'complete') this.complete(opcode, STATUS.INVALID_PARAMETERS);
      else this.status(opcode, STATUS.INVALID_PARAMETERS);
      return false;
    };
    switch (opcode) {
      case OP.SET_EVENT_MASK:
      case OP.LE_SET_EVENT_MASK:
        if (need(8)) this.complete(opcode, STATUS.SUCCESS);
        return;
      case OP.WRITE_LE_HOST_SUPPORTED:
        if (need(2)) this.complete(opcode, STATUS.SUCCESS);
        return;
      case OP.LE_SET_RANDOM_ADDRESS:
        if (need(6)) this.complete(opcode, STATUS.SUCCESS);
        return;
      case OP.LE_SET_DEFAULT_PHY:
        if (need(3)) this.complete(opcode, STATUS.SUCCESS);
        return;
      case OP.RESET:
        this.reset();
        this.complete(opcode, STATUS.SUCCESS);
        return;
      case OP.READ_LE_HOST_SUPPORTED:
        this.complete(opcode, STATUS.SUCCESS, Buffer.from([0x01, 0x00]));
        return;
      case OP.READ_LOCAL_VERSION: {
        // HCI/LMP version 0x09 = Bluetooth 5.0; manufacturer 0x05F1 = The Linux Foundation.
        const r = Buffer.alloc(8);
        r[0] = 0x09;
        r[3] = 0x09;
        r.writeUInt16LE(0x05f1, 4);
        this.complete(opcode, STATUS.SUCCESS, r);
        return;
      }
      case OP.READ_SUPPORTED_COMMANDS:
        // All zero: in particular no extended scanning, so noble stays on legacy commands.
        this.complete(opcode, STATUS.SUCCESS, Buffer.alloc(64));
        return;
      case OP.READ_BD_ADDR:
        this.complete(opcode, STATUS.SUCCESS, this.addressBytes);
        return;
      case OP.LE_READ_BUFFER_SIZE: {
        const r = Buffer.alloc(3);
        r.writeUInt16LE(ACL_BUFFER_LENGTH, 0);
        r[2] = this.capabilities.aclBuffers;
        this.complete(opcode, STATUS.SUCCESS, r);
        return;
      }
      case OP.READ_BUFFER_SIZE: {
        const r = Buffer.alloc(7);
        r.writeUInt16LE(ACL_BUFFER_LENGTH, 0);
        r.writeUInt16LE(this.capabilities.aclBuffers, 3);
        this.complete(opcode, STATUS.SUCCESS, r);
        return;
      }
      case OP.READ_RSSI: {
        if (!need(2)) return;
        const handle = p.readUInt16LE(0) & 0x0fff;
        const end = this.links.get(handle);
        const r = Buffer.alloc(3);
        r.writeUInt16LE(handle, 0);
        if (!end || end.link.state === 'closed') {
          this.complete(opcode, STATUS.UNKNOWN_CONNECTION_ID, r);
          return;
        }
        const peer = end.side === 'central' ? end.link.peripheralEnd : end.link.centralEnd;
        r.writeInt8(this.air.rssi(this, peer as VirtualController), 2);
        this.complete(opcode, STATUS.SUCCESS, r);
        return;
      }
      case OP.LE_SET_ADV_PARAMS: {
        if (!need(15)) return;
        const min = p.readUInt16LE(0);
        const max = p.readUInt16LE(2);
        const type = p[4]!;
        if (this.adv.enabled) return this.complete(opcode, STATUS.COMMAND_DISALLOWED);
        if (min < 0x20 || max < min || max > 0x4000 || type > 4) {
          this.air.diagnostic(this, 'invalid-parameters', `LE Set Advertising Parameters: interval ${min}..${max}, type ${type}`);
          return this.complete(opcode, STATUS.INVALID_PARAMETERS);
        }
        this.adv.intervalMs = min * 0.625;
        // Advertising PDU type → report type: ADV_IND 0, ADV_DIRECT_IND 1/4, ADV_SCAN_IND 2, ADV_NONCONN_IND 3.
        this.adv.type = type === 4 ? ADV_REPORT.ADV_DIRECT_IND : type;
        this.complete(opcode, STATUS.SUCCESS);
        return;
      }
      case OP.LE_SET_ADV_DATA:
      case OP.LE_SET_SCAN_RSP_DATA: {
        if (!need(1)) return;
        const len = p[0]!;
        if (len > 31 || p.length < 1 + len) {
          this.air.diagnostic(this, 'invalid-parameters', `advertising data length ${len}`);
          return this.complete(opcode, STATUS.INVALID_PARAMETERS);
        }
        const bytes = Buffer.from(p.subarray(1, 1 + len));
        if (opcode === OP.LE_SET_ADV_DATA) this.adv.data = bytes;
        else this.adv.scanResponse = bytes;
        this.complete(opcode, STATUS.SUCCESS);
        if (this.adv.enabled) this.air.advertisingChanged(this);
        return;
      }
      case OP.LE_SET_ADV_ENABLE: {
        if (!need(1)) return;
        const enable = p[0]!;
        if (enable > 1) return this.complete(opcode, STATUS.INVALID_PARAMETERS);
        // One connection per peripheral (bleno keeps a single handle): no connectable
        // advertising while connected as peripheral.
        if (enable === 1 && this.peripheralLink && this.adv.type !== ADV_REPORT.ADV_NONCONN_IND && this.adv.type !== ADV_REPORT.ADV_SCAN_IND) {
          return this.complete(opcode, STATUS.COMMAND_DISALLOWED);
        }
        const changed = this.adv.enabled !== (enable === 1);
        this.adv.enabled = enable === 1;
        if (changed && enable === 1) this.adv.enabledAt = this.hostNow();
        this.complete(opcode, STATUS.SUCCESS);
        if (changed) this.air.advertisingChanged(this);
        return;
      }
      case OP.LE_SET_SCAN_PARAMS: {
        if (!need(7)) return;
        if (this.scan.enabled) return this.complete(opcode, STATUS.COMMAND_DISALLOWED);
        const type = p[0]!;
        const interval = p.readUInt16LE(1);
        const window = p.readUInt16LE(3);
        if (type > 1 || interval < 4 || window < 4 || window > interval) {
          this.air.diagnostic(this, 'invalid-parameters', `LE Set Scan Parameters: type ${type}, interval ${interval}, window ${window}`);
          return this.complete(opcode, STATUS.INVALID_PARAMETERS);
        }
        this.scan.active = type === 1;
        this.scan.intervalMs = interval * 0.625;
        this.scan.windowMs = window * 0.625;
        this.complete(opcode, STATUS.SUCCESS);
        return;
      }
      case OP.LE_SET_SCAN_ENABLE: {
        if (!need(2)) return;
        const enable = p[0]!;
        const filter = p[1]!;
        if (enable > 1 || filter > 1) return this.complete(opcode, STATUS.INVALID_PARAMETERS);
        this.complete(opcode, STATUS.SUCCESS);
        if (enable === 1 && !this.scan.enabled) this.startScan(filter === 1);
        else if (enable === 1) this.scan.filterDuplicates = filter === 1;
        else this.stopScan();
        return;
      }
      case OP.LE_CREATE_CONN: {
        if (!need(25, 'status')) return;
        this.createConnection(opcode, p);
        return;
      }
      case OP.LE_CREATE_CONN_CANCEL: {
        if (!this.initiating) return this.complete(opcode, STATUS.COMMAND_DISALLOWED);
        const peer = this.initiating.request.peerAddress;
        this.cancelInitiation();
        this.complete(opcode, STATUS.SUCCESS);
        this.reply(this.failedConnectionComplete(STATUS.UNKNOWN_CONNECTION_ID, peer));
        return;
      }
      case OP.LE_CONN_UPDATE: {
        if (!need(14, 'status')) return;
        const handle = p.readUInt16LE(0) & 0x0fff;
        const end = this.links.get(handle);
        if (!end || end.link.state !== 'open') return this.status(opcode, STATUS.UNKNOWN_CONNECTION_ID);
        const min = p.readUInt16LE(2);
        const max = p.readUInt16LE(4);
        const latency = p.readUInt16LE(6);
        const timeout = p.readUInt16LE(8);
        if (min < 6 || max < min || max > 3200 || timeout < 10 || timeout > 3200 || latency > 499) {
          return this.status(opcode, STATUS.INVALID_PARAMETERS);
        }
        this.status(opcode, STATUS.SUCCESS);
        end.link.update({ connectionIntervalMs: max * 1.25, latency, supervisionTimeoutMs: timeout * 10 }, end.link.hostNow(end.side));
        return;
      }
      case OP.DISCONNECT: {
        if (!need(3, 'status')) return;
        const handle = p.readUInt16LE(0) & 0x0fff;
        const end = this.links.get(handle);
        if (!end || end.link.state === 'closed') return this.status(opcode, STATUS.UNKNOWN_CONNECTION_ID);
        if (end.link.state !== 'open') return this.status(opcode, STATUS.COMMAND_DISALLOWED);
        this.status(opcode, STATUS.SUCCESS);
        end.link.disconnect(end.side, p[2]!);
        return;
      }
      case OP.LE_START_ENCRYPTION:
        // Link-layer encryption is not emulated (latchkit secures its payloads end to end).
        if (need(28, 'status')) this.status(opcode, STATUS.UNSUPPORTED_FEATURE);
        return;
      case OP.LE_LTK_REPLY:
      case OP.LE_LTK_NEG_REPLY: {
        if (!need(2)) return;
        this.complete(opcode, STATUS.SUCCESS, Buffer.from(p.subarray(0, 2)));
        return;
      }
      default:
        this.air.diagnostic(this, 'unknown-command', `opcode 0x${hex4(opcode)}`);
        this.complete(opcode, STATUS.UNKNOWN_COMMAND);
    }
  }

  private reply(data: Buffer): void {
    this.toHost(data, this.hostNow());
  }

  private complete(opcode: number, status: number, params?: Buffer): void {
    this.reply(commandComplete(opcode, status, params));
  }

  private status(opcode: number, status: number): void {
    this.reply(commandStatus(opcode, status));
  }

  private malformed(detail: string): void {
    this.air.diagnostic(this, 'malformed-packet', detail);
    // A real UART transport loses sync on garbage and reports a Hardware Error (code 0x01 here:
    // "malformed packet from host"); hosts that filter it out simply carry on.
    this.reply(hardwareError(0x01));
  }

  private reset(): void {
    this.stopScan();
    this.cancelInitiation();
    if (this.adv.enabled) {
      this.adv.enabled = false;
      this.air.advertisingChanged(this);
    }
    for (const { link, side } of [...this.links.values()]) {
      // Our side forgets the link silently; the peer notices when supervision times out.
      this.links.delete(side === 'central' ? link.centralHandle : link.peripheralHandle);
      link.lose('controller reset', link.hostNow(side));
    }
  }

  // ---- ACL data -----------------------------------------------------------------------------

  private acl(data: Buffer): void {
    if (data.length < 5) {
      this.air.diagnostic(this, 'acl-malformed', `ACL packet of ${data.length} bytes is shorter than the 5-byte header`);
      return;
    }
    const field = data.readUInt16LE(1);
    const handle = field & 0x0fff;
    const pb = (field >> 12) & 0x3;
    const len = data.readUInt16LE(3);
    const end = this.links.get(handle);
    if (data.length !== 5 + len || len > ACL_BUFFER_LENGTH || len === 0 || pb === 0x03) {
      this.air.diagnostic(this, 'acl-malformed', `handle 0x${hex4(handle)}: length field ${len}, ${data.length - 5} bytes carried, PB ${pb}`);
      // Give the buffer back so the host's flow control (shared by all its links) keeps going.
      if (end && end.link.state === 'open') this.toHost(numberOfCompletedPackets(handle, 1), end.link.hostNow(end.side));
      return;
    }
    if (!end) {
      this.air.diagnostic(this, 'acl-unknown-handle', `handle 0x${hex4(handle)}: ${len} bytes dropped`);
      return;
    }
    if (!end.link.submit(end.side, pb === PB.CONTINUATION ? PB.CONTINUATION : PB.FIRST_FLUSHABLE, Buffer.from(data.subarray(5)))) {
      // Disconnection Complete (already on its way) tells the host its buffers are free.
      this.air.diagnostic(this, 'acl-on-closed-link', `handle 0x${hex4(handle)}: ${len} bytes dropped, link ${end.link.state}`);
    }
  }

  // ---- scanning -----------------------------------------------------------------------------

  private startScan(filterDuplicates: boolean): void {
    this.scan.enabled = true;
    this.scan.filterDuplicates = filterDuplicates;
    this.scan.startedAt = Math.max(this.hostNow(), this.timelineNow);
    this.scan.seen = new Set();
    this.scan.pending = new Map();
    this.air.scanningChanged(this);
    for (const adv of this.air.advertisers()) this.considerAdvertiser(adv);
  }

  stopScan(): void {
    if (!this.scan.enabled) return;
    this.scan.enabled = false;
    for (const s of this.scan.pending.values()) s.cancelled = true;
    this.scan.pending.clear();
    this.air.scanningChanged(this);
  }

  /** Called at scan start and whenever `adv` starts advertising, changes data or comes into range. */
  considerAdvertiser(adv: VirtualController): void {
    const s = this.scan;
    if (!s.enabled || adv === this || s.pending.has(adv)) return;
    if (s.filterDuplicates && s.seen.has(adv.address)) return;
    if (!adv.adv.enabled || !this.air.inRange(this, adv)) return;
    this.scheduleReport(adv, Math.max(this.timelineNow, this.hostNow(), s.startedAt));
  }

  private scheduleReport(adv: VirtualController, from: number): void {
    const s = this.scan;
    const t = this.air.nextAdvertisingEvent(adv, this, from, { intervalMs: s.intervalMs, windowMs: s.windowMs, startedAt: s.startedAt });
    s.pending.set(
      adv,
      this.timeline.at(t, () => this.receiveAdvertisement(adv, t)),
    );
  }

  private receiveAdvertisement(adv: VirtualController, t: number): void {
    const s = this.scan;
    s.pending.delete(adv);
    if (!s.enabled || !adv.adv.enabled || adv.closed || !this.air.inRange(this, adv)) return;
    const rssi = this.air.rssi(this, adv);
    const advAirtimeMs = advertisingPduAirtimeMs(adv.adv.data.length);
    this.toHost(leAdvertisingReport(adv.adv.type, adv.address, adv.adv.data, rssi), t + advAirtimeMs);
    const scannable = adv.adv.type === ADV_REPORT.ADV_IND || adv.adv.type === ADV_REPORT.ADV_SCAN_IND;
    if (s.active && scannable) {
      // SCAN_REQ (12 bytes) and SCAN_RSP follow in the same advertising event.
      const rspAt = t + advAirtimeMs + 0.15 + advertisingPduAirtimeMs(6) + 0.15 + advertisingPduAirtimeMs(adv.adv.scanResponse.length);
      this.toHost(leAdvertisingReport(ADV_REPORT.SCAN_RSP, adv.address, adv.adv.scanResponse, rssi), rspAt);
    }
    s.seen.add(adv.address);
    if (!s.filterDuplicates) this.scheduleReport(adv, t + 0.001);
  }

  // ---- initiating ---------------------------------------------------------------------------

  private createConnection(opcode: number, p: Buffer): void {
    const request: CreateConnectionRequest = {
      scanIntervalMs: p.readUInt16LE(0) * 0.625,
      scanWindowMs: p.readUInt16LE(2) * 0.625,
      peerAddress: bytesToAddress(p.subarray(6, 12)),
      minIntervalMs: p.readUInt16LE(13) * 1.25,
      maxIntervalMs: p.readUInt16LE(15) * 1.25,
      latency: p.readUInt16LE(17),
      supervisionTimeoutMs: p.readUInt16LE(19) * 10,
    };
    if (this.initiating) return this.status(opcode, STATUS.COMMAND_DISALLOWED);
    const peer = this.air.byAddress(request.peerAddress);
    if (peer && this.linkTo(peer)) return this.status(opcode, STATUS.ACL_CONNECTION_EXISTS);
    const r = request;
    if (
      r.scanIntervalMs < 2.5 ||
      r.scanWindowMs > r.scanIntervalMs ||
      r.minIntervalMs < 7.5 ||
      r.maxIntervalMs < r.minIntervalMs ||
      r.maxIntervalMs > 4000 ||
      r.supervisionTimeoutMs < 100 ||
      r.supervisionTimeoutMs > 32_000
    ) {
      this.air.diagnostic(this, 'invalid-parameters', `LE Create Connection: ${JSON.stringify(r)}`);
      return this.status(opcode, STATUS.INVALID_PARAMETERS);
    }
    this.status(opcode, STATUS.SUCCESS);
    const startedAt = Math.max(this.hostNow(), this.timelineNow);
    const timeoutMs = this.profile?.connectTimeoutMs ?? 20_000;
    this.initiating = {
      request,
      startedAt,
      attempt: undefined,
      timeout: this.timeline.timeout(startedAt + timeoutMs, () => this.failInitiation(STATUS.CONNECTION_FAILED_TO_ESTABLISH, startedAt + timeoutMs)),
    };
    this.air.initiatingChanged(this);
    this.tryInitiate();
  }

  /** Looks for the target again (called on start and whenever advertising or topology changes). */
  tryInitiate(): void {
    const i = this.initiating;
    if (!i || i.attempt) return;
    const target = this.air.byAddress(i.request.peerAddress);
    if (!target || target === this || target.closed || !target.adv.enabled) return;
    if (target.adv.type !== ADV_REPORT.ADV_IND && target.adv.type !== ADV_REPORT.ADV_DIRECT_IND) return;
    if (!this.air.inRange(this, target)) return;
    const from = Math.max(this.timelineNow, i.startedAt);
    const t = this.air.nextAdvertisingEvent(target, this, from, { intervalMs: i.request.scanIntervalMs, windowMs: i.request.scanWindowMs, startedAt: i.startedAt });
    i.attempt = this.timeline.at(t, () => {
      i.attempt = undefined;
      if (this.initiating === i) this.air.establish(this, target, t, i.request);
    });
  }

  /** The pending attempt ends: `failInitiation` for errors, `initiationDone` on success. */
  failInitiation(status: number, at: number): void {
    const i = this.initiating;
    if (!i) return;
    this.cancelInitiation();
    this.toHost(this.failedConnectionComplete(status, i.request.peerAddress), at);
  }

  initiationDone(): void {
    this.cancelInitiation();
  }

  private cancelInitiation(): void {
    const i = this.initiating;
    if (!i) return;
    if (i.attempt) i.attempt.cancelled = true;
    i.timeout.cancelled = true;
    this.initiating = undefined;
    this.air.initiatingChanged(this);
  }

  private failedConnectionComplete(status: number, peer: string): Buffer {
    return leConnectionComplete({ status, handle: 0, role: 0, peerAddress: peer, intervalMs: 0, latency: 0, supervisionTimeoutMs: 0 });
  }

  addLink(handle: number, link: Link, side: Side): void {
    this.links.set(handle, { link, side });
  }
}

/** Legacy advertising PDU on the 1M PHY: 10 bytes of framing + 6-byte address + data. */
export function advertisingPduAirtimeMs(dataBytes: number): number {
  return ((10 + 6 + dataBytes) * 8) / 1000;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}
