import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTimeToMinute } from '../../gateway/src/time.js';
import { checkTimeZone, fixedZone, localDateOf, localToInstant, nextTransition, offsetAt } from '../../gateway/src/time-zone.js';
import { codeOf } from './helpers.js';

const min = (iso: string) => Date.parse(iso) / 60_000;

describe('parseTimeToMinute', () => {
  it('reads a bare date as local midnight in the property zone', () => {
    expect(parseTimeToMinute('2025-08-31', 'UTC-05:00', 'down')).toBe(min('2025-08-31T05:00:00Z'));
    expect(parseTimeToMinute('2025-08-31', 'UTC+02:00', 'up')).toBe(min('2025-08-30T22:00:00Z'));
  });

  it('reads a local date-time in the property zone and a zoned one as given', () => {
    expect(parseTimeToMinute('2025-08-31T09:30', 'UTC-05:00', 'down')).toBe(min('2025-08-31T14:30:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:00Z', 'UTC-05:00', 'down')).toBe(min('2025-08-31T09:30:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:00+02:00', 'UTC-05:00', 'down')).toBe(min('2025-08-31T07:30:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:00.000-0430', 'UTC', 'down')).toBe(min('2025-08-31T14:00:00Z'));
  });

  it('never widens access: starts round up, expirations round down', () => {
    expect(parseTimeToMinute('2025-08-31T09:30:01Z', 'UTC', 'up')).toBe(min('2025-08-31T09:31:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:59.9Z', 'UTC', 'down')).toBe(min('2025-08-31T09:30:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:00Z', 'UTC', 'up')).toBe(min('2025-08-31T09:30:00Z'));
  });

  it('rejects non-dates and impossible dates with INVALID_TIME', () => {
    for (const bad of ['tomorrow', '2025-02-30', '2025-13-01', '2025-01-01T24:00', '2025-01-01T10:60', '31/08/2025', '2025-01-01T10:00+15:00', '']) {
      expect(codeOf(() => parseTimeToMinute(bad, 'UTC', 'up')), bad).toBe('INVALID_TIME');
    }
  });

  it('round-trips any instant written as ISO with Z (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: -720, max: 840 }), (ms, offset) => {
        const iso = new Date(ms).toISOString();
        const down = parseTimeToMinute(iso, fixedZone(offset), 'down');
        const up = parseTimeToMinute(iso, fixedZone(offset), 'up');
        expect(down).toBe(Math.floor(ms / 60_000));
        expect(up).toBe(Math.ceil(ms / 60_000));
        expect(down * 60_000 <= ms && ms <= up * 60_000).toBe(true);
      }),
    );
  });

  it('reads local times with the zone rules of their date (New York: EST in winter, EDT in summer)', () => {
    expect(parseTimeToMinute('2027-01-15T09:00', 'America/New_York', 'up')).toBe(min('2027-01-15T14:00:00Z'));
    expect(parseTimeToMinute('2027-07-15T09:00', 'America/New_York', 'up')).toBe(min('2027-07-15T13:00:00Z'));
    expect(parseTimeToMinute('2027-03-14', 'America/New_York', 'up')).toBe(min('2027-03-14T05:00:00Z'));
    expect(parseTimeToMinute('2027-03-15', 'America/New_York', 'up')).toBe(min('2027-03-15T04:00:00Z'));
  });

  it('never widens access across a daylight-saving change: the spring gap and the autumn repeat', () => {
    // 02:30 does not exist on 2027-03-14 in New York; 01:30 happens twice on 2027-11-07.
    expect(parseTimeToMinute('2027-03-14T02:30', 'America/New_York', 'up')).toBe(min('2027-03-14T07:30:00Z'));
    expect(parseTimeToMinute('2027-03-14T02:30', 'America/New_York', 'down')).toBe(min('2027-03-14T06:30:00Z'));
    expect(parseTimeToMinute('2027-11-07T01:30', 'America/New_York', 'up')).toBe(min('2027-11-07T06:30:00Z'));
    expect(parseTimeToMinute('2027-11-07T01:30', 'America/New_York', 'down')).toBe(min('2027-11-07T05:30:00Z'));
  });
});

describe('time zones', () => {
  it('names: IANA names in the database spelling, fixed offsets as UTC±hh:mm', () => {
    expect(checkTimeZone('america/new_york')).toBe('America/New_York');
    expect(checkTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(checkTimeZone('Etc/GMT+5')).toBe('Etc/GMT+5');
    expect(checkTimeZone('UTC+05:30')).toBe('UTC+05:30');
    expect(checkTimeZone('UTC+00:00')).toBe('UTC');
    // A name the runtime does not list (a link, in any case) is stored as Intl resolves it, not as typed.
    const eastern = new Intl.DateTimeFormat('en-US', { timeZone: 'US/Eastern' }).resolvedOptions().timeZone;
    expect(checkTimeZone('us/eastern')).toBe(eastern);
    expect(checkTimeZone('US/EASTERN')).toBe(eastern);
    expect(fixedZone(-300)).toBe('UTC-05:00');
    expect(fixedZone(345)).toBe('UTC+05:45');
  });

  it('refuses unknown names and impossible offsets with INVALID_TIME_ZONE', () => {
    for (const bad of ['Mars/Olympus_Mons', 'America/New York', '+05:00', 'EST5EDT6', 'UTC+15:00', 'UTC-13:00', 'UTC+05:60', '', '   ', 42, null, 'x'.repeat(65)]) {
      expect(codeOf(() => checkTimeZone(bad)), String(bad)).toBe('INVALID_TIME_ZONE');
    }
    expect(codeOf(() => fixedZone(900))).toBe('INVALID_TIME_ZONE');
  });

  it('offsets and transitions of New York in 2027; none for a fixed offset or a zone without daylight saving', () => {
    expect(offsetAt('America/New_York', Date.parse('2027-01-01T00:00:00Z'))).toBe(-300);
    expect(offsetAt('America/New_York', Date.parse('2027-07-01T00:00:00Z'))).toBe(-240);
    expect(nextTransition('America/New_York', Date.parse('2027-01-01T00:00:00Z'))).toEqual({ at: Date.parse('2027-03-14T07:00:00Z'), offset: -240 });
    expect(nextTransition('America/New_York', Date.parse('2027-03-14T07:00:00Z'))).toEqual({ at: Date.parse('2027-11-07T06:00:00Z'), offset: -300 });
    // Lord Howe moves by half an hour.
    expect(nextTransition('Australia/Lord_Howe', Date.parse('2027-01-01T00:00:00Z'))).toEqual({ at: Date.parse('2027-04-03T15:00:00Z'), offset: 630 });
    expect(nextTransition('UTC-05:00', Date.parse('2027-01-01T00:00:00Z'))).toBeNull();
    expect(nextTransition('Asia/Kolkata', Date.parse('2027-01-01T00:00:00Z'))).toBeNull();
  });

  it('a local wall time read back in its zone is itself, on every day of a DST year (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 364 * 24 * 60 - 1 }), (minuteOfYear) => {
        const t = Date.parse('2027-01-01T05:00:00Z') + minuteOfYear * 60_000;
        const wall = t + offsetAt('America/New_York', t) * 60_000;
        const back = localToInstant('America/New_York', wall, 'up');
        // An autumn-repeat minute reads back as its later twin; every other minute as itself.
        expect(back === t || back === t + 3_600_000).toBe(true);
        expect(localDateOf('America/New_York', back)).toBe(new Date(wall).toISOString().slice(0, 10));
      }),
    );
  });
});
