/**
 * Safety net for patchSet's per-kind row merge (writeMergedRows): a fuzz of patchSet against
 * its definition, packSet of the patched entry list.
 *
 * For `base = packSet(E, s)`, holders H and replacement R (entries of holders in H):
 *  - patchSet(base, H, R, s') throws exactly when packSet([...E without H's entries, ...R], s')
 *    throws, with the same ProtocolError code (DUPLICATE_CREDENTIAL, CAPACITY_EXCEEDED,
 *    INVALID_ARGUMENT);
 *  - otherwise the bodies are byte-identical, and the changes patchSet returns, sent the way a
 *    lock receives them (packDelta -> parseDelta -> applyChanges, as openSetMessage does),
 *    turn the base into that same body; they also pack to the same delta as diffEntries.
 *
 * The generators keep the key space small (a few hundred keys per kind, some sharing long
 * prefixes, all-zero and all-ones keys) and the validities pooled per run, so replacement
 * keys land on, next to and between kept rows, collide with kept entries of other holders and
 * with each other, and holders own several holder rows (one per window). Deterministic cases
 * cover a 20,000-credential base (the long copy runs) and the capacity limits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry, ProtocolErrorCode, SetSecrets, Validity, WeeklySchedule } from '@latchkit/protocol';
import { applyChanges, CredentialSet, diffEntries, KEY_BYTES, packDelta, packSet, parseDelta, patchSet, u32be } from '@latchkit/protocol';
import { prng } from '../../bench/lobby.js';
import { det, protocolCodeOf, secrets as fixtureSecrets } from './fixtures.js';

type Kind = Entry['kind'];
const KINDS: readonly Kind[] = ['doorcode', 'daily', 'keycard', 'phone'];
const U32_MAX = 0xffffffff;
const KEY_SPACE = 300;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Keys per kind, indexed 0..KEY_SPACE-1: all-zero, all-ones, shared prefixes, and hashes. */
const KEY_TABLE: Record<Exclude<Kind, 'daily'>, Uint8Array[]> = (() => {
  const table = {} as Record<Exclude<Kind, 'daily'>, Uint8Array[]>;
  for (const kind of ['doorcode', 'keycard', 'phone'] as const) {
    const width = KEY_BYTES[kind];
    table[kind] = Array.from({ length: KEY_SPACE }, (_, i) => {
      if (i === 0) return new Uint8Array(width);
      if (i === 1) return new Uint8Array(width).fill(0xff);
      const k = det(`patch-fuzz/${kind}/${i}`, width);
      // A third of the keys differ only in their last byte or two: long equal prefixes.
      if (i % 3 === 0) {
        k.fill(0x42, 0, width - 2);
        k[width - 2] = i >> 8;
        k[width - 1] = i & 0xff;
      }
      return k;
    });
  }
  return table;
})();

function keyOf(kind: Kind, idx: number, holder: number): Uint8Array {
  return kind === 'daily' ? u32be(holder) : KEY_TABLE[kind][idx % KEY_SPACE]!.slice();
}

const idOf = (e: Pick<Entry, 'kind' | 'key'>): string => `${e.kind}:${Buffer.from(e.key).toString('hex')}`;

/** Unique (kind, key), first one wins: what a compiler's input always is. */
function uniqueByKey(es: readonly Entry[]): Entry[] {
  const seen = new Set<string>();
  return es.filter((e) => {
    const id = idOf(e);
    return !seen.has(id) && seen.add(id);
  });
}

const codeOf = protocolCodeOf;

/** Byte equality with a readable failure (first differing offset) instead of a 200 kB diff. */
function expectSameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  if (Buffer.from(got).equals(Buffer.from(want))) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  const near = (b: Uint8Array) => Buffer.from(b.subarray(Math.max(0, i - 8), i + 8)).toString('hex');
  expect.fail(`${what}: lengths ${got.length} vs ${want.length}, first difference at byte ${i}: got …${near(got)}… want …${near(want)}…`);
}

const sameSecrets = (a: SetSecrets | null, b: SetSecrets | null): boolean =>
  a === null || b === null ? a === b : Buffer.from(a.daily).equals(Buffer.from(b.daily)) && Buffer.from(a.cardMaster).equals(Buffer.from(b.cardMaster));

/**
 * The whole contract for one input. Returns the error code both sides threw, or null.
 * `base` must be packSet(baseEntries, baseSecrets).
 */
function checkPatch(baseEntries: readonly Entry[], baseSecrets: SetSecrets | null, holders: ReadonlySet<number>, replacement: readonly Entry[], nextSecrets: SetSecrets | null): ProtocolErrorCode | null {
  const baseBody = packSet(baseEntries, baseSecrets);
  const base = CredentialSet.fromTrustedBody(baseBody);
  const combined = [...baseEntries.filter((e) => !holders.has(e.holder)), ...replacement];
  const wantCode = codeOf(() => packSet(combined, nextSecrets));
  let got: ReturnType<typeof patchSet> | undefined;
  const gotCode = codeOf(() => (got = patchSet(base, holders, replacement, nextSecrets)));
  expect(gotCode, 'patchSet error code vs packSet of the combined entries').toBe(wantCode);
  if (wantCode !== null) return wantCode;
  const want = packSet(combined, nextSecrets);
  expectSameBytes(got!.body, want, 'patchSet body vs packSet');
  // Canonical form (the lock parses with full validation).
  CredentialSet.parse(got!.body);
  // A DeltaChanges cannot say "drop the secrets" (null means "keep the base's"), so going from
  // a set with secrets to one without is not expressible as a delta; the compiler never does.
  if (baseSecrets !== null && nextSecrets === null) return null;
  // The changes, directly and through the wire path a lock uses (openSetMessage).
  expectSameBytes(applyChanges(base, got!.changes), want, 'applyChanges(base, changes)');
  const wire = packDelta(got!.changes);
  expectSameBytes(applyChanges(base, parseDelta(wire)), want, 'applyChanges(base, parseDelta(packDelta(changes)))');
  // The same delta a full diff finds: only the replaced holders' rows can differ.
  expectSameBytes(wire, packDelta(diffEntries(base, combined, nextSecrets)), 'packDelta(changes) vs packDelta(diffEntries)');
  return null;
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

const scheduleArb: fc.Arbitrary<WeeklySchedule | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constantFrom<WeeklySchedule>({ days: 31, from: 480, to: 1080 }, { days: 127, from: 0, to: 1440 }, { days: 1, from: 1439, to: 1440 }, { days: 96, from: 0, to: 1 }) },
  {
    weight: 1,
    arbitrary: fc
      .record({ days: fc.integer({ min: 1, max: 127 }), from: fc.integer({ min: 0, max: 1439 }), len: fc.integer({ min: 1, max: 1440 }) })
      .map(({ days, from, len }) => ({ days, from, to: Math.min(1440, from + len) })),
  },
);
const minuteArb = fc.oneof(fc.constantFrom(1, 1000, 2000, 3000, 2_000_000, U32_MAX - 1), fc.integer({ min: 1, max: U32_MAX - 1 }));
const validityArb: fc.Arbitrary<Validity> = fc
  .record({ start: fc.option(minuteArb, { nil: null, freq: 3 }), end: fc.option(minuteArb, { nil: null, freq: 3 }), schedule: scheduleArb })
  .map((v) => {
    if (v.start === null || v.end === null || v.start < v.end) return v;
    if (v.start > v.end) return { ...v, start: v.end, end: v.start };
    return { ...v, end: null };
  });
/** Mostly one of the run's pooled validities (shared windows), sometimes a fresh one. */
const validityRefArb = fc.oneof({ weight: 5, arbitrary: fc.nat().map((pool) => ({ pool })) }, { weight: 1, arbitrary: validityArb.map((fresh) => ({ fresh })) });
type ValidityRef = { pool: number } | { fresh: Validity };
const holderRefArb = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 60 }) }, { weight: 1, arbitrary: fc.constantFrom(0xffff, 0x10000, U32_MAX - 1, U32_MAX) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: U32_MAX }) });
const kindArb = fc.constantFrom<Kind>(...KINDS);
const baseSpecArb = fc.record({ kind: kindArb, keyIdx: fc.nat({ max: KEY_SPACE - 1 }), holderPick: fc.nat(), v: validityRefArb });

/** What happens to each base entry of a replaced holder. */
const actionArb = fc.record({
  op: fc.constantFrom('keep', 'keep', 'keep', 'drop', 'rewindow', 'rekey', 'reholder'),
  n: fc.nat(),
  v: validityRefArb,
});
/** Extra replacement entries, keyed to collide on purpose some of the time. */
const extraArb = fc.record({
  kind: kindArb,
  holderPick: fc.nat(),
  v: validityRefArb,
  key: fc.oneof(
    { weight: 10, arbitrary: fc.record({ src: fc.constant('fresh' as const), n: fc.nat({ max: KEY_SPACE - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ src: fc.constant('kept' as const), n: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ src: fc.constant('dropped' as const), n: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ src: fc.constant('replacement' as const), n: fc.nat() }) },
  ),
});
const secretsArb: fc.Arbitrary<SetSecrets> = fc.record({ daily: fc.uint8Array({ minLength: 32, maxLength: 32 }), cardMaster: fc.uint8Array({ minLength: 32, maxLength: 32 }) });

const scenarioArb = fc.record({
  holders: fc.uniqueArray(holderRefArb, { minLength: 1, maxLength: 30, size: 'medium' }),
  pool: fc.array(validityArb, { minLength: 1, maxLength: 6 }),
  base: fc.array(baseSpecArb, { maxLength: 120, size: 'medium' }),
  hMode: fc.constantFrom('none', 'all', 'some', 'some', 'some', 'one'),
  hPick: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
  /** Holders that may not be in the base at all. */
  hExtra: fc.uniqueArray(holderRefArb, { maxLength: 3 }),
  actions: fc.array(actionArb, { maxLength: 40 }),
  extras: fc.array(extraArb, { maxLength: 15, size: 'small' }),
  /** Half the runs aim extra keys at existing ones; the others mostly succeed. */
  hostile: fc.boolean(),
  /** Now and then one malformed replacement entry: both sides must say INVALID_ARGUMENT. */
  invalid: fc.oneof({ weight: 30, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('startAfterEnd', 'startZero', 'endOpen', 'badSchedule', 'dailyKey', 'shortKey') }),
  shuffle: fc.nat(),
  baseSecrets: fc.option(secretsArb, { nil: null, freq: 5 }),
  nextSecrets: fc.constantFrom('same', 'copy', 'other', 'fixture', 'null'),
  other: secretsArb,
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario) {
  const validity = (r: ValidityRef): Validity => ('pool' in r ? s.pool[r.pool % s.pool.length]! : r.fresh);
  const mk = (kind: Kind, key: Uint8Array, holder: number, v: Validity): Entry => ({ kind, key, holder, start: v.start, end: v.end, schedule: v.schedule });
  const baseEntries = uniqueByKey(
    s.base.map((b) => {
      const holder = s.holders[b.holderPick % s.holders.length]!;
      return mk(b.kind, keyOf(b.kind, b.keyIdx, holder), holder, validity(b.v));
    }),
  );

  const H = new Set<number>(s.hExtra);
  if (s.hMode === 'all') s.holders.forEach((h) => H.add(h));
  else if (s.hMode === 'some') s.holders.forEach((h, i) => s.hPick[i] && H.add(h));
  else if (s.hMode === 'one') H.add(s.holders[s.hPick.indexOf(true) >= 0 ? s.hPick.indexOf(true) % s.holders.length : 0]!);
  const hList = [...H];

  const kept = baseEntries.filter((e) => !H.has(e.holder));
  const dropped = baseEntries.filter((e) => H.has(e.holder));
  const replacement: Entry[] = [];
  let untouched = true; // the replacement is exactly the replaced holders' base entries
  if (hList.length > 0) {
    dropped.forEach((e, i) => {
      const a = s.actions.length > 0 ? s.actions[i % s.actions.length]! : { op: 'keep', n: 0, v: { pool: 0 } };
      if (a.op !== 'keep') untouched = false;
      switch (a.op) {
        case 'keep':
          replacement.push({ ...e, key: e.key.slice() });
          break;
        case 'drop':
          break;
        case 'rewindow':
          replacement.push({ ...e, ...validity(a.v) });
          break;
        case 'rekey':
          replacement.push({ ...e, key: keyOf(e.kind, a.n, e.holder) });
          break;
        case 'reholder': {
          const holder = hList[a.n % hList.length]!;
          replacement.push({ ...e, holder, key: e.kind === 'daily' ? u32be(holder) : e.key });
          break;
        }
      }
    });
    for (const x of s.extras) {
      untouched = false;
      const holder = hList[x.holderPick % hList.length]!;
      let kind = x.kind;
      let key: Uint8Array;
      if (!s.hostile && kind === 'daily' && replacement.some((e) => e.kind === 'daily' && e.holder === holder)) continue;
      const from = !s.hostile ? [] : x.key.src === 'kept' ? kept : x.key.src === 'dropped' ? dropped : x.key.src === 'replacement' ? replacement : [];
      if (x.key.src !== 'fresh' && from.length > 0) {
        const victim = from[x.key.n % from.length]!;
        kind = victim.kind;
        key = kind === 'daily' ? u32be(holder) : victim.key.slice();
      } else {
        key = keyOf(kind, x.key.n % KEY_SPACE, holder);
      }
      replacement.push(mk(kind, key, holder, validity(x.v)));
    }
    if (s.invalid !== null) {
      untouched = false;
      const holder = hList[0]!;
      const ok: Entry = mk('keycard', keyOf('keycard', 11, holder), holder, { start: null, end: null, schedule: null });
      const bad: Record<string, Entry> = {
        startAfterEnd: { ...ok, start: 5000, end: 5000 },
        startZero: { ...ok, start: 0 },
        endOpen: { ...ok, end: U32_MAX },
        badSchedule: { ...ok, schedule: { days: 0, from: 0, to: 10 } },
        dailyKey: { ...ok, kind: 'daily', key: u32be((holder + 1) >>> 0) },
        shortKey: { ...ok, key: ok.key.subarray(1) },
      };
      replacement.push(bad[s.invalid]!);
    }
    // Input order must not matter: rotate the replacement.
    const k = replacement.length > 0 ? s.shuffle % replacement.length : 0;
    replacement.push(...replacement.splice(0, k));
  }

  const nextSecrets =
    s.nextSecrets === 'same' ? s.baseSecrets
    : s.nextSecrets === 'copy' ? (s.baseSecrets && { daily: s.baseSecrets.daily.slice(), cardMaster: s.baseSecrets.cardMaster.slice() })
    : s.nextSecrets === 'other' ? s.other
    : s.nextSecrets === 'fixture' ? fixtureSecrets
    : null;
  return { baseEntries, H, replacement, nextSecrets, untouched: untouched && dropped.length === replacement.length };
}

const FUZZ = { seed: 42, numRuns: 1000 } as const;

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('patchSet fuzz (writeMergedRows safety net)', () => {
  it('equals packSet of the patched entries, throws what packSet throws, and its changes apply to the base', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { baseEntries, H, replacement, nextSecrets, untouched } = build(s);
        const code = checkPatch(baseEntries, s.baseSecrets, H, replacement, nextSecrets);
        seen.set(code ?? 'ok', (seen.get(code ?? 'ok') ?? 0) + 1);
        if (code === null && untouched && sameSecrets(s.baseSecrets, nextSecrets)) {
          // Re-adding exactly the same entries is a no-op: same body, empty delta.
          const base = CredentialSet.fromTrustedBody(packSet(baseEntries, s.baseSecrets));
          const got = patchSet(base, H, replacement, nextSecrets);
          expectSameBytes(got.body, base.body, 'identity patch');
          expect(got.changes.removed).toEqual([]);
          expect(got.changes.upserts).toEqual([]);
          expect(got.changes.secrets).toBeNull();
        }
      }),
      FUZZ,
    );
    // The generator must actually reach both the success path and the duplicate paths.
    expect(seen.get('ok') ?? 0).toBeGreaterThan(FUZZ.numRuns / 3);
    expect(seen.get('DUPLICATE_CREDENTIAL') ?? 0).toBeGreaterThan(FUZZ.numRuns / 5);
    expect(seen.get('INVALID_ARGUMENT') ?? 0).toBeGreaterThan(0);
  });

  it('dense key space: one kind, a few dozen keys, many holders', () => {
    // Every replacement key is near or on a base key: stresses insertAt and the run splitting.
    const dense = fc.record({
      kind: fc.constantFrom<Kind>('doorcode', 'keycard', 'phone'),
      base: fc.array(fc.record({ k: fc.nat({ max: 40 }), h: fc.nat({ max: 29 }), v: fc.nat({ max: 2 }) }), { maxLength: 80 }),
      H: fc.uniqueArray(fc.nat({ max: 31 }), { maxLength: 31 }),
      rep: fc.array(fc.record({ k: fc.nat({ max: 40 }), h: fc.nat(), v: fc.nat({ max: 2 }) }), { maxLength: 20 }),
    });
    const windows: Validity[] = [
      { start: null, end: null, schedule: null },
      { start: 1000, end: 5000, schedule: null },
      { start: null, end: 5000, schedule: { days: 31, from: 480, to: 1080 } },
    ];
    fc.assert(
      fc.property(dense, ({ kind, base, H, rep }) => {
        const baseEntries = uniqueByKey(base.map((b) => ({ kind, key: keyOf(kind, b.k * 3, 0), holder: b.h, ...windows[b.v]! })));
        const replacement = H.length === 0 ? [] : rep.map((r) => ({ kind, key: keyOf(kind, r.k * 3, 0), holder: H[r.h % H.length]!, ...windows[r.v]! }));
        checkPatch(baseEntries, fixtureSecrets, new Set(H), replacement, fixtureSecrets);
      }),
      { seed: 7, numRuns: 400 },
    );
  });

  it('near the schedule limit (255): CAPACITY_EXCEEDED exactly when packSet says so', () => {
    // Base: up to 255 distinct schedules; the patch drops some holders' and adds new ones.
    const sched = (i: number): WeeklySchedule => ({ days: 1 + (i % 127), from: Math.floor(i / 127), to: 1440 });
    const near = fc.record({
      baseCount: fc.integer({ min: 245, max: 255 }),
      H: fc.uniqueArray(fc.nat({ max: 300 }), { maxLength: 12 }),
      rep: fc.array(fc.record({ s: fc.nat({ max: 253 + 30 }), h: fc.nat() }), { maxLength: 12 }),
    });
    fc.assert(
      fc.property(near, ({ baseCount, H, rep }) => {
        const baseEntries: Entry[] = Array.from({ length: baseCount }, (_, i) => ({ kind: 'phone' as const, key: keyOf('phone', i, 0), holder: i, start: null, end: null, schedule: sched(i) }));
        const replacement: Entry[] = H.length === 0 ? [] : rep.map((r, j) => {
          const holder = H[r.h % H.length]!;
          return { kind: 'keycard' as const, key: keyOf('keycard', j, 0), holder, start: null, end: null, schedule: sched(r.s) };
        });
        checkPatch(baseEntries, fixtureSecrets, new Set(H), replacement, fixtureSecrets);
      }),
      { seed: 255, numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Deterministic: a big base (long copy runs) and the capacity limits
// ---------------------------------------------------------------------------------------------


function randomKey(rand: () => number, width: number): Uint8Array {
  return Uint8Array.from({ length: width }, () => Math.floor(rand() * 256));
}

describe('patchSet on a 20,000-credential base', () => {
  const rand = prng(20_000);
  const windows: Validity[] = Array.from({ length: 40 }, (_, i) => ({
    start: i % 4 === 0 ? null : 1_000 + i * 100,
    end: i % 5 === 0 ? null : 10_000_000 + i,
    schedule: i % 3 === 0 ? { days: 1 + (i % 127), from: i, to: 1000 + i } : null,
  }));
  /** Holder i (reference 10 + 3i) has a phone, a doorcode, a keycard and a daily code. */
  const HOLDERS = 5_000;
  const ref = (i: number) => 10 + 3 * i;
  const residentEntries = (holder: number, v: Validity): Entry[] =>
    (['phone', 'doorcode', 'keycard', 'daily'] as const).map((kind) => ({ kind, holder, key: kind === 'daily' ? u32be(holder) : randomKey(rand, KEY_BYTES[kind]), ...v }));
  const baseEntries = uniqueByKey(Array.from({ length: HOLDERS }, (_, i) => residentEntries(ref(i), windows[i % windows.length]!)).flat());
  const entriesOf = (holder: number) => baseEntries.filter((e) => e.holder === holder);

  it('has 20,000 entries', () => expect(baseEntries.length).toBe(20_000));

  it('remove one holder in the middle, add one new', () => {
    const gone = ref(2_500);
    const added = ref(HOLDERS) + 1;
    expect(checkPatch(baseEntries, fixtureSecrets, new Set([gone, added]), residentEntries(added, windows[7]!), fixtureSecrets)).toBeNull();
  });

  it('remove the first and the last holder, add holders 0 and u32 max', () => {
    const H = new Set([ref(0), ref(HOLDERS - 1), 0, U32_MAX]);
    const rep = [...residentEntries(0, windows[0]!), ...residentEntries(U32_MAX, windows[1]!)];
    expect(checkPatch(baseEntries, fixtureSecrets, H, rep, fixtureSecrets)).toBeNull();
  });

  it('replace 200 scattered holders: re-added, re-windowed, re-keyed, dropped', () => {
    const H = new Set<number>();
    const rep: Entry[] = [];
    for (let j = 0; j < 200; j++) {
      const h = ref((j * 997) % HOLDERS);
      H.add(h);
      const mine = entriesOf(h);
      if (j % 4 === 0) rep.push(...mine);
      else if (j % 4 === 1) rep.push(...mine.map((e) => ({ ...e, ...windows[(j * 13) % windows.length]! })));
      else if (j % 4 === 2) rep.push(...residentEntries(h, windows[j % windows.length]!));
    }
    expect(checkPatch(baseEntries, null, H, rep, fixtureSecrets)).toBeNull();
  });

  it('re-adding exactly the same entries gives the base back with an empty delta', () => {
    const h = ref(1234);
    const base = CredentialSet.fromTrustedBody(packSet(baseEntries, fixtureSecrets));
    const got = patchSet(base, new Set([h]), entriesOf(h), fixtureSecrets);
    expectSameBytes(got.body, base.body, 'identity patch');
    expect(got.changes).toEqual({ removed: [], upserts: [], secrets: null });
  });

  it('a replacement key equal to a kept holder\'s key is DUPLICATE_CREDENTIAL; the replaced holder\'s own keys are not', () => {
    const h = ref(42);
    for (const kind of ['doorcode', 'keycard', 'phone'] as const) {
      const victim = entriesOf(ref(43)).find((e) => e.kind === kind)!;
      expect(checkPatch(baseEntries, fixtureSecrets, new Set([h]), [{ ...victim, holder: h }], fixtureSecrets)).toBe('DUPLICATE_CREDENTIAL');
      // Moving a key between two replaced holders is fine.
      expect(checkPatch(baseEntries, fixtureSecrets, new Set([h, ref(43)]), [{ ...victim, holder: h }], fixtureSecrets)).toBeNull();
    }
  });
});

describe('patchSet at the capacity limits', () => {
  const open: Validity = { start: null, end: null, schedule: null };
  const keyN = (kind: Exclude<Kind, 'daily'>, n: number): Uint8Array => {
    const k = new Uint8Array(KEY_BYTES[kind]);
    new DataView(k.buffer).setUint32(k.length - 4, n);
    return k;
  };

  it('65,535 credentials of one kind: one more is CAPACITY_EXCEEDED, a swap is fine', () => {
    const base: Entry[] = Array.from({ length: 0xffff }, (_, i) => ({ kind: 'phone' as const, key: keyN('phone', i * 2), holder: i % 50, ...open }));
    expect(checkPatch(base, fixtureSecrets, new Set([999]), [{ kind: 'phone', key: keyN('phone', 1), holder: 999, ...open }], fixtureSecrets)).toBe('CAPACITY_EXCEEDED');
    const mine = base.filter((e) => e.holder === 7);
    const swap = mine.map((e, j) => ({ ...e, key: keyN('phone', j * 2 + 1) }));
    expect(checkPatch(base, fixtureSecrets, new Set([7]), swap, fixtureSecrets)).toBeNull();
    expect(checkPatch(base, fixtureSecrets, new Set([7]), [...swap, { kind: 'phone', key: keyN('phone', 0xfffffff), holder: 7, ...open }], fixtureSecrets)).toBe('CAPACITY_EXCEEDED');
  });

  it('65,535 holder rows: a new holder is CAPACITY_EXCEEDED, a holder changing window is fine', () => {
    const base: Entry[] = Array.from({ length: 0xffff }, (_, i) => ({ kind: 'keycard' as const, key: keyN('keycard', i), holder: i, ...open }));
    expect(checkPatch(base, fixtureSecrets, new Set([0x10000]), [{ kind: 'keycard', key: keyN('keycard', 0x10000), holder: 0x10000, ...open }], fixtureSecrets)).toBe('CAPACITY_EXCEEDED');
    expect(checkPatch(base, fixtureSecrets, new Set([5]), [{ kind: 'keycard', key: keyN('keycard', 5), holder: 5, start: 100, end: 200, schedule: null }], fixtureSecrets)).toBeNull();
    // One holder with two windows is two holder rows.
    expect(checkPatch(base, fixtureSecrets, new Set([5]), [{ kind: 'keycard', key: keyN('keycard', 5), holder: 5, ...open }, { kind: 'doorcode', key: keyN('doorcode', 5), holder: 5, start: 100, end: 200, schedule: null }], fixtureSecrets)).toBe('CAPACITY_EXCEEDED');
  });

  it('65,535 windows: a new window is CAPACITY_EXCEEDED', () => {
    const base: Entry[] = Array.from({ length: 0xffff }, (_, i) => ({ kind: 'doorcode' as const, key: keyN('doorcode', i), holder: i, start: i + 1, end: null, schedule: null }));
    expect(checkPatch(base, fixtureSecrets, new Set([0]), [{ kind: 'doorcode', key: keyN('doorcode', 0), holder: 0, start: 0x100000, end: null, schedule: null }], fixtureSecrets)).toBeNull();
    expect(checkPatch(base, fixtureSecrets, new Set([0x10000]), [{ kind: 'doorcode', key: keyN('doorcode', 0x10000), holder: 0x10000, start: 0x100000, end: null, schedule: null }], fixtureSecrets)).toBe('CAPACITY_EXCEEDED');
  });
});

/**
 * Found by this fuzz: when a patch was wrong in two ways at once (a duplicate key and one kind
 * over 65,535 rows), patchSet reported a different code than packSet. packSet checks, kind by
 * kind in KIND_ORDER, the row count and then duplicates; patchSet now does the same.
 */
describe('patchSet error precedence (duplicate and capacity in one patch)', () => {
  const open: Validity = { start: null, end: null, schedule: null };
  const keyN = (width: number, n: number): Uint8Array => {
    const k = new Uint8Array(width);
    new DataView(k.buffer).setUint32(width - 4, n);
    return k;
  };

  it('65,534 phones + two replacement phones with one key: CAPACITY_EXCEEDED from both', () => {
    const base: Entry[] = Array.from({ length: 0xfffe }, (_, i) => ({ kind: 'phone' as const, key: keyN(8, i), holder: i % 50, ...open }));
    const dup: Entry = { kind: 'phone', key: keyN(8, 0x100000), holder: 999, ...open };
    expect(checkPatch(base, fixtureSecrets, new Set([999]), [dup, { ...dup }], fixtureSecrets)).toBe('CAPACITY_EXCEEDED');
  });

  it('65,535 keycards + a replacement doorcode equal to a kept one + one keycard: DUPLICATE_CREDENTIAL from both', () => {
    const kept: Entry = { kind: 'doorcode', key: keyN(5, 7), holder: 3, ...open };
    const base: Entry[] = [...Array.from({ length: 0xffff }, (_, i) => ({ kind: 'keycard' as const, key: keyN(6, i), holder: i % 50, ...open })), kept];
    expect(checkPatch(base, fixtureSecrets, new Set([999]), [{ ...kept, holder: 999 }, { kind: 'keycard', key: keyN(6, 0x100000), holder: 999, ...open }], fixtureSecrets)).toBe('DUPLICATE_CREDENTIAL');
  });
});
