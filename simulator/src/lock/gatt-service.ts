/**
 * The latchkit GATT service on bleno (PROTOCOL.md §9), written once for any bleno instance: a
 * per-lock instance on the virtual radio, or the module singleton on a real adapter.
 *
 * | characteristic | properties | carries |
 * | --- | --- | --- |
 * | info    | read (long reads via Read Blob) | `encodeLockInfo`, one snapshot per read |
 * | control | write, write without response, notify | segmented requests in, segmented responses out |
 * | bulk    | write without response | `[u32 offset][data]` chunks of a signed message |
 * | events  | notify | each new 32-byte event record, segmented like the control point |
 *
 * Advertising: the service UUID in the advertising data and the local name `LK-<lock id hex>`
 * in the scan response, so a phone finds its door by lock id without connecting (a 128-bit UUID
 * plus flags leaves no room for service data in a legacy 31-byte advertisement).
 */
import { encodeEvent, encodeLockInfo, fromHex, GattUuid, LAYOUT_UUID, layoutHash, MIN_ATT_MTU, segment, SERVICE_LAYOUT, toHex } from '@latchkit/protocol';
import type { Bleno } from '../radio/index.js';
import type { SimulatorError } from '../errors.js';
import { badArgument } from '../errors.js';
import type { AdvertisingPolicy } from './advertising.js';
import type { LockDevice } from './device.js';
import type { LockFirmware } from './firmware.js';
import { LockSession } from './session.js';

const NAME_PREFIX = 'LK-';
const RESULT_SUCCESS = 0x00;
const RESULT_INVALID_OFFSET = 0x07;
const RESULT_ATTR_NOT_LONG = 0x0b;

/** The local name a lock advertises. */
export function lockAdvertisedName(lockId: Uint8Array): string {
  return NAME_PREFIX + toHex(lockId);
}

/** The lock id in an advertised local name, or null if the name is not a latchkit lock's. */
export function lockIdFromAdvertisedName(name: string | undefined): Uint8Array | null {
  if (typeof name !== 'string' || !name.startsWith(NAME_PREFIX)) return null;
  const hex = name.slice(NAME_PREFIX.length);
  return /^[0-9a-f]{16}$/.test(hex) ? fromHex(hex) : null;
}

type UpdateValue = (data: Buffer) => void;

export interface LockGattEvents {
  /** A central connected (its address). */
  connect?(address: string): void;
  disconnect?(address: string): void;
  /** The firmware lost power while serving a request. */
  halted?(err: SimulatorError): void;
  /**
   * The lock's MCU computes for `ms` before its next answer goes on the air (set by `serveLock`
   * on a radio that models time; elsewhere the time is only counted).
   */
  busy?(ms: number): void;
  /**
   * Serve the fast unlock path (§9.8: tickets and the layout characteristic); default true.
   * false serves what firmware from before it did, for testing phones against older locks.
   */
  fastPath?: boolean;
  /**
   * Serve `unlockTicketMac` (§9.8, ticket MAC); default true. false serves fast-path firmware
   * from before it (it answers the opcode UNKNOWN_OPCODE), for testing the phone's fallback.
   */
  ticketMac?: boolean;
}

/**
 * Serves one lock device on one bleno instance. Follows the device across power cycles: a cut
 * drops the link and stops advertising; the next boot advertises again.
 */
export class LockGattServer {
  readonly name: string;
  private session: LockSession | null = null;
  private mtu = MIN_ATT_MTU;
  private controlNotify: UpdateValue | null = null;
  private eventsNotify: UpdateValue | null = null;
  private infoSnapshot: Uint8Array | null = null;
  private unsubscribeEvents: (() => void) | null = null;
  private unsubscribeBoot: (() => void) | null = null;
  private stopped = false;
  private linkUp = false;
  private readonly listeners: Array<[string, (...a: never[]) => void]> = [];

  private constructor(
    private readonly bleno: Bleno,
    readonly device: LockDevice,
    private readonly hooks: LockGattEvents,
  ) {
    this.name = lockAdvertisedName(device.lockId);
  }

  /** Install the service, start advertising and serve until `stop()`. bleno must be poweredOn. */
  static async start(bleno: Bleno, device: LockDevice, hooks: LockGattEvents = {}): Promise<LockGattServer> {
    if (bleno.state !== 'poweredOn') throw badArgument('bleno', 'an instance in state poweredOn', bleno.state);
    const server = new LockGattServer(bleno, device, hooks);
    server.listen();
    await new Promise<void>((resolve, reject) => bleno.setServices([server.service()], (e) => (e ? reject(e) : resolve())));
    await server.advertise();
    return server;
  }

  get connected(): boolean {
    return this.linkUp;
  }

  private get firmware(): LockFirmware {
    return this.device.firmware;
  }

  private on(event: string, fn: (...a: never[]) => void): void {
    (this.bleno as unknown as NodeJS.EventEmitter).on(event, fn as (...a: unknown[]) => void);
    this.listeners.push([event, fn]);
  }

  private listen(): void {
    this.on('accept', (address: string) => {
      this.mtu = MIN_ATT_MTU;
      this.infoSnapshot = null;
      this.session?.close();
      this.session = this.firmware.isHalted ? null : this.newSession(this.firmware);
      this.linkUp = true;
      this.device.linkUp = true;
      this.hooks.connect?.(address);
    });
    this.on('mtuChange', (mtu: number) => {
      this.mtu = Math.max(MIN_ATT_MTU, mtu);
    });
    this.on('disconnect', (address: string) => {
      this.session?.close();
      this.session = null;
      this.linkUp = false;
      this.device.linkUp = false;
      this.controlNotify = null;
      this.eventsNotify = null;
      this.hooks.disconnect?.(address);
    });
    this.attachEvents(this.firmware);
    this.unsubscribeBoot = this.device.onBoot((fw) => {
      this.attachEvents(fw);
      if (!this.stopped) void this.advertise().catch(() => undefined);
    });
  }

  private attachEvents(fw: LockFirmware): void {
    this.unsubscribeEvents?.();
    this.unsubscribeEvents = fw.onEvent((record) => {
      const notify = this.eventsNotify;
      if (!notify) return;
      for (const seg of segment(encodeEvent(record), this.mtu)) notify(Buffer.from(seg));
    });
  }

  private newSession(fw: LockFirmware): LockSession {
    return new LockSession(fw, {
      notify: (value) => {
        // The answer leaves only after the MCU did the work behind it (signature checks, flash).
        const ms = this.device.mcu?.take() ?? 0;
        if (ms > 0) this.hooks.busy?.(ms);
        this.controlNotify?.(Buffer.from(value));
      },
      ...(this.device.mcu ? { mcu: this.device.mcu } : {}),
      fastPath: this.hooks.fastPath !== false,
      ticketMac: this.hooks.ticketMac !== false,
      mtu: () => this.mtu,
      halted: (err) => {
        this.hooks.halted?.(err);
        // No power, no radio: the central sees the link drop, nobody sees an advertisement.
        this.bleno.stopAdvertising();
        this.bleno.disconnect();
      },
      dropLink: () => this.bleno.disconnect(),
    });
  }

  private service(): InstanceType<Bleno['PrimaryService']> {
    const { Characteristic, PrimaryService } = this.bleno;
    const info = new Characteristic({
      uuid: GattUuid.info,
      properties: ['read'],
      onReadRequest: (offset, callback) => {
        // One snapshot per read, so a long read (Read Blob) returns a consistent value.
        if (offset === 0 || this.infoSnapshot === null) {
          if (this.firmware.isHalted) return callback(RESULT_ATTR_NOT_LONG);
          this.infoSnapshot = encodeLockInfo(this.firmware.info());
        }
        if (offset > this.infoSnapshot.length) return callback(RESULT_INVALID_OFFSET);
        callback(RESULT_SUCCESS, Buffer.from(this.infoSnapshot.subarray(offset)));
      },
    });
    const control = new Characteristic({
      uuid: GattUuid.control,
      properties: ['write', 'writeWithoutResponse', 'notify'],
      onWriteRequest: (data, offset, withoutResponse, callback) => {
        if (offset !== 0) return withoutResponse ? undefined : callback(RESULT_ATTR_NOT_LONG);
        if (!withoutResponse) callback(RESULT_SUCCESS);
        // Work no answer waited for (keypad, card taps, boot) is not charged to this request.
        this.device.mcu?.discard();
        this.session?.onControlWrite(new Uint8Array(data));
      },
      onSubscribe: (_max, update) => {
        this.controlNotify = update;
      },
      onUnsubscribe: () => {
        this.controlNotify = null;
      },
    });
    const bulk = new Characteristic({
      uuid: GattUuid.bulk,
      properties: ['writeWithoutResponse'],
      onWriteRequest: (data, _offset, withoutResponse, callback) => {
        if (!withoutResponse) callback(RESULT_SUCCESS);
        this.session?.onBulkWrite(new Uint8Array(data));
      },
    });
    const events = new Characteristic({
      uuid: GattUuid.events,
      properties: ['notify'],
      onSubscribe: (_max, update) => {
        this.eventsNotify = update;
      },
      onUnsubscribe: () => {
        this.eventsNotify = null;
      },
    });
    if (this.hooks.fastPath === false) return new PrimaryService({ uuid: GattUuid.service, characteristics: [info, control, bulk, events] });
    // Last, so the handles of the characteristics before it are what older firmware served.
    const hash = Buffer.from(layoutHash(SERVICE_LAYOUT, this.device.crypto));
    const layout = new Characteristic({
      uuid: LAYOUT_UUID,
      properties: ['read'],
      onReadRequest: (offset, callback) => (offset > hash.length ? callback(RESULT_INVALID_OFFSET) : callback(RESULT_SUCCESS, hash.subarray(offset))),
    });
    return new PrimaryService({ uuid: GattUuid.service, characteristics: [info, control, bulk, events, layout] });
  }

  private advertise(): Promise<void> {
    return new Promise((resolve, reject) => this.bleno.startAdvertising(this.name, [GattUuid.service], (e) => (e ? reject(e) : resolve())));
  }

  /** Stop advertising, drop any link and detach from bleno and the device. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribeBoot?.();
    this.unsubscribeEvents?.();
    this.session?.close();
    this.session = null;
    await new Promise<void>((resolve) => {
      try {
        this.bleno.stopAdvertising(() => resolve());
      } catch {
        resolve();
      }
      // A bleno whose controller is gone never answers; do not wait for it.
      setTimeout(resolve, 50).unref();
    });
    if (this.linkUp) this.bleno.disconnect();
    for (const [event, fn] of this.listeners) (this.bleno as unknown as NodeJS.EventEmitter).removeListener(event, fn as (...a: unknown[]) => void);
  }
}

/** What a radio offers for adding a lock (a virtual `Air`, or `openRadio()`'s result). */
export interface PeripheralFactory {
  addPeripheral(options?: { name?: string; mtu?: number; address?: string }): Promise<{
    readonly bleno: Bleno;
    readonly address: string;
    close(): Promise<void>;
    busy?(ms: number): void;
    setAdvertisingSchedule?(policy: AdvertisingPolicy | null): void;
    wakeAdvertising?(atMs?: number): void;
    idleUntil?(ms: number): void;
  }>;
}

export interface ServedLock {
  server: LockGattServer;
  /**
   * The wake trigger (keypad touch, proximity sensor) at modelled time `atMs` (default the
   * lock's now): advertise fast for the policy's burst.
   * Does nothing on a radio without advertising schedules (a real adapter advertises as bleno does).
   */
  wake(atMs?: number): void;
  /** The radio device (on the virtual radio: a `VirtualPeripheral` with its link and modelled clock). */
  peripheral: Awaited<ReturnType<PeripheralFactory['addPeripheral']>>;
  stop(): Promise<void>;
}

/** Put a lock device on a radio: a bleno peripheral serving the latchkit service and advertising. */
export async function serveLock(
  radio: PeripheralFactory,
  device: LockDevice,
  options: { mtu?: number; address?: string; hooks?: LockGattEvents; /** Idle/burst advertising (./advertising.ts); default bleno's fixed 100 ms. */ advertising?: AdvertisingPolicy } = {},
): Promise<ServedLock> {
  const peripheral = await radio.addPeripheral({
    name: lockAdvertisedName(device.lockId),
    ...(options.mtu !== undefined ? { mtu: options.mtu } : {}),
    ...(options.address !== undefined ? { address: options.address } : {}),
  });
  let server: LockGattServer;
  try {
    if (options.advertising) peripheral.setAdvertisingSchedule?.(options.advertising);
    const busy = peripheral.busy?.bind(peripheral);
    server = await LockGattServer.start(peripheral.bleno, device, { ...options.hooks, ...(busy ? { busy } : {}) });
  } catch (err) {
    await peripheral.close();
    throw err;
  }
  return {
    server,
    peripheral,
    wake: (atMs) => {
      if (options.advertising) peripheral.wakeAdvertising?.(atMs);
    },
    stop: async () => {
      await server.stop();
      await peripheral.close();
    },
  };
}
