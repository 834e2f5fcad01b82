/**
 * A stand-in for `@abandonware/bluetooth-hci-socket`: same class shape (bindRaw, bindUser,
 * bindControl, start, stop, isDevUp, setFilter, write, getDeviceList, 'data' and 'error' events),
 * but bound to a virtual controller instead of a kernel socket. noble and bleno construct it
 * themselves through `require`, which is why it has to be a no-argument constructor.
 */
import { EventEmitter } from 'node:events';

/** What a socket needs from the controller it is bound to. */
export interface ControllerPort {
  readonly devId: number;
  readonly address: string;
  readonly powered: boolean;
  attach(socket: VirtualHciSocket): void;
  detach(socket: VirtualHciSocket): void;
  /** Bytes written by the host. Must not throw. */
  fromHost(data: Buffer): void;
  /** Called when a host listener threw while handling delivered data. */
  hostThrew(error: unknown): void;
  /** Called for writes that arrive after the socket was stopped or never bound. */
  droppedWrite(reason: string, data: Buffer): void;
}

const controllers = new Map<number, ControllerPort>();
let nextDevId = 0;
let socketsDraining = 0;

/** Number of sockets with data queued for their host (hosts that have yet to react). */
export function pendingDeliveries(): number {
  return socketsDraining;
}

export function registerController(make: (devId: number) => ControllerPort): ControllerPort {
  const devId = nextDevId++;
  const port = make(devId);
  controllers.set(devId, port);
  return port;
}

export function unregisterController(devId: number): void {
  controllers.delete(devId);
}

interface Pending {
  data: Buffer;
  /** Runs just before the host sees the data (used to advance the host's modelled time). */
  beforeEmit: (() => void) | undefined;
}

interface Filter {
  typeMask: number;
  eventMask0: number;
  eventMask1: number;
}

type BindKind = 'raw' | 'user' | 'control';

export class VirtualHciSocket extends EventEmitter {
  private controller: ControllerPort | undefined;
  private kind: BindKind | undefined;
  private started = false;
  private filter: Filter | undefined;
  private outbox: Pending[] = [];
  private draining: NodeJS.Immediate | undefined;

  /** The controller this socket is bound to (undefined for control sockets and before bind). */
  get boundController(): ControllerPort | undefined {
    return this.controller;
  }

  bindRaw(devId?: number): number {
    return this.bind('raw', devId);
  }

  bindUser(devId?: number): number {
    return this.bind('user', devId);
  }

  /** bleno's management socket (long-term key storage); there is no kernel behind it here. */
  bindControl(): number {
    this.kind = 'control';
    return 0;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.controller?.attach(this);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.controller?.detach(this);
    this.outbox = [];
  }

  isDevUp(): boolean {
    return this.controller?.powered ?? false;
  }

  getDeviceList(): Array<{ devId: number; devUp: boolean; idVendor: null; idProduct: null; busNumber: null; deviceAddress: null }> {
    return [...controllers.values()].map((c) => ({
      devId: c.devId,
      devUp: c.powered,
      idVendor: null,
      idProduct: null,
      busNumber: null,
      deviceAddress: null,
    }));
  }

  setFilter(filter: Buffer): void {
    if (!Buffer.isBuffer(filter) || filter.length < 12) return;
    this.filter = { typeMask: filter.readUInt32LE(0), eventMask0: filter.readUInt32LE(4), eventMask1: filter.readUInt32LE(8) };
  }

  reset(): void {
    // The kernel socket's reset() only matters for USB transports.
  }

  write(data: Buffer): void {
    if (this.kind === 'control') return;
    if (!this.controller) return;
    if (!this.started) {
      this.controller.droppedWrite('socket not started', data);
      return;
    }
    if (!Buffer.isBuffer(data)) {
      this.controller.droppedWrite('write() expects a Buffer', Buffer.alloc(0));
      return;
    }
    this.controller.fromHost(data);
  }

  /** Queues bytes for the host. Delivery is always asynchronous: hosts stall on re-entrant data. */
  deliver(data: Buffer, beforeEmit?: () => void): boolean {
    if (!this.started || !this.passesFilter(data)) return false;
    this.outbox.push({ data, beforeEmit });
    if (!this.draining) {
      socketsDraining++;
      this.draining = setImmediate(() => this.drain());
    }
    return true;
  }

  /** Detaches for good: nothing more is delivered and writes are dropped. */
  close(): void {
    this.stop();
    if (this.draining) {
      clearImmediate(this.draining);
      socketsDraining--;
    }
    this.draining = undefined;
    this.removeAllListeners('data');
  }

  private bind(kind: BindKind, devId: number | undefined): number {
    const id = devId ?? (controllers.size > 0 ? [...controllers.keys()][0] : undefined);
    const controller = id === undefined ? undefined : controllers.get(id);
    if (!controller) {
      const error = new Error('ENODEV, No such device') as NodeJS.ErrnoException;
      error.code = 'ENODEV';
      throw error;
    }
    this.kind = kind;
    this.controller = controller;
    return controller.devId;
  }

  private passesFilter(data: Buffer): boolean {
    const f = this.filter;
    if (!f || data.length === 0) return true;
    if (((f.typeMask >>> data[0]!) & 1) === 0) return false;
    if (data[0] === 0x04 && data.length > 1) {
      const code = data[1]!;
      const mask = code < 32 ? f.eventMask0 : f.eventMask1;
      if (code < 64 && ((mask >>> (code % 32)) & 1) === 0) return false;
    }
    return true;
  }

  private drain(): void {
    this.draining = undefined;
    socketsDraining--;
    const batch = this.outbox;
    this.outbox = [];
    for (let i = 0; i < batch.length; i++) {
      if (!this.started) return;
      const item = batch[i]!;
      item.beforeEmit?.();
      try {
        this.emit('data', item.data);
      } catch (error) {
        this.controller?.hostThrew(error);
      }
    }
  }
}
