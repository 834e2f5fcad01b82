/**
 * A lock persisted in a directory, so a restarted simulator keeps each lock's state.
 *
 * ```
 * <dir>/factory.json    lock id, device seed, device profile (written once, like factory data)
 * <dir>/hardware.json   RTC anchor and drift, battery charge used (the board, not the flash)
 * <dir>/slot0.bin       state slot 0          <dir>/slot1.bin   state slot 1
 * <dir>/commit.bin      the two commit-record copies
 * <dir>/events.bin      the event-log ring
 * ```
 * The .bin files are the flash cells byte for byte (erased bytes are 0xFF; files hold only as
 * much as was ever written), each program or erase is one synchronous positioned write.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex, type CryptoProvider } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { badArgument, SimulatorError, simFail } from '../errors.js';
import { LockDevice, type LockDeviceOptions } from './device.js';
import { LockFirmware, type LockStateSummary } from './firmware.js';
import type { FlashDevice, FlashRegion } from './flash.js';
import { checkRange, PowerCutFlash } from './flash.js';
import { SimulatedBattery, SimulatedRtc, type RtcState } from './hardware.js';
import { deviceProfile, type DeviceProfileName } from './profiles.js';
import { flashSizes } from './storage.js';
import type { EventRecord } from '@latchkit/protocol';

export interface FactoryData {
  lockId: string;
  deviceSeed: string;
  profile: DeviceProfileName;
  driftPpm?: number;
}

interface HardwareFile {
  rtc: RtcState;
  batteryUsedMah: number;
}

/** Flash cells in one file per region. */
export class FileFlash implements FlashDevice {
  private readonly fds = new Map<FlashRegion, number>();

  constructor(
    readonly dir: string,
    private readonly sizes: Readonly<Record<FlashRegion, number>>,
    private readonly readOnly = false,
  ) {}

  size(region: FlashRegion): number {
    return this.sizes[region];
  }

  private fd(region: FlashRegion): number | null {
    let fd = this.fds.get(region);
    if (fd === undefined) {
      const path = join(this.dir, `${region}.bin`);
      if (this.readOnly && !existsSync(path)) return null;
      fd = openSync(path, this.readOnly ? 'r' : existsSync(path) ? 'r+' : 'w+');
      this.fds.set(region, fd);
    }
    return fd;
  }

  read(region: FlashRegion, offset: number, length: number): Uint8Array {
    checkRange(this, region, offset, length);
    const out = new Uint8Array(length).fill(0xff);
    const fd = this.fd(region);
    if (fd === null) return out;
    const have = fstatSync(fd).size;
    if (offset < have) readSync(fd, out, 0, Math.min(length, have - offset), offset);
    return out;
  }

  program(region: FlashRegion, offset: number, data: Uint8Array): void {
    checkRange(this, region, offset, data.length);
    if (this.readOnly) simFail('BAD_ARGUMENT', `flash ${region} of ${this.dir} is opened read-only`);
    const cells = this.read(region, offset, data.length);
    for (let i = 0; i < data.length; i++) cells[i]! &= data[i]!;
    writeSync(this.fd(region)!, cells, 0, cells.length, offset);
  }

  erase(region: FlashRegion, offset: number, length: number): void {
    checkRange(this, region, offset, length);
    if (this.readOnly) simFail('BAD_ARGUMENT', `flash ${region} of ${this.dir} is opened read-only`);
    const fd = this.fd(region)!;
    const have = fstatSync(fd).size;
    if (offset >= have) return;
    // Erasing the tail of what the file holds is a truncate (the rest reads 0xFF anyway).
    if (offset + length >= have) ftruncateSync(fd, offset);
    else writeSync(fd, new Uint8Array(length).fill(0xff), 0, length, offset);
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

function writeJsonAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
}

function readFactory(dir: string): FactoryData {
  const path = join(dir, 'factory.json');
  if (!existsSync(path)) simFail('LOCK_NOT_FOUND', `${dir} is not a lock directory (no factory.json); create one with "latchkit lock run --dir ${dir}"`);
  let f: FactoryData;
  try {
    f = JSON.parse(readFileSync(path, 'utf8')) as FactoryData;
  } catch (cause) {
    throw new SimulatorError('BAD_ARGUMENT', `${path} is not valid JSON`, { cause });
  }
  if (typeof f.lockId !== 'string' || !/^[0-9a-f]{16}$/.test(f.lockId)) throw badArgument(`${path} lockId`, '16 lower-case hex digits', f.lockId);
  if (typeof f.deviceSeed !== 'string' || !/^[0-9a-f]{64}$/.test(f.deviceSeed)) throw badArgument(`${path} deviceSeed`, '64 lower-case hex digits', '(hidden)');
  deviceProfile(f.profile);
  return f;
}

export interface OpenLockDirOptions extends Omit<LockDeviceOptions, 'identity' | 'storage' | 'rtc' | 'onRtcWrite' | 'batteryUsedMah' | 'onBatteryChange' | 'profile'> {
  /** Create the directory as a factory-fresh lock if it has no factory.json. */
  create?: { lockId: Uint8Array; profile?: DeviceProfileName; deviceSeed?: Uint8Array; driftPpm?: number };
}

/** Open (or create) a lock directory and boot its firmware. Host clock: wall time (Date.now). */
export function openLockDir(dir: string, options: OpenLockDirOptions = {}): LockDevice & { factory: FactoryData } {
  const crypto: CryptoProvider = options.crypto ?? nodeCryptoProvider;
  if (!existsSync(join(dir, 'factory.json'))) {
    if (!options.create) simFail('LOCK_NOT_FOUND', `${dir} holds no lock (no factory.json)`);
    const c = options.create;
    if (!(c.lockId instanceof Uint8Array) || c.lockId.length !== 8) throw badArgument('lock id', 'Uint8Array of 8 bytes', c.lockId);
    // A new lock gets a new or empty directory: writing factory.json and flash images into a
    // directory of other files (a typo'd --dir, a home directory) would mix them up.
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      simFail('BAD_ARGUMENT', `${dir} is not empty and holds no lock (no factory.json); give a new or empty directory for a new lock`);
    }
    mkdirSync(dir, { recursive: true });
    const factory: FactoryData = {
      lockId: toHex(c.lockId),
      deviceSeed: toHex(c.deviceSeed ?? crypto.randomBytes(32)),
      profile: c.profile ?? 'standard',
      ...(c.driftPpm !== undefined ? { driftPpm: c.driftPpm } : {}),
    };
    deviceProfile(factory.profile);
    writeJsonAtomic(join(dir, 'factory.json'), factory);
  }
  const factory = readFactory(dir);
  const profile = deviceProfile(factory.profile);
  const hwPath = join(dir, 'hardware.json');
  const hw: HardwareFile | null = existsSync(hwPath) ? (JSON.parse(readFileSync(hwPath, 'utf8')) as HardwareFile) : null;
  const clock = options.clock ?? Date.now;
  const state: HardwareFile = hw ?? { rtc: { lockMs: 0, hostMs: clock(), driftPpm: factory.driftPpm ?? 0 }, batteryUsedMah: 0 };
  const save = (): void => writeJsonAtomic(hwPath, state);
  const device = new LockDevice({
    ...options,
    identity: { lockId: fromHex(factory.lockId), deviceSeed: fromHex(factory.deviceSeed) },
    profile,
    storage: new FileFlash(dir, flashSizes(profile)),
    clock,
    crypto,
    rtc: state.rtc,
    driftPpm: state.rtc.driftPpm,
    onRtcWrite: (rtc) => {
      state.rtc = rtc;
      save();
    },
    batteryUsedMah: state.batteryUsedMah,
    onBatteryChange: (used) => {
      state.batteryUsedMah = used;
      save();
    },
  });
  if (!hw) save();
  return Object.assign(device, { factory });
}

export interface LockDirInspection {
  dir: string;
  summary: LockStateSummary;
  events: EventRecord[];
}

/**
 * Read a lock directory without changing it (no boot event, no clock write, flash read-only):
 * what `latchkit lock state` prints.
 */
export function inspectLockDir(dir: string, options: { events?: number; clock?: () => number } = {}): LockDirInspection {
  const factory = readFactory(dir);
  const profile = deviceProfile(factory.profile);
  const hwPath = join(dir, 'hardware.json');
  const hw: HardwareFile | null = existsSync(hwPath) ? (JSON.parse(readFileSync(hwPath, 'utf8')) as HardwareFile) : null;
  const clock = options.clock ?? Date.now;
  const flash = new FileFlash(dir, flashSizes(profile), true);
  try {
    const fw = LockFirmware.boot(
      { lockId: fromHex(factory.lockId), deviceSeed: fromHex(factory.deviceSeed) },
      {
        flash: new PowerCutFlash(flash),
        monotonicMs: clock,
        // The floor the firmware would apply at boot is shown, but never written back.
        rtc: new SimulatedRtc(clock, hw?.rtc ?? { lockMs: 0, hostMs: clock() }),
        random: (n) => nodeCryptoProvider.randomBytes(n),
        crypto: nodeCryptoProvider,
        battery: new SimulatedBattery(profile.batteryMah, hw?.batteryUsedMah ?? 0),
      },
      { profile, logBoot: false },
    );
    return { dir, summary: fw.summary(), events: fw.events.tail(options.events ?? 20) };
  } finally {
    flash.close();
  }
}

