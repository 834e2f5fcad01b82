/**
 * Sets named by their entry digest (PROTOCOL.md §4.7) end to end: a real SQLite file, the virtual
 * radio, simulated lock firmware and the gateway's sync engine.
 *
 * Covers: migration 15 on a store whose sets were signed before it (body digests: still read and
 * sent as they are, and the door's next set goes in the entry form); a lock on firmware from
 * before the entry digest, which refuses the claim as MALFORMED: learned on the first sync, sent
 * the body form in the same sync, and asked again once it reports another firmware.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveIndexKey, entriesFromSpecs, issueFullSet, toHex, fromHex } from '@latchkit/protocol';
import { FIRMWARE_VERSION, Phone } from '@latchkit/simulator';
import * as g from '../../gateway/src/index.js';
import { entryDigestWorld } from './entry-digest-world.js';

const w = entryDigestWorld();
const { crypto, dir, LOCK_ID, oldLockDoor, commissionByHand, store, build, invite, lockDevice, serve, engine, setRow, digestFromScratch } = w;

describe('entry digests at the gateway', () => {
  it('migration 15 keeps the sets a store holds (body digests), and the door\'s next set goes in the entry form', async () => {
    const file = join(dir(), 'latchkit.db');
    const ctx: g.Ctx = { actor: 'e2e' };
    // A store at schema 14 whose lock enforces a set signed as SHA-256 of its body, as every set
    // was before migration 15 (written as that gateway wrote it: no form, no accumulator).
    const v14 = store(file, g.MIGRATIONS.slice(0, 14));
    const { prop, lobby, key } = build(v14, ctx);
    const jane = invite(v14, prop.id, key.id, 'Jane', ctx);
    const device = lockDevice();
    const info = device.firmware.info();
    const c = await g.commissionDoor(v14, lobby.id, { signingPublic: info.deviceSigningPublic, encryptionPublic: info.deviceEncryptionPublic }, { ctx, provider: crypto });
    device.firmware.applyMessage(c.message);
    const id = g.lockIdentity(v14, lobby.id)!;
    const entries = entriesFromSpecs(g.credentialsForDoor(v14, lobby.id, ctx), deriveIndexKey(id.contentKey, id.lockId), crypto);
    const now = Date.now();
    const old = issueFullSet({ issuer: g.issuerFor(v14, prop.id), lockId: id.lockId, contentKey: id.contentKey, seq: 1, entries, secrets: g.propertySecrets(v14, prop.id), issuedAt: Math.floor(now / 1000), digestForm: 'body', provider: crypto });
    expect(old.digest).toEqual(crypto.sha256(old.body));
    v14.prepare('INSERT INTO door_sets (door_id, seq, digest, payload, created_at, body, lock_generation) VALUES (?, 1, ?, ?, ?, ?, ?)').run(lobby.id, old.digest, old.bytes, now, old.body, id.generation);
    v14.prepare('UPDATE door_sync_state SET compiled_seq = 1, compiled_digest = ?, compiled_at = ?, compiled_through = journal_head WHERE door_id = ?').run(old.digest, now, lobby.id);
    v14.prepare('INSERT INTO door_compiles (door_id, seq, through_change) SELECT door_id, 1, compiled_through FROM door_sync_state WHERE door_id = ?').run(lobby.id);
    g.acceptReceipt(v14, lobby.id, device.firmware.applySetMessage(old.bytes).receipt, { ctx, provider: crypto });
    expect(g.doorSyncState(v14, lobby.id)).toMatchObject({ compiledSeq: 1, enforcedSeq: 1 });
    v14.close();

    const db = store(file);
    expect(g.schemaVersion(db)).toBe(15);
    // The old set reads as what it is: a body digest, no accumulator, its body as stored.
    const one = setRow(db, lobby.id, 1);
    expect([one.form, one.acc]).toEqual(['body', null]);
    expect(Uint8Array.from(one.digest)).toEqual(crypto.sha256(g.compiledBody(db, lobby.id, 1)!));
    expect(g.compiledBody(db, lobby.id, 1)).toEqual(old.body);
    expect(g.entryDigestSupport(db, lobby.id)).toBeNull();
    const payload = (await g.syncPayload(db, lobby.id, 0))!;
    expect(payload).toMatchObject({ kind: 'full', seq: 1, digestForm: 'body' });
    expect(toHex(payload.bytes)).toBe(toHex(old.bytes));

    // A change: the next set is an entry-form delta from the body-form set the lock enforces
    // (its accumulator made from the body once), and the lock takes it.
    await serve(device);
    const gw = await engine(db, ctx);
    const sam = invite(db, prop.id, key.id, 'Sam', ctx);
    const r = await gw.pushPending(prop.id);
    expect(r.failures).toEqual([]);
    expect(r.results.map((x) => [x.doorId, x.sent, x.seq])).toEqual([[lobby.id, 'delta', 2]]);
    const two = setRow(db, lobby.id, 2);
    expect(two.form).toBe('entries');
    const scratch = digestFromScratch(db, lobby.id, prop.id, 2, 'entries');
    expect([Uint8Array.from(two.digest), Uint8Array.from(two.acc!)]).toEqual([scratch.digest, scratch.acc]);
    expect(g.doorSyncState(db, lobby.id)).toMatchObject({ enforcedSeq: 2, enforcedDigest: scratch.digest });
    expect(g.entryDigestSupport(db, lobby.id, FIRMWARE_VERSION)).toBe(true);
    expect(device.firmware.enterCode(jane.code)).toMatchObject({ granted: true });
    expect(device.firmware.enterCode(sam.code)).toMatchObject({ granted: true });
  }, 60_000);

  it('a lock from before the entry digest is learned on its first sync, gets the body form in the same sync, and is asked again after a firmware update', async () => {
    const { ctx, db, prop, lobby, key, oldFw, device } = oldLockDoor();
    const jane = invite(db, prop.id, key.id, 'Jane', ctx);
    const served = await serve(device);
    const gw = await engine(db, ctx);

    const first = await gw.pushPending(prop.id);
    expect(first.failures).toEqual([]);
    expect(first.results.map((x) => [x.doorId, x.commissioned, x.sent])).toEqual([[lobby.id, true, 'full']]);
    // The entry-form set 1 was refused (the lock logs the rejection); set 2, in the body form, went.
    expect(setRow(db, lobby.id, 1)).toBeUndefined(); // pruned: older than what the lock enforces
    expect(g.doorSyncState(db, lobby.id)).toMatchObject({ compiledSeq: 2, enforcedSeq: 2 });
    const two = setRow(db, lobby.id, 2);
    expect([two.form, two.acc]).toEqual(['body', null]);
    expect(Uint8Array.from(two.digest)).toEqual(digestFromScratch(db, lobby.id, prop.id, 2, 'body').digest);
    expect(device.firmware.seq).toBe(2);
    expect(device.firmware.enterCode(jane.code)).toMatchObject({ granted: true });
    expect(g.entryDigestSupport(db, lobby.id)).toBe(false);
    expect(g.entryDigestSupport(db, lobby.id, oldFw)).toBe(false);
    expect((db.prepare('SELECT reason FROM door_changes WHERE door_id = ? ORDER BY id DESC LIMIT 1').get(lobby.id) as { reason: string }).reason).toMatch(/refuses the entry digest/);

    // Known now: the next change compiles in the body form and goes without a refusal.
    const sam = invite(db, prop.id, key.id, 'Sam', ctx);
    const second = await gw.pushPending(prop.id);
    expect(second.failures).toEqual([]);
    expect(second.results.map((x) => [x.sent, x.seq])).toEqual([['delta', 3]]);
    expect(setRow(db, lobby.id, 3).form).toBe('body');
    expect(device.firmware.enterCode(sam.code)).toMatchObject({ granted: true });
    const refusals = () => device.firmware.events.read(0, 1000).filter((e) => e.type === 'syncRejected').length;
    expect(refusals()).toBe(1);

    // A firmware update (same hardware, same flash): the lock reports another firmware string, so
    // it is asked again in the same sync. Set 4, compiled before the lock was met (for the firmware
    // that refused), is compiled again as set 5 in the entry form, which the lock now takes.
    await served.stop();
    const updated = lockDevice({ firmware: 'latchkit-sim/1.0.0', storage: device.storage });
    await serve(updated);
    g.revokeAllKeys(db, sam.person.id, ctx);
    const third = await gw.pushPending(prop.id);
    expect(third.failures).toEqual([]);
    expect(third.results.map((x) => [x.sent, x.seq])).toEqual([['delta', 5]]);
    const five = setRow(db, lobby.id, 5);
    expect(five.form).toBe('entries');
    const scratch = digestFromScratch(db, lobby.id, prop.id, 5, 'entries');
    expect([Uint8Array.from(five.digest), Uint8Array.from(five.acc!)]).toEqual([scratch.digest, scratch.acc]);
    expect((db.prepare('SELECT reason FROM door_changes WHERE door_id = ? ORDER BY id DESC LIMIT 1').get(lobby.id) as { reason: string }).reason).toMatch(/firmware updated/);
    expect(g.entryDigestSupport(db, lobby.id, 'latchkit-sim/1.0.0')).toBe(true);
    expect(updated.firmware.seq).toBe(5);
    expect(updated.firmware.enterCode(sam.code)).toMatchObject({ granted: false });
    expect(updated.firmware.enterCode(jane.code)).toMatchObject({ granted: true });
    // From here on entry-form deltas carry the stored accumulator forward.
    const ann = invite(db, prop.id, key.id, 'Ann', ctx);
    expect((await gw.pushPending(prop.id)).results.map((x) => [x.sent, x.seq])).toEqual([['delta', 6]]);
    expect(setRow(db, lobby.id, 6).form).toBe('entries');
    expect(Uint8Array.from(setRow(db, lobby.id, 6).acc!)).toEqual(digestFromScratch(db, lobby.id, prop.id, 6, 'entries').acc);
    expect(updated.firmware.enterCode(ann.code)).toMatchObject({ granted: true });
  }, 60_000);

  it('a lock from before the entry digest never asked (a door synced before migration 15) refuses an entry-form delta; the body-form delta goes in the same sync', async () => {
    const { ctx, db, prop, lobby, key, oldFw, device } = oldLockDoor();
    const jane = invite(db, prop.id, key.id, 'Jane', ctx);
    await serve(device);
    const gw = await engine(db, ctx);
    expect((await gw.pushPending(prop.id)).failures).toEqual([]);
    expect(device.firmware.seq).toBe(2);
    // What a store from before migration 15 knows of this lock: nothing.
    g.recordEntryDigestSupport(db, lobby.id, null, null);
    const sam = invite(db, prop.id, key.id, 'Sam', ctx);
    const r = await gw.pushPending(prop.id);
    expect(r.failures).toEqual([]);
    // Set 3 (entries, a pipelined delta) was refused; set 4 (body) went as a delta from 2.
    expect(r.results.map((x) => [x.sent, x.seq, x.fellBack])).toEqual([['delta', 4, false]]);
    expect(setRow(db, lobby.id, 4).form).toBe('body');
    expect(g.entryDigestSupport(db, lobby.id, oldFw)).toBe(false);
    expect(device.firmware.enterCode(sam.code)).toMatchObject({ granted: true });
    expect(device.firmware.enterCode(jane.code)).toMatchObject({ granted: true });
  }, 60_000);

  it('a phone relay refused by a lock from before the entry digest falls back to the body-form full set it carries; the refusal comes back with the visit and the next bundle carries the body form', async () => {
    const { ctx, db, prop, lobby, key, oldFw, device } = oldLockDoor('offline');
    await commissionByHand(db, lobby.id, device, ctx);
    await serve(device);
    const jane = invite(db, prop.id, key.id, 'Jane', ctx);
    const phone = await Phone.create({ radio: w.air(), key: jane.key, profile: 'ios', crypto });
    w.onCleanup(() => phone.close());

    // Not known either way: the bundle carries the entry form and, to fall back to, the same
    // sequence named by its body digest. The lock refuses the first and takes the second.
    const first = await g.relayBundlesFor(db, jane.person.id, { onlyOffline: true, provider: crypto });
    expect(first.map((b) => [b.doorId, b.seq, b.fullPlain !== undefined])).toEqual([[lobby.id, 1, true]]);
    expect(setRow(db, lobby.id, 1).form).toBe('entries');
    for (const b of first) phone.carry(b);
    const refused = await phone.visit(fromHex(LOCK_ID));
    expect(refused).toMatchObject({ relay: { sent: 'full', fellBack: true, seq: 1 }, relayError: null, entryDigestRefused: { firmware: oldFw } });
    expect(device.firmware.enterCode(jane.code)).toMatchObject({ granted: true });
    // Uploaded over HTTP, as a resident app backend does; recorded only with a receipt that verifies.
    const app = await g.buildApp({ db });
    w.onCleanup(() => app.close());
    const token = g.createToken(db, { name: 'resident app backend', role: 'read_only' }, ctx).secret;
    const upload = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: `/properties/${prop.id}/visits`, headers: { authorization: `Bearer ${token}` }, payload });
    const receipt = Buffer.from(refused.receipt).toString('base64');
    const forged = Buffer.from(refused.receipt);
    forged[forged.length - 1]! ^= 1;
    expect((await upload({ lockId: LOCK_ID, receipt: forged.toString('base64'), entryDigestRefused: { firmware: oldFw } })).statusCode).toBe(422);
    expect(g.entryDigestSupport(db, lobby.id)).toBeNull();
    const res = await upload({ lockId: LOCK_ID, receipt, entryDigestRefused: refused.entryDigestRefused });
    // The lock enforces set 1 under its body digest: that is the digest recorded.
    expect([res.statusCode, JSON.parse(res.body)]).toEqual([200, expect.objectContaining({ enforcedSeq: 1, advanced: true })]);
    expect(g.doorSyncState(db, lobby.id).enforcedDigest).toEqual(digestFromScratch(db, lobby.id, prop.id, 1, 'body').digest);
    expect(g.entryDigestSupport(db, lobby.id, oldFw)).toBe(false);

    // The next change: set 2 in the body form only, which the lock takes.
    const ann = invite(db, prop.id, key.id, 'Ann', ctx);
    const second = await g.relayBundlesFor(db, jane.person.id, { onlyOffline: true, provider: crypto });
    expect(second.map((b) => [b.doorId, b.seq, b.fullPlain !== undefined])).toEqual([[lobby.id, 2, false]]);
    expect(setRow(db, lobby.id, 2).form).toBe('body');
    for (const b of second) phone.carry(b);
    const relayed = await phone.visit(fromHex(LOCK_ID));
    expect(relayed).toMatchObject({ relay: { seq: 2, fellBack: false }, relayError: null, entryDigestRefused: null });
    expect(device.firmware.enterCode(ann.code)).toMatchObject({ granted: true });
    expect(g.acceptVisit(db, relayed, { provider: crypto })).toMatchObject({ enforcedSeq: 2, advanced: true });
    expect(g.doorSyncState(db, lobby.id).enforcedDigest).toEqual(digestFromScratch(db, lobby.id, prop.id, 2, 'body').digest);
  }, 60_000);
});
