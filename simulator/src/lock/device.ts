/**
 * A simulated lock device: the firmware plus the hardware it runs on (flash cells, RTC,
 * battery, bolt, indicator), with power that can be cut and restored.
 *
 * The flash cells outlive the firmware instance, as on a real board: `powerCycle()` boots a new
 * firmware instance from the same cells, which is how the power-cut tests and a restarted
 * fleet get "the lock as it was".
 */
import type { CryptoProvider } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { badArgument } from '../errors.js';
import type { FlashDevice } from './flash.js';
import { MemoryFlash, PowerCutFlash } from './flash.js';
import type { IndicatorEvent, LockIdentity } from './firmware.js';
import { LockFirmware } from './firmware.js';
import type { HostClock, RtcState } from './hardware.js';
import { SimulatedBattery, SimulatedRtc } from './hardware.js';
import type { DeviceProfile, DeviceProfileInput } from './profiles.js';
import { deviceProfile } from './profiles.js';
import { flashSizes } from './storage.js';
import type { MutantName } from './mutants.js';
import { McuMeter, meteredCrypto, MeteredFlash, mcuProfile, type McuProfileInput } from './mcu.js';

export interface LockDeviceOptions {
  identity: LockIdentity;
  profile?: DeviceProfileInput;
  /** Flash cells; a fresh in-memory flash sized for the profile by default. */
  storage?: FlashDevice;
  /** Host clock in ms (default `Date.now`); the RTC and all timers derive from it. */
  clock?: HostClock;
  /** RTC drift in parts per million (default 0). */
  driftPpm?: number;
  /** RTC state to resume from (a persisted one); a fresh RTC reads 1970 until a signed time arrives. */
  rtc?: Partial<RtcState>;
  onRtcWrite?: (s: RtcState) => void;
  batteryUsedMah?: number;
  onBatteryChange?: (usedMah: number) => void;
  /** Crypto provider (default node:crypto; pass `nobleProvider` to measure the portable one). */
  crypto?: CryptoProvider;
  /** Randomness (nonces, card challenges); default the provider's. */
  random?: (n: number) => Uint8Array;
  bolt?: (locked: boolean) => void;
  indicator?: (e: IndicatorEvent) => void;
  firmware?: string;
  /** A deliberately broken firmware (./mutants.ts), for conformance tests only. */
  mutant?: MutantName;
  /** Emulate firmware from before the `transition` claim (LockOptions.beforeTransitionClaim). */
  beforeTransitionClaim?: boolean;
  /** Emulate firmware from before the entry digest (LockOptions.beforeEntryDigest). */
  beforeEntryDigest?: boolean;
  /**
   * The lock MCU whose time the firmware's crypto and flash writes cost (./mcu.ts); default
   * `nrf52840`, `null` for a lock that computes in no time (the model before that existed).
   */
  mcu?: McuProfileInput;
}

export class LockDevice {
  readonly profile: DeviceProfile;
  readonly storage: FlashDevice;
  readonly rtc: SimulatedRtc;
  readonly battery: SimulatedBattery;
  readonly clock: HostClock;
  readonly crypto: CryptoProvider;
  /** Modelled MCU time of the running firmware's work; null when the cost model is off. */
  readonly mcu: McuMeter | null;
  /** Whether a central is connected (the GATT service sets it); idle work waits for no link. */
  linkUp = false;
  /** This power-on's view of the flash: counts writes and takes power-cut plans. */
  flash!: PowerCutFlash;
  private current!: LockFirmware;
  /** A power cut armed for the next applied message: at its Nth flash write (0-based). */
  private applyCut: number | null = null;
  private readonly bootListeners = new Set<(fw: LockFirmware) => void>();

  constructor(private readonly options: LockDeviceOptions) {
    this.profile = deviceProfile(options.profile);
    this.storage = options.storage ?? new MemoryFlash(flashSizes(this.profile));
    for (const [region, size] of Object.entries(flashSizes(this.profile))) {
      // `!(>=)`: a flash device without the region at all (size undefined) is refused too.
      if (!(this.storage.size(region as keyof ReturnType<typeof flashSizes>) >= size)) {
        throw badArgument(`flash ${region}`, `at least ${size} bytes for the ${this.profile.name} profile`, this.storage.size(region as keyof ReturnType<typeof flashSizes>));
      }
    }
    this.clock = options.clock ?? Date.now;
    this.crypto = options.crypto ?? nodeCryptoProvider;
    const mcu = mcuProfile(options.mcu);
    this.mcu = mcu ? new McuMeter(mcu) : null;
    this.rtc = new SimulatedRtc(this.clock, { ...options.rtc, driftPpm: options.driftPpm ?? options.rtc?.driftPpm ?? 0 }, options.onRtcWrite);
    this.battery = new SimulatedBattery(this.profile.batteryMah, options.batteryUsedMah ?? 0, options.onBatteryChange);
    this.powerCycle();
  }

  get lockId(): Uint8Array {
    return this.options.identity.lockId;
  }

  /** The running firmware (replaced by every power cycle). */
  get firmware(): LockFirmware {
    return this.current;
  }

  /** Called with each newly booted firmware (the GATT service re-attaches to it). */
  onBoot(listener: (fw: LockFirmware) => void): () => void {
    this.bootListeners.add(listener);
    return () => this.bootListeners.delete(listener);
  }

  /** Release the flash (file handles of a lock directory). The device is not usable afterwards. */
  close(): void {
    (this.storage as FlashDevice & { close?: () => void }).close?.();
  }

  /**
   * Cut the power during the next signed message the lock applies, at that apply's `atWrite`-th
   * flash write (0-based); `null` disarms. The lock halts there; `powerCycle()` boots it again
   * from what reached the cells.
   */
  cutPowerDuringNextApply(atWrite: number | null): void {
    if (atWrite !== null && !(Number.isInteger(atWrite) && atWrite >= 0)) throw badArgument('atWrite', 'a whole number >= 0', atWrite);
    this.applyCut = atWrite;
  }

  get armedApplyCut(): number | null {
    return this.applyCut;
  }

  /**
   * How many flash writes applying `message` takes on this lock as it is now, found on a copy
   * of its cells (nothing on the device changes). Throws what the apply would throw.
   */
  countApplyWrites(message: Uint8Array): number {
    const sizes = flashSizes(this.profile);
    const copy = new MemoryFlash(sizes);
    for (const region of Object.keys(sizes) as (keyof typeof sizes)[]) {
      const bytes = this.storage.read(region, 0, sizes[region]);
      // Only the written part: erased cells read 0xFF in a fresh MemoryFlash too.
      let end = bytes.length;
      while (end > 0 && bytes[end - 1] === 0xff) end--;
      if (end > 0) copy.program(region, 0, bytes.subarray(0, end));
    }
    const flash = new PowerCutFlash(copy);
    const fw = LockFirmware.boot(
      this.options.identity,
      {
        flash,
        monotonicMs: this.clock,
        rtc: new SimulatedRtc(this.clock, this.rtc.snapshot()),
        random: (n) => this.crypto.randomBytes(n),
        crypto: this.crypto,
        battery: new SimulatedBattery(this.profile.batteryMah, this.battery.usedMah),
      },
      {
        profile: this.profile,
        logBoot: false,
        ...(this.options.mutant ? { mutant: this.options.mutant } : {}),
        ...(this.options.beforeTransitionClaim ? { beforeTransitionClaim: true } : {}),
        ...(this.options.beforeEntryDigest ? { beforeEntryDigest: true } : {}),
      },
    );
    const before = flash.writes;
    fw.applyMessage(message);
    return flash.writes - before;
  }

  /**
   * Power off and on: RAM state is lost, flash and the RTC (on its backup cell) survive. With
   * `rtcLost`, the RTC's backup cell was flat too: it restarts from 1970 (see `loseRtcPower`).
   */
  powerCycle(options: { rtcLost?: boolean } = {}): LockFirmware {
    if (options.rtcLost) this.rtc.lose();
    // Only the running firmware is metered: dry runs (countApplyWrites) cost the lock nothing.
    this.flash = new PowerCutFlash(this.mcu ? new MeteredFlash(this.storage, this.mcu) : this.storage);
    const crypto = this.mcu ? meteredCrypto(this.crypto, this.mcu) : this.crypto;
    const o = this.options;
    this.current = LockFirmware.boot(
      o.identity,
      {
        flash: this.flash,
        monotonicMs: this.clock,
        rtc: this.rtc,
        random: o.random ?? ((n) => this.crypto.randomBytes(n)),
        crypto,
        battery: this.battery,
        ...(o.bolt ? { bolt: o.bolt } : {}),
        ...(o.indicator ? { indicator: o.indicator } : {}),
        linkUp: () => this.linkUp,
        offAir: <T>(work: () => T): T => (this.mcu ? this.mcu.offAir(work) : work()),
        beforeApply: () => {
          if (this.applyCut === null) return;
          this.flash.cutAt({ atWrite: this.flash.writes + this.applyCut });
          this.applyCut = null;
        },
      },
      {
        profile: this.profile,
        ...(o.firmware !== undefined ? { firmware: o.firmware } : {}),
        ...(o.mutant ? { mutant: o.mutant } : {}),
        ...(o.beforeTransitionClaim ? { beforeTransitionClaim: true } : {}),
        ...(o.beforeEntryDigest ? { beforeEntryDigest: true } : {}),
      },
    );
    for (const l of this.bootListeners) l(this.current);
    return this.current;
  }

  /**
   * A power cycle in which the RTC lost power too (a battery swap with a flat backup cell): the
   * RTC reads 1970 at boot, and the firmware restarts its clock from the floor it persisted
   * (at most 10 minutes behind the time the power went; see LOCK.md "Clock").
   */
  loseRtcPower(): LockFirmware {
    return this.powerCycle({ rtcLost: true });
  }
}
