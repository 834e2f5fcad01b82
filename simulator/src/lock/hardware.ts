/**
 * Simulated hardware around the firmware: the real-time clock, the battery, a keycard.
 *
 * The RTC is a battery-backed counter that runs at its own rate: `driftPpm` of +20 gains 20
 * microseconds per second (1.7 s a day), the order of a cheap 32 kHz crystal. Its state is the
 * pair (lock time, host time) at the last write, so a host that persists that pair (the node
 * adapter does) gets a clock that kept running while the simulator was stopped.
 */
import type { CryptoProvider } from '@latchkit/protocol';
import { cardResponse, diversifyCardKey, getCryptoProvider } from '@latchkit/protocol';
import { badArgument } from '../errors.js';

/** Milliseconds from some fixed origin; the only notion of host time the lock sees. */
export type HostClock = () => number;

/** A test clock that only moves when told to. */
export class ManualClock {
  constructor(public ms = 0) {}
  readonly now: HostClock = () => this.ms;
  advance(ms: number): void {
    if (!(ms >= 0)) throw badArgument('ManualClock.advance', 'a non-negative number of ms', ms);
    this.ms += ms;
  }
}

export interface RtcState {
  /** Lock time at the anchor, Unix milliseconds. */
  lockMs: number;
  /** Host time at the anchor, ms. */
  hostMs: number;
  driftPpm: number;
}

export interface RtcPort {
  /** Lock time, Unix seconds (fractional). */
  read(): number;
  /** Set the lock time (the firmware only ever moves it forward). */
  write(unixSeconds: number): void;
}

export class SimulatedRtc implements RtcPort {
  private state: RtcState;

  constructor(
    private readonly host: HostClock,
    init: Partial<RtcState> = {},
    private readonly onWrite?: (s: RtcState) => void,
  ) {
    const driftPpm = init.driftPpm ?? 0;
    if (!Number.isFinite(driftPpm) || Math.abs(driftPpm) > 10_000) throw badArgument('RTC driftPpm', 'a number in -10000..10000', driftPpm);
    // A never-set RTC starts at 0 (1970), as a real one does after losing power.
    this.state = { lockMs: init.lockMs ?? 0, hostMs: init.hostMs ?? host(), driftPpm };
  }

  read(): number {
    const { lockMs, hostMs, driftPpm } = this.state;
    return (lockMs + (this.host() - hostMs) * (1 + driftPpm / 1e6)) / 1000;
  }

  write(unixSeconds: number): void {
    this.state = { lockMs: unixSeconds * 1000, hostMs: this.host(), driftPpm: this.state.driftPpm };
    this.onWrite?.(this.snapshot());
  }

  snapshot(): RtcState {
    return { ...this.state };
  }

  /**
   * The RTC lost power (main battery out and its backup cell flat): it restarts from 0 (1970), as
   * a real counter does. The drift is a property of the crystal and stays.
   */
  lose(): void {
    this.state = { lockMs: 0, hostMs: this.host(), driftPpm: this.state.driftPpm };
    this.onWrite?.(this.snapshot());
  }
}

export interface BatteryPort {
  percent(): number;
  /** Draw charge for an action. */
  drain(mAh: number): void;
}

export class SimulatedBattery implements BatteryPort {
  constructor(
    readonly capacityMah: number,
    public usedMah = 0,
    private readonly onChange?: (usedMah: number) => void,
  ) {
    if (!(capacityMah > 0)) throw badArgument('battery capacity', 'a positive number of mAh', capacityMah);
  }

  percent(): number {
    return Math.max(0, Math.min(100, Math.round(100 * (1 - this.usedMah / this.capacityMah))));
  }

  drain(mAh: number): void {
    this.usedMah = Math.min(this.capacityMah, this.usedMah + mAh);
    this.onChange?.(this.usedMah);
  }

  /** Put in batteries at a given charge (tests, the interactive CLI). */
  setPercent(p: number): void {
    if (!(p >= 0 && p <= 100)) throw badArgument('battery percent', 'a number in 0..100', p);
    this.usedMah = this.capacityMah * (1 - p / 100);
    this.onChange?.(this.usedMah);
  }
}

/** What the lock's card reader talks to: a UID and a challenge-response. */
export interface CardTransponder {
  readonly uid: Uint8Array;
  respond(lockId: Uint8Array, challenge: Uint8Array): Uint8Array;
}

/**
 * A keycard as the backend issues it: the UID plus the key diversified from the property's
 * card master. A clone that copied only the UID holds some other key and fails the challenge.
 */
export class SimulatedCard implements CardTransponder {
  constructor(
    readonly uid: Uint8Array,
    private readonly key: Uint8Array,
    private readonly provider: CryptoProvider = getCryptoProvider(),
  ) {
    if (!(uid instanceof Uint8Array) || uid.length < 4 || uid.length > 10) throw badArgument('card uid', 'Uint8Array of 4..10 bytes', uid);
    if (!(key instanceof Uint8Array) || key.length !== 16) throw badArgument('card key', 'Uint8Array of 16 bytes', key);
  }

  /** A genuine card: its key diversified from the card master (backend side of issuing). */
  static issue(cardMaster: Uint8Array, uid: Uint8Array, provider: CryptoProvider = getCryptoProvider()): SimulatedCard {
    return new SimulatedCard(uid, diversifyCardKey(cardMaster, uid, provider), provider);
  }

  respond(lockId: Uint8Array, challenge: Uint8Array): Uint8Array {
    return cardResponse(this.key, lockId, challenge, this.provider);
  }
}
