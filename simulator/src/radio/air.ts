/**
 * The shared "air": virtual controllers, who hears whom, advertising and connection timing,
 * links, faults and capture. Build one with `createAir()` and add devices to it; each device is a
 * real noble (central) or bleno (peripheral) instance running over its own virtual controller.
 */
import type { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { BtsnoopWriter } from './btsnoop.js';
import {
  advertisingPduAirtimeMs,
  VirtualController,
  type AirInternals,
  type ControllerCapabilities,
  type CreateConnectionRequest,
  type DeviceRole,
  type DiagnosticKind,
  type ScanWindow,
} from './controller.js';
import { badArgument, describe, RadioError } from './errors.js';
import { FaultHandle, validateFault, type DeviceRef, type Fault } from './faults.js';
import { leConnectionComplete } from './hci/codec.js';
import { STATUS } from './hci/constants.js';
import { Link, type LinkEnv, type LinkParams } from './link.js';
import { VirtualStackLoader, withEnv, withoutProcessHooks, type Bleno, type Noble } from './loader.js';
import { resolveProfile, validateLinkProfile, type LinkProfile, type Phy, type ProfileInput } from './profiles.js';
import { hash32, unitHash } from './rng.js';
import { registerController, unregisterController, VirtualHciSocket } from './socket.js';
import { Pacer, type Pacing } from './timeline.js';

export interface AirOptions {
  /** Seed for every random choice (advertising phases, window offsets, packet loss). Default 1. */
  seed?: number | string;
  /** `fast` (default): deliver as fast as the CPU allows; `realtime`: wait out modelled delays. */
  pacing?: Pacing;
  /** Write one btsnoop file per controller into `dir` (named after the device). */
  capture?: { dir: string };
  /** Whether devices hear each other unless told otherwise. Default true. */
  defaultInRange?: boolean;
  /** RSSI reported between devices unless set with `setRssi`. Default -60 dBm. */
  defaultRssi?: number;
  /** Wall-clock ms to wait for a stack to report poweredOn. Default 10,000. */
  startTimeoutMs?: number;
  /**
   * Called when a host's own event handler throws while the air delivers to it (a bug in the
   * stack or in user code). Default: rethrow it asynchronously, as a real socket callback would.
   */
  onHostError?: (error: unknown, device: Device) => void;
}

export interface PeripheralOptions {
  address?: string;
  /** Used for capture file names and diagnostics. Defaults to the address. */
  name?: string;
  /** Largest ATT MTU the peripheral accepts (bleno's `maxMtu`). Default 247 (one 251-byte PDU). */
  mtu?: number;
  /** Highest PHY the peripheral supports. Default '2M'. */
  phy?: Phy;
  /** LL data length the peripheral supports (27–251). Default 251. */
  dataLength?: number;
  /** Overrides the advertising interval bleno asks for (BLENO_ADVERTISING_INTERVAL, 100 ms). */
  advertisingIntervalMs?: number;
  /** LE ACL buffers its controller reports. Default 8. */
  aclBuffers?: number;
  /** Write this controller's traffic to a btsnoop file at this path. */
  capture?: string;
}

interface AdvertisingSchedule {
  idleIntervalMs: number;
  burstIntervalMs: number;
  burstMs: number;
  /** Modelled time of the latest wake trigger (-Infinity: none yet). */
  wakeAt: number;
}

interface AdvertisingSegment {
  start: number;
  end: number;
  intervalMs: number;
}

/**
 * The grids a schedule advertises on from `enabledAt`: idle, a burst from the last wake (a
 * fresh grid: a controller restarts its advertising events when the interval changes), idle
 * again after it. A burst that began before advertising was re-enabled continues on a grid
 * restarted at the enable.
 */
function scheduleSegments(s: AdvertisingSchedule, enabledAt: number): AdvertisingSegment[] {
  const burstEnd = s.wakeAt + s.burstMs;
  if (burstEnd <= enabledAt) return [{ start: enabledAt, end: Infinity, intervalMs: s.idleIntervalMs }];
  const out: AdvertisingSegment[] = [];
  if (s.wakeAt > enabledAt) out.push({ start: enabledAt, end: s.wakeAt, intervalMs: s.idleIntervalMs });
  out.push({ start: Math.max(enabledAt, s.wakeAt), end: burstEnd, intervalMs: s.burstIntervalMs });
  out.push({ start: burstEnd, end: Infinity, intervalMs: s.idleIntervalMs });
  return out;
}

export interface CentralOptions {
  address?: string;
  name?: string;
  /** `ios` (default), `android`, `gateway`, or overrides on top of one (`{ base: 'android', mtu: 185 }`). */
  profile?: ProfileInput;
  capture?: string;
}

export interface HciDeviceOptions {
  address?: string;
  name?: string;
  role?: 'central' | 'peripheral';
  profile?: ProfileInput;
  capture?: string;
}

export interface Diagnostic {
  address: string;
  kind: DiagnosticKind;
  detail: string;
  /** Modelled time the device's host was at. */
  atMs: number;
}

export interface Measurement<T> {
  value: T;
  /** Modelled ms on the device's clock between start and end. */
  modelledMs: number;
  wallMs: number;
  /** Process CPU time (user + system) in ms. */
  cpuMs: number;
}

const MAX_DIAGNOSTICS = 1000;
const DEFAULT_LOCK_MTU = 247;
const ADDRESS_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

let sharedLoader: VirtualStackLoader | undefined;

function loader(): VirtualStackLoader {
  sharedLoader ??= new VirtualStackLoader((socket, handle) => {
    if (!(socket instanceof VirtualHciSocket)) return undefined;
    const controller = socket.boundController;
    if (!(controller instanceof VirtualController)) return undefined;
    return controller.links.get(handle)?.link.centralAttMtu;
  });
  return sharedLoader;
}

abstract class DeviceBase {
  constructor(
    protected readonly air: Air,
    /** The virtual controller under this device's stack (for advanced use and tests). */
    readonly controller: VirtualController,
    readonly name: string,
  ) {}

  get address(): string {
    return this.controller.address;
  }

  get role(): DeviceRole {
    return this.controller.role;
  }

  get closed(): boolean {
    return this.controller.closed;
  }

  /** Latest modelled time (ms) of anything this device has seen or done. */
  now(): number {
    return this.controller.now();
  }

  /**
   * The device's host does nothing until modelled time `ms` (a phone carried to the door, a
   * lock waiting for its next visitor): its next command or packet is stamped no earlier.
   */
  idleUntil(ms: number): void {
    if (!Number.isFinite(ms)) throw badArgument('idleUntil ms', 'a finite number', ms);
    if (ms > this.controller.hostTime) this.controller.hostTime = ms;
  }

  /** Removes the device from the air; its peers see the link drop after the supervision timeout. */
  close(): Promise<void> {
    this.air.removeDevice(this as unknown as Device);
    return Promise.resolve();
  }
}

/** A bleno peripheral (a lock) on the air. */
export class VirtualPeripheral extends DeviceBase {
  constructor(
    air: Air,
    controller: VirtualController,
    name: string,
    /** This peripheral's own bleno instance: its own bindings, HCI and GATT database. */
    readonly bleno: Bleno,
    readonly maxMtu: number,
  ) {
    super(air, controller, name);
  }

  /** The current connection, if any (bleno serves one central at a time). */
  get link(): Link | undefined {
    return this.controller.peripheralLink;
  }

  /**
   * The peripheral's host computes for `ms` modelled ms before its next action (the lock MCU's
   * time, ../lock/mcu.ts): its next packet on the link is ready that much later.
   */
  /** See `Air.setAdvertisingSchedule`. */
  setAdvertisingSchedule(policy: { idleIntervalMs: number; burstIntervalMs: number; burstMs: number } | null): void {
    this.air.setAdvertisingSchedule(this, policy);
  }

  /** See `Air.wakeAdvertising`. */
  wakeAdvertising(atMs?: number): void {
    this.air.wakeAdvertising(this, atMs);
  }

  busy(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw badArgument('busy ms', 'a finite number >= 0', ms);
    const link = this.link;
    const until = link ? link.hostBusy('peripheral', ms) : this.controller.hostNow() + ms;
    if (until > this.controller.hostTime) this.controller.hostTime = until;
  }
}

/** A noble central (a phone or a gateway) on the air. */
export class VirtualCentral extends DeviceBase {
  constructor(
    air: Air,
    controller: VirtualController,
    name: string,
    readonly noble: Noble,
    readonly profile: Readonly<LinkProfile>,
  ) {
    super(air, controller, name);
  }

  links(): Link[] {
    return [...this.controller.links.values()].filter((e) => e.link.state !== 'closed').map((e) => e.link);
  }

  linkTo(peripheral: DeviceRef): Link | undefined {
    const peer = this.air.controllerOf(peripheral);
    return this.controller.linkTo(peer);
  }
}

/** A bare controller with its HCI socket and no stack: write raw HCI, read raw events. */
export class RawHciDevice extends DeviceBase {
  constructor(
    air: Air,
    controller: VirtualController,
    name: string,
    readonly socket: VirtualHciSocket,
  ) {
    super(air, controller, name);
  }
}

export type Device = VirtualPeripheral | VirtualCentral | RawHciDevice;

interface PairState {
  inRange?: boolean;
  rssi?: number;
  overrides?: Partial<LinkProfile>;
}

interface SleepState {
  handle: FaultHandle;
  intervalMs: number;
  wakeMs: number;
  untilConnected: boolean;
}

export function createAir(options: AirOptions = {}): Air {
  return new Air(options);
}

export class Air implements AirInternals {
  readonly seed: number;
  readonly pacer: Pacer;
  readonly diagnostics: Diagnostic[] = [];
  readonly diagnosticCounts: Partial<Record<DiagnosticKind, number>> = {};
  private readonly devices = new Map<string, Device>();
  private readonly byController = new Map<VirtualController, Device>();
  private readonly advertising = new Set<VirtualController>();
  private readonly scanners = new Set<VirtualController>();
  private readonly initiators = new Set<VirtualController>();
  private readonly activeLinks = new Set<Link>();
  private readonly pairs = new Map<string, PairState>();
  private readonly isolated = new Set<VirtualController>();
  private readonly pairConnections = new Map<string, number>();
  private readonly faults = new Set<FaultHandle>();
  private readonly sleeping = new Map<VirtualController, SleepState>();
  private readonly advertisingIntervalOverride = new Map<VirtualController, number>();
  private readonly advertisingSchedules = new Map<VirtualController, AdvertisingSchedule>();
  private readonly captureBaseUnixMs = Date.now();
  private counters = { central: 0, peripheral: 0, raw: 0 };
  private isClosed = false;
  private readonly linkEnv: LinkEnv;

  constructor(private readonly options: AirOptions = {}) {
    const seed = options.seed ?? 1;
    if (typeof seed !== 'number' && typeof seed !== 'string') throw badArgument('seed', 'a number or a string', seed);
    this.seed = typeof seed === 'number' && Number.isInteger(seed) ? seed >>> 0 : hash32(String(seed));
    const pacing = options.pacing ?? 'fast';
    if (pacing !== 'fast' && pacing !== 'realtime') throw badArgument('pacing', '"fast" or "realtime"', pacing);
    if (options.defaultRssi !== undefined && !(options.defaultRssi >= -127 && options.defaultRssi <= 20)) {
      throw badArgument('defaultRssi', 'a number between -127 and 20', options.defaultRssi);
    }
    this.pacer = new Pacer(pacing);
    this.linkEnv = {
      pacer: this.pacer,
      onError: (e) => this.recordInternal(undefined, e),
      onClosed: (link) => this.linkClosed(link),
    };
  }

  get pacing(): Pacing {
    return this.pacer.pacing;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  // ---- devices ------------------------------------------------------------------------------

  /** Adds a lock: a fresh bleno instance on its own controller, resolved once bleno is poweredOn. */
  async addPeripheral(options: PeripheralOptions = {}): Promise<VirtualPeripheral> {
    this.assertOpen();
    const mtu = options.mtu ?? DEFAULT_LOCK_MTU;
    if (!Number.isInteger(mtu) || mtu < 23 || mtu > 517) throw badArgument('mtu', 'an integer between 23 and 517', mtu);
    const caps = this.capabilities(options, 'peripheral');
    if (options.advertisingIntervalMs !== undefined && !(options.advertisingIntervalMs >= 20 && options.advertisingIntervalMs <= 10_240)) {
      throw badArgument('advertisingIntervalMs', 'a number between 20 and 10240', options.advertisingIntervalMs);
    }
    const controller = this.newController('peripheral', options.address, options.name, caps, undefined, options.capture);
    let bleno: Bleno;
    try {
      bleno = loader().createBleno();
    } catch (error) {
      this.dropController(controller);
      throw error instanceof RadioError ? error : new RadioError('RADIO_STACK_UNAVAILABLE', 'could not load bleno', { cause: error });
    }
    // bleno caps the ATT MTU at this value when the central asks for more.
    (bleno as unknown as { _bindings: { _gatt: { maxMtu: number } } })._bindings._gatt.maxMtu = mtu;
    if (options.advertisingIntervalMs !== undefined) this.advertisingIntervalOverride.set(controller, options.advertisingIntervalMs);
    const device = new VirtualPeripheral(this, controller, options.name ?? controller.address, bleno, mtu);
    this.register(device);
    const emitter = bleno as unknown as EventEmitter;
    try {
      await this.waitPoweredOn(device, emitter, () =>
        // bleno initialises when the first 'stateChange' listener is added; it reads its device id
        // from the environment at that moment.
        withEnv({ BLENO_HCI_DEVICE_ID: String(controller.devId) }, () => withoutProcessHooks(() => emitter.on('stateChange', noop))),
      );
    } finally {
      emitter.removeListener('stateChange', noop);
    }
    return device;
  }

  /** Adds a phone or gateway: a noble instance on its own controller, resolved once poweredOn. */
  async addCentral(options: CentralOptions = {}): Promise<VirtualCentral> {
    this.assertOpen();
    const profile = resolveProfile(options.profile, 'ios');
    const caps: ControllerCapabilities = { phy: profile.phy, dataLength: profile.dataLength, aclBuffers: profile.aclBuffers };
    const controller = this.newController('central', options.address, options.name, caps, profile, options.capture);
    let noble: Noble;
    try {
      noble = loader().createNoble(controller.devId);
    } catch (error) {
      this.dropController(controller);
      throw error instanceof RadioError ? error : new RadioError('RADIO_STACK_UNAVAILABLE', 'could not load noble', { cause: error });
    }
    const device = new VirtualCentral(this, controller, options.name ?? controller.address, noble, Object.freeze({ ...profile }));
    this.register(device);
    // Reading `state` initialises noble's bindings synchronously.
    await this.waitPoweredOn(device, noble as unknown as EventEmitter, () => withoutProcessHooks(() => (noble as unknown as { state: string }).state));
    return device;
  }

  /** Adds a controller with a raw HCI socket and no stack (for HCI-level tests and tools). */
  addHciDevice(options: HciDeviceOptions = {}): RawHciDevice {
    this.assertOpen();
    const role = options.role ?? 'central';
    if (role !== 'central' && role !== 'peripheral') throw badArgument('role', '"central" or "peripheral"', role);
    const profile = resolveProfile(options.profile, 'ios');
    const caps: ControllerCapabilities = { phy: profile.phy, dataLength: profile.dataLength, aclBuffers: profile.aclBuffers };
    const controller = this.newController(role, options.address, options.name, caps, role === 'central' ? profile : undefined, options.capture);
    const socket = new VirtualHciSocket();
    socket.bindRaw(controller.devId);
    socket.start();
    const device = new RawHciDevice(this, controller, options.name ?? controller.address, socket);
    this.register(device);
    return device;
  }

  device(address: string): Device | undefined {
    return this.devices.get(address.toLowerCase());
  }

  /** All links that have not closed yet. */
  links(): Link[] {
    return [...this.activeLinks];
  }

  /** @internal */
  controllerOf(ref: DeviceRef): VirtualController {
    const address = typeof ref === 'string' ? ref.toLowerCase() : ref?.address;
    const device = typeof address === 'string' ? this.devices.get(address) : undefined;
    if (!device) throw badArgument('device', 'a device added to this air (or its address)', ref);
    return device.controller;
  }

  /** @internal */
  removeDevice(device: Device): void {
    if (this.devices.get(device.address) !== device) return;
    const c = device.controller;
    for (const { link } of [...c.links.values()]) link.lose('device removed', link.modelledMs);
    this.dropController(c);
  }

  // ---- topology -----------------------------------------------------------------------------

  /** Whether `a` and `b` can hear each other. */
  isInRange(a: DeviceRef, b: DeviceRef): boolean {
    return this.inRange(this.controllerOf(a), this.controllerOf(b));
  }

  /**
   * Puts two devices in or out of range. Out of range, an open link between them is lost (both
   * hosts hear of it after the supervision timeout); in range, scans and pending connections
   * pick the device up.
   */
  setInRange(a: DeviceRef, b: DeviceRef, inRange: boolean): void {
    this.assertOpen();
    if (typeof inRange !== 'boolean') throw badArgument('inRange', 'a boolean', inRange);
    const ca = this.controllerOf(a);
    const cb = this.controllerOf(b);
    const before = this.inRange(ca, cb);
    this.pair(ca, cb, true).inRange = inRange;
    if (before !== inRange) this.rangeChanged(ca, cb);
  }

  /**
   * Moves a device (a phone walking through the building) so that it hears only `near`.
   * Links to devices it leaves behind are lost; scans and connection attempts see the new ones.
   */
  moveTo(device: DeviceRef, near: DeviceRef | readonly DeviceRef[]): void {
    this.assertOpen();
    const mover = this.controllerOf(device);
    const targets = new Set((Array.isArray(near) ? near : [near]).map((r: DeviceRef) => this.controllerOf(r)));
    const before = new Map<VirtualController, boolean>();
    for (const other of this.byController.keys()) if (other !== mover) before.set(other, this.inRange(mover, other));
    this.isolated.add(mover);
    for (const other of this.byController.keys()) {
      if (other === mover) continue;
      const state = this.pair(mover, other, targets.has(other));
      if (state) state.inRange = targets.has(other) ? true : undefined;
    }
    for (const [other, was] of before) if (this.inRange(mover, other) !== was) this.rangeChanged(mover, other);
  }

  setRssi(a: DeviceRef, b: DeviceRef, dbm: number): void {
    if (typeof dbm !== 'number' || !(dbm >= -127 && dbm <= 20)) throw badArgument('rssi', 'a number between -127 and 20', dbm);
    this.pair(this.controllerOf(a), this.controllerOf(b), true).rssi = dbm;
  }

  /**
   * Overrides link parameters between a central and a peripheral: for links made from now on, and
   * for the open link (PHY, data length and packets per event at once; interval and supervision
   * timeout through a connection update). `mtu` applies from the next connection.
   */
  setLinkParams(central: DeviceRef, peripheral: DeviceRef, overrides: Partial<LinkProfile>): void {
    this.assertOpen();
    validateLinkProfile(overrides, 'overrides');
    const c = this.controllerOf(central);
    const p = this.controllerOf(peripheral);
    const state = this.pair(c, p, true);
    state.overrides = { ...state.overrides, ...overrides };
    const link = c.linkTo(p);
    if (!link || link.state !== 'open') return;
    const { phy, dataLength, packetsPerEvent, connectionIntervalMs, supervisionTimeoutMs } = overrides;
    link.retune({
      ...(phy !== undefined ? { phy: phy === '2M' && p.capabilities.phy === '2M' ? '2M' : '1M' } : {}),
      ...(dataLength !== undefined ? { dataLength: Math.min(dataLength, p.capabilities.dataLength) } : {}),
      ...(packetsPerEvent !== undefined ? { packetsPerEvent } : {}),
    });
    if (connectionIntervalMs !== undefined || supervisionTimeoutMs !== undefined) {
      link.update(
        {
          ...(connectionIntervalMs !== undefined ? { connectionIntervalMs } : {}),
          ...(supervisionTimeoutMs !== undefined ? { supervisionTimeoutMs } : {}),
        },
        link.hostNow('central'),
      );
    }
  }

  // ---- faults -------------------------------------------------------------------------------

  /** Arms a fault; see `Fault` for the kinds. Returns a handle to watch or cancel it. */
  injectFault(fault: Fault): FaultHandle {
    this.assertOpen();
    validateFault(fault);
    const handle = new FaultHandle(fault, (h) => this.faultCancelled(h));
    // Resolve device references now so a typo fails here, not when the fault would fire.
    for (const key of ['central', 'peripheral'] as const) {
      const ref = (fault as { central?: DeviceRef; peripheral?: DeviceRef })[key];
      if (ref !== undefined) this.controllerOf(ref);
    }
    this.faults.add(handle);
    switch (fault.kind) {
      case 'out-of-range':
        this.setInRange(fault.central, fault.peripheral, false);
        handle.fire({ atMs: this.controllerOf(fault.central).now(), linkId: undefined, detail: 'out of range' }, false);
        break;
      case 'sleep': {
        const p = this.controllerOf(fault.peripheral);
        this.sleeping.set(p, {
          handle,
          intervalMs: fault.advertisingIntervalMs ?? 2000,
          wakeMs: fault.wakeMs ?? 1000,
          untilConnected: fault.untilConnected ?? true,
        });
        break;
      }
      case 'drop-at-byte':
      case 'drop-at-time':
      case 'packet-loss':
        for (const link of this.activeLinks) this.armLink(link);
        break;
      case 'connect-timeout':
        break;
    }
    return handle;
  }

  // ---- measuring and closing ----------------------------------------------------------------

  /** Runs `fn` and reports the modelled time that passed on `device`'s clock, wall time and CPU. */
  async measure<T>(device: DeviceRef, fn: () => Promise<T> | T): Promise<Measurement<T>> {
    const c = this.controllerOf(device);
    const t0 = c.now();
    const w0 = performance.now();
    const cpu0 = process.cpuUsage();
    const value = await fn();
    const cpu = process.cpuUsage(cpu0);
    return { value, modelledMs: c.now() - t0, wallMs: performance.now() - w0, cpuMs: (cpu.user + cpu.system) / 1000 };
  }

  /** Writes buffered capture records to their files. */
  flushCaptures(): void {
    for (const c of this.byController.keys()) c.capture?.flush();
  }

  /**
   * Ends every link, stops every timer, detaches every stack and flushes capture files. noble and
   * bleno objects stay usable as objects but hear nothing more; the process can exit.
   */
  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.isClosed = true;
    for (const link of [...this.activeLinks]) link.abort('air closed');
    for (const c of [...this.byController.keys()]) this.dropController(c);
    for (const h of this.faults) h.cancel();
    return Promise.resolve();
  }

  // ---- AirInternals (used by controllers) ---------------------------------------------------

  diagnostic(device: VirtualController, kind: DiagnosticKind, detail: string): void {
    this.diagnosticCounts[kind] = (this.diagnosticCounts[kind] ?? 0) + 1;
    if (this.diagnostics.length >= MAX_DIAGNOSTICS) this.diagnostics.shift();
    this.diagnostics.push({ address: device.address, kind, detail, atMs: device.hostNow() });
  }

  internalError(device: VirtualController, error: unknown): void {
    this.recordInternal(device, error);
  }

  hostError(device: VirtualController, error: unknown): void {
    const d = this.byController.get(device);
    if (this.options.onHostError && d) {
      this.options.onHostError(error, d);
      return;
    }
    // Same as a throwing listener on a real socket: an uncaught exception, outside the air.
    queueMicrotask(() => {
      throw error;
    });
  }

  advertisingChanged(device: VirtualController): void {
    if (device.adv.enabled && !device.closed) {
      this.advertising.add(device);
      for (const s of this.scanners) s.considerAdvertiser(device);
      for (const i of this.initiators) i.tryInitiate();
    } else {
      this.advertising.delete(device);
    }
  }

  scanningChanged(device: VirtualController): void {
    if (device.scan.enabled) this.scanners.add(device);
    else this.scanners.delete(device);
  }

  initiatingChanged(device: VirtualController): void {
    if (device.initiating) this.initiators.add(device);
    else this.initiators.delete(device);
  }

  advertisers(): Iterable<VirtualController> {
    return this.advertising;
  }

  inRange(a: VirtualController, b: VirtualController): boolean {
    const explicit = this.pairs.get(pairKey(a, b))?.inRange;
    if (explicit !== undefined) return explicit;
    if (this.isolated.has(a) || this.isolated.has(b)) return false;
    return this.options.defaultInRange ?? true;
  }

  rssi(a: VirtualController, b: VirtualController): number {
    return this.pairs.get(pairKey(a, b))?.rssi ?? this.options.defaultRssi ?? -60;
  }

  byAddress(address: string): VirtualController | undefined {
    return this.devices.get(address)?.controller;
  }

  nextAdvertisingEvent(adv: VirtualController, scanner: VirtualController, from: number, scan: ScanWindow): number {
    from = Math.max(from, adv.adv.enabledAt);
    const sleeping = this.sleeping.get(adv)?.intervalMs;
    const fixed = sleeping ?? this.advertisingIntervalOverride.get(adv) ?? adv.adv.intervalMs;
    const schedule = sleeping === undefined ? this.advertisingSchedules.get(adv) : undefined;
    // Without a schedule: one grid, restarted whenever advertising is (re-)enabled.
    const segments = schedule ? scheduleSegments(schedule, adv.adv.enabledAt) : [{ start: adv.adv.enabledAt, end: Infinity, intervalMs: fixed }];
    for (const seg of segments) {
      if (seg.end <= from) continue;
      const t = this.firstHeardEvent(adv, scanner, scan, seg, from);
      if (t !== null) return t;
    }
    return from + fixed;
  }

  /** First advertising event of one grid segment at or after `from` that the scanner hears. */
  private firstHeardEvent(adv: VirtualController, scanner: VirtualController, scan: ScanWindow, seg: AdvertisingSegment, from: number): number | null {
    const interval = seg.intervalMs;
    const loss = this.lossRate(scanner, adv);
    let k = Math.max(0, Math.floor((from - seg.start) / interval) - 1);
    // Each advertising event is delayed by a pseudo-random 0–10 ms (advDelay, Core Vol 6 Part B §4.4.2.2).
    for (let i = 0; i < 100_000; i++, k++) {
      const t = seg.start + k * interval + unitHash(this.seed, 'adv-delay', adv.address, seg.start, k) * 10;
      if (t >= seg.end) return null;
      if (t < from) continue;
      if (scan.windowMs < scan.intervalMs) {
        const intoInterval = (((t - scan.startedAt) % scan.intervalMs) + scan.intervalMs) % scan.intervalMs;
        if (intoInterval >= scan.windowMs) continue;
      }
      if (loss > 0 && unitHash(this.seed, 'adv-loss', scanner.address, adv.address, k) < loss) continue;
      return t;
    }
    return null;
  }

  /**
   * An advertising policy for a peripheral (a lock's firmware decides it): `idleIntervalMs`
   * normally, `burstIntervalMs` for `burstMs` after each `wakeAdvertising` (keypad touch,
   * proximity sensor). Replaces `advertisingIntervalMs`; `null` removes the policy.
   */
  setAdvertisingSchedule(peripheral: DeviceRef, policy: { idleIntervalMs: number; burstIntervalMs: number; burstMs: number } | null): void {
    const c = this.controllerOf(peripheral);
    if (policy === null) {
      this.advertisingSchedules.delete(c);
    } else {
      for (const k of ['idleIntervalMs', 'burstIntervalMs'] as const) {
        if (!(policy[k] >= 20 && policy[k] <= 10_240)) throw badArgument(`advertising ${k}`, 'a number between 20 and 10240', policy[k]);
      }
      if (!(policy.burstMs >= 0 && Number.isFinite(policy.burstMs))) throw badArgument('advertising burstMs', 'a finite number >= 0', policy.burstMs);
      this.advertisingSchedules.set(c, { ...policy, wakeAt: -Infinity });
    }
    if (c.adv.enabled) this.advertisingChanged(c);
  }

  /**
   * The wake trigger: a burst starts at modelled time `atMs` (default the peripheral's now), on a
   * fresh grid. A sensor fires on its own clock, not after the lock's last radio activity, hence
   * the explicit time.
   */
  wakeAdvertising(peripheral: DeviceRef, atMs?: number): void {
    const c = this.controllerOf(peripheral);
    const s = this.advertisingSchedules.get(c);
    if (!s) throw badArgument('wakeAdvertising', 'a peripheral with an advertising schedule (setAdvertisingSchedule)', describe(c));
    if (atMs !== undefined && !Number.isFinite(atMs)) throw badArgument('wakeAdvertising atMs', 'a finite number', atMs);
    s.wakeAt = atMs ?? c.now();
    if (c.adv.enabled) this.advertisingChanged(c);
  }

  establish(central: VirtualController, target: VirtualController, t: number, request: CreateConnectionRequest): void {
    if (central.closed || !central.initiating) return;
    if (target.closed || !target.adv.enabled || target.peripheralLink || !this.inRange(central, target)) {
      central.tryInitiate();
      return;
    }
    const overrides = this.pairs.get(pairKey(central, target))?.overrides ?? {};
    const profile: LinkProfile = { ...(central.profile ?? resolveProfile('ios')), ...overrides };
    const params: LinkParams = {
      connectionIntervalMs: profile.connectionIntervalMs,
      phy: profile.phy === '2M' && target.capabilities.phy === '2M' ? '2M' : '1M',
      dataLength: Math.min(profile.dataLength, target.capabilities.dataLength),
      packetsPerEvent: profile.packetsPerEvent,
      supervisionTimeoutMs: profile.supervisionTimeoutMs ?? request.supervisionTimeoutMs,
      latency: request.latency,
    };
    // CONNECT_IND follows the advertising PDU after T_IFS: 34-byte payload, 352 µs on 1M.
    const connectIndEnd = t + advertisingPduAirtimeMs(target.adv.data.length) + 0.15 + 0.352;
    const timeout = this.connectTimeoutFault(central, target);
    if (timeout) {
      // The peripheral never answers in the new connection's first six events.
      const at = connectIndEnd + 1.25 + 6 * params.connectionIntervalMs;
      const last = timeout.firings.length + 1 >= ((timeout.fault as { attempts?: number }).attempts ?? 1);
      if (last) this.faults.delete(timeout);
      timeout.fire({ atMs: at, linkId: undefined, detail: `connection to ${target.address} failed to be established` }, last);
      central.failInitiation(STATUS.CONNECTION_FAILED_TO_ESTABLISH, at);
      return;
    }
    const key = pairKey(central, target);
    const count = (this.pairConnections.get(key) ?? 0) + 1;
    this.pairConnections.set(key, count);
    // transmitWindowDelay (1.25 ms) + transmitWindowOffset, a multiple of 1.25 ms within one interval.
    const slots = Math.round(params.connectionIntervalMs / 1.25);
    const offset = Math.floor(unitHash(this.seed, 'window-offset', central.address, target.address, count) * slots) * 1.25;
    let anchor = connectIndEnd + 1.25 + offset;
    const sleep = this.sleeping.get(target);
    if (sleep) {
      anchor += sleep.wakeMs;
      sleep.handle.fire({ atMs: anchor, linkId: undefined, detail: `woke after ${sleep.wakeMs} ms` }, sleep.untilConnected);
      if (sleep.untilConnected) this.sleeping.delete(target);
    }
    const hC = central.allocateHandle();
    const hP = target.allocateHandle();
    const link = new Link(this.linkEnv, central, target, hC, hP, params, anchor, hash32(this.seed, 'link', central.address, target.address, count));
    link.centralAttMtu = profile.mtu;
    central.addLink(hC, link, 'central');
    target.addLink(hP, link, 'peripheral');
    central.initiationDone();
    // Legacy advertising stops when a connection is made from it.
    target.adv.enabled = false;
    this.advertisingChanged(target);
    this.activeLinks.add(link);
    this.armLink(link);
    link.timeline.at(anchor, () => {
      const fields = { status: 0, latency: params.latency, intervalMs: params.connectionIntervalMs, supervisionTimeoutMs: params.supervisionTimeoutMs };
      central.toHost(leConnectionComplete({ ...fields, handle: hC, role: 0, peerAddress: target.address }), anchor, link.noteDelivery('central', anchor));
      target.toHost(leConnectionComplete({ ...fields, handle: hP, role: 1, peerAddress: central.address }), anchor, link.noteDelivery('peripheral', anchor));
    });
  }

  // ---- internals ----------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.isClosed) throw new RadioError('RADIO_CLOSED', 'this air was closed; create a new one with createAir()');
  }

  private capabilities(options: PeripheralOptions, what: string): ControllerCapabilities {
    const phy = options.phy ?? '2M';
    const dataLength = options.dataLength ?? 251;
    const aclBuffers = options.aclBuffers ?? 8;
    validateLinkProfile({ phy, dataLength, aclBuffers }, what);
    return { phy, dataLength, aclBuffers };
  }

  private newController(
    role: DeviceRole,
    address: string | undefined,
    name: string | undefined,
    caps: ControllerCapabilities,
    profile: LinkProfile | undefined,
    capturePath: string | undefined,
  ): VirtualController {
    const addr = address === undefined ? this.generateAddress(role) : address;
    if (typeof addr !== 'string' || !ADDRESS_RE.test(addr.toLowerCase())) {
      throw badArgument('address', 'six hex bytes like "aa:bb:cc:dd:ee:ff"', addr);
    }
    const normalized = addr.toLowerCase();
    if (this.devices.has(normalized)) throw badArgument('address', 'an address not already on this air', addr);
    if (name !== undefined && (typeof name !== 'string' || name.length === 0)) throw badArgument('name', 'a non-empty string', name);
    const path =
      capturePath ??
      (this.options.capture ? join(this.options.capture.dir, `${(name ?? normalized).replace(/[^A-Za-z0-9._-]/g, '_')}.btsnoop`) : undefined);
    const writer = path === undefined ? undefined : new BtsnoopWriter(path, this.captureBaseUnixMs);
    return registerController((devId) => new VirtualController(this, devId, normalized, role, caps, profile, writer)) as VirtualController;
  }

  private register(device: Device): void {
    this.devices.set(device.address, device);
    this.byController.set(device.controller, device);
  }

  private dropController(c: VirtualController): void {
    const device = this.byController.get(c);
    if (device) {
      this.devices.delete(device.address);
      this.byController.delete(c);
    }
    c.shutdown();
    this.advertising.delete(c);
    this.scanners.delete(c);
    this.initiators.delete(c);
    this.sleeping.delete(c);
    this.advertisingIntervalOverride.delete(c);
    this.advertisingSchedules.delete(c);
    unregisterController(c.devId);
  }

  private async waitPoweredOn(device: Device, stack: EventEmitter, init: () => unknown): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    const state = (): string => (stack as unknown as { state: string }).state;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          stack.removeListener('stateChange', onState);
          reject(new RadioError('RADIO_TIMEOUT', `${device.role} ${device.name} did not reach poweredOn within ${timeoutMs} ms (state: ${describe(state())})`));
        }, timeoutMs);
        const onState = (s: string): void => {
          if (s === 'poweredOn') {
            clearTimeout(timer);
            stack.removeListener('stateChange', onState);
            resolve();
          } else if (s === 'unsupported' || s === 'unauthorized') {
            clearTimeout(timer);
            stack.removeListener('stateChange', onState);
            reject(new RadioError('RADIO_STACK_UNAVAILABLE', `${device.role} ${device.name} reported ${s}`));
          }
        };
        // Initialise first: adding a 'stateChange' listener is itself what starts bleno.
        init();
        stack.on('stateChange', onState);
      });
    } catch (error) {
      this.removeDevice(device);
      throw error;
    }
  }

  private generateAddress(role: DeviceRole): string {
    const n = ++this.counters[role];
    const prefix = role === 'central' ? 'ce:00:00' : role === 'peripheral' ? 'd0:00:00' : 'ee:00:00';
    const hex = n.toString(16).padStart(6, '0');
    return `${prefix}:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
  }

  private pair(a: VirtualController, b: VirtualController, create: true): PairState;
  private pair(a: VirtualController, b: VirtualController, create: boolean): PairState | undefined;
  private pair(a: VirtualController, b: VirtualController, create: boolean): PairState | undefined {
    const key = pairKey(a, b);
    let s = this.pairs.get(key);
    if (!s && create) {
      s = {};
      this.pairs.set(key, s);
    }
    return s;
  }

  private rangeChanged(a: VirtualController, b: VirtualController): void {
    if (!this.inRange(a, b)) {
      const link = a.linkTo(b);
      if (link && link.state === 'open') link.lose('out-of-range', link.modelledMs);
      return;
    }
    a.considerAdvertiser(b);
    b.considerAdvertiser(a);
    a.tryInitiate();
    b.tryInitiate();
  }

  private linkClosed(link: Link): void {
    this.activeLinks.delete(link);
  }

  private matches(handle: FaultHandle, central: VirtualController, peripheral: VirtualController): boolean {
    const f = handle.fault as { central?: DeviceRef; peripheral?: DeviceRef };
    const same = (ref: DeviceRef | undefined, c: VirtualController): boolean =>
      ref === undefined || (typeof ref === 'string' ? ref.toLowerCase() : ref.address) === c.address;
    return same(f.central, central) && same(f.peripheral, peripheral);
  }

  private armLink(link: Link): void {
    const central = link.centralEnd as VirtualController;
    const peripheral = link.peripheralEnd as VirtualController;
    let lossRate = 0;
    let lossLinkAfter: number | undefined;
    for (const h of this.faults) {
      if (!h.active || !this.matches(h, central, peripheral)) continue;
      const f = h.fault;
      if (f.kind === 'packet-loss') {
        lossRate = Math.max(lossRate, f.rate);
        if (f.linkLossAfter !== undefined) lossLinkAfter = Math.min(lossLinkAfter ?? Infinity, f.linkLossAfter);
        if (!h.firings.some((x) => x.linkId === link.id)) {
          h.fire({ atMs: link.modelledMs, linkId: link.id, detail: `loss rate ${f.rate} on link ${link.id}` }, false);
        }
      } else if (f.kind === 'drop-at-byte' && !link.faults.dropAtByte) {
        link.faults.dropAtByte = {
          byte: f.byte,
          direction: f.direction ?? 'both',
          onFire: () => this.oneShotFired(h, link, `dropped at byte ${f.byte}`),
        };
      } else if (f.kind === 'drop-at-time' && !link.faults.dropAtMs) {
        link.faults.dropAtMs = { afterMs: f.afterMs, onFire: () => this.oneShotFired(h, link, `dropped ${f.afterMs} ms after connecting`) };
      }
    }
    link.faults.lossRate = lossRate;
    link.faults.lossLinkAfter = lossLinkAfter;
  }

  private oneShotFired(h: FaultHandle, link: Link, detail: string): void {
    h.fire({ atMs: link.modelledMs, linkId: link.id, detail }, true);
    this.faults.delete(h);
    // Other links may have armed the same one-shot fault; take it back.
    for (const other of this.activeLinks) {
      if (other === link) continue;
      this.disarm(other, h);
    }
  }

  private disarm(link: Link, h: FaultHandle): void {
    const f = h.fault;
    if (f.kind === 'drop-at-byte' || f.kind === 'drop-at-time') {
      // Re-derive from the remaining faults.
      link.faults.dropAtByte = undefined;
      link.faults.dropAtMs = undefined;
    }
    this.armLink(link);
  }

  private faultCancelled(h: FaultHandle): void {
    this.faults.delete(h);
    const f = h.fault;
    if (f.kind === 'out-of-range' && !this.isClosed) {
      const c = this.devices.get(typeof f.central === 'string' ? f.central.toLowerCase() : f.central.address);
      const p = this.devices.get(typeof f.peripheral === 'string' ? f.peripheral.toLowerCase() : f.peripheral.address);
      if (c && p) this.setInRange(c, p, true);
    } else if (f.kind === 'sleep') {
      for (const [c, s] of this.sleeping) if (s.handle === h) this.sleeping.delete(c);
    } else {
      for (const link of this.activeLinks) this.disarm(link, h);
    }
  }

  private connectTimeoutFault(central: VirtualController, target: VirtualController): FaultHandle | undefined {
    for (const h of this.faults) {
      if (h.fault.kind === 'connect-timeout' && h.active && this.matches(h, central, target)) return h;
    }
    return undefined;
  }

  private lossRate(scanner: VirtualController, adv: VirtualController): number {
    let rate = 0;
    for (const h of this.faults) {
      const f = h.fault;
      if (f.kind === 'packet-loss' && h.active && this.matches(h, scanner, adv)) rate = Math.max(rate, f.rate);
    }
    return rate;
  }

  private recordInternal(device: VirtualController | undefined, error: unknown): void {
    const detail = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
    if (device) this.diagnostic(device, 'internal-error', detail);
    else {
      this.diagnosticCounts['internal-error'] = (this.diagnosticCounts['internal-error'] ?? 0) + 1;
      if (this.diagnostics.length >= MAX_DIAGNOSTICS) this.diagnostics.shift();
      this.diagnostics.push({ address: '', kind: 'internal-error', detail, atMs: 0 });
    }
  }
}

function pairKey(a: VirtualController, b: VirtualController): string {
  return a.devId < b.devId ? `${a.devId}|${b.devId}` : `${b.devId}|${a.devId}`;
}

function noop(): void {}
