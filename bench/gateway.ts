/**
 * `npm run bench -- gateway [--quick] [--check]`
 *
 * Compile and sign every door of a property (10,000 units; 1,000 with --quick), then the
 * recompile after one change (one resident revoked: their unit door and the shared doors).
 * Locks are commissioned in the store only (device keys generated here), so this measures the
 * backend: SQLite reads, keyed hashing, packing, sealing and signing. CPU times are reported;
 * --check judges only the deterministic parts (every door compiled, the change touches exactly
 * the expected doors).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { deviceKeysFromSeed, setCryptoProvider } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import * as g from '../gateway/src/index.js';
import type { BenchOptions } from './run.js';
import { prng } from './lobby.js';
import { inOneTransaction } from './scale/generator.js';

export async function run(o: BenchOptions): Promise<object> {
  setCryptoProvider(nodeCryptoProvider);
  const units = o.quick ? 1_000 : 10_000;
  const dir = mkdtempSync(join(os.tmpdir(), 'latchkit-bench-gw-'));
  const db = g.openStore({ stateDir: dir });
  const ctx = { actor: 'bench' };
  const rand = prng(42);
  try {
    o.log(`building a ${units}-unit property`);
    const t0 = performance.now();
    const prop = g.createProperty(db, { name: 'Bench Towers', utcOffsetMin: 0 }, ctx);
    const shared = ['North Entrance', 'South Entrance', 'Garage', 'Fitness Center'].map((name, i) =>
      g.createDoor(db, prop.id, { name, lockId: `4c4b${(i + 1).toString(16).padStart(12, '0')}`, connectivity: 'online', gatewayRadio: 'gw-1' }, ctx),
    );
    const entrances = g.createKey(db, prop.id, { name: 'Resident Entrances', kind: 'communal', doorIds: shared.slice(0, 3).map((d) => d.id), mayShare: true, doorcodesDisabled: false }, ctx);
    const amenities = g.createKey(db, prop.id, { name: 'Resident Amenities', kind: 'communal', doorIds: [shared[3]!.id], mayShare: false, doorcodesDisabled: true }, ctx);
    let firstResident = 0;
    db.transaction(() => {
      for (let u = 0; u < units; u++) {
        const unit = g.createUnit(db, prop.id, { name: `U${u}` }, ctx);
        const door = g.createDoor(db, prop.id, { name: `U${u} door`, lockId: `4c4b${(u + 100).toString(16).padStart(12, '0')}`, connectivity: 'offline', unitId: unit.id }, ctx);
        const key = g.createKey(db, prop.id, { name: `Unit U${u}`, kind: 'residential', doorIds: [door.id], mayShare: true, doorcodesDisabled: false, unitId: unit.id }, ctx);
        const n = rand() < 0.8 ? 2 : 1;
        for (let r = 0; r < n; r++) {
          const p = g.invitePerson(db, prop.id, { email: `r${u}-${r}@bench.example`, firstName: 'R', lastName: `${u}-${r}`, accessType: 'app', isResident: true, mayShare: true, keyIds: [entrances.id, amenities.id, key.id] }, ctx).person;
          if (!firstResident) firstResident = p.id;
          const pk = new Uint8Array(32);
          for (let i = 0; i < 32; i++) pk[i] = Math.floor(rand() * 256);
          g.addPhoneKey(db, p.id, { publicKey: Buffer.from(nodeCryptoProvider.ed25519PublicKey(pk)).toString('hex') }, ctx);
          if (rand() < 0.5) g.activateKeycard(db, p.id, Buffer.from(pk.subarray(0, 7)).toString('hex'), ctx);
        }
      }
    })();
    const doors = g.listDoors(db, prop.id);
    o.log(`  ${doors.length} doors in ${((performance.now() - t0) / 1000).toFixed(1)} s; commissioning in the store`);
    await inOneTransaction(db, async () => {
      for (const d of doors) {
        const device = deviceKeysFromSeed(nodeCryptoProvider.sha256(Buffer.from(`bench-device-${d.lockId}`)));
        await g.commissionDoor(db, d.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx });
      }
    });

    o.log('compiling every door');
    const c0 = performance.now();
    const all = g.compileDirty(db, { ctx, propertyId: prop.id });
    const compileAllMs = performance.now() - c0;
    const credentials = all.reduce((s, c) => s + c.credentials, 0);
    // A first compile signs every full set (no lock holds a base yet).
    const fullOf = (c: g.CompiledDoorSet): Uint8Array => {
      if (!c.fullBytes) throw new Error(`gateway bench: door ${c.doorId} was compiled without its full set`);
      return c.fullBytes;
    };
    const bytes = all.reduce((s, c) => s + fullOf(c).length, 0);
    const lobby = all.find((c) => c.doorId === shared[0]!.id)!;
    o.log(`  ${all.length} doors, ${credentials} credentials, ${bytes} bytes in ${compileAllMs.toFixed(0)} ms`);

    // Every door receipts its set (as after a full sync), so the next compile makes deltas.
    db.transaction(() => {
      for (const c of all) db.prepare('UPDATE door_sync_state SET enforced_seq = ?, enforced_digest = ? WHERE door_id = ?').run(c.seq, Buffer.from(c.digest), c.doorId);
    })();

    o.log('one change: revoke a resident, recompile the affected doors');
    // The first changes after the whole-property compile run the patch path cold (JIT); they
    // are reported apart (cold_ms) and the median is taken over the runs after them.
    const WARMUP = 3;
    const runs = o.quick ? 9 : 15;
    const cold: number[] = [];
    const samples: number[] = [];
    const barrier: number[] = [];
    const onDemand: number[] = [];
    const touchedPerRun = new Set<number>();
    const people = g.listPeople(db, prop.id, {}).slice(0, WARMUP + runs);
    for (const [i, p] of people.entries()) {
      g.revokeAllKeys(db, p.id, ctx);
      const r0 = performance.now();
      const changed = g.compileDirty(db, { ctx, propertyId: prop.id });
      (i < WARMUP ? cold : samples).push(performance.now() - r0);
      touchedPerRun.add(changed.length);
      // Where the work a compile no longer does went: the fsync before a set leaves the
      // gateway (paid once per compile run, by the first door handed out), and the signed full
      // set, made the first time a lock needs it (here: the lobby door's).
      const b0 = performance.now();
      for (const c of changed) await g.syncPayload(db, c.doorId, c.delta?.baseSeq ?? 0);
      barrier.push(performance.now() - b0);
      const f0 = performance.now();
      await g.syncPayload(db, shared[0]!.id, -1, { forceFull: true });
      onDemand.push(performance.now() - f0);
    }
    const touched = touchedPerRun.size === 1 ? [...touchedPerRun][0]! : -1;
    const median = (xs: number[]): number => Number([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1));
    samples.sort((a, b) => a - b);
    const result = {
      scenario: 'gateway',
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
      units,
      doors: doors.length,
      credentials,
      set_bytes_total: bytes,
      lobby: { credentials: lobby.credentials, bytes: fullOf(lobby).length, bytes_per_credential: Number((fullOf(lobby).length / lobby.credentials).toFixed(2)) },
      compile_all_cpu_ms: Math.round(compileAllMs),
      recompile_one_change: {
        doors: touched,
        median_ms: median(samples),
        p90_ms: Number(samples[Math.floor(samples.length * 0.9)]!.toFixed(1)),
        min_ms: Number(samples[0]!.toFixed(1)),
        max_ms: Number(samples[samples.length - 1]!.toFixed(1)),
        runs: samples.length,
        cold_ms: cold.map((x) => Number(x.toFixed(1))),
      },
      // Not part of the compile: the first hand-out after it (fsync of the compile's commit)
      // and the lobby's full set made on demand (seal and sign ~490 KB).
      handout_after_change_ms: median(barrier),
      lobby_full_set_on_demand_ms: median(onDemand),
      targets: { compile_all_10k_units_ms: 3000, recompile_one_change_ms: 10 },
      provider: 'node',
    };
    if (o.check) {
      if (all.length !== doors.length) throw new Error(`gateway check: compiled ${all.length} of ${doors.length} doors`);
      if (touched !== 5) throw new Error(`gateway check: every revoke should recompile the 3 entrances, the amenity door and the unit door (5); recompiled ${[...touchedPerRun].join(', ')}`);
    }
    return result;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
