/**
 * Test fixtures for the radio suite: a lock with a small GATT service on bleno, and a central
 * that finds and connects to it with noble. Everything runs through the real stacks.
 */
import { EventEmitter } from 'node:events';
import type { Air, PeripheralOptions, VirtualCentral, VirtualPeripheral } from '@latchkit/simulator';

export const SERVICE = 'fff0';
export const READ = 'fff1';
export const WRITE = 'fff2';
export const WRITE_NO_RESPONSE = 'fff3';
export const NOTIFY = 'fff4';

/* Minimal shapes of the bleno/noble objects the tests touch (their published typings lag). */
interface BlenoLike {
  Characteristic: new (o: object) => object;
  PrimaryService: new (o: object) => object;
  setServices(services: object[], cb: (e?: Error) => void): void;
  startAdvertising(name: string, uuids: string[], cb: (e?: Error | null) => void): void;
  on(event: string, fn: (...a: unknown[]) => void): void;
}

export interface NobleCharacteristic extends EventEmitter {
  uuid: string;
  readAsync(): Promise<Buffer>;
  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void>;
  write(data: Buffer, withoutResponse: boolean, cb?: (e?: Error) => void): void;
  subscribeAsync(): Promise<void>;
}

export interface NoblePeripheral extends EventEmitter {
  id: string;
  address: string;
  mtu: number | null;
  state: string;
  advertisement: { localName?: string; serviceUuids?: string[] };
  connectAsync(): Promise<void>;
  disconnectAsync(): Promise<void>;
  discoverSomeServicesAndCharacteristicsAsync(s: string[], c: string[]): Promise<{ characteristics: NobleCharacteristic[] }>;
}

export interface NobleLike extends EventEmitter {
  startScanningAsync(uuids?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
}

export interface TestLock {
  device: VirtualPeripheral;
  name: string;
  /** Every write (with or without response) the GATT server received, in order. */
  writes: Array<{ uuid: string; data: Buffer; withoutResponse: boolean }>;
  /** Total bytes written to the write-without-response characteristic. */
  bulkBytes(): number;
  /** Resolves when the write-without-response characteristic has received `n` bytes in total. */
  waitForBulk(n: number): Promise<void>;
  /** Sends a notification (after a central subscribed). */
  notify(data: Buffer): void;
  subscribed(): Promise<void>;
  events: EventEmitter;
}

export async function addTestLock(air: Air, options: PeripheralOptions & { name: string; readValue?: Buffer }): Promise<TestLock> {
  const device = await air.addPeripheral(options);
  const bleno = device.bleno as unknown as BlenoLike;
  const events = new EventEmitter();
  const writes: TestLock['writes'] = [];
  let bulk = 0;
  let updateValue: ((b: Buffer) => void) | undefined;
  const onWrite = (uuid: string) => (data: Buffer, _offset: number, withoutResponse: boolean, cb: (r: number) => void) => {
    writes.push({ uuid, data, withoutResponse });
    if (uuid === WRITE_NO_RESPONSE) bulk += data.length;
    cb(0);
    events.emit('write', uuid);
  };
  const characteristics = [
    new bleno.Characteristic({
      uuid: READ,
      properties: ['read'],
      onReadRequest: (offset: number, cb: (r: number, d?: Buffer) => void) => cb(0, (options.readValue ?? Buffer.from(`hello from ${options.name}`)).subarray(offset)),
    }),
    new bleno.Characteristic({ uuid: WRITE, properties: ['write'], onWriteRequest: onWrite(WRITE) }),
    new bleno.Characteristic({ uuid: WRITE_NO_RESPONSE, properties: ['writeWithoutResponse'], onWriteRequest: onWrite(WRITE_NO_RESPONSE) }),
    new bleno.Characteristic({
      uuid: NOTIFY,
      properties: ['notify'],
      onSubscribe: (_max: number, update: (b: Buffer) => void) => {
        updateValue = update;
        events.emit('subscribed');
      },
    }),
  ];
  await new Promise<void>((resolve, reject) =>
    bleno.setServices([new bleno.PrimaryService({ uuid: SERVICE, characteristics })], (e) => (e ? reject(e) : resolve())),
  );
  await new Promise<void>((resolve, reject) => bleno.startAdvertising(options.name, [SERVICE], (e) => (e ? reject(e) : resolve())));
  return {
    device,
    name: options.name,
    writes,
    events,
    bulkBytes: () => bulk,
    waitForBulk: (n) =>
      new Promise((resolve) => {
        if (bulk >= n) return resolve();
        const check = (): void => {
          if (bulk >= n) {
            events.removeListener('write', check);
            resolve();
          }
        };
        events.on('write', check);
      }),
    notify: (data) => {
      if (!updateValue) throw new Error('nobody subscribed');
      updateValue(data);
    },
    subscribed: () => (updateValue ? Promise.resolve() : new Promise((r) => events.once('subscribed', () => r()))),
  };
}

/** Scans until a device advertising `name` shows up (rejects after `wallMs` of wall time). */
export async function discover(central: VirtualCentral, name: string, wallMs = 5000): Promise<NoblePeripheral> {
  const [p] = await discoverAll(central, [name], wallMs);
  return p!;
}

/** One scan that lasts until every name in `names` has been seen; results in the same order. */
export async function discoverAll(central: VirtualCentral, names: readonly string[], wallMs = 5000): Promise<NoblePeripheral[]> {
  const noble = central.noble as unknown as NobleLike;
  const found = new Map<string, NoblePeripheral>();
  let onDiscover: (p: NoblePeripheral) => void = () => {};
  const all = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not discovered within ${wallMs} ms: ${names.filter((n) => !found.has(n)).join(', ')}`)), wallMs);
    onDiscover = (p) => {
      const name = p.advertisement.localName;
      if (name === undefined || !names.includes(name)) return;
      found.set(name, p);
      if (found.size === names.length) {
        clearTimeout(timer);
        resolve();
      }
    };
    noble.on('discover', onDiscover);
  });
  await noble.startScanningAsync([SERVICE], false);
  try {
    await all;
    return names.map((n) => found.get(n)!);
  } finally {
    noble.removeListener('discover', onDiscover);
    await noble.stopScanningAsync();
  }
}

export interface Session {
  peripheral: NoblePeripheral;
  read: NobleCharacteristic;
  write: NobleCharacteristic;
  writeNoResponse: NobleCharacteristic;
  notify: NobleCharacteristic;
}

/** Discovers (unless given a discovered peripheral), connects and finds the test characteristics. */
export async function connect(central: VirtualCentral, lock: string | NoblePeripheral): Promise<Session> {
  const peripheral = typeof lock === 'string' ? await discover(central, lock) : lock;
  await peripheral.connectAsync();
  const { characteristics } = await peripheral.discoverSomeServicesAndCharacteristicsAsync([SERVICE], [READ, WRITE, WRITE_NO_RESPONSE, NOTIFY]);
  const by = (uuid: string): NobleCharacteristic => {
    const c = characteristics.find((x) => x.uuid === uuid);
    if (!c) throw new Error(`characteristic ${uuid} not found`);
    return c;
  };
  return { peripheral, read: by(READ), write: by(WRITE), writeNoResponse: by(WRITE_NO_RESPONSE), notify: by(NOTIFY) };
}

/** Writes `total` bytes as write-without-response chunks of MTU − 3 (fire and forget, as apps do). */
export function blast(session: Session, total: number, fill = 0xa5): void {
  const chunk = (session.peripheral.mtu ?? 23) - 3;
  for (let off = 0; off < total; off += chunk) {
    session.writeNoResponse.write(Buffer.alloc(Math.min(chunk, total - off), fill), true);
  }
}

export function waitForDisconnect(p: NoblePeripheral): Promise<number> {
  if (p.state === 'disconnected') return Promise.resolve(-1);
  return new Promise((resolve) => p.once('disconnect', (reason: number) => resolve(reason)));
}

/** Resolves with the result of `p` or rejects after `ms` of wall time. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
