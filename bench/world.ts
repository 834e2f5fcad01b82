/**
 * `npm run bench -- world [--quick] [--check]`
 *
 * The running world (`latchkit serve --radio virtual`), measured the way a person drives it:
 * Door Syncs by the manager's phone of the demo property's entrance door and of a unit door
 * (first sync: commission + full set; after a revoke: a delta), modelled on-air ms; and the CPU
 * a world of idle doors costs with the gateway loops running (pushes every second, event
 * collection every 10 s), which must be close to nothing: an idle lock is only timers.
 *
 * --check judges what load cannot move: each Door Sync delivered what it should (commission and
 * full set first, a delta after the revoke, nothing left pending), on the air (modelled, so the
 * same on any machine), and the delta is smaller than the entrance's full set. The idle world's
 * CPU, start-up and memory are reported only.
 */
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setCryptoProvider } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import * as g from '../gateway/src/index.js';
import type { BenchOptions } from './run.js';

async function withWorld<T>(prefix: string, fn: (world: g.World, db: g.Db) => Promise<T>, o: Partial<g.WorldOptions> = {}): Promise<T> {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  const db = g.openStore({ stateDir: dir });
  const world = await g.World.open({ db, stateDir: dir, seed: 3, crypto: nodeCryptoProvider, syncIntervalMs: 0, collectIntervalMs: 0, ...o });
  try {
    return await fn(world, db);
  } finally {
    await world.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(o: BenchOptions): Promise<object> {
  setCryptoProvider(nodeCryptoProvider);
  const units = o.quick ? 30 : 300;
  const idleDoors = o.quick ? 100 : 1_000;
  const idleSeconds = o.quick ? 5 : 60;

  const syncs = await withWorld('latchkit-bench-world-', async (world, db) => {
    o.log(`door syncs in a ${units}-unit demo world`);
    const demo = g.seedDemoProperty(db, world, { units, seed: 3 });
    await world.refresh();
    const pid = demo.propertyId;
    const entrance = demo.online[0]!.id;
    const resident = demo.residents.find((r) => demo.residents.some((s) => s !== r && s.unitDoorId === r.unitDoorId))!;
    const unit = resident.unitDoorId;
    const first = { entrance: await g.doorSync(world, pid, entrance), unit: await g.doorSync(world, pid, unit) };
    g.revokeAllKeys(db, resident.personId, world.ctx('bench'));
    const delta = { entrance: await g.doorSync(world, pid, entrance), unit: await g.doorSync(world, pid, unit) };
    const credentials = world.door(entrance).device.firmware.summary().counts!;
    return { first, delta, entranceCredentials: credentials.doorcode + credentials.daily + credentials.keycard + credentials.phone };
  });

  const idle = await withWorld(
    'latchkit-bench-world-idle-',
    async (world, db) => {
      o.log(`${idleDoors} idle doors with the gateway loops running, ${idleSeconds} s`);
      const prop = g.createProperty(db, { name: 'Idle Towers', utcOffsetMin: 0 }, {});
      for (let i = 0; i < idleDoors; i++) {
        g.createDoor(db, prop.id, { name: `door ${i}`, lockId: `4c4c${i.toString(16).padStart(12, '0')}`, connectivity: i < 3 ? 'online' : 'offline', ...(i < 3 ? { gatewayRadio: 'gw-1' } : {}) }, {});
      }
      const t0 = performance.now();
      await world.refresh();
      const startMs = performance.now() - t0;
      world.start();
      // Let the first pushes (commissioning the three online doors) finish before measuring.
      await new Promise((r) => setTimeout(r, 3_000));
      const cpu0 = process.cpuUsage();
      const w0 = performance.now();
      await new Promise((r) => setTimeout(r, idleSeconds * 1000));
      const cpu = process.cpuUsage(cpu0);
      const wall = performance.now() - w0;
      return { startMs, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: wall, rssMb: process.memoryUsage().rss / 2 ** 20 };
    },
    { syncIntervalMs: 1_000, collectIntervalMs: 10_000 },
  );

  if (o.check) {
    const failures: string[] = [];
    for (const [name, first] of Object.entries(syncs.first)) {
      if (first.result.action !== 'synced' || !first.result.commissioned || first.result.sent !== 'full') failures.push(`first Door Sync of the ${name} door: ${first.result.action}, commissioned ${first.result.commissioned}, sent ${first.result.sent} (expected commission + full set)`);
    }
    for (const [name, delta] of Object.entries(syncs.delta)) {
      if (delta.result.action !== 'synced' || delta.result.sent !== 'delta') failures.push(`Door Sync of the ${name} door after the revoke: ${delta.result.action}, sent ${delta.result.sent} (expected a delta)`);
    }
    for (const s of [...Object.values(syncs.first), ...Object.values(syncs.delta)]) {
      if (s.taskPending) failures.push(`door ${s.doorId} still has a Door Sync task after its sync`);
      if (!s.result.modelled) failures.push(`door ${s.doorId}: sync time not modelled`);
    }
    if (!(syncs.delta.entrance.result.bytes < syncs.first.entrance.result.bytes)) failures.push(`entrance delta ${syncs.delta.entrance.result.bytes} B not smaller than its full set ${syncs.first.entrance.result.bytes} B`);
    if (failures.length > 0) throw new Error(`world benchmark check failed: ${failures.join('; ')}`);
    o.log('world benchmark check passed (Door Syncs delivered, on the air, delta smaller than the full set)');
  }

  const r = (x: number): number => Number(x.toFixed(1));
  return {
    units,
    entrance_credentials: syncs.entranceCredentials,
    door_sync_entrance_first_ms: r(syncs.first.entrance.result.elapsedMs),
    door_sync_entrance_first_bytes: syncs.first.entrance.result.bytes,
    door_sync_unit_first_ms: r(syncs.first.unit.result.elapsedMs),
    door_sync_unit_first_bytes: syncs.first.unit.result.bytes,
    door_sync_entrance_delta_ms: r(syncs.delta.entrance.result.elapsedMs),
    door_sync_entrance_delta_bytes: syncs.delta.entrance.result.bytes,
    door_sync_unit_delta_ms: r(syncs.delta.unit.result.elapsedMs),
    door_sync_unit_delta_bytes: syncs.delta.unit.result.bytes,
    idle_doors: idleDoors,
    idle_seconds: idleSeconds,
    idle_world_start_ms: r(idle.startMs),
    idle_cpu_ms: r(idle.cpuMs),
    idle_cpu_percent_of_one_core: r((100 * idle.cpuMs) / idle.wallMs),
    idle_rss_mb: r(idle.rssMb),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
  };
}
