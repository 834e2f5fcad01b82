/**
 * The compiler patches a door's last set for the holders a change touched (access_touches,
 * migration 6). The rule that keeps that safe: after any sequence of changes, time passing and
 * receipts, every compiled body equals, byte for byte, the body of a full recompile at that
 * moment, and every delta applied by a lock to the set it enforces gives exactly that body.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CredentialSet, deriveIndexKey, deviceKeysFromSeed, entriesFromSpecs, openSetMessage, packSet } from '@latchkit/protocol';
import * as g from '../../../gateway/src/index.js';
import { commissionDoor, compileDirty, compiledBody, lockIdentity, propertySecrets, syncPayload, trustAnchors } from '../../../gateway/src/compiler/index.js';
import { credentialsForDoor } from '../../../gateway/src/model/compile-input.js';
import { fixture, HOUR, MIN, minute, type Fixture } from '../helpers.js';

const PEOPLE = 5;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

type Op =
  | { op: 'invite'; who: number; keys: number; start: number | null; len: number | null; doorcodeOnly: boolean }
  | { op: 'revoke' | 'delete' | 'resetCode' | 'card' | 'phone' | 'daily'; who: number; n: number }
  | { op: 'guest'; host: number; who: number; len: number | null }
  | { op: 'endGrant'; who: number; len: number }
  | { op: 'time'; minutes: number }
  | { op: 'keyRule' }
  | { op: 'receipt' | 'recommission'; door: number };

const who = fc.integer({ min: 0, max: PEOPLE - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('invite' as const), who, keys: fc.integer({ min: 1, max: 7 }), start: fc.option(fc.integer({ min: 1, max: 3 * 24 * 60 }), { nil: null }), len: fc.option(fc.integer({ min: 1, max: 5 * 24 * 60 }), { nil: null }), doorcodeOnly: fc.boolean() }),
  fc.record({ op: fc.constantFrom('revoke' as const, 'delete' as const, 'resetCode' as const, 'card' as const, 'phone' as const, 'daily' as const), who, n: fc.integer({ min: 0, max: 1000 }) }),
  fc.record({ op: fc.constant('guest' as const), host: who, who, len: fc.option(fc.integer({ min: 1, max: 3 * 24 * 60 }), { nil: null }) }),
  fc.record({ op: fc.constant('endGrant' as const), who, len: fc.integer({ min: 1, max: 2 * 24 * 60 }) }),
  fc.record({ op: fc.constant('time' as const), minutes: fc.constantFrom(1, 30, 60 * 7, 24 * 60 + 5) }),
  fc.record({ op: fc.constant('keyRule' as const) }),
  fc.record({ op: fc.constantFrom('receipt' as const, 'recommission' as const), door: fc.integer({ min: 0, max: 2 }) }),
);

function apply(f: Fixture, op: Op, people: (number | null)[]): void {
  const keysOf = (mask: number) => [f.entrances.id, f.amenities.id, f.key4b.id].filter((_, i) => mask & (1 << i));
  const pid = (i: number) => people[i] ?? null;
  switch (op.op) {
    case 'invite': {
      const r = g.invitePerson(f.db, f.prop.id, {
        email: `p${op.who}@example.com`, firstName: 'P', lastName: String(op.who), accessType: op.doorcodeOnly ? 'doorcode' : 'app', isResident: true, mayShare: true,
        keyIds: keysOf(op.keys), start: op.start === null ? null : minute(f.clock.t) + op.start, end: op.len === null ? null : minute(f.clock.t) + (op.start ?? 0) + op.len,
      }, f.ctx);
      people[op.who] = r.person.id;
      return;
    }
    case 'guest': {
      const host = pid(op.host);
      if (host === null) return;
      const r = g.inviteGuest(f.db, host, { email: `guest${op.who}@example.com`, firstName: 'G', lastName: String(op.who), keyIds: [f.entrances.id], end: op.len === null ? null : minute(f.clock.t) + op.len }, f.ctx);
      people[PEOPLE + op.who] = r.guest.id;
      return;
    }
    case 'time':
      f.clock.t += op.minutes * MIN;
      return;
    case 'keyRule':
      g.updateKey(f.db, f.amenities.id, { doorcodesDisabled: !g.getKey(f.db, f.amenities.id).doorcodesDisabled }, f.ctx);
      return;
    case 'receipt':
    case 'recommission':
      return;
    case 'endGrant': {
      const p = pid(op.who);
      const grant = p === null ? undefined : g.listGrants(f.db, p)[0];
      if (grant) g.updateGrant(f.db, grant.id, { end: minute(f.clock.t) + op.len }, f.ctx);
      return;
    }
  }
  const p = pid(op.who);
  if (p === null) return;
  switch (op.op) {
    case 'revoke':
      g.revokeAllKeys(f.db, p, f.ctx);
      return;
    case 'delete':
      g.deletePerson(f.db, p, f.ctx);
      people[op.who] = null;
      return;
    case 'resetCode':
      g.resetDoorcode(f.db, p, f.ctx);
      return;
    case 'daily':
      g.setDailyDoorcode(f.db, p, op.n % 2 === 0, f.ctx);
      return;
    case 'card':
      g.activateKeycard(f.db, p, (0x10000000 + op.n * 7919 + p).toString(16).padStart(8, '0'), f.ctx);
      return;
    case 'phone':
      g.addPhoneKey(f.db, p, { publicKey: hex(deviceKeysFromSeed(new Uint8Array(32).fill((op.n + p) & 0xff)).signing.publicKey) }, f.ctx);
      return;
  }
}

describe('incremental compile', () => {
  it('every patched body equals a full recompile, and every delta applies to exactly it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const f = fixture();
        const doors = [f.lobby, f.gym, f.door4b];
        const locks: { seq: number; set: CredentialSet | null }[] = [];
        for (const [i, d] of doors.entries()) {
          const device = deviceKeysFromSeed(new Uint8Array(32).fill(i + 1));
          await commissionDoor(f.db, d.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx: f.ctx });
          locks.push({ seq: 0, set: null });
        }
        const people: (number | null)[] = [];
        const secrets = propertySecrets(f.db, f.prop.id);
        for (const op of ops) {
          try {
            apply(f, op, people);
          } catch (e) {
            if (!(e instanceof g.GatewayError)) throw e;
          }
          if (op.op === 'recommission') {
            // Same hardware, new content key: every set key changes, the lock starts empty.
            const device = deviceKeysFromSeed(new Uint8Array(32).fill(op.door + 1));
            await commissionDoor(f.db, doors[op.door]!.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx: f.ctx });
            locks[op.door] = { seq: 0, set: null };
          }
          // Time passing changes sets without a journal row; recompile everything then.
          if (op.op === 'time') for (const d of doors) g.journalDoors(f.db, [d.id], 'time passed', f.clock.t);
          for (const c of compileDirty(f.db, { ctx: f.ctx })) {
            const i = doors.findIndex((d) => d.id === c.doorId);
            const id = lockIdentity(f.db, c.doorId)!;
            // Stored as a body or as a recipe (a patch of the enforced set): the same bytes.
            const stored = compiledBody(f.db, c.doorId, c.seq)!;
            const full = packSet(entriesFromSpecs(credentialsForDoor(f.db, c.doorId, f.ctx), deriveIndexKey(id.contentKey, id.lockId)), secrets);
            expect(hex(stored)).toBe(hex(full));
            expect(c.credentials).toBe(CredentialSet.parse(full).size);
            // What the lock does with the delta (when it holds the base) and with the full set.
            const state = { lockId: id.lockId, anchors: trustAnchors(f.db, f.prop.id), contentKey: id.contentKey };
            const lock = locks[i]!;
            if (c.delta && c.delta.baseSeq === lock.seq) {
              expect(hex(openSetMessage(c.delta.bytes, { ...state, seq: lock.seq, current: lock.set }).set.body)).toBe(hex(full));
            }
            // A compile that made a delta leaves the full set to syncPayload; it must open all the same.
            const fullBytes = c.fullBytes ?? (await syncPayload(f.db, c.doorId, -1, { forceFull: true }))!.bytes;
            expect(hex(openSetMessage(fullBytes, { ...state, seq: lock.seq, current: lock.set }).set.body)).toBe(hex(full));
          }
          if (op.op === 'receipt') {
            // The door's lock takes its latest set and receipts it (the engine's path, shortened).
            const d = doors[op.door]!;
            const s = g.doorSyncState(f.db, d.id);
            if (s.compiledSeq > s.enforcedSeq) {
              locks[op.door] = { seq: s.compiledSeq, set: CredentialSet.parse(Uint8Array.from(compiledBody(f.db, d.id, s.compiledSeq)!)) };
              f.db.prepare('UPDATE door_sync_state SET enforced_seq = compiled_seq, enforced_digest = compiled_digest WHERE door_id = ?').run(d.id);
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a revoke at a door holding a receipted set is patched: the touched holder only', async () => {
    const f = fixture();
    const device = deviceKeysFromSeed(new Uint8Array(32).fill(9));
    await commissionDoor(f.db, f.lobby.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx: f.ctx });
    const ids = [0, 1, 2].map((i) => g.invitePerson(f.db, f.prop.id, { email: `r${i}@example.com`, firstName: 'R', lastName: String(i), accessType: 'app', isResident: true, keyIds: [f.entrances.id] }, f.ctx).person.id);
    compileDirty(f.db, { ctx: f.ctx });
    f.db.prepare('UPDATE door_sync_state SET enforced_seq = compiled_seq, enforced_digest = compiled_digest').run();
    f.clock.t += HOUR;
    g.revokeAllKeys(f.db, ids[1]!, f.ctx);
    const touched = f.db.prepare('SELECT DISTINCT holder_ref AS r FROM access_touches WHERE id > (SELECT touch_mark FROM door_sets WHERE door_id = ? AND seq = 1)').all(f.lobby.id) as { r: number }[];
    expect(touched.map((t) => t.r)).toEqual([g.getPerson(f.db, ids[1]!).holderRef]);
    const [lobby] = compileDirty(f.db, { ctx: f.ctx }).filter((c) => c.doorId === f.lobby.id);
    expect(lobby!.delta?.baseSeq).toBe(1);
    expect(lobby!.credentials).toBe(credentialsForDoor(f.db, f.lobby.id, f.ctx).length);
    expect(lobby!.credentials).toBeGreaterThan(0);
  });
});

describe('dirtyDoorHeads', () => {
  it('is dirtyDoors without the change rows, in the same order', () => {
    const f = fixture();
    const a = g.invitePerson(f.db, f.prop.id, { email: 'a@example.com', firstName: 'A', lastName: 'A', accessType: 'app', isResident: true, keyIds: [f.key4b.id] }, f.ctx).person;
    g.invitePerson(f.db, f.prop.id, { email: 'b@example.com', firstName: 'B', lastName: 'B', accessType: 'app', isResident: true, keyIds: [f.entrances.id, f.amenities.id] }, f.ctx);
    g.revokeAllKeys(f.db, a.id, f.ctx);
    const full = g.dirtyDoors(f.db, { propertyId: f.prop.id }).map((d) => ({ doorId: d.doorId, propertyId: d.propertyId, throughChangeId: d.throughChangeId }));
    expect(full.length).toBe(3);
    expect(g.dirtyDoorHeads(f.db, { propertyId: f.prop.id }).map(({ pending: _p, ...h }) => h)).toEqual(full);
    expect(g.dirtyDoorHeads(f.db).map((h) => h.pending)).toEqual(g.dirtyDoors(f.db).map((d) => d.changes.length));
    expect(g.dirtyDoorHeads(f.db).map((h) => h.doorId)).toEqual(full.map((h) => h.doorId));
    expect(g.dirtyDoorHeads(f.db, { propertyId: f.prop.id + 1 })).toEqual([]);
  });
});

describe('a whole-property run', () => {
  it('compiles from the property-wide input, biggest doors last, and returns sets in journal order', async () => {
    const f = fixture();
    const doors = [f.lobby, f.gym, f.door4b];
    for (let u = 0; u < 70; u++) {
      const unit = g.createUnit(f.db, f.prop.id, { name: `U${u}` }, f.ctx);
      const door = g.createDoor(f.db, f.prop.id, { name: `U${u} door`, lockId: (0x100 + u).toString(16).padStart(16, '0'), connectivity: 'offline', unitId: unit.id }, f.ctx);
      const key = g.createKey(f.db, f.prop.id, { name: `Unit U${u}`, kind: 'residential', doorIds: [door.id], mayShare: true, doorcodesDisabled: false, unitId: unit.id }, f.ctx);
      g.invitePerson(f.db, f.prop.id, { email: `u${u}@example.com`, firstName: 'U', lastName: String(u), accessType: u % 3 === 0 ? 'doorcode' : 'app', isResident: true, keyIds: [f.entrances.id, key.id] }, f.ctx);
      doors.push(door);
    }
    for (const [i, d] of doors.entries()) {
      const device = deviceKeysFromSeed(new Uint8Array(32).fill(i + 1));
      await commissionDoor(f.db, d.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx: f.ctx });
    }
    const expected = g.dirtyDoors(f.db).map((d) => d.doorId);
    expect(expected.length).toBeGreaterThanOrEqual(64);
    const cacheBefore = f.db.pragma('cache_size', { simple: true });
    const compiled = compileDirty(f.db, { ctx: f.ctx });
    expect(compiled.map((c) => c.doorId)).toEqual(expected);
    const secrets = propertySecrets(f.db, f.prop.id);
    for (const c of compiled) {
      const id = lockIdentity(f.db, c.doorId)!;
      const stored = compiledBody(f.db, c.doorId, c.seq)!;
      expect(hex(stored)).toBe(hex(packSet(entriesFromSpecs(credentialsForDoor(f.db, c.doorId, f.ctx), deriveIndexKey(id.contentKey, id.lockId)), secrets)));
    }
    // The page cache is back to what it was.
    expect(f.db.pragma('cache_size', { simple: true })).toBe(cacheBefore);
  });
});
