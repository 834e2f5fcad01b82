/**
 * Property time zones: an IANA name (`America/New_York`) read with the runtime's own tz database
 * (Node's built-in Intl, full ICU), or a fixed offset written `UTC±hh:mm`.
 *
 * Why two forms: a zone name is what makes daylight saving work (the rules move the offset twice
 * a year), but a property migrated from the old fixed `utc_offset_min` has no zone to guess — an
 * offset of −300 is New York in winter, Chicago in summer, or Bogotá all year. Such a property
 * keeps its offset as `UTC−05:00` until a manager names the zone. (`Etc/GMT+5` says the same,
 * but exists only for whole hours and reads with the sign inverted, so it is accepted as input
 * and never produced.) Everything here is in Unix milliseconds and minutes east of UTC, the
 * unit the protocol's `utcOffset` uses.
 */
import { GatewayError } from './errors.js';

const FIXED_RE = /^UTC([+-])(\d{2}):(\d{2})$/;
/** The protocol's bound on an offset (PROTOCOL.md §7.4) is ±18 h; the model keeps real ones. */
const MIN_OFFSET = -720;
const MAX_OFFSET = 840;
const MS_PER_MINUTE = 60_000;

/** `UTC±hh:mm` for a fixed offset in minutes east of UTC (`UTC` for zero). */
export function fixedZone(offsetMin: number): string {
  if (!Number.isInteger(offsetMin) || offsetMin < MIN_OFFSET || offsetMin > MAX_OFFSET) {
    throw new GatewayError('INVALID_TIME_ZONE', `a fixed UTC offset must be whole minutes in ${MIN_OFFSET}..${MAX_OFFSET}, got ${offsetMin}`);
  }
  if (offsetMin === 0) return 'UTC';
  const a = Math.abs(offsetMin);
  return `UTC${offsetMin < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

function fixedOffsetOf(zone: string): number | null {
  if (zone === 'UTC') return 0;
  const m = FIXED_RE.exec(zone);
  if (!m) return null;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * The canonical form of a time zone a manager typed, or INVALID_TIME_ZONE. IANA names are
 * matched case-insensitively and returned as the runtime spells them; `UTC±hh:mm`
 * must be a real offset in −12:00..+14:00.
 */
export function checkTimeZone(input: unknown): string {
  if (typeof input !== 'string' || input.trim() === '' || input.length > 64) {
    throw new GatewayError('INVALID_TIME_ZONE', `expected an IANA time zone name such as America/New_York, or UTC±hh:mm, got ${JSON.stringify(input)}`);
  }
  const text = input.trim();
  const fixed = FIXED_RE.exec(text);
  if (fixed) {
    const off = fixedOffsetOf(text)!;
    if (Number(fixed[3]) > 59 || off < MIN_OFFSET || off > MAX_OFFSET) {
      throw new GatewayError('INVALID_TIME_ZONE', `${text} is not an offset in UTC-12:00..UTC+14:00`);
    }
    return fixedZone(off);
  }
  // Intl throws a RangeError for a name the tz database lacks; offset strings and other
  // non-names are refused above or here (Node 20's Intl takes no `+05:00`).
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: text }).resolvedOptions().timeZone;
  } catch {
    throw new GatewayError('INVALID_TIME_ZONE', `unknown time zone ${JSON.stringify(text)} (expected an IANA name such as America/New_York, or UTC±hh:mm)`);
  }
  // Keep the name the manager chose, in the database's spelling: ICU would turn
  // `Asia/Kolkata` into its old link `Asia/Calcutta`, which reads as a different choice. A name
  // the runtime does not list (another case, a link such as `US/Eastern`) is stored as Intl
  // resolves it, so one zone is not stored under several spellings.
  return zoneSpelling().get(text.toLowerCase()) ?? resolved;
}

let spellings: Map<string, string> | null = null;

/** lower-case name → the tz database's spelling, for the names the runtime lists and their usual links. */
function zoneSpelling(): Map<string, string> {
  if (!spellings) {
    spellings = new Map(Intl.supportedValuesOf('timeZone').map((z) => [z.toLowerCase(), z]));
    for (const z of ['Asia/Kolkata', 'Europe/Kyiv', 'America/Nuuk', 'Asia/Ho_Chi_Minh', 'Asia/Kathmandu', 'Etc/UTC', 'UTC']) spellings.set(z.toLowerCase(), z);
  }
  return spellings;
}

/** The zone's offset (minutes east of UTC) in force at instant `ms`. */
export function offsetAt(zone: string, ms: number): number {
  const fixed = fixedOffsetOf(zone);
  if (fixed !== null) return fixed;
  const name = formatter(zone)
    .formatToParts(ms)
    .find((p) => p.type === 'timeZoneName')!.value;
  // "GMT" alone at zero, else "GMT+05:30" / "GMT-04:00".
  const m = /^GMT(?:([+-])(\d{2}):(\d{2})(?::\d{2})?)?$/.exec(name);
  if (!m) throw new GatewayError('INTERNAL', `unexpected zone offset ${JSON.stringify(name)} for ${zone}`);
  return m[1] === undefined ? 0 : (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

export interface Transition {
  /** The first instant of the new offset, Unix ms (a whole minute). */
  at: number;
  /** Minutes east of UTC from `at` on. */
  offset: number;
}

const DAY_MS = 86_400_000;
/** How far ahead a transition is looked for: a year and a bit covers every yearly rule. */
const HORIZON_DAYS = 400;

/**
 * The zone's next offset change strictly after `ms`, within about 13 months, or null (a fixed
 * offset, or a zone that keeps its offset all year). Found by stepping a day at a time and then
 * halving to the minute: zones change at most a few times a year and never twice in one day,
 * and every modern transition is on a whole minute.
 */
export function nextTransition(zone: string, ms: number): Transition | null {
  if (fixedOffsetOf(zone) !== null) return null;
  // The sync engine asks every tick for every property: the first change after `from` is still
  // the first after any later instant before it, so one search serves until then (a search
  // that found none, for an hour: the horizon only moves by that much).
  const hit = transitionCache.get(zone);
  if (hit && ms >= hit.from && (hit.next ? ms < hit.next.at : ms < hit.from + 3_600_000)) return hit.next;
  const next = searchTransition(zone, ms);
  transitionCache.set(zone, { from: ms, next });
  return next;
}

const transitionCache = new Map<string, { from: number; next: Transition | null }>();

function searchTransition(zone: string, ms: number): Transition | null {
  const from = offsetAt(zone, ms);
  let lo = ms;
  for (let day = 1; day <= HORIZON_DAYS; day++) {
    const hi = ms + day * DAY_MS;
    if (offsetAt(zone, hi) === from) {
      lo = hi;
      continue;
    }
    // offset(lo) = from, offset(hi) ≠ from: the change is in (lo, hi].
    let a = Math.floor(lo / MS_PER_MINUTE);
    let b = Math.ceil(hi / MS_PER_MINUTE);
    while (b - a > 1) {
      const mid = Math.floor((a + b) / 2);
      if (offsetAt(zone, mid * MS_PER_MINUTE) === from) a = mid;
      else b = mid;
    }
    const at = b * MS_PER_MINUTE;
    return { at, offset: offsetAt(zone, at) };
  }
  return null;
}

/**
 * The instant of a local wall-clock time (given as if it were UTC: `Date.UTC(y, m, d, h, min)`).
 *
 * Twice a year a wall time is ambiguous: in the autumn hour it happens twice, in the spring gap
 * it never happens. `round` picks like the minute rounding of parseTimeToMinute does, so that a
 * manager's input never widens access: a start (`up`) takes the later instant, an expiration
 * (`down`) the earlier. In the gap the two readings are the wall time at the offsets before and
 * after (02:30 in New York on the spring day is 03:30 EDT read one way, 01:30 EST the other).
 */
export function localToInstant(zone: string, wallMs: number, round: 'up' | 'down'): number {
  const fixed = fixedOffsetOf(zone);
  if (fixed !== null) return wallMs - fixed * MS_PER_MINUTE;
  const offsets = new Set([offsetAt(zone, wallMs - DAY_MS), offsetAt(zone, wallMs + DAY_MS), offsetAt(zone, wallMs)]);
  const readings = [...offsets].map((o) => wallMs - o * MS_PER_MINUTE);
  const valid = readings.filter((t) => offsetAt(zone, t) === Math.round((wallMs - t) / MS_PER_MINUTE));
  const pick = valid.length > 0 ? valid : readings;
  return round === 'up' ? Math.max(...pick) : Math.min(...pick);
}

/** The local calendar date (YYYY-MM-DD) in the zone at instant `ms`. */
export function localDateOf(zone: string, ms: number): string {
  return new Date(ms + offsetAt(zone, ms) * MS_PER_MINUTE).toISOString().slice(0, 10);
}
