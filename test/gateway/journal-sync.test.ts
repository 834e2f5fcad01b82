import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { codeOf, drainJournal, fixture, pendingDoors, resident } from './helpers.js';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('change journal', () => {
  it('starts every new door dirty so it gets a first set', () => {
    const f = fixture();
    expect(pendingDoors(f.db)).toEqual([f.lobby.id, f.gym.id, f.door4b.id].sort((a, b) => a - b));
    const d = g.dirtyDoors(f.db, { propertyId: f.prop.id }).find((x) => x.doorId === f.gym.id)!;
    expect(d).toMatchObject({ lockId: '00000000000000a2', connectivity: 'online' });
    expect(d.changes.map((c) => c.reason)).toEqual(['door Gym added']);
  });

  it('records reasons per door and only for the doors a change touches', () => {
    const f = fixture();
    const p = resident(f, { keyIds: [f.entrances.id] }).person;
    drainJournal(f.db);
    g.resetDoorcode(f.db, p.id, f.ctx);
    g.activateKeycard(f.db, p.id, '04a1b2c3', f.ctx);
    const dirty = g.dirtyDoors(f.db);
    expect(dirty.map((d) => d.doorId)).toEqual([f.lobby.id]);
    expect(dirty[0]!.changes.map((c) => c.reason)).toEqual(['doorcode reset for Jane Doe', 'keycard 04a1b2c3 activated for Jane Doe']);
  });

  it('a refused change leaves no journal rows (same transaction)', () => {
    const f = fixture();
    const p = resident(f).person;
    drainJournal(f.db);
    g.activateKeycard(f.db, p.id, '04a1b2c3', f.ctx);
    drainJournal(f.db);
    expect(codeOf(() => g.activateKeycard(f.db, p.id, '04A1B2C3', f.ctx))).toBe('KEYCARD_IN_USE');
    expect(codeOf(() => g.addGrants(f.db, p.id, { keyIds: [f.gym.id + 1000] }, f.ctx))).toBe('KEY_NOT_FOUND');
    expect(pendingDoors(f.db)).toEqual([]);
  });

  it('key edits journal old and new doors only when someone holds the key', () => {
    const f = fixture();
    drainJournal(f.db);
    expect(g.updateKey(f.db, f.amenities.id, { doorIds: [f.gym.id, f.lobby.id] }, f.ctx).affectedDoors).toEqual([]);
    resident(f, { keyIds: [f.amenities.id] });
    drainJournal(f.db);
    expect(g.updateKey(f.db, f.amenities.id, { doorIds: [f.door4b.id] }, f.ctx).affectedDoors).toEqual([f.lobby.id, f.gym.id, f.door4b.id].sort((a, b) => a - b));
    drainJournal(f.db);
    expect(g.updateKey(f.db, f.amenities.id, { doorcodesDisabled: false }, f.ctx).affectedDoors).toEqual([f.door4b.id]);
    drainJournal(f.db);
    expect(g.deleteKey(f.db, f.amenities.id, f.ctx).affectedDoors).toEqual([f.door4b.id]);
    expect(codeOf(() => g.updateKey(f.db, f.key4b.id, { doorIds: [] }, f.ctx))).toBe('KEY_NEEDS_DOOR');
  });

  it('affectedDoors covers a person with the keys they shared with guests', () => {
    const f = fixture();
    const host = resident(f, { keyIds: [f.entrances.id] }).person;
    const guest = g.inviteGuest(f.db, host.id, { email: 'g@example.com', firstName: 'G', lastName: 'G', keyIds: [f.entrances.id] }, f.ctx).guest;
    expect(g.affectedDoors(f.db, { personId: host.id })).toEqual([f.lobby.id]);
    expect(g.affectedDoors(f.db, { personId: guest.id })).toEqual([f.lobby.id]);
    expect(g.affectedDoors(f.db, { keyId: f.key4b.id })).toEqual([f.door4b.id]);
    expect(codeOf(() => g.affectedDoors(f.db, { grantId: 99999 }))).toBe('GRANT_NOT_FOUND');
  });
});

describe('compiled sets and receipts', () => {
  it('recordCompiledSet consumes only the changes it saw; a change during compilation stays pending', () => {
    const f = fixture();
    drainJournal(f.db);
    const p = resident(f, { keyIds: [f.entrances.id] }).person;
    const [seen] = g.dirtyDoors(f.db);
    expect(seen!.doorId).toBe(f.lobby.id);
    // Compiler works on `seen` while a manager resets the code.
    g.resetDoorcode(f.db, p.id, f.ctx);
    const state = g.recordCompiledSet(f.db, { doorId: f.lobby.id, seq: 1, digest: bytes(32, 1), payload: bytes(100, 7), throughChangeId: seen!.throughChangeId });
    expect(state).toMatchObject({ compiledSeq: 1, enforcedSeq: 0, pendingChanges: 1 });
    expect(g.dirtyDoors(f.db)[0]!.changes.map((c) => c.reason)).toEqual(['doorcode reset for Jane Doe']);
    expect(g.compiledSet(f.db, f.lobby.id, 1)).toMatchObject({ seq: 1, digest: bytes(32, 1), payload: bytes(100, 7) });
  });

  it('refuses a sequence that is not newer (locks would reject it anyway)', () => {
    const f = fixture();
    g.recordCompiledSet(f.db, { doorId: f.lobby.id, seq: 5, digest: bytes(32, 1), payload: bytes(4, 1), throughChangeId: 0 });
    expect(codeOf(() => g.recordCompiledSet(f.db, { doorId: f.lobby.id, seq: 5, digest: bytes(32, 2), payload: bytes(4, 2), throughChangeId: 0 }))).toBe('SEQUENCE_NOT_NEWER');
    expect(codeOf(() => g.recordCompiledSet(f.db, { doorId: f.lobby.id, seq: 3, digest: bytes(32, 2), payload: bytes(4, 2), throughChangeId: 0 }))).toBe('SEQUENCE_NOT_NEWER');
  });

  it('receipts move the enforced sequence forward only, check the digest, and prune old delta bases', () => {
    const f = fixture();
    const all = () => g.dirtyDoors(f.db).find((d) => d.doorId === f.lobby.id)!.throughChangeId;
    g.recordCompiledSet(f.db, { doorId: f.lobby.id, seq: 1, digest: bytes(32, 1), payload: bytes(4, 1), throughChangeId: all() });
    resident(f, { keyIds: [f.entrances.id] });
    g.recordCompiledSet(f.db, { doorId: f.lobby.id, seq: 2, digest: bytes(32, 2), payload: bytes(4, 2), throughChangeId: all() });
    expect(codeOf(() => g.recordReceipt(f.db, { doorId: f.lobby.id, seq: 2, digest: bytes(32, 9), at: f.clock.t }))).toBe('RECEIPT_MISMATCH');
    expect(codeOf(() => g.recordReceipt(f.db, { doorId: f.lobby.id, seq: 3, digest: bytes(32, 2), at: f.clock.t }))).toBe('RECEIPT_MISMATCH');
    const r = g.recordReceipt(f.db, { doorId: f.lobby.id, seq: 2, digest: bytes(32, 2), at: f.clock.t });
    expect(r.advanced).toBe(true);
    expect(r.state).toMatchObject({ enforcedSeq: 2, enforcedDigest: bytes(32, 2), lastReceiptAt: f.clock.t });
    expect(g.compiledSet(f.db, f.lobby.id, 1)).toBeUndefined();
    // A phone relays the old receipt late: ignored.
    expect(g.recordReceipt(f.db, { doorId: f.lobby.id, seq: 1, digest: bytes(32, 1), at: f.clock.t }).advanced).toBe(false);
    expect(g.doorSyncState(f.db, f.lobby.id).enforcedSeq).toBe(2);
  });

  it('Door Sync tasks list doors behind, with what changed since the set they enforce', () => {
    const f = fixture();
    const through = (id: number) => g.dirtyDoors(f.db).find((d) => d.doorId === id)?.throughChangeId ?? 0;
    for (const d of [f.lobby, f.gym, f.door4b]) {
      g.recordCompiledSet(f.db, { doorId: d.id, seq: 1, digest: bytes(32, d.id), payload: bytes(1, 0), throughChangeId: through(d.id) });
      g.recordReceipt(f.db, { doorId: d.id, seq: 1, digest: bytes(32, d.id), at: f.clock.t });
    }
    expect(g.doorSyncTasks(f.db, f.prop.id)).toEqual([]);
    const p = resident(f, { keyIds: [f.entrances.id] }).person;
    g.recordCompiledSet(f.db, { doorId: f.lobby.id, seq: 2, digest: bytes(32, 20), payload: bytes(1, 0), throughChangeId: through(f.lobby.id) });
    g.revokeAllKeys(f.db, p.id, f.ctx);
    const tasks = g.doorSyncTasks(f.db, f.prop.id, { connectivity: 'offline' });
    expect(tasks.map((t) => [t.doorId, t.compiledSeq, t.enforcedSeq])).toEqual([[f.lobby.id, 2, 1]]);
    expect(tasks[0]!.changes.map((c) => [c.reason, c.compiledSeq])).toEqual([
      ['invited Jane Doe: Resident Entrances', 2],
      ['revoked all keys of Jane Doe', null],
    ]);
    expect(g.doorSyncTasks(f.db, f.prop.id, { connectivity: 'online' })).toEqual([]);
  });
});

describe('issuer keys', () => {
  it('stores keys with their secret, activates one at a time, and rotation retires the previous key', () => {
    const f = fixture();
    const k1 = g.addIssuerKey(f.db, { propertyId: f.prop.id, kid: 'k1', publicKey: bytes(32, 1), secretKey: bytes(32, 2), activate: true }, f.ctx);
    expect(k1.status).toBe('active');
    expect('secretKey' in k1).toBe(false);
    expect(g.activeIssuerKey(f.db, f.prop.id)).toMatchObject({ kid: 'k1', secretKey: bytes(32, 2) });
    const k2 = g.addIssuerKey(f.db, { propertyId: f.prop.id, kid: 'k2', publicKey: bytes(32, 3), secretKey: bytes(32, 4) }, f.ctx);
    expect(k2.status).toBe('pending');
    expect(g.activeIssuerKey(f.db, f.prop.id)!.kid).toBe('k1');
    g.activateIssuerKey(f.db, k2.id, f.ctx);
    expect(g.listIssuerKeys(f.db, f.prop.id).map((k) => [k.kid, k.status])).toEqual([
      ['k1', 'retired'],
      ['k2', 'active'],
    ]);
    expect(codeOf(() => g.activateIssuerKey(f.db, k1.id, f.ctx))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => g.addIssuerKey(f.db, { propertyId: f.prop.id, kid: 'k2', publicKey: bytes(32, 5), secretKey: bytes(32, 6) }, f.ctx))).toBe('CONFLICT');
    expect(codeOf(() => g.addIssuerKey(f.db, { propertyId: f.prop.id, kid: 'k3', publicKey: bytes(31, 5), secretKey: bytes(32, 6) }, f.ctx))).toBe('INVALID_ARGUMENT');
  });
});

describe('lock events', () => {
  it('become activity with holder and door names, and a re-uploaded log is not duplicated', () => {
    const f = fixture();
    const p = resident(f).person;
    const events: g.LockEvent[] = [
      { at: f.clock.t, holder: p.holderRef, credentialKind: 'keycard', result: 'granted', lockSeq: 10 },
      { at: f.clock.t + 1, holder: null, credentialKind: 'doorcode', result: 'denied', reason: 'unknown code', lockSeq: 11 },
    ];
    expect(g.recordLockEvents(f.db, f.lobby.id, events).inserted).toBe(2);
    expect(g.recordLockEvents(f.db, f.lobby.id, events).inserted).toBe(0);
    const unlocks = g.listActivity(f.db, f.prop.id, { kind: 'unlock' });
    expect(unlocks.map((a) => [a.result, a.holderName, a.doorName, a.message])).toEqual([
      ['denied', null, 'Lobby', 'denied Lobby (unknown credential, doorcode: unknown code)'],
      ['granted', 'Jane Doe', 'Lobby', 'unlocked Lobby (Jane Doe, keycard)'],
    ]);
    expect(g.listActivity(f.db, f.prop.id, { kind: 'unlock', limit: 1, before: { at: unlocks[0]!.at, id: unlocks[0]!.id } }).map((a) => a.result)).toEqual(['granted']);
    expect(codeOf(() => g.recordLockEvents(f.db, 9999, events))).toBe('DOOR_NOT_FOUND');
  });
});
