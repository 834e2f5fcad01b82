/** fast-check properties over the codecs and the set/delta rules. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry } from '@latchkit/protocol';
import {
  BulkReceiver,
  bulkChunks,
  chainEvent,
  CredentialSet,
  decodeEvent,
  decodeRequest,
  encodeEvent,
  encodeRequest,
  EventType,
  DenyReason,
  genesisChain,
  issueDelta,
  issueFullSet,
  issueReceipt,
  issueTimeSync,
  KEY_BYTES,
  openReceipt,
  openSetMessage,
  openTimeSync,
  packSet,
  ProtocolError,
  Reassembler,
  segment,
  transferId,
  u32be,
  verifyEventChain,
} from '@latchkit/protocol';
import { contentKey, device, issuer, lockId, NOW_S, NOW_MIN, secrets } from './fixtures.js';

const RUNS = { numRuns: 60 };

const schedule = fc.option(
  fc.record({ days: fc.integer({ min: 1, max: 127 }), from: fc.integer({ min: 0, max: 1438 }), len: fc.integer({ min: 1, max: 600 }) }).map((s) => ({ days: s.days, from: s.from, to: Math.min(1440, s.from + s.len) })),
  { nil: null },
);
const validity = fc
  .record({ start: fc.option(fc.integer({ min: 1, max: NOW_MIN * 2 }), { nil: null }), len: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: null }), schedule })
  .map((v) => ({ start: v.start, end: v.len === null ? null : (v.start ?? 0) + v.len, schedule: v.schedule }));
const kind = fc.constantFrom('doorcode' as const, 'daily' as const, 'keycard' as const, 'phone' as const);

/** Random valid entries: unique (kind, key); daily keys are the holder reference. */
const entriesArb = fc
  .array(fc.record({ kind, holder: fc.integer({ min: 0, max: 0xffffffff }), raw: fc.uint8Array({ minLength: 8, maxLength: 8 }), v: validity }), { maxLength: 40 })
  .map((rows) => {
    const seen = new Set<string>();
    const out: Entry[] = [];
    for (const r of rows) {
      const key = r.kind === 'daily' ? u32be(r.holder) : r.raw.slice(0, KEY_BYTES[r.kind]);
      const id = `${r.kind}:${Array.from(key).join(',')}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ kind: r.kind, key, holder: r.holder, ...r.v });
    }
    return out;
  });

const sortKey = (e: Entry) => `${e.kind}:${Array.from(e.key).join(',')}`;
const norm = (es: Iterable<Entry>) => [...es].map((e) => ({ ...e, key: Array.from(e.key) })).sort((a, b) => (sortKey(a as never) < sortKey(b as never) ? -1 : 1));

describe('properties', () => {
  it('set body: pack -> parse -> entries round trips and is canonical', () => {
    fc.assert(
      fc.property(entriesArb, (entries) => {
        const body = packSet(entries, secrets);
        const set = CredentialSet.parse(body);
        expect(norm(set.entries())).toEqual(norm(entries));
        // Canonical: packing the parsed entries, in any order, gives the same bytes.
        expect(packSet([...set.entries()].reverse(), secrets)).toEqual(body);
        for (const e of entries) {
          if (e.kind === 'daily') continue;
          const h = set.holderAt(set.find(e.kind, e.key));
          expect(h.holder).toBe(e.holder);
        }
      }),
      RUNS,
    );
  });

  it('full set and delta-applied set give the same digest', () => {
    fc.assert(
      fc.property(entriesArb, entriesArb, fc.boolean(), (a, b, rotateSecrets) => {
        const common = { issuer, lockId, contentKey, issuedAt: NOW_S };
        const s2 = rotateSecrets ? { daily: secrets.cardMaster, cardMaster: secrets.daily } : secrets;
        const f1 = issueFullSet({ ...common, secrets, seq: 1, entries: a });
        const d = issueDelta({ ...common, secrets: s2, seq: 2, entries: b, base: { seq: 1, body: f1.body } });
        const f2 = issueFullSet({ ...common, secrets: s2, seq: 2, entries: b });
        const st = { lockId, anchors: [issuer.publicKey], contentKey };
        const lock1 = openSetMessage(f1.bytes, { ...st, seq: 0, current: null });
        const viaDelta = openSetMessage(d.bytes, { ...st, seq: 1, current: lock1.set });
        expect(viaDelta.digest).toEqual(f2.digest);
        expect(viaDelta.set.body).toEqual(f2.body);
        // Entry digest per change: the lock's kept accumulator plus the delta, and the issuer's
        // accumulator carried from the base, both land on the full set's (§4.7).
        const kept = openSetMessage(d.bytes, { ...st, seq: 1, current: lock1.set, entryAcc: lock1.entryAcc });
        expect(kept.entryAcc).toEqual(f2.entryAcc);
        expect(kept.digest).toEqual(f2.digest);
        const incremental = issueDelta({ ...common, secrets: s2, seq: 2, entries: b, base: { seq: 1, body: f1.body, entryAcc: f1.entryAcc! } });
        expect(incremental.entryAcc).toEqual(f2.entryAcc);
        expect(incremental.digest).toEqual(f2.digest);
        // And the body form still names the same set by its SHA-256.
        const b2 = issueDelta({ ...common, secrets: s2, seq: 2, entries: b, base: { seq: 1, body: f1.body }, digestForm: 'body' });
        const viaBody = openSetMessage(b2.bytes, { ...st, seq: 1, current: lock1.set, entryAcc: lock1.entryAcc });
        expect(viaBody.digestForm).toBe('body');
        expect(viaBody.set.body).toEqual(f2.body);
        expect(viaBody.entryAcc).toEqual(f2.entryAcc);
      }),
      { numRuns: 30 },
    );
  });

  it('a delta never applies to a wrong base', () => {
    fc.assert(
      fc.property(entriesArb, entriesArb, entriesArb, (a, b, c) => {
        fc.pre(CredentialSet.fromEntries(a, secrets).digest().join() !== CredentialSet.fromEntries(c, secrets).digest().join());
        const common = { issuer, lockId, contentKey, issuedAt: NOW_S, secrets };
        const f1 = issueFullSet({ ...common, seq: 1, entries: a });
        const d = issueDelta({ ...common, seq: 2, entries: b, base: { seq: 1, body: f1.body } });
        const wrongBase = CredentialSet.fromEntries(c, secrets);
        const st = { lockId, anchors: [issuer.publicKey], contentKey };
        // Right sequence, wrong content -> must not be accepted.
        try {
          const r = openSetMessage(d.bytes, { ...st, seq: 1, current: wrongBase });
          // Only acceptable if the wrong base happens to produce exactly the target set.
          expect(r.set.body).toEqual(packSet(b, secrets));
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect(['DELTA_BASE_MISMATCH', 'DIGEST_MISMATCH']).toContain((e as ProtocolError).code);
        }
        // Wrong sequence -> always DELTA_BASE_MISMATCH.
        expect(() => openSetMessage(d.bytes, { ...st, seq: 3, current: CredentialSet.parse(f1.body) })).toThrowError(ProtocolError);
      }),
      { numRuns: 30 },
    );
  });

  it('any single-byte change to a signed message is rejected', () => {
    const entries = [
      { kind: 'doorcode' as const, key: Uint8Array.of(1, 2, 3, 4, 5), holder: 7, start: null, end: null, schedule: null },
      { kind: 'daily' as const, key: u32be(7), holder: 7, start: null, end: null, schedule: null },
    ];
    const msgs = [
      { bytes: issueFullSet({ issuer, lockId, contentKey, secrets, issuedAt: NOW_S, seq: 3, entries }).bytes, open: (b: Uint8Array) => openSetMessage(b, { lockId, anchors: [issuer.publicKey], contentKey, seq: 0, current: null }) },
      { bytes: issueTimeSync({ issuer, lockId, issuedAt: NOW_S, utcOffset: 0 }), open: (b: Uint8Array) => openTimeSync(b, { lockId, anchors: [issuer.publicKey] }) },
      {
        bytes: issueReceipt(device.signing, { lockId, seq: 3, digest: new Uint8Array(32), time: NOW_S, eventIndex: 0, eventHash: new Uint8Array(12) }),
        open: (b: Uint8Array) => openReceipt(b, { lockId, devicePublicKey: device.signing.publicKey }),
      },
    ];
    for (const m of msgs) {
      m.open(m.bytes);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: m.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
          const t = m.bytes.slice();
          t[at]! ^= x;
          expect(() => m.open(t)).toThrowError(ProtocolError);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('control frames and segmentation round trip at any MTU', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 23, max: 517 }), fc.integer({ min: 0, max: 255 }), (payload, mtu, token) => {
        const frame = encodeRequest({ opcode: 'bulkCommit', token, payload });
        const segs = segment(frame, mtu);
        for (const s of segs) expect(s.length).toBeLessThanOrEqual(mtu - 3);
        const r = new Reassembler();
        const out = segs.map((s) => r.push(s)).at(-1)!;
        expect(decodeRequest(out)).toEqual({ opcode: 'bulkCommit', token, payload });
      }),
      RUNS,
    );
  });

  it('bulk transfer resumes after a drop at any chunk and delivers the exact bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.integer({ min: 23, max: 247 }), fc.nat(), (msg, mtu, dropSeed) => {
        const id = transferId(msg);
        const rx = new BulkReceiver(4096);
        let offset = rx.begin({ id, total: msg.length }).received;
        const chunks = [...bulkChunks(msg, offset, mtu)];
        const dropAt = dropSeed % chunks.length;
        chunks.slice(0, dropAt).forEach((c) => rx.chunk(c));
        // Reconnect: begin again with the same id resumes at what arrived.
        offset = rx.begin({ id, total: msg.length }).received;
        expect(offset).toBe(Math.min(msg.length, dropAt * (mtu - 7)));
        for (const c of bulkChunks(msg, offset, mtu)) rx.chunk(c);
        expect(rx.commit(id)).toEqual(msg);
      }),
      RUNS,
    );
  });

  it('events round trip and the chain catches any edit', () => {
    const types = Object.keys(EventType) as (keyof typeof EventType)[];
    const reasons = Object.keys(DenyReason) as (keyof typeof DenyReason)[];
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.constantFrom(...types), reason: fc.constantFrom(...reasons), kind: fc.integer({ min: 0, max: 4 }), holder: fc.nat(), detail: fc.nat(), dt: fc.nat(1000) }), { minLength: 1, maxLength: 20 }),
        fc.nat(),
        (rows, editSeed) => {
          let chain = genesisChain(lockId);
          let t = NOW_S;
          const events = rows.map((r, index) => {
            t += r.dt;
            const e = chainEvent(chain, { index, time: t, type: r.type, kind: r.kind, reason: r.reason, holder: r.holder, detail: r.detail });
            chain = e.chain;
            return e;
          });
          const decoded = events.map((e) => decodeEvent(encodeEvent(e)));
          expect(decoded).toEqual(events);
          verifyEventChain(genesisChain(lockId), 0, decoded, { index: events.length - 1, hash: chain });
          const i = editSeed % events.length;
          const edited = decoded.map((e, j) => (j === i ? { ...e, holder: (e.holder + 1) >>> 0 } : e));
          expect(() => verifyEventChain(genesisChain(lockId), 0, edited, { index: events.length - 1, hash: chain })).toThrowError(ProtocolError);
        },
      ),
      RUNS,
    );
  });
});
