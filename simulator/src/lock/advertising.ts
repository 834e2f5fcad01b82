/**
 * How a lock advertises: slowly while nobody is near (battery), fast for a while after a wake
 * trigger (a keypad touch, a proximity or motion sensor), so an arriving phone finds and
 * connects to it within a few tens of milliseconds without the lock paying for 20 ms
 * advertising all day.
 *
 * The average current is modelled from per-interval figures of a Nordic nRF52832 advertising
 * (simulator/LOCK.md "Advertising" gives them and their source): only intervals with a figure
 * can be used, so the reported µA is never interpolated from a guess.
 */
import { badArgument } from '../errors.js';

export interface AdvertisingPolicy {
  /** Interval while idle (ms). */
  idleIntervalMs: number;
  /** Interval during a burst (ms). */
  burstIntervalMs: number;
  /** How long a burst lasts after a wake trigger (ms). */
  burstMs: number;
}

/**
 * Default: 1 s idle, 20 ms for 30 s after a trigger. 20 ms for at least 30 s is what Apple's
 * accessory guidelines ask of an accessory that wants to be found quickly; 1 s is the slowest
 * interval with a current figure.
 */
export const DEFAULT_ADVERTISING_POLICY: Readonly<AdvertisingPolicy> = Object.freeze({ idleIntervalMs: 1000, burstIntervalMs: 20, burstMs: 30_000 });

/**
 * A door on mains power (the `lobby` profile's reader) has no battery to save: it advertises at
 * 20 ms all the time, so a gateway (which cannot press a keypad) reconnects within tens of ms.
 */
export const MAINS_ADVERTISING_POLICY: Readonly<AdvertisingPolicy> = Object.freeze({ idleIntervalMs: 20, burstIntervalMs: 20, burstMs: 0 });

/** Average current of a connectable advertiser at an interval, nRF52832 (µA). */
export const ADVERTISING_CURRENT_UA: Readonly<Record<number, number>> = Object.freeze({ 20: 600, 100: 50, 1000: 10 });

function currentAt(intervalMs: number): number {
  const ua = ADVERTISING_CURRENT_UA[intervalMs];
  if (ua === undefined) throw badArgument('advertising interval', `one with a current figure (${Object.keys(ADVERTISING_CURRENT_UA).join(', ')} ms)`, intervalMs);
  return ua;
}

/**
 * Average advertising current over a day (µA) for `triggersPerDay` wake triggers, each starting
 * a full burst (overlapping bursts are not merged, so busy doors are slightly overstated).
 */
export function advertisingAverageCurrentUa(policy: AdvertisingPolicy, triggersPerDay: number): number {
  if (!(triggersPerDay >= 0 && Number.isFinite(triggersPerDay))) throw badArgument('triggersPerDay', 'a finite number >= 0', triggersPerDay);
  const day = 86_400_000;
  const burst = Math.min(day, triggersPerDay * policy.burstMs);
  return (currentAt(policy.burstIntervalMs) * burst + currentAt(policy.idleIntervalMs) * (day - burst)) / day;
}
