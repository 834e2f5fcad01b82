/**
 * A lock persisted in a directory, so a restarted simulator keeps each lock's state.
 *
 * ```
 * <dir>/factory.json    lock id, device seed, device profile (written once, like factory data)
 * <dir>/hardware.json   RTC anchor and drift, battery charge used (the board, not the flash)
 * <dir>/slot0.bin       state slot 0          <dir>/slot1.bin   state slot 1
 * <dir>/commit.bin      the two commit-record copies
 * <dir>/events.bin      the event-log ring
 * <dir>/lock.pid        while open: the process holding the directory (pid, host, start time)
 * ```
 * The .bin files are the flash cells byte for byte (erased bytes are 0xFF; files hold only as
 * much as was ever written), each program or erase is one synchronous positioned write.
 *
 * A directory is open in at most one place at a time (two writers would interleave flash writes
 * and break the commit protocol): `openLockDir` creates `lock.pid` with O_EXCL and refuses with
 * `LOCK_IN_USE` while a live process (this one included) holds it; a file left by a process that
 * died is taken over. `close()` on the returned device removes it, and so does a normal exit.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
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

/**
 * Open flash files of every FileFlash in the process, least recently used first. A lock has a
 * file per flash region (five); a world of 10,000 locks would hold 50,000 descriptors (past a common
 * limit of 20,000), so at most this many stay open and the least recently used is closed and
 * reopened when next needed (its lock is idle: an idle lock touches no flash).
 */
const MAX_OPEN_FLASH_FILES = 1024;
const openFlashFiles = new Map<string, number>();

function cachedFd(key: string, open: () => number): number {
  const fd = openFlashFiles.get(key);
  if (fd !== undefined) {
    openFlashFiles.delete(key);
    openFlashFiles.set(key, fd);
    return fd;
  }
  if (openFlashFiles.size >= MAX_OPEN_FLASH_FILES) {
    const [oldest, oldFd] = openFlashFiles.entries().next().value as [string, number];
    openFlashFiles.delete(oldest);
    closeSync(oldFd);
  }
  const opened = open();
  openFlashFiles.set(key, opened);
  return opened;
}

/** Flash cells in one file per region. */
export class FileFlash implements FlashDevice {
  constructor(
    readonly dir: string,
    private readonly sizes: Readonly<Record<FlashRegion, number>>,
    private readonly readOnly = false,
  ) {}

  size(region: FlashRegion): number {
    return this.sizes[region];
  }

  private key(region: FlashRegion): string {
    return `${join(this.dir, `${region}.bin`)}\0${this.readOnly ? 'r' : 'rw'}`;
  }

  private fd(region: FlashRegion): number | null {
    const path = join(this.dir, `${region}.bin`);
    if (this.readOnly && !openFlashFiles.has(this.key(region)) && !existsSync(path)) return null;
    return cachedFd(this.key(region), () => openSync(path, this.readOnly ? 'r' : existsSync(path) ? 'r+' : 'w+'));
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
    for (const region of Object.keys(this.sizes) as FlashRegion[]) {
      const fd = openFlashFiles.get(this.key(region));
      if (fd === undefined) continue;
      openFlashFiles.delete(this.key(region));
      closeSync(fd);
    }
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

// ------------------------------------------------------------------------------ lock.pid

/** The exclusive-open marker of a lock directory. */
export const LOCK_FILE = 'lock.pid';
/** Held only for the instant of taking over a stale lock.pid, so two takers cannot both win. */
const TAKEOVER_FILE = `${LOCK_FILE}.takeover`;
/** A lock file without a readable pid younger than this is being written by its creator. */
const UNREADABLE_GRACE_MS = 2_000;

/**
 * Lock files this process holds (absolute path -> exact content written), shared by every copy
 * of this module in the process (test runners load modules once per test file), so the exit
 * cleanup is registered once per process.
 */
const HELD_KEY = Symbol.for('latchkit.simulator.heldLockDirs');
function heldLockFiles(): Map<string, string> {
  const g = globalThis as typeof globalThis & { [HELD_KEY]?: Map<string, string> };
  let held = g[HELD_KEY];
  if (!held) {
    const map = new Map<string, string>();
    held = map;
    g[HELD_KEY] = map;
    // A normal exit (also one that forgot close()) leaves no lock file behind; a crash or
    // SIGKILL does, and the next opener takes that stale file over.
    process.on('exit', () => {
      for (const [path, content] of map) removeIfOurs(path, content);
      map.clear();
    });
  }
  return held;
}

function errnoCode(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** kill(pid, 0): ESRCH means no such process; EPERM means it exists under another user. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface Holder {
  /** The file's content as read (compared before removing it). */
  raw: string;
  /** The pid on its first line, or null when it has none (yet). */
  pid: number | null;
  ageMs: number;
}

/** Who a lock file names, or null when there is no such file (any more). */
function readHolder(path: string): Holder | null {
  let raw: string;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  const first = raw.split('\n', 1)[0]!.trim();
  const pid = /^[1-9]\d{0,9}$/.test(first) && Number(first) <= 2 ** 31 - 1 ? Number(first) : null;
  return { raw, pid, ageMs: Date.now() - mtimeMs };
}

/**
 * A live holder, an unreadable file still being written, or (false) a stale file. A file naming
 * this process is live only while this process holds it: otherwise it was left by an earlier
 * process that had the same pid (a restarted container starts its processes at the same pids).
 */
function holderLive(h: Holder, path: string): boolean {
  if (h.pid === process.pid) return heldLockFiles().has(path);
  return h.pid !== null ? processAlive(h.pid) : h.ageMs < UNREADABLE_GRACE_MS;
}

/** Create `path` with `content` if it does not exist (O_CREAT | O_EXCL); false if it does. */
function createExclusive(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } catch (err) {
    closeSync(fd);
    unlinkSync(path);
    throw err;
  }
  closeSync(fd);
  return true;
}

function removeIfOurs(path: string, content: string): void {
  try {
    if (readFileSync(path, 'utf8') === content) unlinkSync(path);
  } catch {
    // Gone already (the directory was deleted, or someone removed the file): nothing to release.
  }
}

function lockInUse(dir: string, pid: number | null, inspecting = false): SimulatorError {
  let what: string;
  if (pid === process.pid) {
    what = `${dir} is held by process ${pid} (this process, which has it open already); close that device first or use it; nothing was changed`;
  } else {
    const who = pid === null ? 'a process that is opening it right now' : `process ${pid}`;
    what = inspecting
      ? `${dir} is held by ${who} (a running latchkit serve or lock run); its flash files may be mid-write, so reading them could show a torn state: the running server exposes the door's state through its API (or stop it and run this again); nothing was changed`
      : `${dir} is held by ${who} (a running latchkit serve or lock run); stop it or use its API; nothing was changed`;
  }
  return new SimulatorError('LOCK_IN_USE', what, { details: { dir, pid, lockFile: join(dir, LOCK_FILE) } });
}

/**
 * Remove the stale lock file whose content was `staleRaw` and create ours, under the takeover
 * guard: only the guard's holder removes a stale lock.pid, and only the one it judged stale (a
 * second taker that saw the same stale file finds the winner's live file and stops). Returns
 * whether we now hold the directory; false means look again.
 */
function takeOver(dir: string, staleRaw: string, content: string): boolean {
  const path = resolve(dir, LOCK_FILE);
  const guard = resolve(dir, TAKEOVER_FILE);
  if (!createExclusive(guard, `${process.pid}\n`)) {
    const g = readHolder(guard);
    if (g && !holderLive(g, guard)) removeIfOurs(guard, g.raw); // its taker died mid-takeover
    else sleepSync(2); // another taker is at it; it takes microseconds
    return false;
  }
  try {
    const now = readHolder(path);
    if (now !== null) {
      if (now.raw !== staleRaw) return false;
      unlinkSync(path);
    }
    return createExclusive(path, content);
  } finally {
    removeIfOurs(guard, `${process.pid}\n`);
  }
}

/**
 * Take the directory's lock file, or throw LOCK_IN_USE without changing anything. Returns the
 * release function (idempotent; removes the file only while it still holds what we wrote).
 */
function acquireLockDir(dir: string): () => void {
  const path = resolve(dir, LOCK_FILE);
  // The nonce tells this opening from a later one of the same process in the same millisecond.
  const content = `${process.pid}\n${hostname()}\n${new Date().toISOString()} ${randomBytes(4).toString('hex')}\n`;
  let last: Holder | null = null;
  for (let attempt = 0; ; attempt++) {
    if (createExclusive(path, content)) break;
    const h = readHolder(path);
    // null: released between our create and our read; try again.
    if (h !== null) {
      if (holderLive(h, path)) throw lockInUse(dir, h.pid);
      // Stale: its process died (crash, SIGKILL, power loss) without removing it.
      if (takeOver(dir, h.raw, content)) break;
      last = h;
    }
    // Only a crowd of openers racing for one directory gets here more than a few times.
    if (attempt >= 50) throw lockInUse(dir, last?.pid ?? null);
  }
  const held = heldLockFiles();
  held.set(path, content);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.delete(path);
    removeIfOurs(path, content);
  };
}

/** Throw LOCK_IN_USE when a live process holds the directory (read-only: creates nothing). */
function refuseIfHeld(dir: string): void {
  const path = resolve(dir, LOCK_FILE);
  const h = readHolder(path);
  if (h !== null && holderLive(h, path)) throw lockInUse(dir, h.pid, true);
}

export interface OpenLockDirOptions extends Omit<LockDeviceOptions, 'identity' | 'storage' | 'rtc' | 'onRtcWrite' | 'batteryUsedMah' | 'onBatteryChange' | 'profile'> {
  /** Create the directory as a factory-fresh lock if it has no factory.json. */
  create?: { lockId: Uint8Array; profile?: DeviceProfileName; deviceSeed?: Uint8Array; driftPpm?: number };
}

/**
 * Open (or create) a lock directory and boot its firmware. Host clock: wall time (Date.now).
 *
 * Takes the directory's `lock.pid` first and throws `LOCK_IN_USE` (changing nothing) while a
 * live process holds it, this one included; `close()` on the device releases it.
 */
export function openLockDir(dir: string, options: OpenLockDirOptions = {}): LockDevice & { factory: FactoryData } {
  const crypto: CryptoProvider = options.crypto ?? nodeCryptoProvider;
  const factoryPath = join(dir, 'factory.json');
  let fresh: FactoryData | null = null;
  if (!existsSync(factoryPath)) {
    if (!options.create) simFail('LOCK_NOT_FOUND', `${dir} holds no lock (no factory.json)`);
    const c = options.create;
    if (!(c.lockId instanceof Uint8Array) || c.lockId.length !== 8) throw badArgument('lock id', 'Uint8Array of 8 bytes', c.lockId);
    // A new lock gets a new or empty directory: writing factory.json and flash images into a
    // directory of other files (a typo'd --dir, a home directory) would mix them up. A lock file
    // alone is a creation in progress (refused below while live) or one that crashed (stale).
    if (existsSync(dir) && readdirSync(dir).some((name) => name !== LOCK_FILE && name !== TAKEOVER_FILE)) {
      simFail('BAD_ARGUMENT', `${dir} is not empty and holds no lock (no factory.json); give a new or empty directory for a new lock`);
    }
    fresh = {
      lockId: toHex(c.lockId),
      deviceSeed: toHex(c.deviceSeed ?? crypto.randomBytes(32)),
      profile: c.profile ?? 'standard',
      ...(c.driftPpm !== undefined ? { driftPpm: c.driftPpm } : {}),
    };
    deviceProfile(fresh.profile);
    mkdirSync(dir, { recursive: true });
  }
  // Before anything is written (factory data, the boot event, hardware.json).
  const release = acquireLockDir(dir);
  try {
    // Another creator may have finished (and closed) between our check and our lock.
    if (fresh && !existsSync(factoryPath)) writeJsonAtomic(factoryPath, fresh);
    const factory = readFactory(dir);
    const profile = deviceProfile(factory.profile);
    const hwPath = join(dir, 'hardware.json');
    const hw: HardwareFile | null = existsSync(hwPath) ? (JSON.parse(readFileSync(hwPath, 'utf8')) as HardwareFile) : null;
    const clock = options.clock ?? Date.now;
    const state: HardwareFile = hw ?? { rtc: { lockMs: 0, hostMs: clock(), driftPpm: factory.driftPpm ?? 0 }, batteryUsedMah: 0 };
    const save = (): void => writeJsonAtomic(hwPath, state);
    const storage = new FileFlash(dir, flashSizes(profile));
    let device: LockDevice;
    try {
      device = new LockDevice({
        ...options,
        identity: { lockId: fromHex(factory.lockId), deviceSeed: fromHex(factory.deviceSeed) },
        profile,
        storage,
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
    } catch (err) {
      storage.close();
      throw err;
    }
    // Closing the device (its flash files) also gives the directory back.
    const closeStorage = device.close.bind(device);
    device.close = (): void => {
      try {
        closeStorage();
      } finally {
        release();
      }
    };
    return Object.assign(device, { factory });
  } catch (err) {
    release();
    throw err;
  }
}

export interface LockDirInspection {
  dir: string;
  summary: LockStateSummary;
  events: EventRecord[];
}

/**
 * Read a lock directory without changing it (no boot event, no clock write, flash read-only,
 * no lock file): what `latchkit lock state` prints. Refuses with `LOCK_IN_USE` while a live
 * process holds the directory (its server shows the door's state through its API instead).
 */
export function inspectLockDir(dir: string, options: { events?: number; clock?: () => number } = {}): LockDirInspection {
  const factory = readFactory(dir);
  // Flash files that a running lock is writing can be read half-way through a write.
  refuseIfHeld(dir);
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
    const seen = { dir, summary: fw.summary(), events: fw.events.tail(options.events ?? 20) };
    // Someone may have opened it while we read (the check above is not a lock): do not show that.
    refuseIfHeld(dir);
    return seen;
  } finally {
    flash.close();
  }
}

