/**
 * Fuzz of every decoder a lock (or a gateway reading a lock) runs on bytes from the air: signed
 * messages, control-point payloads, CBOR and COSE envelopes, set and delta bodies, segmentation
 * and the bulk channel. Inputs are valid encodings put through 1 to 4 mutations (none for one
 * input in 20, which must then be accepted): byte flips, truncation, extension, deletion,
 * insertion, overwrites, CBOR head bytes, big-endian integers with edge values, splices of two
 * valid messages, or bytes replaced outright.
 *
 * Two rules hold for every input:
 *  - no crash: a decoder returns or throws a ProtocolError (no TypeError, RangeError, hang);
 *  - nothing accepted that should not be: a signed message opens only when it is byte for byte
 *    one the issuer signed (and then it does open); every other decoder that accepts its input
 *    re-encodes the result to exactly those bytes (one encoding per value, so nothing
 *    non-canonical gets through); a reassembled or bulk-transferred message is the one sent.
 *
 * Each of the four properties runs LATCHKIT_FUZZ_RUNS inputs (default 400, a CI-sized run);
 * LATCHKIT_FUZZ_SEED replays a run; LATCHKIT_FUZZ_DEADLINE_S caps the file's wall time (what is
 * left when a property starts is its budget; the summary printed after a long run says if one
 * stopped early). The long run in the README:
 *   LATCHKIT_FUZZ_RUNS=1000000 npx vitest run test/protocol/decoder-fuzz.test.ts
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { CredentialSpec, ControlResponse, Entry, LockInfo, UnknownOpcodeResponse } from '@latchkit/protocol';
import {
  applyChanges,
  BulkReceiver,
  bulkChunks,
  concatBytes,
  CredentialSet,
  DenyReason,
  decodeBulkBegin,
  decodeBulkProgress,
  decodeCbor,
  decodeEvent,
  decodeEvents,
  decodeEventsRead,
  decodeLockInfo,
  decodeRequest,
  decodeResponse,
  decodeUnlockChallenge,
  decodeUnlockPhone,
  decodeUnlockResult,
  deriveIndexKey,
  diffEntries,
  encodeBulkBegin,
  encodeBulkProgress,
  encodeCbor,
  encodeEvent,
  encodeEvents,
  encodeEventsRead,
  encodeLockInfo,
  encodeRequest,
  encodeResponse,
  encodeUnknownOpcodeResponse,
  encodeUnlockChallenge,
  encodeUnlockPhone,
  encodeUnlockResult,
  entriesFromSpecs,
  equalBytes,
  EventType,
  issueAnchorRotation,
  issueCommission,
  issueDelta,
  issueFullSet,
  issueReceipt,
  issueTimeSync,
  MAX_CONTROL_MESSAGE_BYTES,
  Opcode,
  openAnchorRotation,
  openCommission,
  openReceipt,
  openSetMessage,
  openTimeSync,
  packDelta,
  packSet,
  parseDelta,
  parseSign1,
  peekSetMessage,
  ProtocolError,
  Reassembler,
  segment,
  transferId,
} from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { contentKey, det, device, issuer, issuer2, lockId, NOW_S, secrets, specsForResident } from './fixtures.js';

// ---------------------------------------------------------------------------------------------
// Run size
// ---------------------------------------------------------------------------------------------

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

const RUNS = envInt('LATCHKIT_FUZZ_RUNS', 400);
const SEED = process.env['LATCHKIT_FUZZ_SEED'] ? envInt('LATCHKIT_FUZZ_SEED', 0) : undefined;
/** Optional wall-clock budget for the whole file: a property still running then stops there. */
const DEADLINE_S = process.env['LATCHKIT_FUZZ_DEADLINE_S'] ? envInt('LATCHKIT_FUZZ_DEADLINE_S', 0) : undefined;
const STARTED = performance.now();
const LONG = RUNS > 10_000;
/** fast-check parameters, computed when a property starts (the deadline leaves less each time). */
function params(): fc.Parameters<unknown> {
  const left = DEADLINE_S === undefined ? undefined : Math.max(1, DEADLINE_S * 1000 - (performance.now() - STARTED));
  return { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), ...(left !== undefined ? { interruptAfterTimeLimit: left, markInterruptAsFailure: false } : {}) };
}
/** Generous: ~50 µs to 0.7 ms an input here, 2 ms allowed. */
const TIMEOUT_MS = 60_000 + RUNS * 2;

const crypto = nodeCryptoProvider;

/** Inputs each property decoded, and how many a decoder accepted; printed after a long run. */
const tally = new Map<string, { inputs: number; accepted: number; ms: number }>();
function count(property: string, accepted: boolean): void {
  const t = tally.get(property) ?? { inputs: 0, accepted: 0, ms: 0 };
  t.inputs++;
  if (accepted) t.accepted++;
  tally.set(property, t);
}
/**
 * Runs one property, timed. Nearly every input ends in a thrown ProtocolError, and capturing a
 * deep stack for each is most of a rejection's cost: stacks are kept short meanwhile (a failure
 * still names the property, the counterexample and the seed).
 */
async function timed(property: string, run: () => void | Promise<void>): Promise<void> {
  const t0 = performance.now();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 3;
  try {
    await run();
  } finally {
    Error.stackTraceLimit = limit;
    const t = tally.get(property) ?? { inputs: 0, accepted: 0, ms: 0 };
    t.ms += performance.now() - t0;
    tally.set(property, t);
  }
}
afterAll(() => {
  if (!LONG && !process.env['LATCHKIT_FUZZ_REPORT']) return;
  const rows = [...tally].map(
    ([p, t]) => `  ${p}: ${t.inputs.toLocaleString('en-US')} inputs, ${t.accepted.toLocaleString('en-US')} accepted, ${(t.ms / 1000).toFixed(1)} s${t.inputs < RUNS ? ' (stopped at the time budget)' : ''}`,
  );
  const total = [...tally.values()].reduce((n, t) => n + t.inputs, 0);
  console.log(`decoder fuzz (LATCHKIT_FUZZ_RUNS=${RUNS}${SEED !== undefined ? `, seed ${SEED}` : ''}): ${total.toLocaleString('en-US')} inputs\n${rows.join('\n')}`);
});

/** 'ok' with the value, or the ProtocolError code; anything else (a crash) is rethrown. */
function attempt<T>(f: () => T): { ok: true; value: T } | { ok: false; code: string } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof ProtocolError) return { ok: false, code: e.code };
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

type Mutation =
  | { op: 'flip'; at: number; x: number }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'overwrite'; at: number; bytes: Uint8Array }
  | { op: 'byte'; at: number; byte: number }
  | { op: 'u32'; at: number; value: number }
  | { op: 'splice'; at: number; other: number; from: number }
  | { op: 'replace'; bytes: Uint8Array };

/** CBOR heads of every major type and length form, and bytes at the edges of the ranges. */
const INTERESTING_BYTES = [
  0x00, 0x01, 0x02, 0x07, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x37, 0x38, 0x3b, 0x40, 0x41, 0x48, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5f, 0x60, 0x78, 0x7f, 0x80, 0x81, 0x84, 0x97, 0x98, 0x9f, 0xa0,
  0xa1, 0xa3, 0xb7, 0xb8, 0xbf, 0xc0, 0xc1, 0xd2, 0xd8, 0xd9, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfe, 0xff, 0x7e,
];
const INTERESTING_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const smallBytes = fc.uint8Array({ minLength: 1, maxLength: 16 });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), x: fc.integer({ min: 1, max: 255 }) }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('extend' as const), bytes: smallBytes }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 40 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: smallBytes }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('overwrite' as const), at: fc.nat(), bytes: smallBytes }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('byte' as const), at: fc.nat(), byte: fc.constantFrom(...INTERESTING_BYTES) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING_U32), fc.nat()) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('splice' as const), at: fc.nat(), other: fc.nat(), from: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('replace' as const), bytes: fc.uint8Array({ maxLength: 300 }) }), weight: 1 },
);
/** 1 to 4 mutations; one input in 20 has none (a positive control: the valid input itself). */
const mutationsArb: fc.Arbitrary<Mutation[]> = fc.oneof(
  { arbitrary: fc.constant<Mutation[]>([]), weight: 1 },
  { arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 4 }), weight: 19 },
);

function mutate(input: Uint8Array, mutations: readonly Mutation[], pool: readonly Uint8Array[]): Uint8Array {
  let b = input;
  for (const m of mutations) {
    const at = (n: number): number => n % (b.length + 1);
    switch (m.op) {
      case 'flip': {
        if (b.length === 0) break;
        b = b.slice();
        b[m.at % b.length]! ^= m.x;
        break;
      }
      case 'truncate':
        b = b.slice(0, b.length === 0 ? 0 : m.at % b.length);
        break;
      case 'extend':
        b = concatBytes(b, m.bytes);
        break;
      case 'delete': {
        const i = at(m.at);
        b = concatBytes(b.subarray(0, i), b.subarray(i + m.n));
        break;
      }
      case 'insert': {
        const i = at(m.at);
        b = concatBytes(b.subarray(0, i), m.bytes, b.subarray(i));
        break;
      }
      case 'overwrite': {
        const i = at(m.at);
        b = concatBytes(b.subarray(0, i), m.bytes, b.subarray(Math.min(b.length, i + m.bytes.length)));
        break;
      }
      case 'byte': {
        if (b.length === 0) break;
        b = b.slice();
        b[m.at % b.length] = m.byte;
        break;
      }
      case 'u32': {
        const i = at(m.at);
        const v = Uint8Array.of(m.value >>> 24, (m.value >>> 16) & 0xff, (m.value >>> 8) & 0xff, m.value & 0xff);
        b = concatBytes(b.subarray(0, i), v, b.subarray(Math.min(b.length, i + 4)));
        break;
      }
      case 'splice': {
        const other = pool[m.other % pool.length]!;
        b = concatBytes(b.subarray(0, at(m.at)), other.subarray(m.from % (other.length + 1)));
        break;
      }
      case 'replace':
        b = m.bytes;
        break;
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Valid inputs
// ---------------------------------------------------------------------------------------------

const indexKey = deriveIndexKey(contentKey, lockId);
const entriesOf = (specs: CredentialSpec[]): Entry[] => entriesFromSpecs(specs, indexKey, crypto);
const HOUR_MIN = 60;
const NOW_MIN = NOW_S / 60;
const specs1 = [...specsForResident(1, '111111'), ...specsForResident(2, '222222')];
const specs2: CredentialSpec[] = [
  ...specsForResident(1, '111111', { start: NOW_MIN - 24 * HOUR_MIN, end: NOW_MIN + 30 * 24 * HOUR_MIN }),
  ...specsForResident(3, '333333', { end: NOW_MIN + 7 * 24 * HOUR_MIN }),
  { holder: 4, kind: 'doorcode', code: '444444', start: null, end: null, schedule: { days: 0b0011111, from: 8 * 60, to: 18 * 60 } },
  { holder: 5, kind: 'daily', start: NOW_MIN, end: null, schedule: { days: 0b1100000, from: 0, to: 1440 } },
];
const entries1 = entriesOf(specs1);
const entries2 = entriesOf(specs2);
const set1 = CredentialSet.fromEntries(entries1, secrets);
const common = { issuer, lockId, contentKey, secrets, issuedAt: NOW_S, provider: crypto };
const full1 = issueFullSet({ ...common, seq: 1, entries: entries1 });
const full2 = issueFullSet({ ...common, seq: 2, entries: entries2 });
const delta2 = issueDelta({ ...common, seq: 2, entries: entries2, base: { seq: 1, body: full1.body } });
const rotatedSecrets = { daily: det('daily-2'), cardMaster: det('card-2') };

const commission1 = issueCommission({ ...common, anchors: [issuer.publicKey, issuer2.publicKey], lockEncryptionPublic: device.encryptionPublic, utcOffset: -300, generation: 1 });
const commission3 = issueCommission({ ...common, anchors: [issuer.publicKey], lockEncryptionPublic: device.encryptionPublic, utcOffset: 60, generation: 3 });

/**
 * Each opener with exactly the messages it must accept (its lock's state is fixed). A
 * factory-fresh lock takes any commissioning for it; a commissioned one only a newer generation.
 */
const OPENERS: { name: string; accepts: Uint8Array[]; open: (b: Uint8Array) => unknown }[] = [
  {
    name: 'openSetMessage',
    accepts: [full2.bytes, delta2.bytes],
    open: (b) => openSetMessage(b, { lockId, anchors: [issuer.publicKey], contentKey, seq: 1, current: set1, provider: crypto }),
  },
  {
    name: 'openCommission (factory-fresh lock)',
    accepts: [commission1, commission3],
    open: (b) => openCommission(b, { lockId, device, anchors: null, generation: 0, provider: crypto }),
  },
  {
    name: 'openCommission (re-commissioning)',
    accepts: [commission3],
    open: (b) => openCommission(b, { lockId, device, anchors: [issuer.publicKey], generation: 2, provider: crypto }),
  },
  {
    name: 'openAnchorRotation',
    accepts: [issueAnchorRotation({ ...common, anchors: [issuer.publicKey, issuer2.publicKey], seq: 4 })],
    open: (b) => openAnchorRotation(b, { lockId, anchors: [issuer.publicKey], rotationSeq: 3, provider: crypto }),
  },
  {
    name: 'openTimeSync',
    accepts: [issueTimeSync({ ...common, utcOffset: 120 })],
    open: (b) => openTimeSync(b, { lockId, anchors: [issuer.publicKey], provider: crypto }),
  },
  {
    name: 'openReceipt',
    accepts: [issueReceipt(device.signing, { lockId, seq: 2, digest: full2.digest, time: NOW_S, eventIndex: 9, eventHash: det('head', 12) }, crypto)],
    open: (b) => openReceipt(b, { lockId, devicePublicKey: device.signing.publicKey, provider: crypto }),
  },
];
const SIGNED = [...new Set(OPENERS.flatMap((o) => o.accepts))];

const setBodies = [
  full1.body,
  full2.body,
  packSet(entries2, null),
  packSet([], secrets),
  packSet(entriesOf([...specs2, ...specsForResident(6, '666666')]), rotatedSecrets),
];
const deltaBodies = [
  packDelta(diffEntries(set1, entries2, secrets)),
  packDelta(diffEntries(set1, entries2, rotatedSecrets)),
  packDelta(diffEntries(set1, [], secrets)),
  packDelta(diffEntries(set1, entries1, secrets)),
];
const BASES = [set1, CredentialSet.parse(full2.body)];

// ---------------------------------------------------------------------------------------------
// Wire codecs: a valid value's encoding, the decoder, and the encoder that must give it back
// ---------------------------------------------------------------------------------------------

interface Codec {
  name: string;
  valid: fc.Arbitrary<Uint8Array>;
  decode(b: Uint8Array): unknown;
  encode(v: unknown): Uint8Array;
}

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.oneof(fc.constantFrom(...INTERESTING_U32), fc.nat());
const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const opcodeName = fc.constantFrom(...(Object.keys(Opcode) as (keyof typeof Opcode)[]));
const eventArb = fc.record({
  index: u32,
  time: u32,
  type: fc.constantFrom(...(Object.keys(EventType) as (keyof typeof EventType)[])),
  kind: fc.integer({ min: 0, max: 4 }),
  reason: fc.constantFrom(...(Object.keys(DenyReason) as (keyof typeof DenyReason)[])),
  holder: u32,
  detail: u32,
  chain: bytesN(12),
});
const lockInfoArb: fc.Arbitrary<LockInfo> = fc.record({
  lockId: bytesN(8),
  seq: u32,
  digest: bytesN(32),
  clock: u32,
  batteryPercent: fc.integer({ min: 0, max: 100 }),
  commissioned: fc.boolean(),
  lockedOut: fc.boolean(),
  nextEventIndex: u32,
  deviceSigningPublic: bytesN(32),
  deviceEncryptionPublic: bytesN(32),
  firmware: fc.stringMatching(/^[ -~]{0,32}$/),
});
/** CBOR from this profile's own messages: envelopes, protected headers, claims. */
const CBOR_SEEDS = SIGNED.flatMap((m) => {
  const p = parseSign1(m, 1 << 20);
  return [m, p.protectedBytes, p.payload];
});

function encodeAnyResponse(r: ControlResponse | UnknownOpcodeResponse): Uint8Array {
  return r.opcode === 'unknown' ? concatBytes(Uint8Array.of(r.opcodeByte | 0x80, r.token, r.status), r.payload) : encodeResponse(r);
}

const CODECS: Codec[] = [
  {
    name: 'control request',
    valid: fc.record({ opcode: opcodeName, token: u8, payload: fc.uint8Array({ maxLength: 64 }) }).map(encodeRequest),
    decode: decodeRequest,
    encode: (v) => encodeRequest(v as Parameters<typeof encodeRequest>[0]),
  },
  {
    name: 'control response',
    valid: fc.oneof(
      fc.record({ opcode: opcodeName, token: u8, status: u8, payload: fc.uint8Array({ maxLength: 64 }) }).map(encodeResponse),
      fc.tuple(fc.integer({ min: 0x20, max: 0x7f }), u8).map(([op, token]) => encodeUnknownOpcodeResponse(op, token)),
    ),
    decode: decodeResponse,
    encode: (v) => encodeAnyResponse(v as ControlResponse | UnknownOpcodeResponse),
  },
  { name: 'lock info', valid: lockInfoArb.map(encodeLockInfo), decode: decodeLockInfo, encode: (v) => encodeLockInfo(v as LockInfo) },
  {
    name: 'unlock challenge',
    valid: fc.record({ nonce: bytesN(16), lockTime: u32 }).map(encodeUnlockChallenge),
    decode: decodeUnlockChallenge,
    encode: (v) => encodeUnlockChallenge(v as Parameters<typeof encodeUnlockChallenge>[0]),
  },
  {
    name: 'unlock phone',
    valid: fc.record({ publicKey: bytesN(32), signature: bytesN(64) }).map(encodeUnlockPhone),
    decode: decodeUnlockPhone,
    encode: (v) => encodeUnlockPhone(v as Parameters<typeof encodeUnlockPhone>[0]),
  },
  {
    name: 'unlock result',
    valid: fc.record({ result: u8, holder: u32, eventIndex: u32 }).map(encodeUnlockResult),
    decode: decodeUnlockResult,
    encode: (v) => encodeUnlockResult(v as Parameters<typeof encodeUnlockResult>[0]),
  },
  {
    name: 'events read',
    valid: fc.record({ from: u32, max: u16 }).map(encodeEventsRead),
    decode: decodeEventsRead,
    encode: (v) => encodeEventsRead(v as Parameters<typeof encodeEventsRead>[0]),
  },
  {
    name: 'bulk begin',
    valid: fc.record({ id: bytesN(16), total: u32 }).map(encodeBulkBegin),
    decode: decodeBulkBegin,
    encode: (v) => encodeBulkBegin(v as Parameters<typeof encodeBulkBegin>[0]),
  },
  {
    name: 'bulk progress',
    valid: fc.record({ id: bytesN(16), received: u32 }).map(encodeBulkProgress),
    decode: decodeBulkProgress,
    encode: (v) => encodeBulkProgress(v as Parameters<typeof encodeBulkProgress>[0]),
  },
  { name: 'event record', valid: eventArb.map(encodeEvent), decode: decodeEvent, encode: (v) => encodeEvent(v as Parameters<typeof encodeEvent>[0]) },
  {
    name: 'event batch',
    valid: fc.array(eventArb, { maxLength: 6 }).map(encodeEvents),
    decode: decodeEvents,
    encode: (v) => encodeEvents(v as Parameters<typeof encodeEvents>[0]),
  },
  { name: 'CBOR', valid: fc.constantFrom(...CBOR_SEEDS), decode: (b) => decodeCbor(b, 'fuzz input', 1 << 20), encode: (v) => encodeCbor(v) },
];

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('decoder fuzz', () => {
  it(
    'control-point payloads, event records and CBOR: an accepted input re-encodes to the same bytes',
    () =>
      timed('wire codecs', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 0, max: CODECS.length - 1 }).chain((i) => fc.tuple(fc.constant(CODECS[i]!), CODECS[i]!.valid, mutationsArb)),
            ([codec, valid, mutations]) => {
              const bytes = mutate(valid, mutations, [valid, ...CBOR_SEEDS.slice(0, 3)]);
              const r = attempt(() => codec.decode(bytes));
              if (mutations.length === 0 && !r.ok) expect.fail(`${codec.name}: a valid encoding was refused (${r.code})`);
              if (r.ok) {
                const again = codec.encode(r.value);
                if (!equalBytes(again, bytes)) expect.fail(`${codec.name} accepted non-canonical bytes ${Buffer.from(bytes).toString('hex')} (re-encodes to ${Buffer.from(again).toString('hex')})`);
              }
              count('wire codecs', r.ok);
            },
          ),
          params(),
        );
      }),
    TIMEOUT_MS,
  );

  it(
    'set and delta bodies: an accepted body is the one canonical packing of its entries; a delta applies to a parseable set or is refused',
    () =>
      timed('set and delta bodies', () => {
        const POOL = [...setBodies, ...deltaBodies];
        fc.assert(
          fc.property(fc.boolean(), fc.nat(), mutationsArb, fc.nat(BASES.length - 1), (isDelta, pick, mutations, base) => {
            const seeds = isDelta ? deltaBodies : setBodies;
            const bytes = mutate(seeds[pick % seeds.length]!, mutations, POOL);
            let accepted: boolean;
            if (!isDelta) {
              const r = attempt(() => CredentialSet.parse(bytes));
              if (r.ok) {
                const again = packSet([...r.value.entries()], r.value.secrets);
                if (!equalBytes(again, bytes)) expect.fail(`set body accepted in a non-canonical form: ${Buffer.from(bytes).toString('hex')}`);
              }
              accepted = r.ok;
            } else {
              const r = attempt(() => parseDelta(bytes));
              if (r.ok) {
                const again = packDelta(r.value);
                if (!equalBytes(again, bytes)) expect.fail(`delta body accepted in a non-canonical form: ${Buffer.from(bytes).toString('hex')}`);
                // What the lock does next (openSetMessage): apply to its set, parse the result.
                const applied = attempt(() => CredentialSet.parse(applyChanges(BASES[base]!, r.value)));
                if (applied.ok) expect(applied.value.secrets === null).toBe(false);
              }
              accepted = r.ok;
            }
            if (mutations.length === 0 && !accepted) expect.fail('a valid body was refused');
            count('set and delta bodies', accepted);
          }),
          params(),
        );
      }),
    TIMEOUT_MS,
  );

  it(
    'segmentation and the bulk channel: what comes out is what was sent, whatever the air does to the pieces',
    () =>
      timed('framing', () => {
        const pieceMutation = fc.oneof(
          fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
          fc.record({ op: fc.constant('dup' as const), at: fc.nat() }),
          fc.record({ op: fc.constant('swap' as const), at: fc.nat(), to: fc.nat() }),
          fc.record({ op: fc.constant('bytes' as const), at: fc.nat(), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 2 }) }),
          fc.record({ op: fc.constant('foreign' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 40 }) }),
        );
        type PieceMutation = typeof pieceMutation extends fc.Arbitrary<infer T> ? T : never;
        const mutatePieces = (pieces: Uint8Array[], ms: readonly PieceMutation[]): Uint8Array[] => {
          const out = pieces.slice();
          for (const m of ms) {
            const i = out.length === 0 ? 0 : m.at % out.length;
            if (m.op === 'drop') out.splice(i, 1);
            else if (m.op === 'dup' && out.length > 0) out.splice(i, 0, out[i]!);
            else if (m.op === 'swap' && out.length > 1) [out[i], out[m.to % out.length]] = [out[m.to % out.length]!, out[i]!];
            else if (m.op === 'bytes' && out.length > 0) out[i] = mutate(out[i]!, m.mutations, out);
            else if (m.op === 'foreign') out.splice(i, 0, m.bytes);
          }
          return out;
        };
        fc.assert(
          fc.property(
            fc.uint8Array({ minLength: 1, maxLength: 1500 }),
            fc.integer({ min: 23, max: 247 }),
            fc.array(pieceMutation, { maxLength: 3 }),
            fc.boolean(),
            fc.option(u32, { nil: undefined }),
            (message, mtu, ms, bulk, total) => {
              let accepted = false;
              if (!bulk) {
                // Control point: segments of a message of at most 4 KiB.
                const msg = message.subarray(0, MAX_CONTROL_MESSAGE_BYTES);
                const rx = new Reassembler();
                const out: Uint8Array[] = [];
                for (const seg of mutatePieces(segment(msg, mtu), ms)) {
                  const r = attempt(() => rx.push(seg));
                  if (r.ok && r.value) out.push(r.value);
                }
                for (const o of out) expect(o.length).toBeLessThanOrEqual(MAX_CONTROL_MESSAGE_BYTES);
                if (ms.length === 0) expect(out).toEqual([msg]);
                accepted = out.length > 0;
              } else {
                // Bulk channel: a committed transfer is exactly the message its id names.
                const id = transferId(message, crypto);
                const rx = new BulkReceiver(4096, crypto);
                const begin = attempt(() => rx.begin({ id, total: total ?? message.length }));
                if (begin.ok) {
                  for (const chunk of mutatePieces([...bulkChunks(message, 0, mtu)], ms)) rx.chunk(chunk);
                  const r = attempt(() => rx.commit(id));
                  if (r.ok) expect(equalBytes(r.value, message)).toBe(true);
                  if (ms.length === 0 && total === undefined) expect(r.ok).toBe(true);
                  accepted = r.ok;
                }
              }
              count('framing', accepted);
            },
          ),
          params(),
        );
      }),
    TIMEOUT_MS,
  );

  it(
    'signed messages: only the exact signed bytes open, at the lock they are for; nothing crashes',
    () =>
      timed('signed messages', () => {
        for (const o of OPENERS) for (const m of o.accepts) expect(attempt(() => o.open(m)).ok).toBe(true);
        fc.assert(
          fc.property(fc.nat(SIGNED.length - 1), mutationsArb, (pick, mutations) => {
            const bytes = mutate(SIGNED[pick]!, mutations, SIGNED);
            let accepted = false;
            for (const o of OPENERS) {
              const r = attempt(() => o.open(bytes));
              const signed = o.accepts.some((m) => equalBytes(m, bytes));
              if (r.ok !== signed) expect.fail(`${o.name} ${r.ok ? 'accepted' : `refused (${r.ok ? '' : r.code})`} ${signed ? 'a message it must open' : 'bytes nobody signed'}: ${Buffer.from(bytes).toString('hex')}`);
              accepted ||= r.ok;
            }
            // What a phone reads without keys: a value or a ProtocolError, never a crash.
            attempt(() => peekSetMessage(bytes));
            attempt(() => parseSign1(bytes, 1 << 20));
            count('signed messages', accepted);
          }),
          params(),
        );
      }),
    TIMEOUT_MS,
  );
});
