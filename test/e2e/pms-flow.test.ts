/**
 * Issue 6 end to end: a PMS moves a resident in, a manager approves the Automated Access
 * suggestions, the gateway's sync engine pushes the lobby lock over the virtual radio and the
 * resident's phone opens it; the lease goes past, the revocation is approved, the lock syncs
 * and the phone no longer opens it.
 *
 * Real: SQLite file, User Sync, Automated Access, the compiler and sync engine, the virtual radio
 * with noble/bleno, the lock firmware and the phone. Simulated: the PMS (served over HTTP on
 * 127.0.0.1 and read through the HTTP feed adapter, as in production).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex, signingKeyFromSeed, toHex } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createAir, LockDevice, Phone, serveLock, type Air } from '@latchkit/simulator';
import * as g from '../../gateway/src/index.js';

const crypto = nodeCryptoProvider;
let air: Air | undefined;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await air?.close();
  air = undefined;
});

const seed = (label: string): Uint8Array => crypto.sha256(new TextEncoder().encode(label));
const MIN = 60_000;

describe('PMS → Automated Access → lock', () => {
  it('a move-in approved by a manager opens the lobby from the phone after the sync; a move-out stops it after the next sync', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-pms-e2e-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = g.openStore({ file: join(dir, 'latchkit.db') });
    cleanup.push(() => {
      db.close();
    });
    const ctx: g.Ctx = { actor: 'manager' };
    const prop = g.createProperty(db, { name: 'Elm Court', utcOffsetMin: 0 }, ctx);
    const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '4c4b0000000000a1', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
    const unit = g.createUnit(db, prop.id, { name: '4B' }, ctx);
    const door4b = g.createDoor(db, prop.id, { name: '4B front door', lockId: '4c4b0000000000b4', connectivity: 'offline', unitId: unit.id }, ctx);
    g.createKey(db, prop.id, { name: 'Resident Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: false, doorcodesDisabled: false }, ctx);
    g.createKey(db, prop.id, { name: 'Unit 4B', kind: 'residential', doorIds: [door4b.id], mayShare: false, doorcodesDisabled: false, unitId: unit.id }, ctx);

    // The PMS, served over HTTP; the integration reads it in Approval Required mode (the default).
    const pms = new g.SimulatedPms();
    const feed = await pms.listen();
    cleanup.push(() => feed.close());
    g.configureIntegration(db, prop.id, { feedKind: 'http', feedSource: feed.url, automatedAccess: true }, ctx);
    const pull = async () => {
      const run = await g.runPmsSync(db, prop.id, { ctx });
      expect(run.report!.issues).toEqual([]);
      return run;
    };

    // The lobby lock on the air, and the gateway's sync engine.
    air = createAir({ seed: 6 });
    const device = new LockDevice({ identity: { lockId: fromHex(lobby.lockId), deviceSeed: seed('device-lobby') }, crypto });
    const served = await serveLock(air, device);
    cleanup.push(() => served.stop());
    const gw = await g.SyncEngine.create({ db, radio: air, name: 'gw-1', provider: crypto, sleep: async () => undefined });
    cleanup.push(() => gw.close());
    expect((await gw.pushPending(prop.id)).failures).toEqual([]);

    // Jane signs a lease: a future resident. User Sync creates her contact; no access yet.
    pms.add({ id: 't-100', firstName: 'Jane', lastName: 'Doe', email: 'jane@example.com', unit: '4B', leaseStatus: 'future' });
    await pull();
    const jane = g.personByExternalRef(db, prop.id, 't-100')!;
    expect(g.listGrants(db, jane.id)).toEqual([]);
    // She got the welcome message, installed the DOOR App, and the app registered her phone.
    expect(g.listNotifications(db, prop.id, { personId: jane.id }).map((n) => n.kind)).toEqual(['welcome']);
    const phoneKey = signingKeyFromSeed(seed('phone-jane'), crypto);
    g.addPhoneKey(db, jane.id, { publicKey: toHex(phoneKey.publicKey) }, ctx);
    const phone = await Phone.create({ radio: air, key: phoneKey, profile: 'ios', crypto });
    cleanup.push(() => phone.close());

    // Move-in: the PMS records it (30 minutes ago, so the 15-minute start has passed).
    pms.moveIn('t-100');
    pms.update('t-100', { statusChangedAt: new Date(Date.now() - 30 * MIN).toISOString() });
    const moveIn = await pull();
    expect(moveIn.report!.automatedAccess).toMatchObject({ changes: 1, suggestions: 2, applied: 0 });
    // Not approved yet: the lobby lock, synced, still refuses her phone.
    await gw.pushPending(prop.id);
    expect((await phone.visit(fromHex(lobby.lockId))).unlock).toMatchObject({ granted: false });

    // The manager approves ("Update Access"); the gateway pushes the lobby; her phone opens it.
    const suggestions = g.listSuggestions(db, prop.id, { state: 'pending' });
    expect(suggestions.map((s) => `${s.color} ${s.keyName}`).sort()).toEqual(['green Resident Entrances', 'green Unit 4B']);
    g.approveSuggestions(db, prop.id, suggestions.map((s) => s.id), ctx);
    const pushed = await gw.pushPending(prop.id);
    expect(pushed.failures).toEqual([]);
    expect(pushed.results.map((r) => [r.doorId, r.action])).toEqual([[lobby.id, 'synced']]);
    expect((await phone.visit(fromHex(lobby.lockId))).unlock).toMatchObject({ granted: true, holder: g.getPerson(db, jane.id).holderRef });
    // The offline unit door waits for a Door Sync, as any access change does.
    expect(g.doorSyncTasks(db, prop.id).map((t) => t.doorId)).toEqual([door4b.id]);

    // Move-out: the lease goes past. Revocation suggestions, approved; until the lock syncs the
    // phone still opens it (seed 001), after the sync it does not.
    pms.moveOut('t-100');
    const moveOut = await pull();
    expect(moveOut.report!.automatedAccess).toMatchObject({ changes: 1, suggestions: 2 });
    const revokes = g.listSuggestions(db, prop.id, { state: 'pending' });
    expect(revokes.every((s) => s.action === 'revoke')).toBe(true);
    g.approveSuggestions(db, prop.id, revokes.map((s) => s.id), ctx);
    expect(g.listGrants(db, jane.id)).toEqual([]);
    expect((await phone.visit(fromHex(lobby.lockId))).unlock).toMatchObject({ granted: true });
    expect((await gw.pushPending(prop.id)).failures).toEqual([]);
    expect((await phone.visit(fromHex(lobby.lockId))).unlock).toMatchObject({ granted: false, reason: 'unknownCredential' });
    // She is still a contact (User Sync never deletes), and only GETs ever reached the PMS.
    expect(g.getPerson(db, jane.id).email).toBe('jane@example.com');
    expect(pms.requests.every((r) => r.method === 'GET' && r.url === '/feed')).toBe(true);
  });
});
