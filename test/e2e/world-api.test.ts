/**
 * The running world over real HTTP: a listening server (app.listen on an ephemeral port), the
 * global fetch client, simulate routes and the SSE event stream. One small property (an online
 * lobby on gw-1, two offline unit doors) is shared by the tests, which run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../gateway/src/api/app.js';
import * as g from '../../gateway/src/index.js';
import { httpClient, openSse, startWorldServer, until, type SseFrame, type WorldServer } from './world-helpers.js';

let w: WorldServer;
beforeAll(async () => {
  w = await startWorldServer();
});
afterAll(async () => {
  await w?.close();
});

const personBody = (email: string, firstName: string, keyIds: number[], extra: Record<string, unknown> = {}) => ({
  email,
  firstName,
  lastName: 'Tester',
  accessType: 'app',
  isResident: true,
  mayShare: false,
  keyIds,
  ...extra,
});

/** Invite through the API and read the doorcode back (a Key Management token may see it). */
async function invite(email: string, firstName: string, keyIds: number[], extra: Record<string, unknown> = {}): Promise<{ id: number; code: string; affectedDoors: number[] }> {
  const r = await w.call('km', 'POST', `${w.base}/people`, personBody(email, firstName, keyIds, extra));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const creds = await w.call('km', 'GET', `${w.base}/people/${r.body.person.id}/credentials`);
  expect(creds.status).toBe(200);
  return { id: r.body.person.id, code: creds.body.doorcode, affectedDoors: r.body.affectedDoors };
}

const doorSync = (doorId: number) => w.call('km', 'POST', `${w.sim}/doors/${doorId}/door-sync`);
const keypad = (doorId: number, code: string) => w.call('km', 'POST', `${w.sim}/doors/${doorId}/keypad`, { code });
const doorState = async (doorId: number) => {
  const r = await w.call('km', 'GET', `${w.sim}/doors/${doorId}`);
  expect(r.status).toBe(200);
  return r.body;
};
const syncTaskDoors = async (): Promise<number[]> => {
  const r = await w.call('km', 'GET', `${w.base}/sync-tasks`);
  expect(r.status).toBe(200);
  return r.body.map((t: { doorId: number }) => t.doorId);
};

/** A code nobody at the property holds (codes are 6 digits here). */
function unusedCode(): string {
  const taken = new Set((w.db.prepare('SELECT doorcode AS c FROM people WHERE doorcode IS NOT NULL').all() as { c: string }[]).map((r) => r.c));
  for (let n = 13579; ; n++) {
    const c = String(n).padStart(6, '0');
    if (!taken.has(c)) return c;
  }
}

/** Stream events published while `fn` runs (straight from the hub: what any client would get). */
async function published<T>(fn: () => Promise<T>): Promise<{ result: T; events: g.StreamEvent[] }> {
  const events: g.StreamEvent[] = [];
  const off = w.world.hub.subscribe((e) => events.push(e));
  try {
    return { result: await fn(), events };
  } finally {
    off();
  }
}

/** Door state without the fields that move by themselves (the lock's RTC). */
const stable = (d: Record<string, unknown>) => {
  const { lockClock: _c, ...rest } = d;
  return rest;
};

describe('simulate routes over HTTP', () => {
  it('1. sync-until: a new resident works after Door Sync; after revoke the door runs its last set until the next Door Sync; the denial reaches Activity', async () => {
    const erin = await invite('erin@world.example', 'Erin', [w.keys.keyB.id]);
    expect(erin.affectedDoors).toContain(w.doorB.id);
    expect(await syncTaskDoors()).toContain(w.doorB.id);

    const first = await doorSync(w.doorB.id);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.seqBefore).toBe(0);
    expect(first.body.seqAfter).toBeGreaterThan(first.body.seqBefore);
    expect(first.body.result.commissioned).toBe(true);
    expect(first.body.taskPending).toBe(false);
    expect(first.body.door).toMatchObject({ doorId: w.doorB.id, inSync: true, lockSeq: first.body.seqAfter, commissioned: true });
    expect(await syncTaskDoors()).not.toContain(w.doorB.id);

    const granted = await keypad(w.doorB.id, erin.code);
    expect(granted.status).toBe(200);
    expect(granted.body).toMatchObject({ doorId: w.doorB.id, outcome: 'granted', reason: null, credentialKind: 'doorcode', personId: erin.id });

    const revoke = await w.call('km', 'POST', `${w.base}/people/${erin.id}/revoke-all`);
    expect(revoke.status).toBe(200);
    expect(revoke.body.affectedDoors).toContain(w.doorB.id);
    // The offline door runs the set it has: the code still opens it until a Door Sync.
    expect((await keypad(w.doorB.id, erin.code)).body.outcome).toBe('granted');
    const behind = await doorState(w.doorB.id);
    expect(behind).toMatchObject({ inSync: false, lockSeq: first.body.seqAfter, enforcedSeq: first.body.seqAfter });
    expect(await syncTaskDoors()).toContain(w.doorB.id);

    const second = await doorSync(w.doorB.id);
    expect(second.status).toBe(200);
    expect(second.body.seqBefore).toBe(first.body.seqAfter);
    expect(second.body.seqAfter).toBeGreaterThan(second.body.seqBefore);
    expect(second.body.result.commissioned).toBe(false);
    expect(second.body.door.inSync).toBe(true);
    const denied = await keypad(w.doorB.id, erin.code);
    expect(denied.body).toMatchObject({ outcome: 'denied', reason: 'unknownCredential' });

    // The next Door Sync uploads the lock's event records: the denial shows in Activity.
    const third = await doorSync(w.doorB.id);
    expect(third.status).toBe(200);
    expect(third.body.result.action).toBe('up-to-date');
    expect(third.body.result.eventsUploaded).toBeGreaterThanOrEqual(1);
    const activity = await w.call('readOnly', 'GET', `${w.base}/activity?doorId=${w.doorB.id}&kind=unlock`);
    expect(activity.status).toBe(200);
    const results = activity.body.entries.map((e: { result: string }) => e.result);
    expect(results.filter((r: string) => r === 'denied')).toHaveLength(1);
    expect(results.filter((r: string) => r === 'granted')).toHaveLength(2);
  });

  it('2. phone unlock relays what an offline door lacks (passive sync); no key, outside key and install-phone', async () => {
    const { alice, bob, carol, dave } = w.people;
    // Commission 1A first, then change its access while it is offline.
    expect((await doorSync(w.doorA.id)).status).toBe(200);
    const frank = await invite('frank@world.example', 'Frank', [w.keys.keyA.id]);
    expect(frank.affectedDoors).toContain(w.doorA.id);
    expect((await doorState(w.doorA.id)).inSync).toBe(false);

    const unlock = await w.call('km', 'POST', `${w.sim}/doors/${w.doorA.id}/phone-unlock`, { personId: bob.id });
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    expect(unlock.body.outcome).toBe('granted');
    expect(unlock.body.relay).not.toBeNull();
    expect(unlock.body.relay.seq).toBe(unlock.body.seqAfter);
    expect(unlock.body.seqAfter).toBeGreaterThan(unlock.body.seqBefore);
    expect(unlock.body.door.inSync).toBe(true);
    expect(unlock.body.modelledMs.total).toBeGreaterThan(0);
    // Frank's code works now: the phone carried his set to the door.
    expect((await keypad(w.doorA.id, frank.code)).body.outcome).toBe('granted');
    // Nothing to relay the second time.
    const again = await w.call('km', 'POST', `${w.sim}/doors/${w.doorA.id}/phone-unlock`, { personId: alice.id, profile: 'android' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ outcome: 'granted', relay: null });
    expect(again.body.seqAfter).toBe(unlock.body.seqAfter);

    // Carol has no phone key: 422 NO_PHONE_KEY, until the simulated phone is installed.
    const noKey = await w.call('km', 'POST', `${w.sim}/doors/${w.doorB.id}/phone-unlock`, { personId: carol.id });
    expect(noKey).toMatchObject({ status: 422, code: 'NO_PHONE_KEY' });
    const install = await w.call('km', 'POST', `${w.sim}/people/${carol.id}/install-phone`);
    expect(install.status).toBe(200);
    expect(install.body).toMatchObject({ personId: carol.id, added: true });
    expect((await w.call('km', 'POST', `${w.sim}/people/${carol.id}/install-phone`)).body.added).toBe(false);
    // The phone key is an access change for 1B: the phone relays it and unlocks.
    const carolUnlock = await w.call('km', 'POST', `${w.sim}/doors/${w.doorB.id}/phone-unlock`, { personId: carol.id });
    expect(carolUnlock.status, JSON.stringify(carolUnlock.body)).toBe(200);
    expect(carolUnlock.body.outcome).toBe('granted');
    expect(carolUnlock.body.relay).not.toBeNull();
    expect(carolUnlock.body.seqAfter).toBeGreaterThan(carolUnlock.body.seqBefore);

    // Dave's key came from outside the world: 409 PHONE_NOT_SIMULATED, nothing visited.
    const outside = await w.call('km', 'POST', `${w.sim}/doors/${w.doorA.id}/phone-unlock`, { personId: dave.id });
    expect(outside).toMatchObject({ status: 409, code: 'PHONE_NOT_SIMULATED' });
  });

  it('3. keycard: an activated card opens its door, a clone is refused (badProof), an unknown UID is 404', async () => {
    const tap = (uid: string, cloned?: boolean) => w.call('km', 'POST', `${w.sim}/doors/${w.doorA.id}/keycard`, { uid, ...(cloned === undefined ? {} : { cloned }) });
    const ok = await tap(w.aliceCard);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ outcome: 'granted', credentialKind: 'keycard', personId: w.people.alice.id });
    const clone = await tap(w.aliceCard, true);
    expect(clone.status).toBe(200);
    expect(clone.body).toMatchObject({ outcome: 'denied', reason: 'badProof' });
    const { events } = await published(async () => expect(await tap('deadbeef01')).toMatchObject({ status: 404, code: 'KEYCARD_NOT_FOUND' }));
    expect(events.filter((e) => e.kind === 'attempt')).toEqual([]);
  });

  it('4. a denial at an up-to-date online door reaches Activity within seconds, with no access change', async () => {
    const sync = await doorSync(w.lobby.id);
    expect(sync.status).toBe(200);
    expect(sync.body.door).toMatchObject({ connectivity: 'online', gateway: 'gw-1', inSync: true });
    const tasksBefore = await syncTaskDoors();
    expect(tasksBefore).not.toContain(w.lobby.id);
    const countDenied = async () => {
      const r = await w.call('readOnly', 'GET', `${w.base}/activity?doorId=${w.lobby.id}&kind=unlock`);
      return r.body.entries.filter((e: { result: string }) => e.result === 'denied').length as number;
    };
    expect(await countDenied()).toBe(0);
    const t0 = Date.now();
    const denied = await keypad(w.lobby.id, unusedCode());
    expect(denied.body).toMatchObject({ outcome: 'denied', reason: 'unknownCredential' });
    await until(async () => (await countDenied()) === 1, 10_000, 'the denial in Activity');
    const took = Date.now() - t0;
    expect(took).toBeLessThan(10_000);
    expect(await syncTaskDoors()).toEqual(tasksBefore);
    expect((await doorState(w.lobby.id)).inSync).toBe(true);
  });

  it('5. faults: battery, range, power cut now / not reached / during an apply, lock clock skew', async () => {
    const B = w.doorB.id;
    const battery = await w.call('km', 'POST', `${w.sim}/doors/${B}/battery`, { percent: 20 });
    expect(battery.status).toBe(200);
    expect(battery.body.battery).toBe(20);
    expect((await doorState(B)).battery).toBe(20);

    // Out of range: Door Sync fails on the radio and the task stays.
    const gina = await invite('gina@world.example', 'Gina', [w.keys.keyB.id]);
    expect(await syncTaskDoors()).toContain(B);
    const out = await w.call('km', 'POST', `${w.sim}/doors/${B}/range`, { inRange: false });
    expect(out.status).toBe(200);
    expect(out.body.inRange).toBe(false);
    const seqBefore = (await doorState(B)).enforcedSeq;
    const failed = await doorSync(B);
    expect(failed).toMatchObject({ status: 503, code: 'RADIO_UNAVAILABLE' });
    expect(await syncTaskDoors()).toContain(B);
    expect((await doorState(B)).enforcedSeq).toBe(seqBefore);
    expect((await w.call('km', 'POST', `${w.sim}/doors/${B}/range`, { inRange: true })).body.inRange).toBe(true);
    const back = await doorSync(B);
    expect(back.status).toBe(200);
    expect(back.body.seqAfter).toBeGreaterThan(seqBefore);
    expect(await syncTaskDoors()).not.toContain(B);
    expect((await keypad(B, gina.code)).body.outcome).toBe('granted');

    // Power cut now: the lock boots again from flash and keeps working.
    const device = () => w.world.doors.get(B)!.device;
    let boots = 0;
    const offBoot = device().onBoot(() => boots++);
    try {
      const now = await w.call('km', 'POST', `${w.sim}/doors/${B}/power-cut`, {});
      expect(now.status).toBe(200);
      expect(now.body).toMatchObject({ mode: 'now', atWrite: null, applyWrites: null });
      expect(now.body.door).toMatchObject({ powered: true, lockSeq: back.body.seqAfter });
      expect(boots).toBe(1);
      expect((await keypad(B, gina.code)).body.outcome).toBe('granted');

      // A write the pending apply never reaches: 422, nothing armed, the lock unchanged.
      const hank = await invite('hank@world.example', 'Hank', [w.keys.keyB.id]);
      const before = await doorState(B);
      const notReached = await w.call('km', 'POST', `${w.sim}/doors/${B}/power-cut`, { atWrite: 1_000_000 });
      expect(notReached).toMatchObject({ status: 422, code: 'POWER_CUT_NOT_REACHED' });
      expect(notReached.body.error.details.applyWrites).toBeGreaterThan(0);
      // The lock is untouched (the gateway compiled Hank's change, as the next Door Sync would first).
      const afterRefusal = await doorState(B);
      for (const k of ['lockSeq', 'enforcedSeq', 'powered', 'commissioned', 'battery', 'inRange', 'busy'] as const) expect(afterRefusal[k], k).toEqual(before[k]);
      expect(afterRefusal.inSync).toBe(false);
      expect(device().armedApplyCut).toBeNull();
      expect(await syncTaskDoors()).toContain(B);
      const normal = await doorSync(B);
      expect(normal.status).toBe(200);
      expect(normal.body.result.attempts).toBe(1);
      expect(normal.body.door).toMatchObject({ inSync: true, lockSeq: normal.body.seqAfter, powered: true });
      expect(boots).toBe(1);
      expect((await keypad(B, hank.code)).body.outcome).toBe('granted');

      // Nothing pending: a cut "during the next apply" has nothing to fall in.
      expect(await w.call('km', 'POST', `${w.sim}/doors/${B}/power-cut`, { atWrite: 0 })).toMatchObject({ status: 409, code: 'NOTHING_TO_APPLY' });

      // A cut inside the apply, at every write it takes in turn: the lock halts mid-write, boots
      // from flash and runs one whole set (the old or the new); a further Door Sync settles it.
      const revokeGina = await w.call('km', 'POST', `${w.base}/people/${gina.id}/revoke-all`);
      expect(revokeGina.status).toBe(200);
      const seen: string[] = [];
      for (let at = 0, writes = Infinity; at < writes && at < 12; at++) {
        // Each round needs a change to apply: the first is Gina's revocation, then a new resident.
        const newcomer = at === 0 ? null : await invite(`cut${at}@world.example`, `Cut${at}`, [w.keys.keyB.id]);
        const oldSeq = (await doorState(B)).lockSeq as number;
        const bootsBefore = boots;
        const armed = await w.call('km', 'POST', `${w.sim}/doors/${B}/power-cut`, { atWrite: at });
        expect(armed.status, JSON.stringify(armed.body)).toBe(200);
        expect(armed.body).toMatchObject({ mode: 'armed', atWrite: at });
        expect(armed.body.door.lockSeq).toBe(oldSeq);
        writes = armed.body.applyWrites;
        expect(writes).toBeGreaterThan(at);
        const cutSync = await doorSync(B);
        await until(() => boots > bootsBefore && !device().firmware.isHalted, 5_000, 'the lock rebooted');
        const afterCut = await doorState(B);
        expect([oldSeq, oldSeq + 1]).toContain(afterCut.lockSeq);
        seen.push(
          `write ${at}/${writes}: Door Sync ${cutSync.status}${cutSync.code ? ` ${cutSync.code}` : ''} (attempts ${cutSync.body?.result?.attempts ?? '-'}, sent ${cutSync.body?.result?.sent ?? '-'}), lock ${oldSeq} -> ${afterCut.lockSeq}`,
        );
        const settle = await doorSync(B);
        expect(settle.status).toBe(200);
        const final = await doorState(B);
        expect(final).toMatchObject({ inSync: true, powered: true, lockSeq: oldSeq + 1 });
        expect(final.lockSeq).toBe(final.enforcedSeq);
        expect(final.enforcedSeq).toBe(final.compiledSeq);
        expect((await keypad(B, gina.code)).body.outcome).toBe('denied');
        expect((await keypad(B, hank.code)).body.outcome).toBe('granted');
        if (newcomer) expect((await keypad(B, newcomer.code)).body.outcome).toBe('granted');
      }
      expect(seen.length).toBeGreaterThanOrEqual(2);
      console.log(`[world-api] power cut during an apply:\n  ${seen.join('\n  ')}`);
    } finally {
      offBoot();
    }

    // The lock's RTC moved back by 2 minutes.
    const lockClockBefore = Date.parse((await doorState(w.doorA.id)).lockClock);
    const skew = await w.call('km', 'POST', `${w.sim}/doors/${w.doorA.id}/lock-clock`, { skewSeconds: -120 });
    expect(skew.status).toBe(200);
    const moved = Date.parse(skew.body.lockClock) - lockClockBefore;
    expect(moved).toBeGreaterThan(-125_000);
    expect(moved).toBeLessThan(-115_000);
  });

  it('6. clock: advance moves now forward; zero or negative is refused unchanged; a grant expires at a synced door', async () => {
    const clock0 = (await w.call('readOnly', 'GET', `${w.sim}/clock`)).body;
    const adv = await w.call('km', 'POST', `${w.sim}/clock/advance`, { minutes: 5 });
    expect(adv.status).toBe(200);
    expect(adv.body.aheadMs).toBe(clock0.aheadMs + 5 * 60_000);
    expect(Date.parse(adv.body.now) - Date.parse(clock0.now)).toBeGreaterThanOrEqual(5 * 60_000);
    for (const minutes of [0, -5]) {
      const r = await w.call('km', 'POST', `${w.sim}/clock/advance`, { minutes });
      expect(r).toMatchObject({ status: 400, code: 'CLOCK_BACKWARDS' });
      expect((await w.call('readOnly', 'GET', `${w.sim}/clock`)).body.aheadMs).toBe(adv.body.aheadMs);
    }

    // A grant that ends 10 minutes from now (world time): granted before, denied after.
    const expiresAt = new Date(w.world.clock.now() + 10 * 60_000).toISOString();
    const ivy = await invite('ivy@world.example', 'Ivy', [w.keys.keyB.id], { expiresAt });
    expect((await doorSync(w.doorB.id)).status).toBe(200);
    expect((await keypad(w.doorB.id, ivy.code)).body.outcome).toBe('granted');
    expect((await w.call('km', 'POST', `${w.sim}/clock/advance`, { minutes: 15 })).status).toBe(200);
    const after = await keypad(w.doorB.id, ivy.code);
    expect(after.body).toMatchObject({ outcome: 'denied' });
    expect(['expired', 'unknownCredential']).toContain(after.body.reason);
  });

  it('7. bad input: stable 4xx codes and nothing changed', async () => {
    const A = w.doorA.id;
    const before = await doorState(A);
    const { events } = await published(async () => {
      expect(await keypad(999_999, '123456')).toMatchObject({ status: 404, code: 'DOOR_NOT_FOUND' });
      expect(await w.call('km', 'GET', `${w.sim}/doors/999999`)).toMatchObject({ status: 404, code: 'DOOR_NOT_FOUND' });
      expect(await doorSync(w.otherDoor.id)).toMatchObject({ status: 404, code: 'DOOR_NOT_FOUND' });
      expect(await keypad(w.otherDoor.id, '123456')).toMatchObject({ status: 404, code: 'DOOR_NOT_FOUND' });
      expect(await w.call('km', 'GET', `${w.sim}/doors/${w.otherDoor.id}`)).toMatchObject({ status: 404, code: 'DOOR_NOT_FOUND' });
      expect(await w.call('km', 'POST', `${w.sim}/doors/${A}/phone-unlock`, { personId: 999_999 })).toMatchObject({ status: 404, code: 'PERSON_NOT_FOUND' });
      expect(await w.call('km', 'POST', `${w.sim}/people/999999/install-phone`)).toMatchObject({ status: 404, code: 'PERSON_NOT_FOUND' });
      expect(await keypad(A, '12345')).toMatchObject({ status: 400, code: 'INVALID_CODE' });
      expect(await keypad(A, '1234567')).toMatchObject({ status: 400, code: 'INVALID_CODE' });
      expect(await keypad(A, '12a456')).toMatchObject({ status: 400, code: 'INVALID_CODE' });
      expect(await w.call('km', 'POST', `${w.sim}/doors/${A}/battery`, { percent: 150 })).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect(await w.call('km', 'POST', `${w.sim}/doors/${A}/keycard`, { uid: 'xyz' })).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect(await w.call('km', 'POST', `${w.sim}/doors/${A}/range`, { inRange: false, extra: 1 })).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect(await w.call('km', 'POST', `/properties/999999/simulate/doors/${A}/keypad`, { code: '123456' })).toMatchObject({ status: 403 });
    });
    expect(events.filter((e) => e.kind !== 'access' && e.kind !== 'activity')).toEqual([]);
    expect(stable(await doorState(A))).toEqual(stable(before));

    // A door busy with another simulated action (held through the World API): every action is 409 DOOR_BUSY.
    const door = w.world.door(A, w.prop.id);
    let release!: () => void;
    const held = w.world.exclusive(door, () => new Promise<void>((r) => (release = r)));
    try {
      expect((await doorState(A)).busy).toBe(true);
      const busy = await published(async () => [
        await keypad(A, w.code(w.people.alice.id)),
        await doorSync(A),
        await w.call('km', 'POST', `${w.sim}/doors/${A}/phone-unlock`, { personId: w.people.bob.id }),
        await w.call('km', 'POST', `${w.sim}/doors/${A}/keycard`, { uid: w.aliceCard }),
        await w.call('km', 'POST', `${w.sim}/doors/${A}/power-cut`, {}),
      ]);
      for (const r of busy.result) expect(r).toMatchObject({ status: 409, code: 'DOOR_BUSY' });
      expect(busy.events.filter((e) => e.kind === 'attempt' || e.kind === 'sync')).toEqual([]);
    } finally {
      release();
      await held;
    }
    expect((await doorState(A)).busy).toBe(false);

    // The same over HTTP alone: a Door Sync at a door out of range holds it for its whole
    // retry (about 2 s); a keypad entry and a second Door Sync sent meanwhile are 409 DOOR_BUSY.
    expect((await w.call('km', 'POST', `${w.sim}/doors/${A}/range`, { inRange: false })).status).toBe(200);
    try {
      const first = doorSync(A);
      await until(async () => (await doorState(A)).busy || undefined, 5_000, 'the first Door Sync holding the door');
      expect(await keypad(A, w.code(w.people.alice.id))).toMatchObject({ status: 409, code: 'DOOR_BUSY' });
      expect(await doorSync(A)).toMatchObject({ status: 409, code: 'DOOR_BUSY' });
      expect(await first).toMatchObject({ status: 503, code: 'RADIO_UNAVAILABLE' });
    } finally {
      expect((await w.call('km', 'POST', `${w.sim}/doors/${A}/range`, { inRange: true })).status).toBe(200);
    }
    expect((await doorState(A)).busy).toBe(false);
    expect((await keypad(A, w.code(w.people.alice.id))).body.outcome).toBe('granted');
  });

  it('8. permissions: Key Management for actions, read-only reads, no token is 401', async () => {
    const A = w.doorA.id;
    const posts: [string, unknown?][] = [
      [`${w.sim}/doors/${A}/door-sync`],
      [`${w.sim}/doors/${A}/phone-unlock`, { personId: w.people.bob.id }],
      [`${w.sim}/doors/${A}/keypad`, { code: '123456' }],
      [`${w.sim}/doors/${A}/keycard`, { uid: w.aliceCard }],
      [`${w.sim}/doors/${A}/power-cut`, {}],
      [`${w.sim}/doors/${A}/battery`, { percent: 50 }],
      [`${w.sim}/doors/${A}/range`, { inRange: false }],
      [`${w.sim}/doors/${A}/lock-clock`, { skewSeconds: 60 }],
      [`${w.sim}/people/${w.people.carol.id}/install-phone`],
      [`${w.sim}/clock/advance`, { minutes: 1 }],
    ];
    const before = await doorState(A);
    const aheadBefore = w.world.clock.aheadMs;
    const { events } = await published(async () => {
      for (const [path, body] of posts) {
        expect(await w.call('pm', 'POST', path, body), `pm ${path}`).toMatchObject({ status: 403, code: 'KEY_MANAGEMENT_REQUIRED' });
        expect(await w.call('readOnly', 'POST', path, body), `readOnly ${path}`).toMatchObject({ status: 403, code: 'READ_ONLY_TOKEN' });
        expect(await w.call(null, 'POST', path, body), `anonymous ${path}`).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
        expect(await w.call('otherKm', 'POST', path, body), `other property ${path}`).toMatchObject({ status: 403, code: 'PROPERTY_OUT_OF_SCOPE' });
      }
    });
    expect(events.filter((e) => e.kind !== 'access' && e.kind !== 'activity')).toEqual([]);
    expect(stable(await doorState(A))).toEqual(stable(before));
    expect(w.world.clock.aheadMs).toBe(aheadBefore);

    const list = await w.call('readOnly', 'GET', `${w.sim}/doors`);
    expect(list.status).toBe(200);
    expect(list.body.map((d: { doorId: number }) => d.doorId).sort((a: number, b: number) => a - b)).toEqual([w.lobby.id, w.doorA.id, w.doorB.id].sort((a, b) => a - b));
    expect((await w.call('readOnly', 'GET', `${w.sim}/doors/${A}`)).status).toBe(200);
    expect((await w.call('pm', 'GET', `${w.sim}/clock`)).status).toBe(200);
    expect(await w.call(null, 'GET', `${w.sim}/doors`)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await w.call(null, 'GET', `${w.base}/events`)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('9. a server without a world answers WORLD_NOT_RUNNING on simulate routes and the event stream', async () => {
    const bare: FastifyInstance = await buildApp({ db: w.db });
    try {
      const url = await bare.listen({ port: 0, host: '127.0.0.1' });
      const call = httpClient(url, w.tokens);
      expect(await call('km', 'POST', `${w.sim}/doors/${w.doorA.id}/keypad`, { code: '123456' })).toMatchObject({ status: 409, code: 'WORLD_NOT_RUNNING' });
      expect(await call('km', 'POST', `${w.sim}/doors/${w.doorA.id}/door-sync`)).toMatchObject({ status: 409, code: 'WORLD_NOT_RUNNING' });
      expect(await call('km', 'POST', `${w.sim}/clock/advance`, { minutes: 1 })).toMatchObject({ status: 409, code: 'WORLD_NOT_RUNNING' });
      expect(await call('readOnly', 'GET', `${w.sim}/doors`)).toMatchObject({ status: 409, code: 'WORLD_NOT_RUNNING' });
      expect(await call('readOnly', 'GET', `${w.sim}/clock`)).toMatchObject({ status: 409, code: 'WORLD_NOT_RUNNING' });
      expect(await call('readOnly', 'GET', `${w.base}/events`)).toMatchObject({ status: 409, code: 'WORLD_NOT_RUNNING' });
      // The rest of the API works as ever.
      expect((await call('readOnly', 'GET', `${w.base}/sync-tasks`)).status).toBe(200);
    } finally {
      await bare.close();
    }
  });

  it('10. SSE: a real client receives attempt, sync, door, access, activity and clock events with increasing ids, and resumes with Last-Event-ID', async () => {
    const B = w.doorB.id;
    const eventsUrl = `${w.url}${w.base}/events`;
    const auth = { authorization: `Bearer ${w.tokens.readOnly}` };
    const stream = await openSse(eventsUrl, auth);
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await until(() => stream.comments.length > 0 || undefined, 5_000, 'the stream preamble');

    const carol = w.people.carol;
    const code = w.code(carol.id);
    const first = (await keypad(B, code)).body;
    expect(first.outcome, JSON.stringify(first)).toBe('granted');
    await stream.waitFor((f) => f.event === 'attempt' && f.data.doorId === B);
    expect((await doorSync(B)).status).toBe(200);
    const syncDone = await stream.waitFor((f) => f.event === 'sync' && f.data.phase === 'done' && f.data.doorId === B);
    expect(syncDone.data.eventsUploaded).toBeGreaterThanOrEqual(1);
    await stream.waitFor((f) => f.event === 'door' && f.data.doorId === B);
    // The sync uploaded the attempt: it comes back as activity (tailed from the store).
    await stream.waitFor((f) => f.event === 'activity' && f.data.doorId === B && f.data.result === 'granted');
    const jill = await invite('jill@world.example', 'Jill', [w.keys.keyB.id]);
    expect((await w.call('km', 'POST', `${w.base}/people/${jill.id}/revoke-all`)).status).toBe(200);
    await stream.waitFor((f) => f.event === 'access' && /Jill/.test(JSON.stringify(f.data)));
    expect((await w.call('km', 'POST', `${w.sim}/clock/advance`, { minutes: 1 })).status).toBe(200);
    const clock = await stream.waitFor((f) => f.event === 'clock');
    expect(clock.data).toMatchObject({ advancedMs: 60_000, propertyId: null });

    const kinds = new Set(stream.frames.map((f) => f.event));
    for (const k of ['attempt', 'sync', 'door', 'access', 'activity', 'clock']) expect(kinds, k).toContain(k);
    const ids = stream.frames.map((f) => f.id!);
    for (const id of ids) expect(Number.isInteger(id)).toBe(true);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);
    for (const f of stream.frames) {
      expect(f.data.id).toBe(f.id);
      expect(f.data.kind).toBe(f.event);
      expect([w.prop.id, null]).toContain(f.data.propertyId);
    }
    await stream.close();
    const lastSeen = ids[ids.length - 1]!;

    // Away: more events happen (recorded from the hub, as the server would send them).
    const missed: g.StreamEvent[] = [];
    const off = w.world.hub.subscribe((e) => {
      if (e.propertyId === null || e.propertyId === w.prop.id) missed.push(e);
    });
    try {
      // Anything the last stream had not yet been sent when it closed is missed too.
      for (const e of w.world.hub.since(lastSeen, w.prop.id)) missed.push(e);
      expect((await keypad(B, code)).body.outcome).toBe('granted');
      expect((await w.call('km', 'POST', `${w.sim}/clock/advance`, { minutes: 1 })).status).toBe(200);
      expect((await w.call('km', 'POST', `${w.sim}/doors/${B}/battery`, { percent: 55 })).status).toBe(200);
      // Let the activity tail (250 ms) settle so nothing is published while we compare.
      await new Promise((r) => setTimeout(r, 600));
    } finally {
      off();
    }
    const missedIds = [...new Set(missed.map((e) => e.id))].sort((a, b) => a - b);
    expect(missedIds.length).toBeGreaterThanOrEqual(3);
    expect(missedIds[0]).toBeGreaterThan(lastSeen);

    const resumed = await openSse(eventsUrl, { ...auth, 'last-event-id': String(lastSeen) });
    try {
      await resumed.waitFor((f) => f.id === missedIds[missedIds.length - 1]);
      // Give a late duplicate a chance to show up.
      await new Promise((r) => setTimeout(r, 300));
      const got = resumed.frames.map((f) => f.id);
      expect(got).toEqual(missedIds);
      expect(resumed.frames.map((f) => f.event)).toEqual(expect.arrayContaining(['attempt', 'clock', 'door']));
      expect(resumed.frames.some((f) => f.event === 'gap')).toBe(false);
    } finally {
      await resumed.close();
    }

    // ?token= for EventSource clients (no headers), and ?lastEventId= to resume.
    const byQuery = await openSse(`${eventsUrl}?token=${encodeURIComponent(w.tokens.readOnly)}&lastEventId=${lastSeen}`);
    try {
      expect(byQuery.res.status).toBe(200);
      await byQuery.waitFor((f) => f.id === missedIds[missedIds.length - 1]);
      expect(byQuery.frames.map((f) => f.id)).toEqual(missedIds);
    } finally {
      await byQuery.close();
    }
    // A bad ?token= is refused like a bad header.
    const bad = await fetch(`${eventsUrl}?token=lk_nope`);
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_TOKEN');
  });

  it('10b. SSE: a Last-Event-ID older than the buffer gets a gap event first (small hub over HTTP)', async () => {
    const hub = new g.EventHub(3);
    const small: FastifyInstance = await buildApp({ db: w.db, world: w.world, hub });
    try {
      const url = await small.listen({ port: 0, host: '127.0.0.1' });
      for (let i = 1; i <= 6; i++) hub.publish('clock', null, { n: i });
      hub.publish('door', w.other.id, { n: 'elsewhere' });
      hub.publish('door', w.prop.id, { n: 'here' });
      // Buffer now holds ids 6, 7, 8; a client that saw id 2 lost 3..5.
      const s = await openSse(`${url}${w.base}/events`, { authorization: `Bearer ${w.tokens.readOnly}`, 'last-event-id': '2' });
      try {
        await s.waitFor((f) => f.id === 8);
        expect(s.frames.map((f: SseFrame) => [f.event, f.id])).toEqual([
          ['gap', 5],
          ['clock', 6],
          ['door', 8],
        ]);
        expect(s.frames[0]!.data).toMatchObject({ missed: 3, capacity: 3 });
        hub.publish('clock', null, { n: 'live' });
        await s.waitFor((f) => f.id === 9);
      } finally {
        await s.close();
      }
    } finally {
      await small.close();
    }
  });

  it('10c. closing the server ends open event streams (shutdown does not wait for connected consoles)', async () => {
    const second: FastifyInstance = await buildApp({ db: w.db, world: w.world });
    const url = await second.listen({ port: 0, host: '127.0.0.1' });
    const s = await openSse(`${url}${w.base}/events`, { authorization: `Bearer ${w.tokens.readOnly}` });
    expect(s.res.status).toBe(200);
    await until(() => s.comments.length > 0 || undefined, 5_000, 'the stream preamble');
    const t0 = Date.now();
    const closed = await Promise.race([second.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open after 5 s'), 5_000))]);
    expect(closed).toBe('closed');
    expect(Date.now() - t0).toBeLessThan(2_000);
    await until(() => s.ended || undefined, 2_000, 'the client sees the stream end');
    await s.close();
    // The world (and the first server) keep running.
    expect((await w.call('readOnly', 'GET', `${w.sim}/clock`)).status).toBe(200);
  });

  it('13. door lists page with a total, behind first; a door\'s credentials as the lock holds them vs as compiled; /me says what a token may do', async () => {
    const all = await fetch(`${w.url}${w.sim}/doors`, { headers: { authorization: `Bearer ${w.tokens.km}` } });
    expect(all.headers.get('x-total-count')).toBe('3');
    const page = await w.call('km', 'GET', `${w.sim}/doors?limit=1&offset=1`);
    expect(page.status).toBe(200);
    expect(page.body).toHaveLength(1);
    const named = await w.call('km', 'GET', `${w.sim}/doors?search=1b`);
    expect(named.body.map((d: { doorId: number }) => d.doorId)).toEqual([w.doorB.id]);
    expect((await w.call('km', 'GET', `${w.sim}/doors?limit=0`)).body.error.code).toBe('VALIDATION_FAILED');

    // A change not yet on the lock: the resident is in "compiled" and not in "lock" until a Door Sync.
    await doorSync(w.doorB.id);
    const guest = await invite('thirteen@world.example', 'Thirteen', [w.keys.keyB.id]);
    const before = await w.call('km', 'GET', `${w.sim}/doors/${w.doorB.id}/credentials`);
    expect(before.status).toBe(200);
    const holder = (w.db.prepare('SELECT holder_ref AS h FROM people WHERE id = ?').get(guest.id) as { h: number }).h;
    const has = (rows: { holderRef: number }[]) => rows.some((r) => r.holderRef === holder);
    expect([has(before.body.compiled), has(before.body.lock)]).toEqual([true, false]);
    const listed = await w.call('km', 'GET', `${w.sim}/doors`);
    expect(listed.body[0].doorId).toBe(w.doorB.id); // behind: listed first
    await doorSync(w.doorB.id);
    const after = await w.call('km', 'GET', `${w.sim}/doors/${w.doorB.id}/credentials`);
    expect([has(after.body.compiled), has(after.body.lock)]).toEqual([true, true]);
    expect(after.body.lock.length).toBe(after.body.compiled.length);
    expect((await w.call('km', 'GET', `${w.sim}/doors/${w.otherDoor.id}/credentials`)).body.error.code).toBe('DOOR_NOT_FOUND');

    expect((await w.call('km', 'GET', '/me')).body).toMatchObject({ role: 'property_manager', keyManagement: true, propertyId: w.prop.id });
    expect((await w.call('pm', 'GET', '/me')).body.keyManagement).toBe(false);
    expect((await w.call('readOnly', 'GET', '/me')).body).toMatchObject({ role: 'read_only', keyManagement: false });
    expect((await w.call(null, 'GET', '/me')).status).toBe(401);
  });

  it('14. wrong JSON types are refused, not converted, and change nothing; a phone at a never-synced door is denied (noSet)', async () => {
    const A = w.doorA.id;
    const before = await doorState(A);
    const clockBefore = (await w.call('km', 'GET', `${w.sim}/clock`)).body;
    const refused: [string, unknown][] = [
      [`/doors/${A}/battery`, { percent: null }],
      [`/doors/${A}/battery`, { percent: '50' }],
      [`/doors/${A}/lock-clock`, { skewSeconds: '10' }],
      [`/doors/${A}/phone-unlock`, { personId: String(w.people.alice.id) }],
      [`/doors/${A}/keypad`, { code: 123456 }],
      [`/doors/${A}/keycard`, { uid: w.aliceCard, cloned: 1 }],
      [`/doors/${A}/range`, { inRange: 'yes' }],
      ['/clock/advance', { minutes: '5' }],
    ];
    for (const [path, body] of refused) {
      const r = await w.call('km', 'POST', `${w.sim}${path}`, body);
      expect([path, r.status, r.code]).toEqual([path, 400, 'VALIDATION_FAILED']);
    }
    expect(stable(await doorState(A))).toEqual(stable(before));
    expect((await w.call('km', 'GET', `${w.sim}/clock`)).body.aheadMs).toBe(clockBefore.aheadMs);
    expect((await w.call('km', 'POST', `${w.sim}/doors/${A}/keypad`, { code: '12ab56' })).code).toBe('INVALID_CODE');

    // A door added now has a factory-new lock: the phone's unlock is the lock's answer.
    const fresh = g.createDoor(w.db, w.prop.id, { name: '1A back door', lockId: '4c4b00000000a0ff', connectivity: 'offline', unitId: w.units.unitA.id }, w.world.ctx('test'));
    await w.world.refresh();
    const r = await w.call('km', 'POST', `${w.sim}/doors/${fresh.id}/phone-unlock`, { personId: w.people.alice.id });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect([r.body.outcome, r.body.reason, r.body.eventsUploaded]).toEqual(['denied', 'noSet', 0]);
    expect((await doorSync(fresh.id)).status).toBe(200); // commissioned: no task left behind
  });

  it('11. the OpenAPI document lists every simulate route and the event stream', async () => {
    const r = await w.call(null, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    const paths = r.body.paths as Record<string, Record<string, unknown>>;
    const p = '/properties/{propertyId}/simulate';
    const expected: [string, string][] = [
      ['get', `${p}/doors`],
      ['get', `${p}/doors/{doorId}`],
      ['get', `${p}/doors/{doorId}/credentials`],
      ['post', `${p}/doors/{doorId}/door-sync`],
      ['post', `${p}/doors/{doorId}/phone-unlock`],
      ['post', `${p}/doors/{doorId}/keypad`],
      ['post', `${p}/doors/{doorId}/keycard`],
      ['post', `${p}/doors/{doorId}/power-cut`],
      ['post', `${p}/doors/{doorId}/battery`],
      ['post', `${p}/doors/{doorId}/range`],
      ['post', `${p}/doors/{doorId}/lock-clock`],
      ['post', `${p}/people/{personId}/install-phone`],
      ['get', `${p}/clock`],
      ['post', `${p}/clock/advance`],
      ['get', '/properties/{propertyId}/events'],
    ];
    for (const [method, path] of expected) expect(paths[path]?.[method], `${method} ${path}`).toBeDefined();
    const simulated = Object.entries(paths).flatMap(([path, ops]) => (path.startsWith(p) ? Object.keys(ops).map((m) => `${m} ${path}`) : []));
    expect(simulated.sort()).toEqual(expected.filter(([, path]) => path.startsWith(p)).map(([m, path]) => `${m} ${path}`).sort());
  });
});

describe('simulate routes at the same time', () => {
  beforeAll(async () => {
    // Fresh access for every door of the property, so each Door Sync below has a set to send.
    await invite('kim@world.example', 'Kim', [w.keys.entrances.id, w.keys.keyA.id, w.keys.keyB.id]);
  });

  it('12. Door Syncs of different doors sent together all succeed (the manager phone goes to one door at a time)', async () => {
    const doors = [w.lobby.id, w.doorA.id, w.doorB.id];
    const results = await Promise.all(doors.map((id) => doorSync(id)));
    for (const r of results) {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.seqAfter).toBeGreaterThan(r.body.seqBefore);
      expect(r.body.door.inSync).toBe(true);
    }
    expect(await syncTaskDoors()).toEqual([]);
  });

  it('12b. one person\'s phone unlocks at two doors sent together: both visits complete', async () => {
    const alice = w.people.alice.id;
    const results = await Promise.all([w.doorA.id, w.lobby.id].map((id) => w.call('km', 'POST', `${w.sim}/doors/${id}/phone-unlock`, { personId: alice })));
    for (const r of results) expect(r.body, JSON.stringify(r.body)).toMatchObject({ outcome: 'granted' });
  });
});

describe('EventHub', () => {
  it('replays after an id, filters by property, and reports a gap when the buffer lost events', () => {
    let t = 1_000;
    const hub = new g.EventHub(3, () => t++);
    for (let i = 0; i < 5; i++) hub.publish('attempt', i % 2 === 0 ? 1 : 2, { i });
    expect(hub.lastId).toBe(5);
    // Buffer: ids 3, 4, 5.
    expect(hub.since(4, 1).map((e) => e.id)).toEqual([5]);
    expect(hub.since(2, 1).map((e) => [e.kind, e.id])).toEqual([
      ['attempt', 3],
      ['attempt', 5],
    ]);
    const lost = hub.since(0, 2);
    expect(lost.map((e) => [e.kind, e.id])).toEqual([
      ['gap', 2],
      ['attempt', 4],
    ]);
    expect(lost[0]!.data).toEqual({ missed: 2, capacity: 3 });
    expect(hub.since(5, 1)).toEqual([]);
    const seen: number[] = [];
    const off = hub.subscribe((e) => seen.push(e.id));
    hub.publish('clock', null, {});
    off();
    hub.publish('clock', null, {});
    expect(seen).toEqual([6]);
  });

  it('a Last-Event-ID from an earlier server run (ids restart at 1) gets a gap and everything held', () => {
    const hub = new g.EventHub(10);
    hub.publish('attempt', 1, {});
    hub.publish('attempt', 1, {});
    const out = hub.since(500, 1);
    expect(out.map((e) => [e.kind, e.id])).toEqual([
      ['gap', 0],
      ['attempt', 1],
      ['attempt', 2],
    ]);
    expect(out[0]!.data['reason']).toBe('server restarted');
  });
});
