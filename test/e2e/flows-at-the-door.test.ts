/**
 * Every access flow of the seeds, driven through the HTTP API (inject) by a manager with Key
 * Management, synced over the virtual radio, and checked where it matters: at the lock.
 * Locks and gateway share one manual clock, so future starts and expirations are crossed
 * without waiting (and the lock enforces them on its own, with no sync).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diversifyCardKey, fromHex, signingKeyFromSeed, toHex } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createAir, LockDevice, Phone, serveLock, SimulatedCard, type Air, type ServedLock } from '@latchkit/simulator';
import * as g from '../../gateway/src/index.js';

const crypto = nodeCryptoProvider;
const MIN = 60_000;
const clock = { t: Math.floor(Date.now() / MIN) * MIN };
const now = () => clock.t;

let dir: string;
let db: g.Db;
let air: Air;
let app: Awaited<ReturnType<typeof g.buildApp>>;
let gw: g.SyncEngine;
let manager: g.SyncEngine;
const served: ServedLock[] = [];
const tokens: Record<'km' | 'pm', string> = { km: '', pm: '' };
let base = '';
let prop: g.Property;
let lobby: g.Door;
let unitDoor: g.Door;
let lobbyLock: LockDevice;
let unitLock: LockDevice;
let entrances: g.Key;
let unitKey: g.Key;

async function call(as: 'km' | 'pm', method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: Record<string, unknown>) {
  const res = await app.inject({ method, url: `${base}${url}`, headers: { authorization: `Bearer ${tokens[as]}` }, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

/** What the gateway and a manager's phone do after a change: push the lobby, sync the unit door. */
async function sync(): Promise<void> {
  const r = await gw.pushPending(prop.id);
  expect(r.failures).toEqual([]);
  await manager.syncDoor(unitDoor.id);
}

const codeOf = async (personId: number): Promise<string> => (await call('km', 'GET', `/people/${personId}/credentials`)).body.doorcode;
const opens = (lock: LockDevice, code: string) => lock.firmware.enterCode(code);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkit-flows-'));
  db = g.openStore({ stateDir: dir });
  const ctx = { now, actor: 'setup' };
  prop = g.createProperty(db, { name: 'Flow Court', utcOffsetMin: 0 }, ctx);
  lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '4c4b0000000000f1', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
  const unit = g.createUnit(db, prop.id, { name: '7C' }, ctx);
  unitDoor = g.createDoor(db, prop.id, { name: '7C door', lockId: '4c4b0000000000f2', connectivity: 'offline', unitId: unit.id }, ctx);
  entrances = g.createKey(db, prop.id, { name: 'Resident Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: true, doorcodesDisabled: false }, ctx);
  unitKey = g.createKey(db, prop.id, { name: 'Unit 7C', kind: 'residential', doorIds: [unitDoor.id], mayShare: false, doorcodesDisabled: false, unitId: unit.id }, ctx);
  tokens.km = g.createToken(db, { name: 'manager (KM)', role: 'property_manager', propertyId: prop.id, keyManagement: true }, ctx).secret;
  tokens.pm = g.createToken(db, { name: 'manager (no KM)', role: 'property_manager', propertyId: prop.id, keyManagement: false }, ctx).secret;
  app = await g.buildApp({ db, now });
  base = `/properties/${prop.id}`;
  air = createAir({ seed: 3 });
  for (const d of [lobby, unitDoor]) {
    const device = new LockDevice({ identity: { lockId: fromHex(d.lockId), deviceSeed: crypto.sha256(Buffer.from(`flows-${d.lockId}`)) }, crypto, clock: now });
    served.push(await serveLock(air, device));
    if (d === lobby) lobbyLock = device;
    else unitLock = device;
  }
  gw = await g.SyncEngine.create({ db, radio: air, name: 'gw-1', ctx: { now }, provider: crypto });
  manager = await g.SyncEngine.create({ db, radio: air, name: 'manager-phone', ctx: { now }, provider: crypto });
});

afterAll(async () => {
  await gw?.close();
  await manager?.close();
  for (const s of served) await s.stop();
  await air?.close();
  await app?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('access flows, checked at the door', () => {
  let ann: number;
  let annPhone: ReturnType<typeof signingKeyFromSeed>;

  it('invite (DOOR-app user): doorcode and phone key open the doors after the sync', async () => {
    const r = await call('km', 'POST', '/people', { email: 'ann@flow.example', firstName: 'Ann', lastName: 'Lee', accessType: 'app', isResident: true, mayShare: true, keyIds: [entrances.id, unitKey.id] });
    expect(r.status).toBe(201);
    ann = r.body.person.id;
    annPhone = signingKeyFromSeed(crypto.sha256(Buffer.from('ann-phone')), crypto);
    expect((await call('km', 'POST', `/people/${ann}/phone-keys`, { publicKey: toHex(annPhone.publicKey) })).status).toBe(201);
    const code = await codeOf(ann);
    await sync();
    expect(opens(lobbyLock, code)).toMatchObject({ granted: true });
    expect(opens(unitLock, code)).toMatchObject({ granted: true });
    const phone = await Phone.create({ radio: air, key: annPhone, profile: 'android', crypto });
    expect((await phone.visit(fromHex(lobby.lockId))).unlock).toMatchObject({ granted: true });
    await phone.close();
  });

  it('invite with a future start: the lock activates it at that time with no sync; doorcode-only invite works', async () => {
    const r = await call('km', 'POST', '/people', {
      email: 'ben@flow.example', firstName: 'Ben', lastName: 'Ray', accessType: 'app', isResident: true, mayShare: false, keyIds: [entrances.id],
      startsAt: new Date(clock.t + 30 * MIN).toISOString(), expiresAt: new Date(clock.t + 30 * 24 * 60 * MIN).toISOString(),
    });
    expect(r.status).toBe(201);
    const code = await codeOf(r.body.person.id);
    const dora = (await call('km', 'POST', '/people', { email: 'dora@flow.example', firstName: 'Dora', lastName: 'Vo', accessType: 'doorcode', isResident: false, mayShare: false, keyIds: [entrances.id], expiresAt: new Date(clock.t + 7 * 24 * 60 * MIN).toISOString() })).body.person.id;
    await sync();
    expect(opens(lobbyLock, code)).toMatchObject({ granted: false, reason: 'notYetValid' });
    clock.t += 31 * MIN;
    expect(opens(lobbyLock, code)).toMatchObject({ granted: true });
    // Doorcode-only people get a daily doorcode (seed 001); the lock derives today's on its own.
    const creds = (await call('km', 'GET', `/people/${dora}/credentials`)).body;
    expect(creds.dailyDoorcode).toBe(true);
    const secrets = g.propertySecrets(db, prop.id);
    const person = g.getPerson(db, dora);
    const { dailyCode, localDay } = await import('@latchkit/protocol');
    expect(opens(lobbyLock, dailyCode(secrets.daily, person.holderRef, localDay(Math.floor(clock.t / MIN), 0)))).toMatchObject({ granted: true, kind: 'daily' });
  });

  it('edit: change an expiration; the lock removes access when it passes, with no sync', async () => {
    const grants = g.listGrants(db, ann);
    const unitGrant = grants.find((x) => x.keyId === unitKey.id)!;
    expect((await call('km', 'PATCH', `/people/${ann}/grants/${unitGrant.id}`, { expiresAt: new Date(clock.t + 10 * MIN).toISOString() })).status).toBe(200);
    await sync();
    const code = await codeOf(ann);
    expect(opens(unitLock, code)).toMatchObject({ granted: true });
    clock.t += 11 * MIN;
    expect(opens(unitLock, code)).toMatchObject({ granted: false, reason: 'expired' });
    expect(opens(lobbyLock, code)).toMatchObject({ granted: true });
    // Edit → remove a key, then add it back.
    expect((await call('km', 'DELETE', `/people/${ann}/grants/${unitGrant.id}`)).status).toBe(200);
    expect((await call('km', 'POST', `/people/${ann}/grants`, { keyIds: [unitKey.id] })).status).toBeLessThan(300);
    await sync();
    expect(opens(unitLock, code)).toMatchObject({ granted: true });
  });

  it('keycard activation and deactivation; a clone with the right UID does not open', async () => {
    const uid = '04a1b2c3d4e5f6';
    const r = await call('km', 'POST', `/people/${ann}/keycards`, { uid });
    expect(r.status).toBe(201);
    await sync();
    const master = g.propertySecrets(db, prop.id).cardMaster;
    const card = new SimulatedCard(fromHex(uid), diversifyCardKey(master, fromHex(uid)), crypto);
    expect(lobbyLock.firmware.tapCard(card)).toMatchObject({ granted: true, kind: 'keycard' });
    expect(lobbyLock.firmware.tapCard(new SimulatedCard(fromHex(uid), new Uint8Array(16), crypto))).toMatchObject({ granted: false, reason: 'badProof' });
    expect((await call('km', 'DELETE', `/people/${ann}/keycards/${r.body.id}`)).status).toBe(200);
    await sync();
    expect(lobbyLock.firmware.tapCard(card)).toMatchObject({ granted: false, reason: 'unknownCredential' });
  });

  it('doorcode reset: the old code stops and the new one works after the sync', async () => {
    const old = await codeOf(ann);
    const fresh = (await call('km', 'POST', `/people/${ann}/doorcode/reset`)).body.doorcode;
    expect(fresh).not.toBe(old);
    expect(opens(lobbyLock, old)).toMatchObject({ granted: true }); // not synced yet
    await sync();
    expect(opens(lobbyLock, old)).toMatchObject({ granted: false });
    expect(opens(lobbyLock, fresh)).toMatchObject({ granted: true });
  });

  it('guest invite and revoke; revoke-all cascades to guests, keeps the person, and re-grant works', async () => {
    const g1 = await call('km', 'POST', `/people/${ann}/guests`, { email: 'gus@flow.example', firstName: 'Gus', lastName: 'Guest', keyIds: [entrances.id] });
    expect(g1.status).toBe(201);
    const gus = g1.body.guest.id;
    const gusCode = await codeOf(gus);
    await sync();
    expect(opens(lobbyLock, gusCode)).toMatchObject({ granted: true });
    expect((await call('km', 'DELETE', `/people/${ann}/guests/${gus}`)).status).toBe(200);
    await sync();
    expect(opens(lobbyLock, gusCode)).toMatchObject({ granted: false });

    await call('km', 'POST', `/people/${ann}/guests`, { email: 'gus@flow.example', firstName: 'Gus', lastName: 'Guest', keyIds: [entrances.id] });
    await sync();
    expect(opens(lobbyLock, gusCode)).toMatchObject({ granted: true });
    const annCode = await codeOf(ann);
    expect((await call('km', 'POST', `/people/${ann}/revoke-all`)).status).toBe(200);
    await sync();
    expect(opens(lobbyLock, annCode)).toMatchObject({ granted: false });
    expect(opens(lobbyLock, gusCode)).toMatchObject({ granted: false });
    expect((await call('km', 'GET', `/people/${ann}`)).status).toBe(200);
    expect((await call('km', 'POST', `/people/${ann}/grants`, { keyIds: [entrances.id] })).status).toBeLessThan(300);
    await sync();
    expect(opens(lobbyLock, annCode)).toMatchObject({ granted: true });
  });

  it('delete person: gone from people, no access after the sync, past activity kept by name', async () => {
    const annCode = await codeOf(ann);
    expect((await call('km', 'DELETE', `/people/${ann}`)).status).toBe(200);
    expect((await call('km', 'GET', `/people/${ann}`)).status).toBe(404);
    await sync();
    expect(opens(lobbyLock, annCode)).toMatchObject({ granted: false });
    const activity = (await call('km', 'GET', '/activity?limit=200')).body.entries as { kind: string; holderName: string | null; result: string | null }[];
    expect(activity.some((a) => a.kind === 'unlock' && a.holderName === 'Ann Lee' && a.result === 'granted')).toBe(true);
  });

  it('a manager without Key Management cannot invite, edit, revoke or delete', async () => {
    const person = g.listPeople(db, prop.id, {})[0]!;
    const denied = [
      await call('pm', 'POST', '/people', { email: 'x@flow.example', firstName: 'X', lastName: 'Y', accessType: 'app', isResident: true, mayShare: false, keyIds: [entrances.id] }),
      await call('pm', 'POST', `/people/${person.id}/grants`, { keyIds: [unitKey.id] }),
      await call('pm', 'POST', `/people/${person.id}/revoke-all`),
      await call('pm', 'DELETE', `/people/${person.id}`),
    ];
    expect(denied.map((d) => [d.status, d.body.error.code])).toEqual(Array(4).fill([403, 'KEY_MANAGEMENT_REQUIRED']));
  });
});
