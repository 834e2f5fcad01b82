/**
 * What the conformance runner tests: one lock, reachable only over BLE GATT.
 *
 * A target hands the runner GATT connections (noble over the virtual air or a real adapter)
 * and nothing else about the lock: no firmware object, no flash. The only extra a target may
 * offer is `hooks`, the test fixture a bench would have around a real board (a keypad robot, a
 * card emulator, a relay on the power supply, a way to let time pass); the simulated lock
 * offers them, a real lock through `hci` does not, and the cases that need them are then listed
 * as manual steps.
 */
import type { CryptoProvider } from '@latchkit/protocol';
import { toHex } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { badArgument } from '../errors.js';
import { LockDevice } from '../lock/device.js';
import type { CardTransponder } from '../lock/hardware.js';
import { serveLock, type ServedLock } from '../lock/gatt-service.js';
import type { MutantName } from '../lock/mutants.js';
import type { DeviceProfileInput } from '../lock/profiles.js';
import { connectLock } from '../phone/discover.js';
import type { LockClient } from '../phone/client.js';
import { createAir, type Air, type VirtualCentral } from '../radio/air.js';
import { openRadio, type Radio, type RadioCentral } from '../radio/open.js';

/** An access attempt as the bench saw it at the door. */
export interface DoorOutcome {
  granted: boolean;
  reason: string;
  holder: number;
}

/** The bench fixture around a lock: what a human or a rig would otherwise do by hand. */
export interface TargetHooks {
  /** Let `ms` of time pass for the lock (its RTC and its timers) without waiting for it. */
  advanceTime(ms: number): void;
  /** Type a code on the keypad and press #. */
  enterCode(code: string): DoorOutcome;
  /** Hold a card to the reader. */
  tapCard(card: CardTransponder): DoorOutcome;
  /** Flash writes that applying `message` would take (where to aim a power cut). */
  applyWrites(message: Uint8Array): number;
  /** Cut the power at the `atWrite`-th flash write of the next message the lock applies. */
  cutPowerDuringNextApply(atWrite: number): void;
  /** Restore power after a cut: the lock boots from its flash. */
  powerCycle(): void;
}

export interface ConformanceTarget {
  /** One line for the report: what was tested. */
  readonly label: string;
  readonly radio: 'virtual' | 'hci';
  readonly lockId: Uint8Array;
  /** Find the lock, connect and open the latchkit service. */
  connect(timeoutMs: number): Promise<LockClient>;
  /** Runs `fn` and reports the modelled on-air ms it took, where the radio models time (virtual). */
  measure<T>(fn: () => Promise<T>): Promise<{ value: T; modelledMs: number | null }>;
  readonly hooks: TargetHooks | null;
  close(): Promise<void>;
}

export interface SimTargetOptions {
  mutant?: MutantName;
  /** Lock id (default 4c4b00000000c0f0). */
  lockId?: Uint8Array;
  profile?: DeviceProfileInput;
  /** Virtual radio seed (timing model). */
  seed?: number;
  crypto?: CryptoProvider;
  /** Serve as firmware without the fast path, or with it but without the ticket MAC (PROTOCOL.md §9.8). */
  gatt?: { fastPath?: boolean; ticketMac?: boolean };
}

export const DEFAULT_SIM_LOCK_ID = Uint8Array.from([0x4c, 0x4b, 0, 0, 0, 0, 0xc0, 0xf0]);

/**
 * A factory-fresh simulated lock on its own virtual air, with a gateway-profile central for the
 * runner. The lock's host clock is the wall clock plus whatever `advanceTime` added, so time
 * can pass for the lock (nonce lifetime, credential windows) without the run waiting.
 */
export async function startSimTarget(o: SimTargetOptions = {}): Promise<ConformanceTarget> {
  const lockId = o.lockId ?? DEFAULT_SIM_LOCK_ID;
  const crypto = o.crypto ?? nodeCryptoProvider;
  let skewMs = 0;
  const device = new LockDevice({
    identity: { lockId, deviceSeed: crypto.sha256(Uint8Array.from([...lockId, 0x5e])) },
    profile: o.profile ?? 'standard',
    clock: () => Date.now() + skewMs,
    crypto,
    ...(o.mutant ? { mutant: o.mutant } : {}),
  });
  const air = createAir({ seed: o.seed ?? 17 });
  let served: ServedLock | undefined;
  let central: VirtualCentral | undefined;
  try {
    served = await serveLock(air, device, o.gatt ? { hooks: o.gatt } : {});
    central = await air.addCentral({ profile: 'gateway', name: 'conformance-runner' });
  } catch (err) {
    await air.close();
    throw err;
  }
  const door = (r: { granted: boolean; reason: string; holder: number }): DoorOutcome => ({ granted: r.granted, reason: r.reason, holder: r.holder });
  const hooks: TargetHooks = {
    advanceTime: (ms) => {
      if (!(Number.isFinite(ms) && ms >= 0)) throw badArgument('advanceTime', 'a number of ms >= 0', ms);
      skewMs += ms;
      device.firmware.tick();
    },
    enterCode: (code) => door(device.firmware.enterCode(code)),
    tapCard: (card) => door(device.firmware.tapCard(card)),
    applyWrites: (message) => device.countApplyWrites(message),
    cutPowerDuringNextApply: (atWrite) => device.cutPowerDuringNextApply(atWrite),
    powerCycle: () => {
      device.powerCycle();
    },
  };
  const c = central;
  const s = served;
  return {
    label: `simulated lock ${toHex(lockId)} (${o.mutant ? `mutant ${o.mutant}` : 'correct firmware'}) on the virtual radio`,
    radio: 'virtual',
    lockId,
    connect: (timeoutMs) => connectLock(c.noble, lockId, { timeoutMs, findTimeoutMs: timeoutMs, crypto }),
    measure: async (fn) => measureOn(air, c, fn),
    hooks,
    close: async () => {
      await s.stop().catch(() => undefined);
      await air.close();
    },
  };
}

async function measureOn<T>(air: Air, central: VirtualCentral, fn: () => Promise<T>): Promise<{ value: T; modelledMs: number | null }> {
  let failure: { err: unknown } | null = null;
  const m = await air.measure(central, async () => {
    try {
      return await fn();
    } catch (err) {
      failure = { err };
      return undefined;
    }
  });
  if (failure) throw (failure as { err: unknown }).err;
  return { value: m.value as T, modelledMs: m.modelledMs };
}

export interface HciTargetOptions {
  lockId: Uint8Array;
  /** Adapter index (hciN); default the first adapter that is up. */
  deviceId?: number;
  crypto?: CryptoProvider;
}

/**
 * A real lock through a Bluetooth adapter (noble on `hci`). Opening the adapter is the first
 * thing it does, so a machine without one fails here with RADIO_NO_ADAPTER before any case runs.
 */
export async function openHciTarget(o: HciTargetOptions): Promise<ConformanceTarget> {
  if (!(o.lockId instanceof Uint8Array) || o.lockId.length !== 8) throw badArgument('lock id', '8 bytes (16 hex digits)', o.lockId);
  const radio: Radio = await openRadio({ radio: 'hci', ...(o.deviceId !== undefined ? { deviceId: o.deviceId } : {}) });
  let central: RadioCentral;
  try {
    central = await radio.addCentral({ profile: 'gateway' });
  } catch (err) {
    await radio.close();
    throw err;
  }
  return {
    label: `lock ${toHex(o.lockId)} through Bluetooth adapter hci${o.deviceId ?? ''} (real radio)`,
    radio: 'hci',
    lockId: o.lockId,
    connect: (timeoutMs) => connectLock(central.noble, o.lockId, { timeoutMs, findTimeoutMs: timeoutMs, ...(o.crypto ? { crypto: o.crypto } : {}) }),
    // A real radio has no modelled clock: the runner reports wall-clock times only.
    measure: async (fn) => ({ value: await fn(), modelledMs: null }),
    hooks: null,
    close: async () => {
      await central.close().catch(() => undefined);
      await radio.close();
    },
  };
}
