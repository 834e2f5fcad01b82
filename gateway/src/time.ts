import { GatewayError } from './errors.js';
import { localToInstant } from './time-zone.js';

/** Milliseconds since the Unix epoch. Injected everywhere so tests can move time. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

export const MS_PER_MINUTE = 60_000;

/** Unix minute containing the instant `ms` (the protocol's unit for validity windows). */
export function minuteOf(ms: number): number {
  return Math.floor(ms / MS_PER_MINUTE);
}

export function minuteToIso(minute: number | null): string | null {
  return minute === null ? null : new Date(minute * MS_PER_MINUTE).toISOString();
}

export function msToIso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Parses a time given by a manager into a Unix minute.
 *
 * Accepts `YYYY-MM-DD` (local midnight in the property's time zone, so "expires 2025-08-31" means
 * the start of that day where the doors are), a local `YYYY-MM-DDTHH:MM[:SS]`, or any of those with
 * `Z`/`±HH:MM`. A local time is read with the zone's rules for that date (9:00 in July is 9:00
 * daylight time). Locks work in whole minutes; `round` says which way a time with seconds goes:
 * starts round up and expirations round down, so rounding never widens access, and the same
 * rule picks between the two readings of a local time that daylight saving makes ambiguous.
 */
export function parseTimeToMinute(text: string, timeZone: string, round: 'up' | 'down'): number {
  const m = TIME_RE.exec(text.trim());
  if (!m) {
    throw new GatewayError('INVALID_TIME', `expected an ISO 8601 date or date-time, got ${JSON.stringify(text)}`);
  }
  const [, y, mo, d, hh, mm, ss, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = hh === undefined ? 0 : Number(hh);
  const minute = mm === undefined ? 0 : Number(mm);
  const second = ss === undefined ? 0 : Number(ss);
  const millis = frac === undefined ? 0 : Number(`0.${frac}`) * 1000;
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(wall);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new GatewayError('INVALID_TIME', `no such date or time: ${JSON.stringify(text)}`);
  }
  let instant: number;
  if (zone === undefined) instant = localToInstant(timeZone, wall, round);
  else if (zone === 'Z') instant = wall;
  else {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    if (oh > 14 || om > 59) throw new GatewayError('INVALID_TIME', `bad UTC offset in ${JSON.stringify(text)}`);
    instant = wall - sign * (oh * 60 + om) * MS_PER_MINUTE;
  }
  const ms = instant + millis;
  return round === 'up' ? Math.ceil(ms / MS_PER_MINUTE) : Math.floor(ms / MS_PER_MINUTE);
}
