/**
 * `npm start`: the whole system on the virtual radio, end to end, with a readable summary.
 *
 *   npm start -- [--units 300] [--state-dir .latchkit/demo] [--seed 1]
 *
 * Creates a property (entrances and an amenity door online through a gateway radio, a door per
 * unit offline), residents with phone keys, doorcodes, keycards and daily codes; puts a
 * simulated lock on the virtual radio for every door (flash persisted under the state
 * directory); commissions and syncs every door (the gateway pushes its doors, an installer's
 * phone walks the rest); unlocks with each credential kind; revokes a resident and shows their
 * code still opening their offline unit door until a roommate's phone syncs it, and failing
 * after. Latencies are modelled on-air milliseconds; CPU time is reported separately.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dailyCode, diversifyCardKey, fromHex, localDay, setCryptoProvider, signingKeyFromSeed, toHex } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createAir, openLockDir, Phone, serveLock, SimulatedCard, type LockDevice, type ServedLock } from '@latchkit/simulator';
import {
  acceptVisit,
  activateKeycard,
  addPhoneKey,
  createDoor,
  createKey,
  createProperty,
  createUnit,
  doorSyncTasks,
  invitePerson,
  openStore,
  personDoorcode,
  propertySecrets,
  relayBundlesFor,
  revokeAllKeys,
  setDailyDoorcode,
  SyncEngine,
  type DoorSyncResult,
} from './index.js';

const crypto = nodeCryptoProvider;
setCryptoProvider(crypto);

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
  const rand = prng(o.seed);
  // The demo starts from an empty state directory each run, but only ever deletes one it made:
  // a directory without the marker (say, the CLI's ./.latchkit store) is refused, not wiped.
  const marker = join(o.stateDir, '.latchkit-demo');
  if (existsSync(o.stateDir) && readdirSync(o.stateDir).length > 0 && !existsSync(marker)) {
    throw new Error(`--state-dir ${o.stateDir} is not empty and was not made by this demo; choose another directory (nothing was deleted)`);
  }
  rmSync(o.stateDir, { recursive: true, force: true });
  mkdirSync(o.stateDir, { recursive: true });
  writeFileSync(marker, 'made by `npm start`; the demo deletes and recreates this directory on each run\n');
  const db = openStore({ stateDir: o.stateDir });
  const ctx = { actor: 'demo' };

  say(`latchkit: a ${o.units}-unit property on the virtual BLE radio (state in ${o.stateDir})`);
  // ---------------------------------------------------------------- the property
  const prop = createProperty(db, { name: 'Maple Court', utcOffsetMin: 0 }, ctx);
  const lockIdOf = (n: number): string => `4c4b${n.toString(16).padStart(12, '0')}`;
  let nextLock = 1;
  const online = ['North Entrance', 'South Entrance', 'Fitness Center'].map((name) =>
    createDoor(db, prop.id, { name, lockId: lockIdOf(nextLock++), connectivity: 'online', gatewayRadio: 'gw-1' }, ctx),
  );
  const entrances = createKey(db, prop.id, { name: 'Resident Entrances', kind: 'communal', doorIds: [online[0]!.id, online[1]!.id], mayShare: true, doorcodesDisabled: false }, ctx);
  const amenities = createKey(db, prop.id, { name: 'Resident Amenities', kind: 'communal', doorIds: [online[2]!.id], mayShare: false, doorcodesDisabled: true }, ctx);
  interface Resident {
    personId: number;
    holder: number;
    unitDoorId: number;
    phoneKey: ReturnType<typeof signingKeyFromSeed>;
    card: Uint8Array | null;
    daily: boolean;
  }
  const residents: Resident[] = [];
  const unitDoors: { id: number; lockId: string }[] = [];
  for (let u = 0; u < o.units; u++) {
    const name = `${Math.floor(u / 20) + 1}${String.fromCharCode(65 + (u % 20))}`;
    const unit = createUnit(db, prop.id, { name }, ctx);
    const door = createDoor(db, prop.id, { name: `${name} front door`, lockId: lockIdOf(nextLock++), connectivity: 'offline', unitId: unit.id }, ctx);
    unitDoors.push(door);
    const key = createKey(db, prop.id, { name: `Unit ${name}`, kind: 'residential', doorIds: [door.id], mayShare: true, doorcodesDisabled: false, unitId: unit.id }, ctx);
    const count = rand() < 0.8 ? 2 : 1; // ~1.8 residents per unit
    for (let r = 0; r < count; r++) {
      const person = invitePerson(
        db,
        prop.id,
        { email: `resident-${name.toLowerCase()}-${r}@maple.example`, firstName: `Resident${r + 1}`, lastName: `of ${name}`, accessType: 'app', isResident: true, mayShare: true, keyIds: [entrances.id, amenities.id, key.id] },
        ctx,
      ).person;
      const phoneKey = signingKeyFromSeed(crypto.sha256(new TextEncoder().encode(`demo-phone-${o.seed}-${person.id}`)), crypto);
      addPhoneKey(db, person.id, { publicKey: toHex(phoneKey.publicKey) }, ctx);
      let card: Uint8Array | null = null;
      if (rand() < 0.5) {
        card = crypto.sha256(new TextEncoder().encode(`demo-card-${o.seed}-${person.id}`)).slice(0, 7);
        activateKeycard(db, person.id, toHex(card), ctx);
      }
      const daily = rand() < 0.1;
      if (daily) setDailyDoorcode(db, person.id, true, ctx);
      residents.push({ personId: person.id, holder: person.holderRef, unitDoorId: door.id, phoneKey, card, daily });
    }
  }
  const doorCount = online.length + unitDoors.length;
  say(`  ${doorCount} doors (${online.length} online through gateway gw-1, ${unitDoors.length} offline unit doors), ${residents.length} residents`);

  // ---------------------------------------------------------------- locks on the virtual radio
  const air = createAir({ seed: o.seed });
  const locks = new Map<number, { device: LockDevice; served: ServedLock }>();
  const t0 = performance.now();
  for (const d of [...online, ...unitDoors]) {
    const device = openLockDir(join(o.stateDir, 'locks', d.lockId), { create: { lockId: fromHex(d.lockId), deviceSeed: crypto.sha256(new TextEncoder().encode(`demo-device-${o.seed}-${d.lockId}`)) }, crypto });
    locks.set(d.id, { device, served: await serveLock(air, device) });
  }
  say(`  ${locks.size} simulated locks advertising (${(performance.now() - t0).toFixed(0)} ms wall)`);

  const gw = await SyncEngine.create({ db, radio: air, name: 'gw-1', ctx, provider: crypto });
  const installer = await SyncEngine.create({ db, radio: air, name: 'installer-phone', ctx, provider: crypto });
  // The gateway radio covers the lobby floor only; unit doors are out of its range.
  for (const d of unitDoors) air.setInRange(gw.address, locks.get(d.id)!.served.peripheral, false);

  // ---------------------------------------------------------------- commission and sync every door
  say();
  say('Commissioning and first sync');
  const firstPush = await gw.pushPending(prop.id);
  if (firstPush.failures.length > 0) throw new Error(`the gateway could not sync: ${firstPush.failures.map((f) => `door ${f.doorId}: ${f.code} ${f.message}`).join('; ')}`);
  const gwResults = firstPush.results;
  say(`  gateway gw-1 pushed ${gwResults.length} online doors: ${gwResults.map((r) => `${r.sent} set ${r.bytes} B in ${ms(r.elapsedMs)}`).join(', ')}`);
  const installResults: DoorSyncResult[] = [];
  for (const [i, d] of unitDoors.entries()) {
    installResults.push(await installer.syncDoor(d.id));
    progress('installer phone syncing unit doors', i + 1, unitDoors.length);
  }
  const behind = doorSyncTasks(db, prop.id).length;
  // The entrance set as first installed (credentials and the bytes of that same set).
  const firstCounts = locks.get(online[0]!.id)!.device.firmware.summary().counts;
  const lobbyCreds = firstCounts ? firstCounts.doorcode + firstCounts.daily + firstCounts.keycard + firstCounts.phone : 0;
  say(`  doors behind after the first sync: ${behind}`);

  // ---------------------------------------------------------------- unlocks with each credential kind
  say();
  say('Unlocking with each credential kind');
  const secrets = propertySecrets(db, prop.id);
  const who = residents.find((r) => r.card && r.daily) ?? residents.find((r) => r.card)!;
  const north = locks.get(online[0]!.id)!.device;
  const unlockMs: Record<string, number[]> = { ios: [], android: [] };
  for (const profile of ['ios', 'android'] as const) {
    const phone = await Phone.create({ radio: air, key: who.phoneKey, profile, crypto });
    for (let i = 0; i < 5; i++) {
      const v = await phone.visit(fromHex(online[i % 2]!.lockId), { readEvents: false });
      if (!v.unlock?.granted) throw new Error(`phone unlock was denied: ${v.unlock?.reason}`);
      unlockMs[profile]!.push(v.timing.totalMs);
    }
    await phone.close();
    say(`  phone key (${profile}) at the entrances: granted, modelled ${ms(pct(unlockMs[profile]!, 50))} median (scan + connect + exchange)`);
  }
  const code = personDoorcode(db, who.personId)!;
  say(`  doorcode ${code} at North Entrance: ${north.firmware.enterCode(code).granted ? 'granted' : 'DENIED'}`);
  if (who.card) {
    const card = new SimulatedCard(who.card, diversifyCardKey(secrets.cardMaster, who.card), crypto);
    say(`  keycard ${toHex(who.card)} at North Entrance: ${north.firmware.tapCard(card).granted ? 'granted' : 'DENIED'}`);
    const clone = new SimulatedCard(who.card, new Uint8Array(16), crypto);
    say(`  a clone of that card (right UID, no key): ${north.firmware.tapCard(clone).granted ? 'GRANTED (bad!)' : 'denied'}`);
  }
  if (who.daily) {
    const today = dailyCode(secrets.daily, who.holder, localDay(Math.floor(Date.now() / 60_000), 0));
    say(`  today's daily code ${today} at North Entrance: ${north.firmware.enterCode(today).granted ? 'granted' : 'DENIED'}`);
  }

  // ---------------------------------------------------------------- revoke: enforced only where synced
  say();
  const victim = residents.find((r) => residents.some((s) => s !== r && s.unitDoorId === r.unitDoorId))!;
  const roommate = residents.find((s) => s !== victim && s.unitDoorId === victim.unitDoorId)!;
  const victimCode = personDoorcode(db, victim.personId)!;
  const unitLock = locks.get(victim.unitDoorId)!.device;
  say(`Revoking resident ${victim.holder} (doorcode ${victimCode})`);
  revokeAllKeys(db, victim.personId, ctx);
  const revoked = await gw.pushPending(prop.id);
  if (revoked.failures.length > 0) throw new Error(`the gateway could not push the revoke: ${revoked.failures.map((f) => `door ${f.doorId}: ${f.code}`).join('; ')}`);
  const revokePush = revoked.results;
  say(`  gateway pushed the change to ${revokePush.length} online doors: ${revokePush.map((r) => `${r.sent} ${r.bytes} B in ${ms(r.elapsedMs)}`).join(', ')}`);
  say(`  their code at North Entrance (synced): ${north.firmware.enterCode(victimCode).granted ? 'GRANTED' : 'denied'}`);
  const before = unitLock.firmware.enterCode(victimCode).granted;
  say(`  their code at their unit door (offline, not yet synced): ${before ? 'still GRANTED, as the door runs its last set' : 'denied'}`);
  const bundles = relayBundlesFor(db, roommate.personId, { onlyOffline: true, ctx, provider: crypto });
  const roommatePhone = await Phone.create({ radio: air, key: roommate.phoneKey, profile: 'ios', crypto });
  for (const b of bundles) roommatePhone.carry(b);
  const visit = await roommatePhone.visit(fromHex(unitDoors.find((d) => d.id === victim.unitDoorId)!.lockId));
  await roommatePhone.close();
  const accepted = acceptVisit(db, visit, { ctx, provider: crypto });
  say(`  roommate's phone unlocked (${visit.unlock?.granted ? 'granted' : 'denied'}) and relayed a ${visit.relay?.sent} of ${visit.relay?.bytes} B (passive sync, modelled ${ms(visit.timing.totalMs)}); door now enforces seq ${accepted.enforcedSeq}`);
  const after = unitLock.firmware.enterCode(victimCode).granted;
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
      passive_sync_visit: visit.timing.totalMs,
    },
    sync_until_rule: { granted_before_sync: before, granted_after_sync: after },
    wall_s: Number(((performance.now() - wall0) / 1000).toFixed(1)),
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
  };
  say();
  say('Summary');
  say(`  doors            ${summary.doors.total} (${summary.doors.online} online, ${summary.doors.offline} offline); ${summary.residents} residents`);
  say(`  entrance set     ${lobbyCreds} credentials, ${lobbyBytes} bytes (${summary.entrance_set.bytes_per_credential} B/credential)`);
  say(`  sets over BLE    ${summary.set_bytes_pushed} bytes of sets and deltas in total (gateway, installer, relay)`);
  say(`  unit door sync   commission + full set, modelled p50 ${ms(pct(installMs, 50))}, p99 ${ms(pct(installMs, 99))}`);
  say(`  revoke (online)  delta to ${revokePush.length} online doors, modelled per door p50 ${ms(summary.modelled_ms.gateway_delta_revoke_online_doors.p50)}, max ${ms(summary.modelled_ms.gateway_delta_revoke_online_doors.max)}`);
  say(`  phone unlock     modelled p50 ios ${ms(summary.modelled_ms.phone_unlock_ios.p50)}, android ${ms(summary.modelled_ms.phone_unlock_android.p50)}`);
  say(`  sync-until rule  revoked code opened the offline door before its sync: ${before}; after: ${after}`);
  say(`  host             ${summary.wall_s} s wall, ${summary.cpu_s} s CPU`);

  await gw.close();
  await installer.close();
  for (const { served } of locks.values()) await served.stop();
  await air.close();
  db.close();
  if (!before || after) throw new Error('the sync-until rule did not hold; see the lines above');
  return summary;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const usage = `usage: npm start -- [--units N] [--state-dir DIR] [--seed N] [--json]

  --units N        units in the property, 10..5000 (default 300)
  --state-dir DIR  where the store and the lock directories go (default .latchkit/demo);
                   recreated on each run, and only if it is empty or made by this demo
  --seed N         seed of the property generator and the virtual radio (default 1)
  --json           print only the summary, as JSON (use \`npm start --silent -- --json\`
                   so npm's own banner stays off stdout)
`;
  let values: { units?: string; 'state-dir'?: string; seed?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        units: { type: 'string', default: '300' },
        'state-dir': { type: 'string', default: join('.latchkit', 'demo') },
        seed: { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const units = Number(values.units);
  if (!Number.isInteger(units) || units < 10 || units > 5000) {
    process.stderr.write(`--units: expected a whole number from 10 to 5000, got ${values.units}\n`);
    process.exit(2);
  }
  runDemo({ units, stateDir: resolve(values['state-dir']!), seed: Number(values.seed), quiet: values.json === true })
    .then((s) => {
      if (values.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    })
    .catch((err: unknown) => {
      // The message says what went wrong; the stack is for debugging (LATCHKIT_DEBUG=1).
      const detail = err instanceof Error ? (process.env['LATCHKIT_DEBUG'] ? (err.stack ?? err.message) : err.message) : String(err);
      process.stderr.write(`latchkit demo failed: ${detail}\n`);
      process.exit(1);
    });
}
