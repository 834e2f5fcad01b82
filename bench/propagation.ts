/**
 * `npm run bench -- propagation [--quick] [--check]`
 *
 * Revoke-to-enforced across a property served by several gateways (issue 5): every door is
 * online, the unit doors split by floor among four gateway radios, the shared doors on the
 * first. Each gateway is a real noble central on the virtual radio and hears only its doors.
 * After every lock is commissioned and synced, one resident is revoked and all gateways push
 * at once. A gateway reaches its doors one after another (one pending connection per central),
 * gateways work in parallel, so the property enforces the revoke when the slowest gateway is
 * done: revoke-to-enforced = max over gateways of the modelled time of its pushes.
 */
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, setCryptoProvider, signingKeyFromSeed, toHex } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createAir, LockDevice, serveLock, type ServedLock } from '@latchkit/simulator';
import * as g from '../gateway/src/index.js';
import type { BenchOptions } from './run.js';
import { prng } from './lobby.js';

export async function run(o: BenchOptions): Promise<object> {
  const crypto = nodeCryptoProvider;
  setCryptoProvider(crypto);
  const units = o.quick ? 100 : 1_000;
  const gateways = 4;
  const dir = mkdtempSync(join(os.tmpdir(), 'latchkit-bench-prop-'));
  const db = g.openStore({ stateDir: dir });
  const ctx = { actor: 'bench' };
  const rand = prng(7);
  const air = createAir({ seed: 7 });
  const served: ServedLock[] = [];
  const engines: g.SyncEngine[] = [];
  try {
    o.log(`building a ${units}-unit property with ${gateways} gateways`);
    const prop = g.createProperty(db, { name: 'Propagation Park', utcOffsetMin: 0 }, ctx);
    const lockId = (n: number): string => `4c4b${n.toString(16).padStart(12, '0')}`;
    const shared = ['North Entrance', 'South Entrance', 'Fitness Center'].map((name, i) =>
      g.createDoor(db, prop.id, { name, lockId: lockId(i + 1), connectivity: 'online', gatewayRadio: 'gw-1' }, ctx),
    );
    const entrances = g.createKey(db, prop.id, { name: 'Resident Entrances', kind: 'communal', doorIds: shared.map((d) => d.id), mayShare: true, doorcodesDisabled: false }, ctx);
    const unitDoors: { id: number; lockId: string; gw: string }[] = [];
    const people: number[] = [];
    db.transaction(() => {
      for (let u = 0; u < units; u++) {
        const gw = `gw-${1 + Math.floor((u * gateways) / units)}`;
        const unit = g.createUnit(db, prop.id, { name: `U${u}` }, ctx);
        const door = g.createDoor(db, prop.id, { name: `U${u} door`, lockId: lockId(100 + u), connectivity: 'online', gatewayRadio: gw, unitId: unit.id }, ctx);
        unitDoors.push({ id: door.id, lockId: door.lockId, gw });
        const key = g.createKey(db, prop.id, { name: `Unit U${u}`, kind: 'residential', doorIds: [door.id], mayShare: true, doorcodesDisabled: false, unitId: unit.id }, ctx);
        for (let r = 0; r < (rand() < 0.8 ? 2 : 1); r++) {
          const p = g.invitePerson(db, prop.id, { email: `r${u}-${r}@prop.example`, firstName: 'R', lastName: `${u}-${r}`, accessType: 'app', isResident: true, mayShare: true, keyIds: [entrances.id, key.id] }, ctx).person;
          g.addPhoneKey(db, p.id, { publicKey: toHex(signingKeyFromSeed(crypto.sha256(Buffer.from(`prop-phone-${p.id}`)), crypto).publicKey) }, ctx);
          people.push(p.id);
        }
      }
    })();
    const doors = [...shared.map((d) => ({ id: d.id, lockId: d.lockId, gw: 'gw-1' })), ...unitDoors];
    for (const d of doors) {
      const device = new LockDevice({ identity: { lockId: fromHex(d.lockId), deviceSeed: crypto.sha256(Buffer.from(`prop-device-${d.lockId}`)) }, crypto });
      served.push(await serveLock(air, device));
    }
    for (let k = 1; k <= gateways; k++) engines.push(await g.SyncEngine.create({ db, radio: air, name: `gw-${k}`, ctx, provider: crypto }));
    // Topology: a gateway hears only the doors assigned to it.
    doors.forEach((d, i) => {
      for (const e of engines) if (e !== engines[Number(d.gw.slice(3)) - 1]) air.setInRange(e.address, served[i]!.peripheral, false);
    });

    o.log(`first sync of ${doors.length} doors (commission + full set), gateways in parallel`);
    const c0 = process.cpuUsage();
    const first = await Promise.all(engines.map((e) => e.pushPending(prop.id)));
    const firstFailures = first.flatMap((r) => r.failures);
    if (firstFailures.length > 0) throw new Error(`first sync failed for ${firstFailures.length} doors: ${firstFailures[0]!.code} ${firstFailures[0]!.message}`);
    const firstCpu = process.cpuUsage(c0);

    o.log('revoking one resident; every gateway pushes at once');
    const victim = people[Math.floor(people.length / 2)]!;
    const c1 = process.cpuUsage();
    g.revokeAllKeys(db, victim, ctx);
    const pushes = await Promise.all(engines.map((e) => e.pushPending(prop.id)));
    const cpu = process.cpuUsage(c1);
    const perGateway = pushes.map((p, i) => ({ gateway: `gw-${i + 1}`, doors: p.results.length, failures: p.failures.length, modelled_ms: Math.round(p.results.reduce((s, r) => s + r.elapsedMs, 0)), bytes: p.results.reduce((s, r) => s + r.bytes, 0) }));
    const state = doors.map((d) => g.doorSyncState(db, d.id));
    const behind = state.filter((s) => s.enforcedSeq < s.compiledSeq).length;
    const result = {
      scenario: 'propagation',
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
      units,
      doors: doors.length,
      gateways,
      residents: people.length,
      first_sync: { doors: first.reduce((s, r) => s + r.results.length, 0), modelled_ms_slowest_gateway: Math.round(Math.max(...first.map((r) => r.results.reduce((s, x) => s + x.elapsedMs, 0)))), cpu_ms: Math.round((firstCpu.user + firstCpu.system) / 1000) },
      revoke: {
        doors_changed: perGateway.reduce((s, x) => s + x.doors, 0),
        revoke_to_enforced_modelled_ms: Math.max(...perGateway.map((x) => x.modelled_ms)),
        per_gateway: perGateway,
        doors_behind_after: behind,
        cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
      },
      profile: 'gateway',
    };
    if (o.check) {
      const failures = pushes.flatMap((p) => p.failures);
      if (failures.length > 0) throw new Error(`propagation check: ${failures.length} door(s) failed to sync: ${failures[0]!.code} ${failures[0]!.message}`);
      if (behind !== 0) throw new Error(`propagation check: ${behind} doors still behind after the push`);
      if (result.revoke.doors_changed !== 4) throw new Error(`propagation check: a revoke should reach 3 shared doors + 1 unit door, reached ${result.revoke.doors_changed}`);
    }
    return result;
  } finally {
    for (const e of engines) await e.close();
    for (const s of served) await s.stop();
    await air.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
