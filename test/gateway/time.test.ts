import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTimeToMinute } from '../../gateway/src/time.js';
import { codeOf } from './helpers.js';

const min = (iso: string) => Date.parse(iso) / 60_000;

describe('parseTimeToMinute', () => {
  it('reads a bare date as local midnight at the property offset', () => {
    expect(parseTimeToMinute('2025-08-31', -300, 'down')).toBe(min('2025-08-31T05:00:00Z'));
    expect(parseTimeToMinute('2025-08-31', 120, 'up')).toBe(min('2025-08-30T22:00:00Z'));
  });

  it('reads a local date-time at the property offset and a zoned one as given', () => {
    expect(parseTimeToMinute('2025-08-31T09:30', -300, 'down')).toBe(min('2025-08-31T14:30:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:00Z', -300, 'down')).toBe(min('2025-08-31T09:30:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:00+02:00', -300, 'down')).toBe(min('2025-08-31T07:30:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:00.000-0430', 0, 'down')).toBe(min('2025-08-31T14:00:00Z'));
  });

  it('never widens access: starts round up, expirations round down', () => {
    expect(parseTimeToMinute('2025-08-31T09:30:01Z', 0, 'up')).toBe(min('2025-08-31T09:31:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:59.9Z', 0, 'down')).toBe(min('2025-08-31T09:30:00Z'));
    expect(parseTimeToMinute('2025-08-31T09:30:00Z', 0, 'up')).toBe(min('2025-08-31T09:30:00Z'));
  });

  it('rejects non-dates and impossible dates with INVALID_TIME', () => {
    for (const bad of ['tomorrow', '2025-02-30', '2025-13-01', '2025-01-01T24:00', '2025-01-01T10:60', '31/08/2025', '2025-01-01T10:00+15:00', '']) {
      expect(codeOf(() => parseTimeToMinute(bad, 0, 'up')), bad).toBe('INVALID_TIME');
    }
  });

  it('round-trips any instant written as ISO with Z (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: -720, max: 840 }), (ms, offset) => {
        const iso = new Date(ms).toISOString();
        const down = parseTimeToMinute(iso, offset, 'down');
        const up = parseTimeToMinute(iso, offset, 'up');
        expect(down).toBe(Math.floor(ms / 60_000));
        expect(up).toBe(Math.ceil(ms / 60_000));
        expect(down * 60_000 <= ms && ms <= up * 60_000).toBe(true);
      }),
    );
  });
});
