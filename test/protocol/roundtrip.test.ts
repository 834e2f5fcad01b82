import { describe, expect, it } from 'vitest';
import {
  CredentialSet,
  ProtocolError,
  dailyCode,
  doorcodeKey,
  issueDelta,
  issueFullSet,
  keycardKey,
  localDay,
  openSetMessage,
  peekSetMessage,
  phoneKey,
  checkValidity,
} from '@latchkit/protocol';
import { contentKey, entriesFor, indexKey, issuer, lockId, NOW_S, NOW_MIN, secrets, specsForResident, det } from './fixtures.js';
import { signingKeyFromSeed } from '@latchkit/protocol';

const base = { issuer, lockId, contentKey, secrets, issuedAt: NOW_S };

function lockState(over: Partial<Parameters<typeof openSetMessage>[1]> = {}) {
  return { lockId, anchors: [issuer.publicKey], contentKey, seq: 0, current: null, ...over };
}

describe('full set and delta round trip', () => {
  const residents = [1, 2, 3].flatMap((h) => specsForResident(h, `12345${h}`));

  it('opens a full set and finds each credential kind', () => {
    const issued = issueFullSet({ ...base, seq: 1, entries: entriesFor(residents) });
    const accepted = openSetMessage(issued.bytes, lockState());
    expect(accepted.kind).toBe('full');
    expect(accepted.seq).toBe(1);
    expect(accepted.digest).toEqual(issued.digest);
    const set = accepted.set;
    expect(set.size).toBe(12);
    const h = set.find('doorcode', doorcodeKey(indexKey, '123452'));
    expect(set.holderAt(h).holder).toBe(2);
    expect(set.holderAt(set.find('keycard', keycardKey(indexKey, det('uid-3', 7)))).holder).toBe(3);
    expect(set.holderAt(set.find('phone', phoneKey(indexKey, signingKeyFromSeed(det('phone-1')).publicKey))).holder).toBe(1);
    expect(set.find('doorcode', doorcodeKey(indexKey, '999999'))).toBe(-1);
    expect(set.dailyHolderRows().map((i) => set.holderAt(i).holder)).toEqual([1, 2, 3]);
    const code = dailyCode(secrets.daily, 2, localDay(NOW_MIN, 0));
    expect(code).toMatch(/^\d{6}$/);
    expect(dailyCode(secrets.daily, 2, localDay(NOW_MIN, 0) + 1)).not.toBe(code);
  });

  it('delta applied on top of the base gives the digest of the full set', () => {
    const full1 = issueFullSet({ ...base, seq: 1, entries: entriesFor(residents) });
    const next = [...residents.filter((s) => s.holder !== 2), ...specsForResident(4, '777777', { end: NOW_MIN + 60 })];
    const delta = issueDelta({ ...base, seq: 2, entries: entriesFor(next), base: { seq: 1, body: full1.body } });
    const full2 = issueFullSet({ ...base, seq: 2, entries: entriesFor(next) });
    expect(delta.digest).toEqual(full2.digest);
    const s1 = openSetMessage(full1.bytes, lockState());
    const s2 = openSetMessage(delta.bytes, lockState({ seq: 1, current: s1.set }));
    expect(s2.kind).toBe('delta');
    expect(s2.set.body).toEqual(full2.body);
    expect(delta.bytes.length).toBeLessThan(full2.bytes.length);
    expect(peekSetMessage(delta.bytes)).toMatchObject({ kind: 'delta', seq: 2, base: 1 });
  });

  it('rejects a delta on the wrong base with a typed error that asks for the full set', () => {
    const full1 = issueFullSet({ ...base, seq: 1, entries: entriesFor(residents) });
    const delta = issueDelta({ ...base, seq: 3, entries: entriesFor(residents.slice(4)), base: { seq: 2, body: full1.body } });
    const s1 = openSetMessage(full1.bytes, lockState());
    const err = (() => {
      try {
        openSetMessage(delta.bytes, lockState({ seq: 1, current: s1.set }));
      } catch (e) {
        return e as ProtocolError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err!.code).toBe('DELTA_BASE_MISMATCH');
    expect(err!.needsFullSet).toBe(true);
  });

  it('enforces windows and schedules', () => {
    const v = { start: NOW_MIN, end: NOW_MIN + 10, schedule: null };
    expect(checkValidity(v, NOW_MIN - 1, 0)).toBe('not_yet_valid');
    expect(checkValidity(v, NOW_MIN, 0)).toBe('ok');
    expect(checkValidity(v, NOW_MIN + 9, 0)).toBe('ok');
    expect(checkValidity(v, NOW_MIN + 10, 0)).toBe('expired');
    // 2026-11-23 is a Monday; NOW is 12:00 UTC.
    const weekdays = { start: null, end: null, schedule: { days: 0b0011111, from: 8 * 60, to: 18 * 60 } };
    expect(checkValidity(weekdays, NOW_MIN, 0)).toBe('ok');
    expect(checkValidity(weekdays, NOW_MIN + 5 * 1440, 0)).toBe('outside_schedule'); // Saturday
    expect(checkValidity(weekdays, NOW_MIN, 7 * 60)).toBe('outside_schedule'); // 19:00 local
    expect(CredentialSet.fromEntries([], secrets).size).toBe(0);
  });
});
