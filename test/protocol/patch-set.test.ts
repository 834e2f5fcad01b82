/**
 * patchSet (the compiler's per-change path) against packSet (the definition): replacing some
 * holders' entries in a packed body must give exactly the body packSet gives for the patched
 * entry list, and exactly the delta diffEntries finds, including when packSet refuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry, SetSecrets } from '@latchkit/protocol';
import { CredentialSet, diffEntries, KEY_BYTES, packDelta, packSet, patchSet, u32be } from '@latchkit/protocol';
import { protocolCodeOf, secrets } from './fixtures.js';

// Small pools on purpose: shared windows and schedules, keys that collide across holders, the
// same key coming back with another window.
const schedule = fc.constantFrom(null, { days: 31, from: 480, to: 1080 }, { days: 96, from: 0, to: 1440 }, { days: 1, from: 60, to: 61 });
const validity = fc.record({ start: fc.constantFrom(null, 1000, 2000), end: fc.constantFrom(null, 3000, 2_000_000), schedule });
const kind = fc.constantFrom('doorcode' as const, 'daily' as const, 'keycard' as const, 'phone' as const);
const entry = fc.record({ kind, holder: fc.integer({ min: 1, max: 8 }), raw: fc.integer({ min: 0, max: 40 }), v: validity }).map((r): Entry => ({
  kind: r.kind,
  holder: r.holder,
  key: r.kind === 'daily' ? u32be(r.holder) : Uint8Array.from({ length: KEY_BYTES[r.kind] }, (_, i) => (i === 0 ? r.raw : (r.raw * 7 + i) & 0xff)),
  ...r.v,
}));
/** Unique (kind, key), as a compiler's input always is. */
const uniqueEntries = (max: number) =>
  fc.array(entry, { maxLength: max }).map((es) => {
    const seen = new Set<string>();
    return es.filter((e) => {
      const id = `${e.kind}:${e.key.join(',')}`;
      return !seen.has(id) && seen.add(id);
    });
  });
const otherSecrets: SetSecrets = { daily: new Uint8Array(32).fill(1), cardMaster: new Uint8Array(32).fill(2) };

const codeOf = protocolCodeOf;

describe('patchSet', () => {
  it('equals packSet of the patched entries, with the diffEntries delta', () => {
    fc.assert(
      fc.property(
        uniqueEntries(60),
        fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { maxLength: 4 }),
        uniqueEntries(12),
        fc.boolean(),
        (baseEntries, touched, rep, rotate) => {
          const holders = new Set(touched);
          // The replacement belongs to the touched holders (what the compiler passes).
          const replacement = touched.length === 0 ? [] : rep.map((e, i) => ({ ...e, holder: touched[i % touched.length]!, key: e.kind === 'daily' ? u32be(touched[i % touched.length]!) : e.key }));
          const dedup = new Set<string>();
          const repl = replacement.filter((e) => {
            const id = `${e.kind}:${e.key.join(',')}`;
            return !dedup.has(id) && dedup.add(id);
          });
          const nextSecrets = rotate ? otherSecrets : secrets;
          const base = CredentialSet.fromTrustedBody(packSet(baseEntries, secrets));
          const expectedEntries = [...baseEntries.filter((e) => !holders.has(e.holder)), ...repl];
          const expectedCode = codeOf(() => packSet(expectedEntries, nextSecrets));
          if (expectedCode !== null) {
            expect(codeOf(() => patchSet(base, holders, repl, nextSecrets))).toBe(expectedCode);
            return;
          }
          const got = patchSet(base, holders, repl, nextSecrets);
          expect(Buffer.from(got.body).toString('hex')).toBe(Buffer.from(packSet(expectedEntries, nextSecrets)).toString('hex'));
          expect(packDelta(got.changes)).toEqual(packDelta(diffEntries(base, expectedEntries, nextSecrets)));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('an empty base, and replacing every holder', () => {
    const e: Entry = { kind: 'phone', key: new Uint8Array(8).fill(9), holder: 4, start: null, end: null, schedule: null };
    const empty = CredentialSet.parse(packSet([], secrets));
    expect(patchSet(empty, new Set([4]), [e], secrets).body).toEqual(packSet([e], secrets));
    const one = CredentialSet.parse(packSet([e], secrets));
    const out = patchSet(one, new Set([4]), [], secrets);
    expect(out.body).toEqual(packSet([], secrets));
    expect(out.changes.removed).toHaveLength(1);
  });
});
