/**
 * Seeded property generator for the scale benchmark (issue 7), built through the gateway's own
 * model functions (as gateway/src/main.ts and bench/gateway.ts do), inside one transaction so a
 * 50,000-unit property is feasible: the model caches its prepared statements per connection
 * (model/base.ts `stmt`), and one outer transaction turns ~100,000 invites into savepoints
 * instead of ~100,000 fsynced commits.
 *
 * Shape per building: a lobby, two entrances and a garage (one "Resident Entrances" key, doorcodes
 * on), two amenity doors (phone and card only), a door per unit. About 1.8 residents per unit
 * (80 % of units have two), each with a phone key and a static doorcode, about half with a
 * keycard, about 8 % with a daily code; about 5 % of units host a guest (doorcode-only, a 1-7 day
 * window starting within two weeks). Resident windows vary: 55 % open, 30 % moved in within the
 * last ~2 years, 15 % move in within 30 days; 30 % have a lease end within 13 months.
 *
 * Buildings: a set holds at most 65,535 rows per credential kind (PROTOCOL.md §4, MAX_ROWS in
 * protocol/src/set.ts), so one lobby cannot list 90,000 residents' phone keys. Properties above
 * BUILDING_UNITS units are therefore campuses of buildings of at most 10,000 units, each with its
 * own shared doors; at 100-10,000 units there is one building and its shared doors are shared by
 * all residents.
 *
 * Determinism: everything the generator chooses derives from the seed. Doorcodes, content keys
 * and property secrets come from the gateway's CSPRNG as in production; their values differ run
 * to run, their lengths (hence every size and modelled time) do not.
 */
import { deviceKeysFromSeed, signingKeyFromSeed, toHex, type SigningKey } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import * as g from '../../gateway/src/index.js';
import { prng } from '../lobby.js';

export const SCALE_SIZES = [100, 1_000, 10_000, 50_000] as const;
export const QUICK_SIZES = [100, 1_000] as const;
export const BUILDING_UNITS = 10_000;
/** 2026-11-23T12:00Z: the model's clock during the benchmark, so windows and sets are reproducible. */
export const FIXED_NOW_MS = Date.UTC(2026, 10, 23, 12, 0, 0);
const NOW_MIN = FIXED_NOW_MS / 60_000;
const DAY = 1440;

export type SharedRole = 'lobby' | 'entrance' | 'garage' | 'amenity';

export interface SharedDoor {
  id: number;
  lockId: string;
  building: number;
  role: SharedRole;
  name: string;
  gatewayRadio: string;
}

export interface UnitDoor {
  id: number;
  lockId: string;
  building: number;
  unit: number;
}

export interface Resident {
  personId: number;
  unit: number;
  /** Index within the unit (0 or 1): with the unit, derives the phone key's seed. */
  slot: number;
  cardUid: string | null;
  daily: boolean;
  /** Whether the phone key is a real key pair (residentPhoneKey) that can unlock; see buildProperty. */
  realKey: boolean;
  /** Access window in minutes (null = open). */
  start: number | null;
  end: number | null;
}

export interface ScaleProperty {
  propertyId: number;
  seed: number;
  units: number;
  buildings: number;
  shared: SharedDoor[];
  unitDoors: UnitDoor[];
  residents: Resident[];
  guests: number;
  ctx: g.Ctx;
}

export const lockIdOf = (n: number): string => `4c4b${n.toString(16).padStart(12, '0')}`;

/** The phone key of a resident: derived on demand (deriving 90,000 keys up front costs seconds). */
export function residentPhoneKey(seed: number, unit: number, slot: number): SigningKey {
  return signingKeyFromSeed(nodeCryptoProvider.sha256(new TextEncoder().encode(`scale-phone-${seed}-${unit}-${slot}`)), nodeCryptoProvider);
}

/** The device seed of a door's lock (the store is commissioned with the keys it derives). */
export function deviceSeedOf(lockId: string): Uint8Array {
  return nodeCryptoProvider.sha256(new TextEncoder().encode(`scale-device-${lockId}`));
}

/** Whether a resident's window is open at the benchmark's fixed time. */
export function validNow(r: Pick<Resident, 'start' | 'end'>): boolean {
  return (r.start === null || r.start <= NOW_MIN) && (r.end === null || r.end > NOW_MIN);
}

/**
 * Units whose residents get real phone key pairs. Deriving an Ed25519 public key costs ~0.5 ms
 * here (node:crypto createPrivateKey), half of building a property; only the phones that visit
 * locks need a private key, so every other resident gets 32 seeded pseudo-random bytes as its
 * public key (as bench/lobby.ts does): the same size in the set, no signing possible.
 */
export type KeyedUnits = (unit: number) => boolean;

export function buildProperty(
  db: g.Db,
  o: { units: number; seed?: number; onProgress?: (done: number) => void; keyedUnits?: KeyedUnits; /** Tests only: a smaller building, to exercise the split. */ buildingUnits?: number },
): ScaleProperty {
  const perBuilding = o.buildingUnits ?? BUILDING_UNITS;
  const keyed: KeyedUnits = o.keyedUnits ?? (() => true);
  const seed = o.seed ?? 1;
  const rand = prng(seed);
  // A separate stream, so which units get real keys does not move any other seeded choice.
  const fakeKeys = prng((seed ^ 0x5eed) >>> 0);
  const ctx: g.Ctx = { actor: 'bench-scale', now: () => FIXED_NOW_MS };
  const buildings = Math.ceil(o.units / perBuilding);
  const shared: SharedDoor[] = [];
  const unitDoors: UnitDoor[] = [];
  const residents: Resident[] = [];
  let guests = 0;
  let propertyId = 0;
  let nextLock = 1;
  const usedUids = new Set<string>();
  db.transaction(() => {
    const prop = g.createProperty(db, { name: `Scale ${o.units}`, utcOffsetMin: 0 }, ctx);
    propertyId = prop.id;
    for (let b = 0; b < buildings; b++) {
      const mk = (role: SharedRole, name: string, i: number): SharedDoor => {
        // Four gateway radios per building, shared doors spread over them (the propagation
        // scenario runs one SyncEngine per radio of building 0).
        const gatewayRadio = `b${b}-gw-${1 + (i % 4)}`;
        const d = g.createDoor(db, prop.id, { name: `B${b} ${name}`, lockId: lockIdOf(nextLock++), connectivity: 'online', gatewayRadio }, ctx);
        const door: SharedDoor = { id: d.id, lockId: d.lockId, building: b, role, name, gatewayRadio };
        shared.push(door);
        return door;
      };
      const entranceDoors = [mk('lobby', 'Lobby', 0), mk('entrance', 'North Entrance', 1), mk('entrance', 'South Entrance', 2), mk('garage', 'Garage', 3)];
      const amenityDoors = [mk('amenity', 'Fitness Center', 4), mk('amenity', 'Pool', 5)];
      const entrances = g.createKey(db, prop.id, { name: `B${b} Resident Entrances`, kind: 'communal', doorIds: entranceDoors.map((d) => d.id), mayShare: true, doorcodesDisabled: false }, ctx);
      const amenities = g.createKey(db, prop.id, { name: `B${b} Resident Amenities`, kind: 'communal', doorIds: amenityDoors.map((d) => d.id), mayShare: false, doorcodesDisabled: true }, ctx);
      const first = b * perBuilding;
      const last = Math.min(o.units, first + perBuilding);
      for (let u = first; u < last; u++) {
        const unit = g.createUnit(db, prop.id, { name: `B${b}-U${u}` }, ctx);
        const door = g.createDoor(db, prop.id, { name: `U${u} door`, lockId: lockIdOf(1_000 + u), connectivity: 'offline', unitId: unit.id }, ctx);
        unitDoors.push({ id: door.id, lockId: door.lockId, building: b, unit: u });
        const key = g.createKey(db, prop.id, { name: `Unit U${u}`, kind: 'residential', doorIds: [door.id], mayShare: true, doorcodesDisabled: false, unitId: unit.id }, ctx);
        const count = rand() < 0.8 ? 2 : 1;
        let host = 0;
        for (let slot = 0; slot < count; slot++) {
          const w = rand();
          const start = w < 0.55 ? null : w < 0.85 ? NOW_MIN - Math.floor(rand() * 700) * DAY : NOW_MIN + Math.floor(rand() * 30) * DAY + 15;
          const end = rand() < 0.3 ? NOW_MIN + (30 + Math.floor(rand() * 365)) * DAY : null;
          const person = g.invitePerson(
            db,
            prop.id,
            { email: `r${u}-${slot}@scale.example`, firstName: 'R', lastName: `${u}-${slot}`, accessType: 'app', isResident: true, mayShare: true, unitId: unit.id, keyIds: [entrances.id, amenities.id, key.id], start, end },
            ctx,
          ).person;
          const realKey = keyed(u);
          const publicKey = realKey ? residentPhoneKey(seed, u, slot).publicKey : Uint8Array.from({ length: 32 }, () => Math.floor(fakeKeys() * 256));
          g.addPhoneKey(db, person.id, { publicKey: toHex(publicKey) }, ctx);
          let cardUid: string | null = null;
          if (rand() < 0.5) {
            do cardUid = toHex(Uint8Array.from({ length: 7 }, () => Math.floor(rand() * 256)));
            while (usedUids.has(cardUid));
            usedUids.add(cardUid);
            g.activateKeycard(db, person.id, cardUid, ctx);
          }
          const daily = rand() < 0.08;
          if (daily) g.setDailyDoorcode(db, person.id, true, ctx);
          residents.push({ personId: person.id, unit: u, slot, cardUid, daily, realKey, start, end });
          if (slot === 0 && start === null && end === null) host = person.id;
        }
        if (host && rand() < 0.05) {
          const gStart = NOW_MIN + Math.floor(rand() * 14) * DAY + Math.floor(rand() * 24) * 60;
          g.inviteGuest(db, host, { email: `guest${u}@scale.example`, firstName: 'G', lastName: `${u}`, accessType: 'doorcode', keyIds: [entrances.id, key.id], start: gStart, end: gStart + (1 + Math.floor(rand() * 7)) * DAY }, ctx);
          guests++;
        }
        if (o.onProgress && (u + 1) % 5_000 === 0) o.onProgress(u + 1);
      }
    }
  })();
  return { propertyId, seed, units: o.units, buildings, shared, unitDoors, residents, guests, ctx };
}

/**
 * Runs `fn` in one transaction (one fsync for 10,000 commissionings, not two each): commissionDoor
 * is async, which better-sqlite3's transaction functions cannot wrap. Its own transactions nest
 * as savepoints; nothing else uses the connection meanwhile (the in-process signer answers at once).
 */
export async function inOneTransaction(db: g.Db, fn: () => Promise<void>): Promise<void> {
  db.exec('BEGIN');
  try {
    await fn();
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

/**
 * Commission every door in the store with its lock's device keys (the gateway's side of an
 * installation), so every door compiles. Not confirmed: no lock has answered yet, so a sync
 * engine that meets a factory-fresh lock later commissions it (the sync engine refuses to
 * re-key a confirmed door). The messages are returned; simulated locks get the current one
 * from lockIdentity().
 */
export async function commissionAll(db: g.Db, p: ScaleProperty, o: { onProgress?: (done: number) => void; realDevice?: (doorId: number) => boolean } = {}): Promise<Map<number, Uint8Array>> {
  const messages = new Map<number, Uint8Array>();
  await inOneTransaction(db, async () => {
    for (const d of [...p.shared, ...p.unitDoors]) {
      if (o.onProgress && messages.size > 0 && messages.size % 10_000 === 0) o.onProgress(messages.size);
      const device = (o.realDevice ?? (() => true))(d.id) ? deviceKeysOf(d.lockId) : standInDeviceKeys(d.lockId);
      const { message } = await g.commissionDoor(db, d.id, device, { ctx: p.ctx, provider: nodeCryptoProvider });
      messages.set(d.id, message);
    }
  });
  return messages;
}

/**
 * Device keys for a door whose lock never goes on the air in this benchmark: the lock's side of
 * key derivation (X25519 in JavaScript, ~1.6 ms) is not the gateway's work, so such doors get
 * hashed stand-in public keys. The gateway's commissioning (wrap, sign, store) is the same.
 */
function standInDeviceKeys(lockId: string): g.LockDeviceKeys {
  return {
    signingPublic: nodeCryptoProvider.sha256(new TextEncoder().encode(`scale-standin-sign-${lockId}`)),
    encryptionPublic: nodeCryptoProvider.sha256(new TextEncoder().encode(`scale-standin-x25519-${lockId}`)),
  };
}

function deviceKeysOf(lockId: string): g.LockDeviceKeys {
  const d = deviceKeysFromSeed(deviceSeedOf(lockId), nodeCryptoProvider);
  return { signingPublic: d.signing.publicKey, encryptionPublic: d.encryptionPublic };
}

/** Evenly spaced sample of building 0's units (deterministic), always including unit 0. */
export function sampleUnits(units: number, n: number, buildingUnits = BUILDING_UNITS): number[] {
  const inB0 = Math.min(units, buildingUnits);
  if (inB0 <= n) return Array.from({ length: inB0 }, (_, i) => i);
  const step = inB0 / n;
  return Array.from({ length: n }, (_, i) => Math.floor(i * step));
}

/** The unit doors of sampleUnits (building 0's units are the first ones built). */
export function sampleUnitDoors(p: ScaleProperty, n: number): UnitDoor[] {
  const inB0 = p.unitDoors.filter((d) => d.building === 0);
  return sampleUnits(p.units, n, inB0.length).map((u) => inB0[u]!);
}
