/**
 * How compiled sets are stored (migration 7): journal watermarks instead of per-row marks,
 * full sets made on demand, compile commits without an fsync and the barrier before hand-out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialSet, deviceKeysFromSeed, EntryAccumulator, entryDigestKey, genesisChain, getCryptoProvider, issueReceipt, openCommission, openSetMessage } from '@latchkit/protocol';
import * as g from '../../../gateway/src/index.js';
import { acceptReceipt, commissionDoor, compileDirty, compiledBody, lockIdentity, syncPayload, trustAnchors } from '../../../gateway/src/compiler/index.js';
import { fixture, legacyProperty, resident, tempDir, type Fixture } from '../helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

const pending = (db: g.Db): number => (db.prepare('SELECT pending FROM store_durability').get() as { pending: number }).pending;
const storedPayload = (db: g.Db, doorId: number, seq: number): Buffer | null =>
  (db.prepare('SELECT payload FROM door_sets WHERE door_id = ? AND seq = ?').get(doorId, seq) as { payload: Buffer | null }).payload;

/** Commission the lobby, compile and sync its first set, receipted: the next compile is a delta. */
async function lobbyAtSeq1(f: Fixture) {
  const device = deviceKeysFromSeed(new Uint8Array(32).fill(7));
  const c = await commissionDoor(f.db, f.lobby.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx: f.ctx });
  const { contentKey } = openCommission(c.message, { lockId: lockIdentity(f.db, f.lobby.id)!.lockId, device, anchors: null, generation: 0 });
  compileDirty(f.db, { ctx: f.ctx });
  const first = (await syncPayload(f.db, f.lobby.id, 0))!;
  const lockState = { lockId: lockIdentity(f.db, f.lobby.id)!.lockId, anchors: trustAnchors(f.db, f.prop.id), contentKey };
  const opened = openSetMessage(first.bytes, { ...lockState, seq: 0, current: null });
  f.db.prepare('UPDATE door_sync_state SET enforced_seq = ?, enforced_digest = ? WHERE door_id = ?').run(first.seq, Buffer.from(opened.digest), f.lobby.id);
  return { lockState, current: opened.set, device };
}

const row = (db: g.Db, doorId: number, seq: number) =>
  db.prepare('SELECT body IS NOT NULL AS body, recipe IS NOT NULL AS recipe FROM door_sets WHERE door_id = ? AND seq = ?').get(doorId, seq) as { body: number; recipe: number } | undefined;

describe('compiled set storage', () => {
  it('a compile for a lock at its delta base stores no full set; the first lock that needs one gets it made, stored and valid', async () => {
    const f = fixture();
    const { lockState, current } = await lobbyAtSeq1(f);
    resident(f);
    const [c] = compileDirty(f.db, { ctx: f.ctx }).filter((x) => x.doorId === f.lobby.id);
    expect(c!.seq).toBe(2);
    expect(c!.delta?.baseSeq).toBe(1);
    expect(c!.fullBytes).toBeNull();
    expect(storedPayload(f.db, f.lobby.id, 2)).toBeNull();

    const full = (await syncPayload(f.db, f.lobby.id, 0))!;
    expect(full.kind).toBe('full');
    expect(Uint8Array.from(storedPayload(f.db, f.lobby.id, 2)!)).toEqual(full.bytes);
    // Made once: the next lock that needs it gets the same bytes.
    expect((await syncPayload(f.db, f.lobby.id, -1, { forceFull: true }))!.bytes).toEqual(full.bytes);
    // The full set and the delta give the lock the same body, under the digest the delta signed.
    const viaFull = openSetMessage(full.bytes, { ...lockState, seq: 1, current });
    const viaDelta = openSetMessage((await syncPayload(f.db, f.lobby.id, 1))!.bytes, { ...lockState, seq: 1, current });
    expect(viaFull.digest).toEqual(viaDelta.digest);
    expect(viaFull.set.body).toEqual(viaDelta.set.body);
    expect(viaFull.seq).toBe(2);
  });

  it('a patch of the enforced set is stored as its recipe, made again byte for byte, and stored as a body once its lock receipts it', async () => {
    const f = fixture();
    const { lockState, current, device } = await lobbyAtSeq1(f);
    resident(f);
    compileDirty(f.db, { ctx: f.ctx });
    expect(row(f.db, f.lobby.id, 2)).toEqual({ body: 0, recipe: 1 });
    // What a lock makes of the delta is what the recipe gives.
    const viaDelta = openSetMessage((await syncPayload(f.db, f.lobby.id, 1))!.bytes, { ...lockState, seq: 1, current });
    expect(compiledBody(f.db, f.lobby.id, 2)).toEqual(viaDelta.set.body);
    // A second change before the lock syncs: again a recipe on the enforced set 1, which stays.
    g.revokeAllKeys(f.db, g.listPeople(f.db, f.prop.id, {})[0]!.id, f.ctx);
    compileDirty(f.db, { ctx: f.ctx });
    expect([row(f.db, f.lobby.id, 1), row(f.db, f.lobby.id, 3)]).toEqual([{ body: 1, recipe: 0 }, { body: 0, recipe: 1 }]);
    // The lock applies 3 (a delta from 1) and receipts it: 3 is stored whole, 1 and 2 go.
    const three = openSetMessage((await syncPayload(f.db, f.lobby.id, 1))!.bytes, { ...lockState, seq: 1, current });
    const lockId = lockState.lockId;
    acceptReceipt(f.db, f.lobby.id, issueReceipt(device.signing, { lockId, seq: 3, digest: three.digest, time: 1_750_000_000, eventIndex: 0, eventHash: genesisChain(lockId) }), { ctx: f.ctx });
    expect(row(f.db, f.lobby.id, 3)).toEqual({ body: 1, recipe: 0 });
    expect(compiledBody(f.db, f.lobby.id, 3)).toEqual(three.set.body);
    resident(f, { email: 'sam@example.com', firstName: 'Sam' });
    compileDirty(f.db, { ctx: f.ctx });
    expect([1, 2].map((seq) => row(f.db, f.lobby.id, seq))).toEqual([undefined, undefined]);
    expect(row(f.db, f.lobby.id, 4)).toEqual({ body: 0, recipe: 1 });
  });

  it.each(['entries', 'body'] as const)('a recipe that does not give its digest (%s form) is refused, never sent', async (form) => {
    const f = fixture();
    await lobbyAtSeq1(f);
    // A lock known to refuse the entry digest gets its sets in the body form (migration 15).
    if (form === 'body') g.recordEntryDigestSupport(f.db, f.lobby.id, false, 'old-fw');
    resident(f);
    compileDirty(f.db, { ctx: f.ctx });
    expect(f.db.prepare('SELECT digest_form AS form, recipe IS NOT NULL AS recipe FROM door_sets WHERE door_id = ? AND seq = 2').get(f.lobby.id)).toEqual({ form, recipe: 1 });
    const good = compiledBody(f.db, f.lobby.id, 2);
    expect(good).not.toBeNull();
    // Corrupt the stored recipe (as a disk fault would): flip a bit of its last byte (an entry).
    const { recipe } = f.db.prepare('SELECT recipe FROM door_sets WHERE door_id = ? AND seq = 2').get(f.lobby.id) as { recipe: Buffer };
    const intact = Buffer.from(recipe);
    recipe[recipe.length - 1]! ^= 1;
    f.db.prepare('UPDATE door_sets SET recipe = ? WHERE door_id = ? AND seq = 2').run(recipe, f.lobby.id);
    await expect(syncPayload(f.db, f.lobby.id, 0)).rejects.toThrowError(expect.objectContaining({ code: 'INTERNAL' }));
    f.db.prepare('UPDATE door_sets SET recipe = ? WHERE door_id = ? AND seq = 2').run(recipe.subarray(0, 2), f.lobby.id);
    await expect(syncPayload(f.db, f.lobby.id, 0)).rejects.toThrowError(expect.objectContaining({ code: 'INTERNAL' }));
    // The intact recipe gives the set again: the check is of the recipe, not of the form.
    f.db.prepare('UPDATE door_sets SET recipe = ? WHERE door_id = ? AND seq = 2').run(intact, f.lobby.id);
    expect(compiledBody(f.db, f.lobby.id, 2)).toEqual(good);
    expect((await syncPayload(f.db, f.lobby.id, 0))!.digestForm).toBe(form);
    // A recipe that reads well but gives another set (set 3's, in set 2's row) is caught by the digest alone.
    resident(f, { email: 'sam@example.com', firstName: 'Sam' });
    compileDirty(f.db, { ctx: f.ctx });
    const { recipe: three } = f.db.prepare('SELECT recipe FROM door_sets WHERE door_id = ? AND seq = 3').get(f.lobby.id) as { recipe: Buffer };
    f.db.prepare('UPDATE door_sets SET recipe = ? WHERE door_id = ? AND seq = 2').run(three, f.lobby.id);
    expect(() => compiledBody(f.db, f.lobby.id, 2)).toThrowError(
      expect.objectContaining({ code: 'INTERNAL', message: `door ${f.lobby.id}: set 2 made from its recipe does not match its ${form === 'entries' ? 'entry ' : ''}digest` }),
    );
  });

  it('an entry-form delta carries the enforced set\'s stored accumulator: a block per change, the accumulator a full pass gives', async () => {
    const f = fixture();
    for (let i = 0; i < 40; i++) resident(f, { email: `r${i}@example.com`, firstName: `R${i}` });
    const { lockState, current } = await lobbyAtSeq1(f);
    const id = lockIdentity(f.db, f.lobby.id)!;
    const key = entryDigestKey(id.contentKey, id.lockId);
    const secrets = g.propertySecrets(f.db, f.prop.id);
    const stored = (seq: number) => f.db.prepare('SELECT digest, digest_form AS form, entry_acc AS acc FROM door_sets WHERE door_id = ? AND seq = ?').get(f.lobby.id, seq) as { digest: Buffer; form: string; acc: Buffer | null };
    const fromScratch = (body: Uint8Array) => EntryAccumulator.of(key, CredentialSet.fromTrustedBody(body).entries());
    const one = stored(1);
    expect(one.form).toBe('entries');
    expect(Uint8Array.from(one.acc!)).toEqual(fromScratch(current.body).bytes());
    expect(fromScratch(current.body).count).toBeGreaterThanOrEqual(40);

    resident(f, { email: 'sam@example.com', firstName: 'Sam' });
    // Count the SHA-256 calls of the compile: one per changed entry (and a few for the digests),
    // where accumulating the set would cost one per credential.
    let hashes = 0;
    const base = getCryptoProvider();
    const counting = { ...base, sha256: (b: Uint8Array) => (hashes++, base.sha256(b)) };
    const [c] = compileDirty(f.db, { ctx: f.ctx, provider: counting }).filter((x) => x.doorId === f.lobby.id);
    expect(c).toMatchObject({ seq: 2, digestForm: 'entries', delta: { baseSeq: 1 } });
    expect(hashes).toBeLessThan(12);
    const two = stored(2);
    const body2 = compiledBody(f.db, f.lobby.id, 2)!;
    expect(Uint8Array.from(two.acc!)).toEqual(fromScratch(body2).bytes());
    expect(Uint8Array.from(two.digest)).toEqual(fromScratch(body2).digest(secrets));
    // The lock, carrying its set forward by the delta's changes, arrives at the same digest.
    const viaDelta = openSetMessage((await syncPayload(f.db, f.lobby.id, 1))!.bytes, { ...lockState, seq: 1, current, entryAcc: Uint8Array.from(one.acc!) });
    expect(viaDelta).toMatchObject({ digestForm: 'entries', entryAcc: Uint8Array.from(two.acc!) });
    expect(viaDelta.digest).toEqual(Uint8Array.from(two.digest));
    // And the full set of the same sequence names it the same way.
    const viaFull = openSetMessage((await syncPayload(f.db, f.lobby.id, 0))!.bytes, { ...lockState, seq: 1, current });
    expect([viaFull.digestForm, viaFull.digest]).toEqual(['entries', Uint8Array.from(two.digest)]);
  });

  it('compiles commit without an fsync and say so; the store is made durable before a set is handed out', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const db = g.openStore({ stateDir: t.dir });
    cleanups.unshift(() => db.close());
    const ctx: g.Ctx = { now: () => Date.UTC(2025, 5, 1), actor: 'test' };
    const prop = g.createProperty(db, { name: 'File Court', utcOffsetMin: 0 }, ctx);
    const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '00000000000000c1', connectivity: 'offline' }, ctx);
    const device = deviceKeysFromSeed(new Uint8Array(32).fill(9));
    await commissionDoor(db, lobby.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx });
    expect(pending(db)).toBe(0);

    expect(compileDirty(db, { ctx }).map((c) => c.doorId)).toEqual([lobby.id]);
    expect(pending(db)).toBe(1);
    // Back to FULL for everything else on the connection (access changes must survive a power cut).
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect((await syncPayload(db, lobby.id, 0))!.kind).toBe('full');
    expect(pending(db)).toBe(0);

    // Inside a caller's transaction the caller's commit decides; the debt is still recorded.
    g.createDoor(db, prop.id, { name: 'Gym', lockId: '00000000000000c2', connectivity: 'offline' }, ctx);
    await commissionDoor(db, g.getDoorByLockId(db, '00000000000000c2').id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx });
    db.transaction(() => compileDirty(db, { ctx }))();
    expect(pending(db)).toBe(1);
    // Handing a set out inside a caller's transaction could not make it durable: refused.
    const gym = g.getDoorByLockId(db, '00000000000000c2').id;
    // (syncPayload is async, so a caller's transaction here is an explicit BEGIN: better-sqlite3's
    // transaction functions cannot wrap it.)
    db.exec('BEGIN');
    await expect(syncPayload(db, gym, 0)).rejects.toThrowError(expect.objectContaining({ code: 'INTERNAL' }));
    db.exec('ROLLBACK');
    expect((await syncPayload(db, gym, 0))!.kind).toBe('full');
    expect(pending(db)).toBe(0);
    // With nothing pending, a caller's transaction is fine.
    db.exec('BEGIN');
    expect((await syncPayload(db, gym, 0))!.kind).toBe('full');
    db.exec('COMMIT');
  });

  it('a compile moves the door watermark instead of marking rows; each change still knows the sequence that first included it', async () => {
    const f = fixture();
    await lobbyAtSeq1(f);
    const before = g.doorChanges(f.db, f.lobby.id);
    expect(before.every((c) => c.compiledSeq === 1)).toBe(true);
    resident(f);
    const jane = g.listPeople(f.db, f.prop.id, {})[0]!;
    g.revokeAllKeys(f.db, jane.id, f.ctx);
    const pendingNow = g.doorChanges(f.db, f.lobby.id, { pendingOnly: true });
    expect(pendingNow.length).toBe(2);
    expect(pendingNow.every((c) => c.compiledSeq === null)).toBe(true);
    expect(g.doorSyncState(f.db, f.lobby.id).pendingChanges).toBe(2);
    // A change landing after the compiler read the journal head stays pending.
    const head = g.dirtyDoorHeads(f.db).find((d) => d.doorId === f.lobby.id)!.throughChangeId;
    g.compileDoor(f.db, f.lobby.id, { ctx: f.ctx, throughChangeId: head - 1 });
    expect(g.doorChanges(f.db, f.lobby.id, { pendingOnly: true }).map((c) => c.id)).toEqual([head]);
    compileDirty(f.db, { ctx: f.ctx });
    expect(g.doorChanges(f.db, f.lobby.id, { limit: 2 }).map((c) => c.compiledSeq)).toEqual([3, 2]);
    expect(g.dirtyDoors(f.db).map((d) => d.doorId)).not.toContain(f.lobby.id);
    // Door Sync: the lobby enforces 1, so both changes since are listed with their sequences.
    const task = g.doorSyncTasks(f.db, f.prop.id).find((x) => x.doorId === f.lobby.id)!;
    expect(task.changes.map((c) => c.compiledSeq)).toEqual([2, 3]);
  });

  it('migration 7 carries a version-6 journal over: compiled rows keep their sequence, pending rows stay pending', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const v6 = g.openStore({ stateDir: t.dir, migrations: g.MIGRATIONS.slice(0, 6) });
    const prop = legacyProperty(v6, 'Old Court');
    // Written as version 6 did: rows marked with the sequence that compiled them, NULL = pending.
    v6.prepare("INSERT INTO doors (property_id, name, lock_id, connectivity, created_at) VALUES (?, 'Lobby', '00000000000000d1', 'offline', 0)").run(prop.id);
    const door = (v6.prepare('SELECT id FROM doors').get() as { id: number }).id;
    v6.prepare('INSERT INTO door_sync_state (door_id, compiled_seq, enforced_seq) VALUES (?, 2, 1)').run(door);
    const add = v6.prepare('INSERT INTO door_changes (door_id, reason, created_at, compiled_seq) VALUES (?, ?, 0, ?)');
    const ids = [
      add.run(door, 'a', 1).lastInsertRowid,
      add.run(door, 'b', 2).lastInsertRowid,
      add.run(door, 'c', 2).lastInsertRowid,
      add.run(door, 'd', null).lastInsertRowid,
    ].map(Number);
    v6.prepare('INSERT INTO door_sets (door_id, seq, digest, payload, created_at) VALUES (?, 2, ?, ?, 0)').run(door, Buffer.alloc(32), Buffer.from([1, 2, 3]));
    v6.close();

    const db = g.openStore({ stateDir: t.dir });
    try {
      expect(g.schemaVersion(db)).toBe(g.MIGRATIONS.length);
      expect(db.prepare('SELECT journal_head AS h, compiled_through AS c FROM door_sync_state WHERE door_id = ?').get(door)).toEqual({ h: ids[3], c: ids[2] });
      expect(g.doorChanges(db, door).map((c) => [c.reason, c.compiledSeq])).toEqual([
        ['d', null],
        ['c', 2],
        ['b', 2],
        ['a', 1],
      ]);
      expect(g.dirtyDoors(db).map((d) => [d.doorId, d.throughChangeId])).toEqual([[door, ids[3]]]);
      expect(g.doorSyncState(db, door).pendingChanges).toBe(1);
      // Door Sync lists what changed since the enforced set (1: through change a).
      expect(g.doorSyncTasks(db, prop.id)[0]!.changes.map((c) => c.reason)).toEqual(['b', 'c', 'd']);
      // An enforced sequence whose compile marked no journal row (none in door_compiles):
      // everything up to the last sequence at or below it counts as enforced.
      db.prepare('UPDATE door_sync_state SET compiled_seq = 3, enforced_seq = 3 WHERE door_id = ?').run(door);
      expect(g.doorSyncTasks(db, prop.id)[0]!.changes.map((c) => c.reason)).toEqual(['d']);
      // The stored set survived the table rebuild.
      expect(Uint8Array.from(storedPayload(db, door, 2)!)).toEqual(new Uint8Array([1, 2, 3]));
      // New journal rows move the head through the trigger.
      db.prepare("INSERT INTO door_changes (door_id, reason, created_at) VALUES (?, 'e', 0)").run(door);
      expect(g.doorSyncState(db, door).pendingChanges).toBe(2);
    } finally {
      db.close();
    }
  });
});
