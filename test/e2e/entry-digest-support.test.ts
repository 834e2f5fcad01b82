/**
 * What the gateway learns of a lock's support for the entry digest (PROTOCOL.md §4.7) and from
 * whom, end to end: a real SQLite file, the virtual radio, simulated lock firmware, phones and the
 * gateway's sync engine.
 *
 * Covers: a refusal learned from a phone's visit is honoured by the gateway's own link (the
 * entry-form set known to be refused never goes on the air); a refusal the receipt it comes with
 * contradicts (any read-only token can upload one, with a receipt read from the lock or replayed)
 * is ignored; after migration 15 (every door's support unknown) an offline door whose lock is from
 * before the entry digest takes the first relayed set, a revocation included, through the
 * body-form fallback the bundle carries (`fullPlain`), and its receipt is recorded; an offline
 * door's refusal is forgotten once a phone's visit upload reports another firmware string; the
 * door's sync state (API) shows the compiled and enforced sets' digest forms and the lock's support.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveIndexKey, entriesFromSpecs, issueFullSet, fromHex } from '@latchkit/protocol';
import { FIRMWARE_VERSION, Phone } from '@latchkit/simulator';
import * as g from '../../gateway/src/index.js';
import { entryDigestWorld } from './entry-digest-world.js';

const w = entryDigestWorld();
const { crypto, dir, LOCK_ID, oldLockDoor, commissionByHand, store, build, invite, lockDevice, serve, engine, setRow, digestFromScratch } = w;

describe('entry-digest support learned from phones', () => {
  it("a refusal learned from a phone's visit: the gateway's own link sends the body form first, nothing the lock refuses", async () => {
    const { ctx, db, prop, lobby, key, oldFw, device } = oldLockDoor();
    await commissionByHand(db, lobby.id, device, ctx);
    const jane = invite(db, prop.id, key.id, 'Jane', ctx);
    g.compileDirty(db, { ctx, provider: crypto });
    expect(setRow(db, lobby.id, 1).form).toBe('entries');
    // A phone's visit was refused and reported (what acceptVisit records).
    g.acceptVisit(db, { lockId: LOCK_ID, receipt: device.firmware.receipt(), events: [], entryDigestRefused: { firmware: oldFw } }, { provider: crypto });
    expect(g.entryDigestSupport(db, lobby.id, oldFw)).toBe(false);
    await serve(device);
    const gw = await engine(db, ctx);
    expect((await gw.pushPending(prop.id)).failures).toEqual([]);
    expect(device.firmware.enterCode(jane.code)).toMatchObject({ granted: true });
    expect(setRow(db, lobby.id, g.doorSyncState(db, lobby.id).enforcedSeq).form).toBe('body');
    // Known refused under this very firmware: nothing in the entry form went.
    expect(device.firmware.events.read(0, 1000).filter((e) => e.type === 'syncRejected')).toEqual([]);
  }, 60_000);

  it('a refusal the receipt contradicts is ignored: a receipt naming an entry-form set, or an old one replayed from a lock that took the entry digest', async () => {
    const file = join(dir(), 'latchkit.db');
    const ctx: g.Ctx = { actor: 'e2e' };
    const db = store(file);
    const { prop, lobby, key } = build(db, ctx);
    invite(db, prop.id, key.id, 'Jane', ctx);
    const device = lockDevice();
    await serve(device);
    const gw = await engine(db, ctx);
    expect((await gw.pushPending(prop.id)).failures).toEqual([]);
    const enforced = g.doorSyncState(db, lobby.id).enforcedSeq;
    expect(setRow(db, lobby.id, enforced).form).toBe('entries');
    expect(g.entryDigestSupport(db, lobby.id, FIRMWARE_VERSION)).toBe(true);

    // The lock's current receipt names an entry-form set: it takes the claim, whatever firmware string comes with it.
    const receipt = device.firmware.receipt();
    g.acceptVisit(db, { lockId: LOCK_ID, receipt, events: [], entryDigestRefused: { firmware: 'forged/1' } }, { provider: crypto });
    expect(g.entryDigestSupport(db, lobby.id)).toBe(true);

    // The door moves on; the old receipt replayed with the lock's firmware string.
    invite(db, prop.id, key.id, 'Ann', ctx);
    expect((await gw.pushPending(prop.id)).failures).toEqual([]);
    expect(g.doorSyncState(db, lobby.id).enforcedSeq).toBeGreaterThan(enforced);
    invite(db, prop.id, key.id, 'Bob', ctx);
    g.compileDirty(db, { ctx, provider: crypto });
    for (const firmware of [FIRMWARE_VERSION, 'forged/2']) {
      g.acceptVisit(db, { lockId: LOCK_ID, receipt, events: [], entryDigestRefused: { firmware } }, { provider: crypto });
      expect(g.entryDigestSupport(db, lobby.id)).toBe(true);
    }

    // The gateway's own link goes on sending the entry form.
    const sam = invite(db, prop.id, key.id, 'Sam', ctx);
    expect((await gw.pushPending(prop.id)).failures).toEqual([]);
    const now = g.doorSyncState(db, lobby.id).enforcedSeq;
    expect(setRow(db, lobby.id, now).form).toBe('entries');
    expect(device.firmware.enterCode(sam.code)).toMatchObject({ granted: true });
  }, 60_000);
});

describe('relay bundles for doors whose lock is not known to take the entry digest', () => {
  it('after migration 15, an offline door whose lock is from before the entry digest takes a revocation on the first phone visit', async () => {
    const file = join(dir(), 'latchkit.db');
    const ctx: g.Ctx = { actor: 'e2e' };
    const v14 = store(file, g.MIGRATIONS.slice(0, 14));
    const { prop, lobby, key } = build(v14, ctx, 'offline');
    const jane = invite(v14, prop.id, key.id, 'Jane', ctx);
    const sam = invite(v14, prop.id, key.id, 'Sam', ctx);
    const oldFw = 'latchkit-sim/0.0.9';
    // Every lock in the field before this release runs firmware from before the entry digest.
    const device = lockDevice({ beforeEntryDigest: true, firmware: oldFw });
    const info = device.firmware.info();
    const c = await g.commissionDoor(v14, lobby.id, { signingPublic: info.deviceSigningPublic, encryptionPublic: info.deviceEncryptionPublic }, { ctx, provider: crypto });
    device.firmware.applyMessage(c.message);
    const id = g.lockIdentity(v14, lobby.id)!;
    const entries = entriesFromSpecs(g.credentialsForDoor(v14, lobby.id, ctx), deriveIndexKey(id.contentKey, id.lockId), crypto);
    const now = Date.now();
    const old = issueFullSet({ issuer: g.issuerFor(v14, prop.id), lockId: id.lockId, contentKey: id.contentKey, seq: 1, entries, secrets: g.propertySecrets(v14, prop.id), issuedAt: Math.floor(now / 1000), digestForm: 'body', provider: crypto });
    v14.prepare('INSERT INTO door_sets (door_id, seq, digest, payload, created_at, body, lock_generation) VALUES (?, 1, ?, ?, ?, ?, ?)').run(lobby.id, old.digest, old.bytes, now, old.body, id.generation);
    v14.prepare('UPDATE door_sync_state SET compiled_seq = 1, compiled_digest = ?, compiled_at = ?, compiled_through = journal_head WHERE door_id = ?').run(old.digest, now, lobby.id);
    v14.prepare('INSERT INTO door_compiles (door_id, seq, through_change) SELECT door_id, 1, compiled_through FROM door_sync_state WHERE door_id = ?').run(lobby.id);
    g.acceptReceipt(v14, lobby.id, device.firmware.applySetMessage(old.bytes).receipt, { ctx, provider: crypto });
    expect(device.firmware.enterCode(sam.code)).toMatchObject({ granted: true });
    v14.close();

    const db = store(file);
    await serve(device);
    // The manager revokes Sam; Jane's phone carries the change to the offline door.
    g.revokeAllKeys(db, sam.person.id, ctx);
    const phone = await Phone.create({ radio: w.air(), key: jane.key, profile: 'ios', crypto });
    w.onCleanup(() => phone.close());
    const bundles = await g.relayBundlesFor(db, jane.person.id, { onlyOffline: true, provider: crypto });
    expect(bundles.map((b) => [b.seq, b.fullPlain !== undefined])).toEqual([[2, true]]);
    expect(setRow(db, lobby.id, 2).form).toBe('entries');
    for (const b of bundles) phone.carry(b);
    const visit = await phone.visit(fromHex(LOCK_ID));
    expect(visit).toMatchObject({ relayError: null, relay: { seq: 2, fellBack: true }, entryDigestRefused: { firmware: oldFw } });
    expect(device.firmware.enterCode(sam.code)).toMatchObject({ granted: false });
    expect(device.firmware.enterCode(jane.code)).toMatchObject({ granted: true });
    // The sync state the API returns: set 2 compiled in the entry form, the lock still on set 1 (body form), support not known.
    const app = await g.buildApp({ db });
    w.onCleanup(() => app.close());
    const token = g.createToken(db, { name: 'manager', role: 'read_only' }, ctx).secret;
    const syncState = async () => JSON.parse((await app.inject({ method: 'GET', url: `/properties/${prop.id}/doors/${lobby.id}/sync-state`, headers: { authorization: `Bearer ${token}` } })).body);
    expect(await syncState()).toMatchObject({ compiledSeq: 2, enforcedSeq: 1, compiledDigestForm: 'entries', enforcedDigestForm: 'body', entryDigestSupport: null });
    // The receipt names set 2 by its body digest: recorded as enforced, and the refusal learned.
    expect(g.acceptVisit(db, visit, { provider: crypto })).toMatchObject({ enforcedSeq: 2, advanced: true });
    expect(g.doorSyncState(db, lobby.id).enforcedDigest).toEqual(digestFromScratch(db, lobby.id, prop.id, 2, 'body').digest);
    expect(g.entryDigestSupport(db, lobby.id, oldFw)).toBe(false);
    expect(await syncState()).toMatchObject({ compiledSeq: 2, enforcedSeq: 2, compiledDigestForm: 'entries', enforcedDigestForm: 'body', entryDigestSupport: false });
  }, 60_000);
});

describe('an offline door whose lock is updated', () => {
  it("a phone's visit upload carries the lock's firmware string: a refusal learned under another one is forgotten, and the next bundle is in the entry form again", async () => {
    const { ctx, db, prop, lobby, key, oldFw, device } = oldLockDoor('offline');
    await commissionByHand(db, lobby.id, device, ctx);
    const served = await serve(device);
    const jane = invite(db, prop.id, key.id, 'Jane', ctx);
    const phone = await Phone.create({ radio: w.air(), key: jane.key, profile: 'ios', crypto });
    w.onCleanup(() => phone.close());
    for (const b of await g.relayBundlesFor(db, jane.person.id, { onlyOffline: true, provider: crypto })) phone.carry(b);
    const refused = await phone.visit(fromHex(LOCK_ID));
    expect(refused).toMatchObject({ firmware: oldFw, entryDigestRefused: { firmware: oldFw } });
    g.acceptVisit(db, refused, { provider: crypto });
    expect(g.entryDigestSupport(db, lobby.id)).toBe(false);
    // A visit under the same firmware changes nothing.
    g.acceptVisit(db, await phone.visit(fromHex(LOCK_ID)), { provider: crypto });
    expect(g.entryDigestSupport(db, lobby.id)).toBe(false);

    // The lock's firmware is updated (same flash); every phone visit reads its info.
    await served.stop();
    const updated = lockDevice({ firmware: 'latchkit-sim/1.0.0', storage: device.storage });
    await serve(updated);
    const visit = await phone.visit(fromHex(LOCK_ID));
    expect(visit.firmware).toBe('latchkit-sim/1.0.0');
    // Uploaded over HTTP, as a resident app backend does.
    const app = await g.buildApp({ db });
    w.onCleanup(() => app.close());
    const token = g.createToken(db, { name: 'resident app backend', role: 'read_only' }, ctx).secret;
    const res = await app.inject({
      method: 'POST',
      url: `/properties/${prop.id}/visits`,
      headers: { authorization: `Bearer ${token}` },
      payload: { lockId: LOCK_ID, receipt: Buffer.from(visit.receipt).toString('base64'), firmware: visit.firmware },
    });
    expect(res.statusCode).toBe(200);
    expect(g.entryDigestSupport(db, lobby.id)).toBeNull();
    const sam = invite(db, prop.id, key.id, 'Sam', ctx);
    const next = await g.relayBundlesFor(db, jane.person.id, { onlyOffline: true, provider: crypto });
    expect(next.map((b) => [b.seq, b.fullPlain !== undefined])).toEqual([[2, true]]);
    expect(setRow(db, lobby.id, 2).form).toBe('entries');
    for (const b of next) phone.carry(b);
    const taken = await phone.visit(fromHex(LOCK_ID));
    expect(taken).toMatchObject({ relay: { seq: 2, fellBack: false }, relayError: null, entryDigestRefused: null });
    expect(updated.firmware.enterCode(sam.code)).toMatchObject({ granted: true });
    g.acceptVisit(db, taken, { provider: crypto });
    expect(g.doorSyncState(db, lobby.id).enforcedDigest).toEqual(Uint8Array.from(setRow(db, lobby.id, 2).digest));
    // Its receipt names the entry-form set by its entry digest: the lock takes it, and the next bundle carries no fallback.
    expect(g.entryDigestSupport(db, lobby.id, 'latchkit-sim/1.0.0')).toBe(true);
    const state = await app.inject({ method: 'GET', url: `/properties/${prop.id}/doors/${lobby.id}/sync-state`, headers: { authorization: `Bearer ${token}` } });
    expect(JSON.parse(state.body)).toMatchObject({ enforcedSeq: 2, compiledDigestForm: 'entries', enforcedDigestForm: 'entries', entryDigestSupport: true });
    invite(db, prop.id, key.id, 'Bob', ctx);
    expect((await g.relayBundlesFor(db, jane.person.id, { onlyOffline: true, provider: crypto })).map((b) => [b.seq, b.fullPlain !== undefined])).toEqual([[3, false]]);
  }, 60_000);
});
