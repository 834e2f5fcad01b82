/**
 * `npm start` (`latchkit demo`, options in cli/demo.ts): the whole system on the virtual
 * radio, end to end, with a readable summary.
 *
 *   npm start -- [--units 300] [--state-dir .latchkit/demo] [--seed 1] [--json]
 *
 * Creates a property (entrances and an amenity door online through a gateway radio, a door per
 * unit offline), residents with phone keys, doorcodes, keycards and daily codes; puts a
 * simulated lock on the virtual radio for every door (flash persisted under the state
 * directory); commissions and syncs every door (the gateway pushes its doors, the manager's
 * phone walks the rest); unlocks with each credential kind; revokes a resident and shows their
 * code still opening their offline unit door until a roommate's phone syncs it, and failing
 * after. Latencies are modelled on-air milliseconds; CPU time is reported separately.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dailyCode, localDay, setCryptoProvider } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { doorSyncTasks, openStore, personDoorcode, propertySecrets, revokeAllKeys, type DoorSyncResult } from './index.js';
import { storeKek } from './store/key-encryption.js';
import { doorSync, keypad, phoneUnlock, tapCard } from './world/actions.js';
import { seedDemoProperty } from './world/demo-property.js';
import { World } from './world/world.js';

const crypto = nodeCryptoProvider;
setCryptoProvider(crypto);

let quiet = false;
const say = (s = ''): void => {
  if (!quiet) process.stdout.write(`${s}\n`);
};
const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'n/a');

function progress(label: string, done: number, total: number): void {
  if (quiet || (!process.stdout.isTTY && done !== total && done % Math.max(1, Math.floor(total / 10)) !== 0)) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  const line = `  ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}${done === total ? '\n' : ''}`);
  else say(line);
}

export interface DemoOptions {
  units: number;
  stateDir: string;
  seed: number;
  /** Print nothing (the caller prints the returned summary, e.g. as JSON). */
  quiet?: boolean;
}

export async function runDemo(o: DemoOptions): Promise<Record<string, unknown>> {
  quiet = o.quiet ?? false;
  if (o.units < 10) throw new Error(`--units: at least 10 (the demo needs a shared unit and a resident with a keycard), got ${o.units}`);
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  // The demo starts from an empty state directory each run, but only ever deletes one it made:
  // a directory without the marker (say, the CLI's ./.latchkit store) is refused, not wiped.
  const marker = join(o.stateDir, '.latchkit-demo');
  if (existsSync(o.stateDir) && readdirSync(o.stateDir).length > 0 && !existsSync(marker)) {
    throw new Error(`--state-dir ${o.stateDir} is not empty and was not made by this demo; choose another directory (nothing was deleted)`);
  }
  rmSync(o.stateDir, { recursive: true, force: true });
  mkdirSync(o.stateDir, { recursive: true });
  writeFileSync(marker, 'made by `npm start`; the demo deletes and recreates this directory on each run\n');
  // A fresh state directory: unless LATCHKIT_KEK / LATCHKIT_KEK_FILE name one, openStore creates
  // the key-encryption key file <state-dir>/kek (mode 0600) the issuer keys are sealed under.
  const db = openStore({ stateDir: o.stateDir });
  const kek = storeKek(db);
  say(`latchkit: a ${o.units}-unit property on the virtual BLE radio (state in ${o.stateDir})`);
  if (kek) say(`  issuer keys encrypted with the key-encryption key ${kek.file ? `in ${kek.file}${kek.source === 'created' ? ' (created, mode 0600)' : ''}` : `from ${kek.source === 'env' ? 'LATCHKIT_KEK' : 'the caller'}`}`);
  // The same world `latchkit serve --radio virtual` runs: every door's lock on one air, gateway
  // gw-1 in range of the online doors, a phone per resident, the manager's phone for Door Syncs.
  // Its loops stay off: this job drives every step itself, so the figures are its own.
  const world = await World.open({ db, stateDir: o.stateDir, seed: o.seed, crypto, syncIntervalMs: 0, collectIntervalMs: 0 });
  try {
    return await walkthrough(world, o, wall0, cpu0);
  } finally {
    await world.close();
    db.close();
  }
}

async function walkthrough(world: World, o: DemoOptions, wall0: number, cpu0: NodeJS.CpuUsage): Promise<Record<string, unknown>> {
  const db = world.db;
  const ctx = world.ctx('demo');
  const demo = seedDemoProperty(db, world, { units: o.units, seed: o.seed, ctx });
  const { propertyId: pid, online, unitDoors, residents } = demo;
  const t0 = performance.now();
  await world.refresh();
  const doorCount = online.length + unitDoors.length;
  say(`  ${doorCount} doors (${online.length} online through gateway gw-1, ${unitDoors.length} offline unit doors), ${residents.length} residents`);
  say(`  ${world.doors.size} simulated locks advertising (${(performance.now() - t0).toFixed(0)} ms wall)`);
  const gw = world.gateways.get('gw-1')!;

  // ---------------------------------------------------------------- commission and sync every door
  say();
  say('Commissioning and first sync');
  const firstPush = await gw.pushPending(pid);
  if (firstPush.failures.length > 0) throw new Error(`the gateway could not sync: ${firstPush.failures.map((f) => `door ${f.doorId}: ${f.code} ${f.message}`).join('; ')}`);
  const gwResults = firstPush.results;
  say(`  gateway gw-1 pushed ${gwResults.length} online doors: ${gwResults.map((r) => `${r.sent} set ${r.bytes} B in ${ms(r.elapsedMs)}`).join(', ')}`);
  const installResults: DoorSyncResult[] = [];
  for (const [i, d] of unitDoors.entries()) {
    installResults.push((await doorSync(world, pid, d.id)).result);
    progress('Door Sync of each unit door by the manager phone', i + 1, unitDoors.length);
  }
  const behind = doorSyncTasks(db, pid).length;
  const firstCounts = world.door(online[0]!.id).device.firmware.summary().counts;
  const lobbyCreds = firstCounts ? firstCounts.doorcode + firstCounts.daily + firstCounts.keycard + firstCounts.phone : 0;
  say(`  doors behind after the first sync: ${behind}`);

  // ---------------------------------------------------------------- unlocks with each credential kind
  say();
  say('Unlocking with each credential kind');
  const secrets = propertySecrets(db, pid);
  const who = residents.find((r) => r.card && r.daily) ?? residents.find((r) => r.card)!;
  const north = online[0]!.id;
  const unlockMs: Record<string, number[]> = { ios: [], android: [] };
  for (const profile of ['ios', 'android'] as const) {
    for (let i = 0; i < 5; i++) {
      const v = await phoneUnlock(world, pid, online[i % 2]!.id, who.personId, profile);
      if (v.outcome !== 'granted') throw new Error(`phone unlock was denied: ${v.reason}`);
      unlockMs[profile]!.push(v.modelledMs.total);
    }
    say(`  phone key (${profile}) at the entrances: granted, modelled ${ms(pct(unlockMs[profile]!, 50))} median (scan + connect + exchange)`);
  }
  const code = personDoorcode(db, who.personId)!;
  say(`  doorcode ${code} at North Entrance: ${keypad(world, pid, north, code).outcome}`);
  if (who.card) {
    say(`  keycard ${who.card} at North Entrance: ${tapCard(world, pid, north, who.card).outcome}`);
    const clone = tapCard(world, pid, north, who.card, true);
    say(`  a clone of that card (right UID, no key): ${clone.outcome === 'granted' ? 'GRANTED (bad!)' : `denied (${clone.reason})`}`);
  }
  if (who.daily) {
    const today = dailyCode(secrets.daily, who.holder, localDay(Math.floor(world.clock.now() / 60_000), 0));
    say(`  today's daily code ${today} at North Entrance: ${keypad(world, pid, north, today).outcome}`);
  }

  // ---------------------------------------------------------------- revoke: enforced only where synced
  say();
  const victim = residents.find((r) => residents.some((s) => s !== r && s.unitDoorId === r.unitDoorId))!;
  const roommate = residents.find((s) => s !== victim && s.unitDoorId === victim.unitDoorId)!;
  const victimCode = personDoorcode(db, victim.personId)!;
  say(`Revoking resident ${victim.holder} (doorcode ${victimCode})`);
  revokeAllKeys(db, victim.personId, ctx);
  const revoked = await gw.pushPending(pid);
  if (revoked.failures.length > 0) throw new Error(`the gateway could not push the revoke: ${revoked.failures.map((f) => `door ${f.doorId}: ${f.code}`).join('; ')}`);
  const revokePush = revoked.results;
  say(`  gateway pushed the change to ${revokePush.length} online doors: ${revokePush.map((r) => `${r.sent} ${r.bytes} B in ${ms(r.elapsedMs)}`).join(', ')}`);
  say(`  their code at North Entrance (synced): ${keypad(world, pid, north, victimCode).outcome}`);
  const before = keypad(world, pid, victim.unitDoorId, victimCode).outcome === 'granted';
  say(`  their code at their unit door (offline, not yet synced): ${before ? 'still GRANTED, as the door runs its last set' : 'denied'}`);
  const visit = await phoneUnlock(world, pid, victim.unitDoorId, roommate.personId);
  say(`  roommate's phone unlocked (${visit.outcome}) and relayed a ${visit.relay?.sent} of ${visit.relay?.bytes} B (passive sync, modelled ${ms(visit.modelledMs.total)}); door now enforces seq ${visit.seqAfter}`);
  const after = keypad(world, pid, victim.unitDoorId, victimCode).outcome === 'granted';
  say(`  their code at their unit door after the sync: ${after ? 'GRANTED (bad!)' : 'denied'}`);

  // ---------------------------------------------------------------- summary
  const lobbyBytes = gwResults.find((r) => r.doorId === online[0]!.id)?.bytes ?? 0;
  const installMs = installResults.map((r) => r.elapsedMs);
  const cpu = process.cpuUsage(cpu0);
  const summary = {
    units: o.units,
    doors: { total: doorCount, online: online.length, offline: unitDoors.length },
    residents: residents.length,
    entrance_set: { credentials: lobbyCreds, bytes: lobbyBytes, bytes_per_credential: lobbyCreds ? Number((lobbyBytes / lobbyCreds).toFixed(2)) : null },
    // Set and delta bytes sent over the bulk channel (commissioning messages not included).
    set_bytes_pushed: [...gwResults, ...installResults, ...revokePush].reduce((s, r) => s + r.bytes, 0) + (visit.relay?.bytes ?? 0),
    modelled_ms: {
      commission_and_full_sync_per_unit_door: { p50: pct(installMs, 50), p99: pct(installMs, 99) },
      gateway_full_sync_entrance: gwResults[0]?.elapsedMs ?? null,
      gateway_delta_revoke_online_doors: { p50: pct(revokePush.map((r) => r.elapsedMs), 50), max: pct(revokePush.map((r) => r.elapsedMs), 100) },
      phone_unlock_ios: { p50: pct(unlockMs.ios!, 50), max: pct(unlockMs.ios!, 100) },
      phone_unlock_android: { p50: pct(unlockMs.android!, 50), max: pct(unlockMs.android!, 100) },
      passive_sync_visit: visit.modelledMs.total,
    },
    sync_until_rule: { granted_before_sync: before, granted_after_sync: after },
    wall_s: Number(((performance.now() - wall0) / 1000).toFixed(1)),
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
  };
  say();
  say('Summary');
  say(`  doors            ${summary.doors.total} (${summary.doors.online} online, ${summary.doors.offline} offline); ${summary.residents} residents`);
  say(`  entrance set     ${lobbyCreds} credentials, ${lobbyBytes} bytes (${summary.entrance_set.bytes_per_credential} B/credential)`);
  say(`  sets over BLE    ${summary.set_bytes_pushed} bytes of sets and deltas in total (gateway, manager's phone, relay)`);
  say(`  unit door sync   commission + full set, modelled p50 ${ms(pct(installMs, 50))}, p99 ${ms(pct(installMs, 99))}`);
  say(`  revoke (online)  delta to ${revokePush.length} online doors, modelled per door p50 ${ms(summary.modelled_ms.gateway_delta_revoke_online_doors.p50)}, max ${ms(summary.modelled_ms.gateway_delta_revoke_online_doors.max)}`);
  say(`  phone unlock     modelled p50 ios ${ms(summary.modelled_ms.phone_unlock_ios.p50)}, android ${ms(summary.modelled_ms.phone_unlock_android.p50)}`);
  say(`  sync-until rule  revoked code opened the offline door before its sync: ${before}; after: ${after}`);
  say(`  host             ${summary.wall_s} s wall, ${summary.cpu_s} s CPU`);

  if (!before || after) throw new Error('the sync-until rule did not hold; see the lines above');
  return summary;
}
