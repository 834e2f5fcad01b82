/**
 * The gateway end to end: real SQLite file, real virtual radio with the real noble and bleno
 * stacks, simulated lock firmware, the gateway's sync engine and residents' phones.
 *
 * Covers: commissioning and first sync of an online door by the gateway and of an offline door
 * by a manager's phone (manual sync); the seeds' sync-until rule (a revoked resident's code
 * opens an offline door until that door syncs, and not after); passive sync by a roommate's
 * phone; a gateway crash mid-transfer (restart, resume, nothing lost); changes made while a
 * sync runs; a lock from before the transition claim at a property with daylight saving.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEvent, fromHex, issueFullSet, openSetMessage, openTimeSync, signingKeyFromSeed, toHex, type IssuerSigner } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createAir, LockDevice, Phone, serveLock, type Air, type ServedLock } from '@latchkit/simulator';
import * as g from '../../gateway/src/index.js';
import { startWorkerSigner } from '../../bench/worker-signer.js';

const crypto = nodeCryptoProvider;
let air: Air | undefined;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await air?.close();
  air = undefined;
});

function seed(label: string): Uint8Array {
  return crypto.sha256(new TextEncoder().encode(label));
}

async function property() {
  const dir = mkdtempSync(join(tmpdir(), 'latchkit-e2e-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'latchkit.db');
  let db = g.openStore({ file });
  cleanup.push(() => {
    if (db.open) db.close();
  });
  const ctx: g.Ctx = { actor: 'e2e' };
  const prop = g.createProperty(db, { name: 'Elm Court', utcOffsetMin: 0 }, ctx);
  const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '4c4b0000000000a1', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
  const unit = g.createUnit(db, prop.id, { name: '4B' }, ctx);
  const door4b = g.createDoor(db, prop.id, { name: '4B front door', lockId: '4c4b0000000000b4', connectivity: 'offline', unitId: unit.id }, ctx);
  const entrances = g.createKey(db, prop.id, { name: 'Resident Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: false, doorcodesDisabled: false }, ctx);
  const key4b = g.createKey(db, prop.id, { name: 'Unit 4B', kind: 'residential', doorIds: [door4b.id], mayShare: false, doorcodesDisabled: false, unitId: unit.id }, ctx);
  const invite = (first: string) => {
    const p = g.invitePerson(db, prop.id, { email: `${first.toLowerCase()}@example.com`, firstName: first, lastName: 'Doe', accessType: 'app', isResident: true, mayShare: false, keyIds: [entrances.id, key4b.id] }, ctx).person;
    const key = signingKeyFromSeed(seed(`phone-${first}`), crypto);
    g.addPhoneKey(db, p.id, { publicKey: toHex(key.publicKey) }, ctx);
    return { person: p, key, code: g.personDoorcode(db, p.id)! };
  };
  const jane = invite('Jane');
  const sam = invite('Sam');

  air = createAir({ seed: 11 });
  const locks = new Map<number, { device: LockDevice; served: ServedLock }>();
  for (const d of [lobby, door4b]) {
    const device = new LockDevice({ identity: { lockId: fromHex(d.lockId), deviceSeed: seed(`device-${d.lockId}`) }, crypto });
    const served = await serveLock(air, device);
    cleanup.push(() => served.stop());
    locks.set(d.id, { device, served });
  }
  const reopen = () => {
    db.close();
    db = g.openStore({ file });
    return db;
  };
  return { get db() { return db; }, reopen, ctx, prop, lobby, door4b, jane, sam, locks, air: air! };
}

async function engine(db: g.Db, name: string, o: Partial<g.SyncEngineOptions> = {}) {
  const e = await g.SyncEngine.create({ db, radio: air!, name, provider: crypto, sleep: async () => undefined, ...o });
  cleanup.push(() => e.close());
  return e;
}

async function phone(key: ReturnType<typeof signingKeyFromSeed>) {
  const p = await Phone.create({ radio: air!, key, profile: 'ios', crypto });
  cleanup.push(() => p.close());
  return p;
}

describe('gateway sync end to end', () => {
  it('syncs every door, unlocks, and enforces a revoke only where the door has synced', async () => {
    const f = await property();
    const gw = await engine(f.db, 'gw-1');
    // The gateway pushes its online door (commissioning it first); the offline door is not its to reach.
    const pushed = await gw.pushPending(f.prop.id);
    expect(pushed.failures).toEqual([]);
    expect(pushed.results.map((r) => [r.doorId, r.commissioned, r.sent])).toEqual([[f.lobby.id, true, 'full']]);
    // A manager's phone syncs the offline door by hand (same engine code, different radio).
    const manager = await engine(f.db, 'manager-phone');
    const manual = await manager.syncDoor(f.door4b.id);
    expect(manual).toMatchObject({ commissioned: true, sent: 'full', action: 'synced' });
    expect(manual.modelled).toBe(true);
    expect(manual.elapsedMs).toBeGreaterThan(0);
    expect(g.doorSyncTasks(f.db, f.prop.id)).toEqual([]);

    // Each credential kind the resident holds opens the doors.
    const janePhone = await phone(f.jane.key);
    expect((await janePhone.visit(fromHex(f.lobby.lockId))).unlock).toMatchObject({ granted: true, holder: f.jane.person.holderRef });
    const unitLock = f.locks.get(f.door4b.id)!.device;
    expect(unitLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: true, holder: f.jane.person.holderRef });

    // Revoke Jane. The gateway pushes the lobby within one pass; the offline unit door has not synced.
    g.revokeAllKeys(f.db, f.jane.person.id, f.ctx);
    const afterRevoke = await gw.pushPending(f.prop.id);
    expect(afterRevoke.results.map((r) => [r.doorId, r.sent])).toEqual([[f.lobby.id, 'delta']]);
    expect((await janePhone.visit(fromHex(f.lobby.lockId))).unlock).toMatchObject({ granted: false, reason: 'unknownCredential' });
    expect(unitLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: true }); // sync-until rule
    const tasks = g.doorSyncTasks(f.db, f.prop.id);
    expect(tasks.map((t) => t.doorId)).toEqual([f.door4b.id]);
    expect(tasks[0]!.changes.map((c) => c.reason).join(' ')).toMatch(/Jane/);

    // Sam's phone carries the unit door's bundle and relays it during his unlock (passive sync).
    const bundles = await g.relayBundlesFor(f.db, f.sam.person.id, { onlyOffline: true, provider: crypto });
    expect(bundles.map((b) => b.doorId)).toEqual([f.door4b.id]);
    expect(bundles[0]!.delta).toBeDefined();
    const samPhone = await phone(f.sam.key);
    for (const b of bundles) samPhone.carry(b);
    const visit = await samPhone.visit(fromHex(f.door4b.lockId));
    expect(visit.relay).toMatchObject({ sent: 'delta', fellBack: false });
    expect(visit.unlock).toMatchObject({ granted: true, holder: f.sam.person.holderRef });
    const back = g.acceptVisit(f.db, visit, { provider: crypto });
    expect(back.advanced).toBe(true);
    expect(g.doorSyncTasks(f.db, f.prop.id)).toEqual([]);
    // Right after the sync, Jane's code no longer opens the unit door.
    expect(unitLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: false, reason: 'unknownCredential' });

    // Uploaded lock events became activity, attributed by name.
    const unlocks = g.listActivity(f.db, f.prop.id, {}).filter((a) => a.kind === 'unlock');
    expect(unlocks.some((a) => a.holderName === 'Jane Doe' && a.result === 'granted' && a.credentialKind === 'phone')).toBe(true);
    expect(unlocks.some((a) => a.holderName === 'Sam Doe' && a.result === 'granted' && a.doorId === f.door4b.id)).toBe(true);
  });

  it('a gateway that crashes mid-transfer restarts and finishes; nothing is lost', async () => {
    const f = await property();
    const gw = await engine(f.db, 'gw-1', { retry: { attempts: 1 } });
    await gw.pushPending(f.prop.id);
    // A bigger change, so the next set takes many chunks; drop the link part way through it.
    for (let i = 0; i < 40; i++) {
      g.invitePerson(f.db, f.prop.id, { email: `guest${i}@example.com`, firstName: `G${i}`, lastName: 'X', accessType: 'app', isResident: true, mayShare: false, keyIds: [g.listKeys(f.db, f.prop.id)[0]!.id] }, f.ctx);
    }
    const lobbyLock = f.locks.get(f.lobby.id)!;
    f.air.injectFault({ kind: 'drop-at-byte', peripheral: lobbyLock.served.peripheral, byte: 900 });
    const crashed = await gw.pushPending(f.prop.id);
    expect(crashed.failures.map((x) => x.code)).toEqual(['RADIO_UNAVAILABLE']);
    const before = g.doorSyncState(f.db, f.lobby.id);
    expect(before.enforcedSeq).toBeLessThan(before.compiledSeq);
    expect(lobbyLock.device.firmware.bulkReceiver.progress().received).toBeGreaterThan(0);

    // "Crash": drop the engine and the database handle, reopen the file, start a new engine.
    await gw.close();
    const db2 = f.reopen();
    const gw2 = await engine(db2, 'gw-1');
    const resumed = await gw2.pushPending(f.prop.id);
    expect(resumed.failures).toEqual([]);
    expect(resumed.results[0]!.resumedFrom).toBeGreaterThan(0);
    const after = g.doorSyncState(db2, f.lobby.id);
    expect(after.enforcedSeq).toBe(after.compiledSeq);
    expect(after.pendingChanges).toBe(0);
    expect(lobbyLock.device.firmware.seq).toBe(after.compiledSeq);
  });

  it('changes made while a sync runs are compiled and pushed on the next pass, none lost', async () => {
    const f = await property();
    let late: number | null = null;
    // The change lands mid-transfer: after this pass compiled its set, before the lock receipts it.
    const gw = await engine(f.db, 'gw-1', {
      onProgress: (e) => {
        if (e.kind === 'bytes' && late === null && gw0Ready) {
          late = g.invitePerson(f.db, f.prop.id, { email: 'late@example.com', firstName: 'Late', lastName: 'Comer', accessType: 'app', isResident: true, mayShare: false, keyIds: [g.listKeys(f.db, f.prop.id)[0]!.id] }, f.ctx).person.id;
        }
      },
    });
    let gw0Ready = false;
    await gw.pushPending(f.prop.id);
    gw0Ready = true;
    g.revokeAllKeys(f.db, f.jane.person.id, f.ctx);
    const first = await gw.pushPending(f.prop.id);
    expect(late).not.toBeNull();
    const lobby = f.locks.get(f.lobby.id)!.device;
    // The pass that was running delivered the revoke, not the late invite...
    expect(first.results.map((r) => r.doorId)).toEqual([f.lobby.id]);
    expect(lobby.firmware.enterCode(f.jane.code)).toMatchObject({ granted: false });
    expect(lobby.firmware.enterCode(g.personDoorcode(f.db, late!)!)).toMatchObject({ granted: false });
    expect(g.doorSyncState(f.db, f.lobby.id).pendingChanges).toBeGreaterThan(0);
    // ...and the next pass does, so nothing is lost.
    await gw.pushPending(f.prop.id);
    const state = g.doorSyncState(f.db, f.lobby.id);
    expect(state.pendingChanges).toBe(0);
    expect(state.enforcedSeq).toBe(state.compiledSeq);
    expect(lobby.firmware.enterCode(g.personDoorcode(f.db, late!)!)).toMatchObject({ granted: true });
    expect(lobby.firmware.enterCode(f.jane.code)).toMatchObject({ granted: false });
  });

  it('the running engine pushes an online door within seconds of a change, with no call from the test', async () => {
    const f = await property();
    const gw = await engine(f.db, 'gw-1');
    await gw.pushPending(f.prop.id);
    gw.start(100, f.prop.id);
    const lobby = f.locks.get(f.lobby.id)!.device;
    const seqBefore = lobby.firmware.seq;
    const t0 = Date.now();
    g.revokeAllKeys(f.db, f.jane.person.id, f.ctx);
    while (lobby.firmware.seq === seqBefore && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    const waitedMs = Date.now() - t0;
    await gw.stop();
    expect(lobby.firmware.seq).toBeGreaterThan(seqBefore);
    expect(waitedMs).toBeLessThan(10_000);
    expect(lobby.firmware.enterCode(f.jane.code)).toMatchObject({ granted: false });
    expect(g.doorSyncState(f.db, f.lobby.id).enforcedSeq).toBe(lobby.firmware.seq);
  });

  it('stop() ends a pass at an unreachable door after the attempt in flight: no further retries or backoff', async () => {
    const f = await property();
    await f.locks.get(f.lobby.id)!.served.stop(); // the online lobby is off the air
    const events: g.SyncProgress[] = [];
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((r) => (firstAttempt = r));
    const gw = await engine(f.db, 'gw-1', {
      timeoutMs: 200,
      retry: { attempts: 4, baseDelayMs: 5_000, maxDelayMs: 5_000 },
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      onProgress: (e) => {
        events.push(e);
        if (e.kind === 'attempt') firstAttempt();
      },
    });
    gw.start(50, f.prop.id);
    await attempted;
    await gw.stop();
    expect(events.filter((e) => e.kind === 'attempt')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'retry')).toEqual([]);
    expect(events.find((e) => e.kind === 'failed')).toMatchObject({ doorId: f.lobby.id, code: 'RADIO_UNAVAILABLE', message: expect.stringMatching(/before the engine stopped/) });
    // The door is still pending for the next start.
    expect(gw.doorsToPush(f.prop.id)).toContain(f.lobby.id);
  });

  it('rotates the issuer key: locks learn the new anchor first, then sets switch signer, then the old key is dropped', async () => {
    const f = await property();
    const gw = await engine(f.db, 'gw-1');
    await gw.pushPending(f.prop.id);
    const lobby = f.locks.get(f.lobby.id)!.device;
    const oldKey = g.activeIssuerKey(f.db, f.prop.id)!;
    const begun = await g.beginIssuerRotation(f.db, f.prop.id, { ctx: f.ctx, provider: crypto });
    expect(begun.doors).toBe(1); // only the lobby's lock is commissioned so far
    await expect(g.completeIssuerRotation(f.db, f.prop.id, { ctx: f.ctx, provider: crypto })).rejects.toThrowError(/not applied the new trust anchor/);
    expect(lobby.firmware.summary().anchors).toBe(1);
    await gw.pushPending(f.prop.id);
    expect(lobby.firmware.summary().anchors).toBe(2);
    expect(g.doorsBehindOnAnchors(f.db, f.prop.id)).toEqual([]);

    const done = await g.completeIssuerRotation(f.db, f.prop.id, { ctx: f.ctx, provider: crypto });
    expect(done.kid).toBe(begun.kid);
    const seqBefore = lobby.firmware.seq;
    const r = await gw.pushPending(f.prop.id);
    expect(r.failures).toEqual([]);
    expect(lobby.firmware.seq).toBeGreaterThan(seqBefore); // recompiled and signed by the new key
    expect(lobby.firmware.summary().anchors).toBe(1);
    expect(lobby.firmware.enterCode(f.jane.code)).toMatchObject({ granted: true });

    // The retired key can no longer sign anything this lock accepts.
    const forged = issueFullSet({
      issuer: signingKeyFromSeed(g.issuerKey(f.db, oldKey.id).secretKey!, crypto),
      lockId: fromHex(f.lobby.lockId),
      contentKey: g.lockIdentity(f.db, f.lobby.id)!.contentKey,
      secrets: g.propertySecrets(f.db, f.prop.id),
      seq: lobby.firmware.seq + 10,
      issuedAt: Math.floor(Date.now() / 1000),
      entries: [],
      provider: crypto,
    });
    expect(() => lobby.firmware.applySetMessage(forged.bytes)).toThrowError(expect.objectContaining({ code: 'UNKNOWN_KEY_ID' }));
    // A door commissioned after the rotation trusts only the new key and syncs fine.
    const manager = await engine(f.db, 'manager-phone');
    expect(await manager.syncDoor(f.door4b.id)).toMatchObject({ commissioned: true, sent: 'full' });
    expect(f.locks.get(f.door4b.id)!.device.firmware.summary().anchors).toBe(1);
  });

  it('rotates the issuer key at an offline door by passive sync: the lock\'s signed event log, not the phone, says the anchor update applied', async () => {
    const f = await property();
    const gw = await engine(f.db, 'gw-1');
    await gw.pushPending(f.prop.id);
    const manager = await engine(f.db, 'manager-phone');
    await manager.syncDoor(f.door4b.id);
    const unitLock = f.locks.get(f.door4b.id)!.device;
    expect((await g.beginIssuerRotation(f.db, f.prop.id, { ctx: f.ctx, provider: crypto })).doors).toBe(2);
    await gw.pushPending(f.prop.id); // the online lobby learns the new anchor from its gateway
    expect(g.doorsBehindOnAnchors(f.db, f.prop.id)).toEqual([f.door4b.id]);

    // A visit that relayed nothing proves nothing: the door stays behind.
    const janePhone = await phone(f.jane.key);
    g.acceptVisit(f.db, await janePhone.visit(fromHex(f.door4b.lockId)), { provider: crypto });
    expect(g.doorsBehindOnAnchors(f.db, f.prop.id)).toEqual([f.door4b.id]);

    // Sam's bundle for the unit door is the anchor update alone (its set is current).
    const bundles = await g.relayBundlesFor(f.db, f.sam.person.id, { onlyOffline: true, provider: crypto });
    expect(bundles.map((b) => [b.doorId, b.anchorUpdates?.length, b.full === undefined])).toEqual([[f.door4b.id, 1, true]]);
    const samPhone = await phone(f.sam.key);
    for (const b of bundles) samPhone.carry(b);
    const visit = await samPhone.visit(fromHex(f.door4b.lockId));
    expect(visit).toMatchObject({ anchorsApplied: 1, relay: null, relayError: null, unlock: { granted: true } });
    expect(unitLock.firmware.summary().anchors).toBe(2);
    g.acceptVisit(f.db, visit, { provider: crypto });
    expect(g.doorsBehindOnAnchors(f.db, f.prop.id)).toEqual([]);

    // The rotation completes; the unit door gets the update dropping the old key and a set
    // signed by the new key, both by the next resident's phone.
    await g.completeIssuerRotation(f.db, f.prop.id, { ctx: f.ctx, provider: crypto });
    const next = await g.relayBundlesFor(f.db, f.jane.person.id, { onlyOffline: true, provider: crypto });
    expect(next.map((b) => [b.doorId, b.anchorUpdates?.length, b.full !== undefined])).toEqual([[f.door4b.id, 1, true]]);
    for (const b of next) janePhone.carry(b);
    const second = await janePhone.visit(fromHex(f.door4b.lockId));
    expect(second).toMatchObject({ anchorsApplied: 1, relayError: null, unlock: { granted: true } });
    expect(second.relay?.seq).toBe(next[0]!.seq);
    expect(unitLock.firmware.summary().anchors).toBe(1);
    g.acceptVisit(f.db, second, { provider: crypto });
    expect(g.doorsBehindOnAnchors(f.db, f.prop.id)).toEqual([f.lobby.id]); // the online lobby waits for its gateway's pass
    expect(g.doorSyncTasks(f.db, f.prop.id).map((t) => t.doorId)).not.toContain(f.door4b.id);
  });

  it('over HTTP: a phone fetches its relay bundles, syncs an offline door, and uploads the visit; bad uploads are refused', async () => {
    const f = await property();
    const gw = await engine(f.db, 'gw-1');
    await gw.pushPending(f.prop.id);
    const manager = await engine(f.db, 'manager-phone');
    await manager.syncDoor(f.door4b.id);
    g.revokeAllKeys(f.db, f.jane.person.id, f.ctx);
    const app = await g.buildApp({ db: f.db });
    cleanup.push(() => app.close());
    const token = g.createToken(f.db, { name: 'resident app backend', role: 'read_only' }, f.ctx).secret;
    const call = async (method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) => {
      const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
      return { status: res.statusCode, body: JSON.parse(res.body) };
    };
    const base = `/properties/${f.prop.id}`;
    const got = await call('GET', `${base}/people/${f.sam.person.id}/relay-bundles`);
    expect(got.status).toBe(200);
    expect(got.body.map((b: { doorId: number }) => b.doorId)).toEqual([f.door4b.id]);
    const samPhone = await phone(f.sam.key);
    for (const b of got.body) samPhone.carry({ lockId: fromHex(b.lockId), full: Buffer.from(b.full, 'base64'), ...(b.delta ? { delta: Buffer.from(b.delta, 'base64') } : {}), eventsFrom: b.eventsFrom });
    const visit = await samPhone.visit(fromHex(f.door4b.lockId));
    expect(visit.relay?.sent).toBe('delta');
    const events = Buffer.concat(visit.events.map((e) => Buffer.from(encodeEvent(e)))).toString('base64');
    const upload = { lockId: f.door4b.lockId, receipt: Buffer.from(visit.receipt).toString('base64'), events };
    const tampered = Buffer.from(visit.receipt);
    tampered[tampered.length - 5]! ^= 1;
    expect(await call('POST', `${base}/visits`, { ...upload, receipt: tampered.toString('base64') })).toMatchObject({ status: 422, body: { error: { code: 'LOCK_MESSAGE_INVALID' } } });
    expect(await call('POST', `${base}/visits`, { ...upload, lockId: f.lobby.lockId })).toMatchObject({ status: 422 });
    // A genuine receipt with edited event records: the receipt stands, the records are refused.
    const edited = visit.events.map((e, i) => (i === visit.events.length - 1 ? { ...e, holder: e.holder + 1 } : e));
    const editedB64 = Buffer.concat(edited.map((e) => Buffer.from(encodeEvent(e)))).toString('base64');
    const partial = await call('POST', `${base}/visits`, { ...upload, events: editedB64 });
    expect(partial).toMatchObject({ status: 200, body: { doorId: f.door4b.id, advanced: true, eventsUploaded: 0 } });
    expect(partial.body.eventsRefused).toMatch(/DIGEST_MISMATCH/);
    const ok = await call('POST', `${base}/visits`, upload);
    expect(ok).toMatchObject({ status: 200, body: { doorId: f.door4b.id, advanced: false, eventsRefused: null } });
    expect(ok.body.eventsUploaded).toBeGreaterThan(0);
    // The unit door is no longer behind (the lobby still is: this test never pushed it).
    expect(g.doorSyncTasks(f.db, f.prop.id).map((t) => t.doorId)).toEqual([f.lobby.id]);
    expect((await call('GET', `${base}/people/${f.sam.person.id}/relay-bundles`)).body).toEqual([]);
    expect(await call('POST', `${base}/visits`, { lockId: 'zz', receipt: 'AAAA' })).toMatchObject({ status: 400 });
    expect(await call('POST', `${base}/issuer-rotation`)).toMatchObject({ status: 403 }); // read-only token
  });

  it('an impostor advertising a commissioned lock id gets no keys; replaced hardware is commissioned only after the operator forgets the old identity', async () => {
    const f = await property();
    const gw = await engine(f.db, 'gw-1');
    await gw.pushPending(f.prop.id);
    const before = g.lockIdentity(f.db, f.lobby.id)!;
    expect(before.confirmedAt).not.toBeNull();
    // The genuine lock goes away; a factory-fresh device answers for the same lock id.
    await f.locks.get(f.lobby.id)!.served.stop();
    const impostor = new LockDevice({ identity: { lockId: fromHex(f.lobby.lockId), deviceSeed: seed('impostor') }, crypto });
    const served = await serveLock(f.air, impostor);
    cleanup.push(() => served.stop());
    const failed = await gw.pushPending(f.prop.id);
    expect(failed.failures.map((x) => x.code)).toEqual([]); // nothing pending: the door looks up to date
    await expect(gw.syncDoor(f.lobby.id)).rejects.toMatchObject({ code: 'LOCK_IDENTITY_CHANGED' });
    const after = g.lockIdentity(f.db, f.lobby.id)!;
    expect(after.contentKey).toEqual(before.contentKey);
    expect(after.signingPublic).toEqual(before.signingPublic);
    expect(impostor.firmware.summary().commissioned).toBe(false);
    // The operator confirms the hardware was replaced: the next sync commissions it and installs the set.
    g.forgetLockIdentity(f.db, f.lobby.id);
    const r = await gw.syncDoor(f.lobby.id);
    expect(r).toMatchObject({ commissioned: true, sent: 'full' });
    expect(impostor.firmware.enterCode(f.jane.code)).toMatchObject({ granted: true });
    expect(g.doorSyncState(f.db, f.lobby.id).enforcedSeq).toBe(impostor.firmware.seq);
  });

  it('with an issuer signer (signerFor) the sets are signed by it; while it fails the door fails with SIGNER_FAILED and its change waits', async () => {
    const f = await property();
    const key = g.issuerFor(f.db, f.prop.id);
    const kms = await startWorkerSigner({ seed: key.seed, latencyMs: 5 });
    cleanup.push(() => kms.close());
    let down = false;
    const signer: IssuerSigner = { publicKey: kms.publicKey, kid: kms.kid, sign: (m) => (down ? Promise.reject(new Error('KMS unavailable')) : kms.sign(m)) };
    const gw = await engine(f.db, 'gw-1', { signerFor: () => signer });
    const first = await gw.pushPending(f.prop.id);
    expect(first.failures).toEqual([]);
    expect(first.results.map((r) => [r.doorId, r.sent])).toEqual([[f.lobby.id, 'full']]);
    expect(kms.signed).toBe(2); // the commissioning and the first set: the store's key signed nothing

    down = true;
    g.revokeAllKeys(f.db, f.jane.person.id, f.ctx);
    const failing = await gw.pushPending(f.prop.id);
    expect(failing.results).toEqual([]);
    expect(failing.failures.map((x) => [x.doorId, x.code])).toContainEqual([f.lobby.id, 'SIGNER_FAILED']);
    expect(failing.failures.every((x) => x.message.includes('KMS unavailable'))).toBe(true);
    const lobbyLock = f.locks.get(f.lobby.id)!.device;
    expect(lobbyLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: true }); // nothing new reached it
    expect(g.doorSyncState(f.db, f.lobby.id).pendingChanges).toBeGreaterThan(0);

    down = false;
    const recovered = await gw.pushPending(f.prop.id);
    expect(recovered.failures).toEqual([]);
    expect(recovered.results.map((r) => [r.doorId, r.sent])).toEqual([[f.lobby.id, 'delta']]);
    expect(lobbyLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: false });
  });
});

/**
 * A property whose issuer key exists only in a signer: a non-extractable WebCrypto key generated
 * inside a worker thread (bench/worker-signer.ts), the store holding nothing but its public key.
 */
describe('an issuer key only a signer holds (no private key in the store)', () => {
  async function signerHeld() {
    const f = await property();
    const kms = await startWorkerSigner({ latencyMs: 2 });
    cleanup.push(() => kms.close());
    expect(await kms.privateKeyExportable()).toBe(false);
    g.addIssuerKey(f.db, { propertyId: f.prop.id, kid: toHex(kms.kid), publicKey: kms.publicKey, activate: true }, f.ctx);
    let mode: 'ok' | 'down' | 'garbage' | 'silent' = 'ok';
    // What the gateway is configured with: this property's key is the worker's; others have none.
    // `mode` stands in for a KMS outage, a corrupted answer and a request that never returns.
    const signer: IssuerSigner = {
      publicKey: kms.publicKey,
      kid: kms.kid,
      sign: (m) =>
        mode === 'down' ? Promise.reject(new Error('KMS unavailable')) : mode === 'garbage' ? Promise.resolve(new Uint8Array(64).fill(7)) : mode === 'silent' ? new Promise<Uint8Array>(() => undefined) : kms.sign(m),
    };
    const signerFor: g.SignerResolver = (issuer) => (issuer.propertyId === f.prop.id && toHex(issuer.kid) === toHex(kms.kid) ? signer : undefined);
    const storedSecrets = () => (f.db.prepare('SELECT count(*) AS n FROM issuer_keys WHERE secret_sealed IS NOT NULL').get() as { n: number }).n;
    expect(storedSecrets()).toBe(0);
    expect(g.activeIssuerKey(f.db, f.prop.id)!.secretKey).toBeNull();
    return { f, kms, signerFor, storedSecrets, fail: (m: typeof mode) => (mode = m) };
  }

  /** The full set a lock of `doorId` would be sent, opened as the lock would: its sequence. */
  const opensAs = (f: Awaited<ReturnType<typeof property>>, doorId: number, bytes: Uint8Array): number => {
    const id = g.lockIdentity(f.db, doorId)!;
    return openSetMessage(bytes, { lockId: id.lockId, anchors: g.trustAnchors(f.db, f.prop.id), contentKey: id.contentKey, seq: 0, current: null }).seq;
  };

  it('commissioning, sets, a time sync, a full set on demand, a relay bundle and a rotation are all signed by it', async () => {
    const { f, kms, signerFor, storedSecrets } = await signerHeld();

    // Without the signer the gateway cannot sign for this property, and says so; nothing is written.
    const bare = await engine(f.db, 'gw-1');
    const refused = await bare.pushPending(f.prop.id);
    expect(refused.failures.map((x) => [x.doorId, x.code])).toEqual([[f.lobby.id, 'SIGNER_REQUIRED']]);
    expect(g.lockIdentity(f.db, f.lobby.id)).toBeUndefined();
    await bare.close();

    const gw = await engine(f.db, 'gw-1', { signerFor });
    const first = await gw.pushPending(f.prop.id);
    expect(first.failures).toEqual([]);
    expect(first.results.map((r) => [r.doorId, r.commissioned, r.sent])).toEqual([[f.lobby.id, true, 'full']]);
    expect(kms.signed).toBe(2); // the commissioning and the set
    const lobbyLock = f.locks.get(f.lobby.id)!.device;
    expect(lobbyLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: true });

    // The synchronous compile signs only with a stored key: refused, with or without the signer.
    g.revokeAllKeys(f.db, f.jane.person.id, f.ctx);
    expect(() => g.compileDirty(f.db, { ctx: f.ctx })).toThrowError(expect.objectContaining({ code: 'SIGNER_REQUIRED' }));
    expect(() => g.compileDirty(f.db, { ctx: f.ctx, signerFor })).toThrowError(expect.objectContaining({ code: 'SIGNER_REQUIRED' }));
    // An engine without the signer reports the door, and goes on with any other.
    const bare2 = await engine(f.db, 'gw-1');
    expect((await bare2.pushPending(f.prop.id)).failures.map((x) => [x.doorId, x.code])).toEqual([[f.lobby.id, 'SIGNER_REQUIRED']]);
    await bare2.close();

    // A delta for the lobby, and the full set it falls back to made on demand: both the signer's.
    const signedBefore = kms.signed;
    const revoke = await gw.pushPending(f.prop.id);
    expect(revoke.failures).toEqual([]);
    expect(revoke.results.map((r) => [r.doorId, r.sent])).toEqual([[f.lobby.id, 'delta']]);
    expect(lobbyLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: false });
    const seq = g.doorSyncState(f.db, f.lobby.id).compiledSeq;
    const full = (await g.syncPayload(f.db, f.lobby.id, -1, { forceFull: true, signerFor }))!;
    expect(kms.signed).toBe(signedBefore + 2);
    expect(opensAs(f, f.lobby.id, full.bytes)).toBe(seq);

    // The zone changes: the lock's idea of local time is stale, and a signed time sync goes out.
    g.updateProperty(f.db, f.prop.id, { timeZone: 'Europe/Berlin' }, f.ctx);
    const timed = await gw.syncDoor(f.lobby.id);
    expect(timed.timeSynced).toBe(true); // accepted by a lock whose only anchor is the worker's key

    // The offline door: a manager's phone commissions it; then a roommate's phone relays a
    // bundle (a delta, the full set made on demand, signed time) for a new resident of 4B.
    const manager = await engine(f.db, 'manager-phone', { signerFor });
    expect(await manager.syncDoor(f.door4b.id)).toMatchObject({ commissioned: true, sent: 'full' });
    const key4b = (f.db.prepare("SELECT id FROM keys WHERE name = 'Unit 4B'").get() as { id: number }).id;
    g.invitePerson(f.db, f.prop.id, { email: 'ann@example.com', firstName: 'Ann', lastName: 'Doe', accessType: 'app', isResident: true, mayShare: false, keyIds: [key4b] }, f.ctx);
    const beforeBundle = kms.signed;
    const bundles = await g.relayBundlesFor(f.db, f.sam.person.id, { onlyOffline: true, provider: crypto, signerFor });
    expect(bundles.map((b) => [b.doorId, b.delta !== undefined, b.full !== undefined, b.timeSync !== undefined])).toEqual([[f.door4b.id, true, true, true]]);
    expect(kms.signed).toBe(beforeBundle + 3); // the delta, the full set, the time sync
    const samPhone = await phone(f.sam.key);
    for (const b of bundles) samPhone.carry(b);
    const visit = await samPhone.visit(fromHex(f.door4b.lockId));
    expect(visit).toMatchObject({ relay: { sent: 'delta', fellBack: false }, unlock: { granted: true } });
    expect(g.acceptVisit(f.db, visit, { provider: crypto }).advanced).toBe(true);
    const unitLock = f.locks.get(f.door4b.id)!.device;
    expect(unitLock.firmware.seq).toBe(g.doorSyncState(f.db, f.door4b.id).compiledSeq); // the set with Ann in it

    // A rotation to another key the signer side holds: the store never gets either secret.
    await expect(g.beginIssuerRotation(f.db, f.prop.id, { ctx: f.ctx, signerFor })).rejects.toThrowError(expect.objectContaining({ code: 'SIGNER_REQUIRED' }));
    const kms2 = await startWorkerSigner();
    cleanup.push(() => kms2.close());
    const both: g.SignerResolver = (issuer) => signerFor(issuer) ?? (toHex(issuer.kid) === toHex(kms2.kid) ? kms2 : undefined);
    const gw2 = await engine(f.db, 'gw-2', { signerFor: both, name: 'gw-1' });
    await gw.close();
    expect(await g.beginIssuerRotation(f.db, f.prop.id, { ctx: f.ctx, signerFor: both, next: { publicKey: kms2.publicKey } })).toEqual({ kid: toHex(kms2.kid), doors: 2 });
    await gw2.pushPending(f.prop.id);
    const annBundles = await g.relayBundlesFor(f.db, f.sam.person.id, { onlyOffline: true, provider: crypto, signerFor: both });
    for (const b of annBundles) samPhone.carry(b);
    g.acceptVisit(f.db, await samPhone.visit(fromHex(f.door4b.lockId)), { provider: crypto });
    expect(g.doorsBehindOnAnchors(f.db, f.prop.id)).toEqual([]);
    expect(kms2.signed).toBe(0);
    await g.completeIssuerRotation(f.db, f.prop.id, { ctx: f.ctx, signerFor: both });
    const rotated = await gw2.pushPending(f.prop.id);
    expect(rotated.failures).toEqual([]);
    expect(lobbyLock.firmware.summary().anchors).toBe(1);
    expect(kms2.signed).toBeGreaterThanOrEqual(3); // two anchor updates and the lobby's set, at least
    expect(opensAs(f, f.lobby.id, (await g.syncPayload(f.db, f.lobby.id, -1, { forceFull: true, signerFor: both }))!.bytes)).toBe(g.doorSyncState(f.db, f.lobby.id).compiledSeq);
    expect(storedSecrets()).toBe(0);
  });

  it('a signer that fails, answers wrongly or never answers is SIGNER_FAILED, and leaves the door as it was', async () => {
    const { f, signerFor, storedSecrets, fail } = await signerHeld();
    const gw = await engine(f.db, 'gw-1', { signerFor, signTimeoutMs: 200 });
    const lobbyLock = f.locks.get(f.lobby.id)!.device;

    // Commissioning: nothing is recorded and the lock stays factory-fresh.
    fail('down');
    const down = await gw.pushPending(f.prop.id);
    expect(down.failures.map((x) => [x.doorId, x.code])).toEqual([[f.lobby.id, 'SIGNER_FAILED']]);
    expect(down.failures[0]!.message).toContain('KMS unavailable');
    expect(g.lockIdentity(f.db, f.lobby.id)).toBeUndefined();
    expect(lobbyLock.firmware.commissioned).toBe(false);
    fail('ok');
    expect((await gw.pushPending(f.prop.id)).failures).toEqual([]);
    const synced = g.doorSyncState(f.db, f.lobby.id);
    const identity = g.lockIdentity(f.db, f.lobby.id)!;

    // A set: not compiled, the change waits, the lock keeps what it had.
    g.revokeAllKeys(f.db, f.jane.person.id, f.ctx);
    fail('down');
    const set = await gw.pushPending(f.prop.id);
    expect(set.failures.map((x) => [x.doorId, x.code])).toContainEqual([f.lobby.id, 'SIGNER_FAILED']);
    expect(g.doorSyncState(f.db, f.lobby.id)).toMatchObject({ compiledSeq: synced.compiledSeq, enforcedSeq: synced.enforcedSeq });
    expect(g.doorSyncState(f.db, f.lobby.id).pendingChanges).toBeGreaterThan(0);
    expect(lobbyLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: true });

    // Re-commissioning, a time sync, a relay bundle: each refused whole.
    const device = { signingPublic: identity.signingPublic, encryptionPublic: identity.encryptionPublic };
    await expect(g.commissionDoor(f.db, f.lobby.id, device, { ctx: f.ctx, signerFor })).rejects.toThrowError(expect.objectContaining({ code: 'SIGNER_FAILED' }));
    expect(g.lockIdentity(f.db, f.lobby.id)).toEqual(identity);
    await expect(g.doorTimeSync(f.db, f.lobby.id, { ctx: f.ctx, signerFor })).rejects.toThrowError(expect.objectContaining({ code: 'SIGNER_FAILED' }));
    fail('ok');
    const manager = await engine(f.db, 'manager-phone', { signerFor });
    await manager.syncDoor(f.door4b.id);
    const key4b = (f.db.prepare("SELECT id FROM keys WHERE name = 'Unit 4B'").get() as { id: number }).id;
    g.invitePerson(f.db, f.prop.id, { email: 'ann@example.com', firstName: 'Ann', lastName: 'Doe', accessType: 'app', isResident: true, mayShare: false, keyIds: [key4b] }, f.ctx);
    const unit = g.doorSyncState(f.db, f.door4b.id);
    fail('down');
    await expect(g.relayBundlesFor(f.db, f.sam.person.id, { onlyOffline: true, provider: crypto, signerFor })).rejects.toThrowError(expect.objectContaining({ code: 'SIGNER_FAILED' }));
    expect(g.doorSyncState(f.db, f.door4b.id)).toMatchObject({ compiledSeq: unit.compiledSeq, enforcedSeq: unit.enforcedSeq });

    // A signature that does not verify under the key, and one that never comes (200 ms timeout).
    fail('garbage');
    const garbage = await gw.pushPending(f.prop.id);
    expect(garbage.failures.find((x) => x.doorId === f.lobby.id)).toMatchObject({ code: 'SIGNER_FAILED', message: expect.stringMatching(/does not verify/) });
    fail('silent');
    const silent = await gw.pushPending(f.prop.id);
    expect(silent.failures.find((x) => x.doorId === f.lobby.id)).toMatchObject({ code: 'SIGNER_FAILED', message: expect.stringMatching(/did not answer within 200 ms/) });
    expect(g.doorSyncState(f.db, f.lobby.id)).toMatchObject({ compiledSeq: synced.compiledSeq, enforcedSeq: synced.enforcedSeq });

    // The signer is back: the next pass does what waited.
    fail('ok');
    const recovered = await gw.pushPending(f.prop.id);
    expect(recovered.failures).toEqual([]);
    expect(recovered.results.map((r) => [r.doorId, r.sent])).toEqual([[f.lobby.id, 'delta']]);
    expect(lobbyLock.firmware.enterCode(f.jane.code)).toMatchObject({ granted: false });
    expect(storedSecrets()).toBe(0);
  });
});

async function dstProperty() {
  let now = Date.parse('2027-03-13T17:00:00Z'); // Saturday noon EST; EDT from 2027-03-14T07:00Z
  const clock = () => now;
  const ctx: g.Ctx = { actor: 'e2e', now: clock };
  const db = g.openStore({ file: ':memory:' });
  cleanup.push(() => {
    db.close();
  });
  const prop = g.createProperty(db, { name: 'Elm Court', timeZone: 'America/New_York' }, ctx);
  const oldDoor = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '4c4b0000000000c1', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
  const newDoor = g.createDoor(db, prop.id, { name: 'Gym', lockId: '4c4b0000000000c2', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
  air = createAir({ seed: 12 });
  const devices = new Map<number, LockDevice>();
  for (const [d, before] of [[oldDoor, true], [newDoor, false]] as const) {
    const device = new LockDevice({ identity: { lockId: fromHex(d.lockId), deviceSeed: crypto.sha256(new TextEncoder().encode(d.lockId)) }, crypto, clock, beforeTransitionClaim: before });
    const served = await serveLock(air, device);
    cleanup.push(() => served.stop());
    devices.set(d.id, device);
  }
  const gw = await g.SyncEngine.create({ db, radio: air, name: 'gw-1', provider: crypto, ctx, sleep: async () => undefined });
  cleanup.push(() => gw.close());
  return { db, prop, oldDoor, newDoor, devices, gw, advanceTo: (iso: string) => void (now = Date.parse(iso)) };
}

/**
 * A lock on firmware from before the optional `transition` claim (PROTOCOL.md §3.4) at a property
 * with daylight saving: its decoder refuses an unknown claim, so the gateway learns that from its
 * answer, commissions and time-syncs it without the claim, and pushes a time sync right after
 * each offset change instead (§7.4). A current lock keeps getting the transition.
 */
describe('a lock from before the transition claim', () => {
  it('is commissioned and time-synced without it, and gets a time sync right after the offset changes', async () => {
    const f = await dstProperty();
    const oldLock = () => f.devices.get(f.oldDoor.id)!.firmware;
    const newLock = () => f.devices.get(f.newDoor.id)!.firmware;
    const first = await f.gw.pushPending(f.prop.id);
    expect(first.failures).toEqual([]);
    expect(first.results.map((r) => [r.doorId, r.commissioned])).toEqual([[f.oldDoor.id, true], [f.newDoor.id, true]]);
    expect([oldLock().utcOffset, oldLock().offsetTransition]).toEqual([-300, null]);
    expect([newLock().utcOffset, newLock().offsetTransition]).toEqual([-300, { at: Date.parse('2027-03-14T07:00:00Z') / 1000, offset: -240 }]);
    expect(g.transitionSupport(f.db, f.oldDoor.id)).toBe(false);
    expect(g.transitionSupport(f.db, f.newDoor.id)).toBe(true);
    // Told no transition, the old lock is not due a time sync before the change...
    expect(f.gw.doorsToPush(f.prop.id)).toEqual([]);
    // ...and a phone's relay bundle carries it none either (a relay cannot fall back).
    const relayed = openTimeSync(await g.timeSyncFor(f.db, f.oldDoor.id, { provider: crypto }), { lockId: fromHex(f.oldDoor.lockId), anchors: g.trustAnchors(f.db, f.prop.id), provider: crypto });
    expect(relayed.transition).toBeUndefined();
    expect(oldLock().timeSync(await g.timeSyncFor(f.db, f.oldDoor.id, { provider: crypto }))).toBeUndefined();

    f.advanceTo('2027-03-14T07:00:30Z');
    expect(newLock().utcOffset).toBe(-240); // on its own, at the instant
    expect(oldLock().utcOffset).toBe(-300);
    // Both are due: the old lock for its offset, the current one for the autumn change it was never told.
    expect(f.gw.doorsToPush(f.prop.id)).toEqual([f.oldDoor.id, f.newDoor.id]);
    const after = await f.gw.pushPending(f.prop.id);
    expect(after.results.map((r) => [r.doorId, r.timeSynced])).toEqual([[f.oldDoor.id, true], [f.newDoor.id, true]]);
    expect([oldLock().utcOffset, oldLock().offsetTransition]).toEqual([-240, null]);
    expect(f.gw.doorsToPush(f.prop.id)).toEqual([]);
  }, 60_000);

  it('is asked again once it reports other firmware (an update)', async () => {
    const f = await dstProperty();
    await f.gw.pushPending(f.prop.id);
    expect(g.transitionSupport(f.db, f.oldDoor.id)).toBe(false);
    expect(g.transitionSupport(f.db, f.oldDoor.id, 'latchkit-sim/9.9.9')).toBeNull();
  }, 60_000);
});
