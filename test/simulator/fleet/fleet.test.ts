/**
 * Fleets from a property description file on the virtual radio: start, phone unlock at one of
 * the doors, restart with state kept, a changed description installing a new set, and the
 * errors a wrong file gets.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { fromHex, signingKeyFromSeed, toHex } from '@latchkit/protocol';
import { SimulatorError } from '../../../simulator/src/errors.js';
import { startFleet, type Fleet, type FleetProgress } from '../../../simulator/src/fleet/index.js';
import { inspectLockDir, openLockDir } from '../../../simulator/src/lock/index.js';
import { Phone } from '../../../simulator/src/phone/index.js';
import { crypto, det } from '../lock/fixtures.js';

const dirs: string[] = [];
let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'latchkit-fleet-'));
  dirs.push(d);
  return d;
}

const resident = signingKeyFromSeed(det('fleet-resident'), crypto);

function description(extra: Record<string, unknown> = {}) {
  return {
    version: 1,
    name: 'Maple Court',
    stateDir: 'state',
    seed: 3,
    utcOffset: -300,
    backend: { issuerSeed: toHex(det('fleet-issuer')) },
    credentials: [{ holder: 1001, doorcode: '246810', phonePublicKey: toHex(resident.publicKey), start: '2020-01-01T00:00:00Z', end: null }],
    locks: [
      { id: '4c4b000000000001', name: 'Lobby', device: 'lobby', credentials: [{ holder: 1002, doorcode: '135790', daily: true, schedule: { days: 'mon-fri', from: '08:00', to: '18:00' } }] },
      { id: '4c4b000000000002', name: 'Gym', driftPpm: 25 },
    ],
    generate: { count: 3, idPrefix: '4c4b0001', namePrefix: 'unit' },
    ...extra,
  };
}

describe('fleet', () => {
  it('starts every lock of a property file, serves a phone, and keeps state across a restart', async () => {
    const dir = tmp();
    const file = join(dir, 'maple.json');
    writeFileSync(file, JSON.stringify(description()));
    const progress: FleetProgress[] = [];
    fleet = await startFleet(file, { onProgress: (p) => progress.push(p) });
    expect(fleet.locks.size).toBe(5);
    expect(progress.filter((p) => p.phase === 'started').map((p) => p.done)).toEqual([1, 2, 3, 4, 5]);
    const lobby = fleet.locks.get('4c4b000000000001')!;
    expect(lobby.provisioned).toEqual({ commissioned: true, installedSeq: 1 });
    expect(lobby.device.profile.name).toBe('lobby');
    expect(lobby.device.firmware.utcOffset).toBe(-300);
    expect(fleet.locks.get('4c4b000100000003')!.name).toBe('unit 3');
    expect(lobby.device.firmware.enterCode('246810').granted).toBe(true);

    const phone = await Phone.create({ radio: fleet.radio, key: resident, profile: 'android', crypto });
    const visit = await phone.visit(fromHex('4c4b000000000002'));
    expect(visit.unlock).toMatchObject({ granted: true, holder: 1001 });
    await phone.close();
    const gymEvents = fleet.locks.get('4c4b000000000002')!.device.firmware.events.nextIndex;
    await fleet.stop();

    // Restart from the same file: nothing to provision, events continue, the set is the same.
    fleet = await startFleet(file);
    const gym = fleet.locks.get('4c4b000000000002')!;
    expect(gym.provisioned).toEqual({ commissioned: false, installedSeq: null });
    expect(gym.device.firmware.seq).toBe(1);
    expect(gym.device.firmware.events.nextIndex).toBe(gymEvents + 1);
    expect(gym.device.firmware.events.tail(2).map((e) => e.type)).toEqual(['granted', 'boot']);
    await fleet.stop();

    // Change the shared credentials: the next start installs seq 2 on every lock.
    writeFileSync(file, JSON.stringify(description({ credentials: [{ holder: 1001, doorcode: '999111' }] })));
    fleet = await startFleet(file);
    for (const lock of fleet.locks.values()) expect(lock.provisioned.installedSeq).toBe(2);
    expect(fleet.locks.get('4c4b000000000002')!.device.firmware.enterCode('246810').granted).toBe(false);
    expect(fleet.locks.get('4c4b000000000002')!.device.firmware.enterCode('999111').granted).toBe(true);
  });

  it('runs without a backend: factory-fresh locks that a gateway commissions over the radio', async () => {
    const dir = tmp();
    fleet = await startFleet({ version: 1, name: 'Bare', stateDir: join(dir, 's'), generate: { count: 2 } });
    for (const lock of fleet.locks.values()) {
      expect(lock.device.firmware.commissioned).toBe(false);
      expect(lock.device.firmware.info().commissioned).toBe(false);
    }
  });

  it('refuses a wrong description with the JSON path, what was expected and what was found', async () => {
    const dir = tmp();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ version: 2 }, /\$\.version: expected 1, got 2/],
      [{ locks: [{ id: '4c4b' }] }, /\$\.locks\[0\]\.id: expected 8 bytes as hex, got "4c4b"/],
      [{ locks: [{ id: '4c4b000000000001', device: 'huge' }] }, /\$\.locks\[0\]\.device: expected one of standard, compact, lobby, got "huge"/],
      [{ credentials: [{ holder: 1, doorcode: '12' }] }, /\$\.credentials\[0\]\.doorcode: expected 4 to 12 digits/],
      [{ credentials: [{ holder: 1, doorcode: '1234', schedule: { days: 'mon-fry', from: '08:00', to: '18:00' } }] }, /schedule\.days: expected weekday names/],
      [{ backend: undefined }, /\$\.backend: expected a backend \(issuerSeed\)/],
      [{ colour: 'red' }, /\$\.colour: expected no such field/],
      [{ locks: [{ id: '4c4b000000000001' }, { id: '4C4B000000000001' }], generate: undefined }, /expected a lock id not used by another lock/],
    ];
    for (const [patch, message] of cases) {
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ ...description(), ...patch }));
      let err: unknown;
      try {
        fleet = await startFleet(file);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(patch)).toBeInstanceOf(SimulatorError);
      expect((err as SimulatorError).code).toBe('BAD_PROPERTY_FILE');
      expect((err as SimulatorError).message).toMatch(message);
    }
    writeFileSync(join(dir, 'broken.json'), '{ "version": 1,');
    await expect(startFleet(join(dir, 'broken.json'))).rejects.toThrow(/is not valid JSON/);
    await expect(startFleet(join(dir, 'missing.json'))).rejects.toThrow(/cannot read property description/);
  });
});

describe('lock directories', () => {
  it('persist flash and hardware state; inspecting one changes no file', () => {
    const dir = join(tmp(), 'lock');
    const d = openLockDir(dir, { create: { lockId: fromHex('4c4b0000000000aa'), profile: 'compact' }, crypto });
    d.firmware.reportTamper(1);
    d.battery.setPercent(42);
    d.close();
    const snapshot = () => Object.fromEntries(readdirSync(dir).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
    const before = snapshot();
    const seen = inspectLockDir(dir);
    expect(snapshot()).toEqual(before);
    expect(seen.summary).toMatchObject({ lockId: '4c4b0000000000aa', commissioned: false, seq: 0, battery: 42, profile: 'compact' });
    expect(seen.events.map((e) => e.type)).toEqual(['boot', 'tamper']);
    const again = openLockDir(dir, { crypto });
    expect(again.firmware.events.nextIndex).toBe(3);
    expect(again.battery.percent()).toBe(42);
    again.close();
    expect(() => inspectLockDir(join(dir, 'nope'))).toThrow(/is not a lock directory/);
  });
});
