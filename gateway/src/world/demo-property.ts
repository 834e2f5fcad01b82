/**
 * The ready-made property of `npm start` and `latchkit serve --demo`: entrances and an amenity
 * door online through gateway radio gw-1, a door per unit offline, about 1.8 residents per unit
 * with the simulated phone's key, doorcodes, half of them a keycard, one in ten a daily code.
 * Seeded, so the same seed gives the same property.
 */
import { toHex } from '@latchkit/protocol';
import type { Db } from '../store/db.js';
import type { Ctx } from '../model/base.js';
import { createProperty } from '../model/properties.js';
import { createDoor } from '../model/doors.js';
import { createKey } from '../model/keys.js';
import { createUnit } from '../model/units.js';
import { invitePerson } from '../model/people.js';
import { activateKeycard, addPhoneKey, setDailyDoorcode } from '../model/credentials.js';
import type { World } from './world.js';

export interface DemoResident {
  personId: number;
  holder: number;
  unitDoorId: number;
  /** Keycard UID (hex) when the resident has one. */
  card: string | null;
  daily: boolean;
}

export interface DemoProperty {
  propertyId: number;
  /** North Entrance, South Entrance, Fitness Center (online, gateway gw-1). */
  online: { id: number; lockId: string }[];
  unitDoors: { id: number; lockId: string }[];
  residents: DemoResident[];
}

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lock ids of the demo: `4c4b` ("LK") and a counter, so each door's lock is easy to find on disk. */
const lockIdOf = (n: number): string => `4c4b${n.toString(16).padStart(12, '0')}`;

export function seedDemoProperty(db: Db, world: World, o: { units: number; seed: number; ctx?: Ctx; name?: string }): DemoProperty {
  if (!Number.isInteger(o.units) || o.units < 10 || o.units > 10_000) throw new RangeError(`units: expected a whole number from 10 to 10,000, got ${o.units}`);
  const ctx = o.ctx ?? world.ctx('demo');
  const rand = prng(o.seed);
  const prop = createProperty(db, { name: o.name ?? 'Maple Court', utcOffsetMin: 0 }, ctx);
  // Lock ids are unique across the store: continue after any demo property made before.
  let nextLock = (db.prepare("SELECT count(*) AS n FROM doors WHERE lock_id LIKE '4c4b%'").get() as { n: number }).n + 1;
  const online = ['North Entrance', 'South Entrance', 'Fitness Center'].map((name) =>
    createDoor(db, prop.id, { name, lockId: lockIdOf(nextLock++), connectivity: 'online', gatewayRadio: 'gw-1' }, ctx),
  );
  const entrances = createKey(db, prop.id, { name: 'Resident Entrances', kind: 'communal', doorIds: [online[0]!.id, online[1]!.id], mayShare: true, doorcodesDisabled: false }, ctx);
  const amenities = createKey(db, prop.id, { name: 'Resident Amenities', kind: 'communal', doorIds: [online[2]!.id], mayShare: false, doorcodesDisabled: true }, ctx);
  const residents: DemoResident[] = [];
  const unitDoors: { id: number; lockId: string }[] = [];
  for (let u = 0; u < o.units; u++) {
    const name = `${Math.floor(u / 20) + 1}${String.fromCharCode(65 + (u % 20))}`;
    const unit = createUnit(db, prop.id, { name }, ctx);
    const door = createDoor(db, prop.id, { name: `${name} front door`, lockId: lockIdOf(nextLock++), connectivity: 'offline', unitId: unit.id }, ctx);
    unitDoors.push({ id: door.id, lockId: door.lockId });
    const key = createKey(db, prop.id, { name: `Unit ${name}`, kind: 'residential', doorIds: [door.id], mayShare: true, doorcodesDisabled: false, unitId: unit.id }, ctx);
    const count = rand() < 0.8 ? 2 : 1;
    for (let r = 0; r < count; r++) {
      const person = invitePerson(
        db,
        prop.id,
        { email: `resident-${name.toLowerCase()}-${r}@maple.example`, firstName: `Resident${r + 1}`, lastName: `of ${name}`, accessType: 'app', isResident: true, mayShare: true, keyIds: [entrances.id, amenities.id, key.id] },
        ctx,
      ).person;
      addPhoneKey(db, person.id, { publicKey: toHex(world.phoneKeyFor(person.id).publicKey), label: 'simulated phone' }, ctx);
      let card: string | null = null;
      if (rand() < 0.5) {
        card = toHex(world.crypto.sha256(new TextEncoder().encode(`demo-card-${o.seed}-${prop.id}-${person.id}`)).slice(0, 7));
        activateKeycard(db, person.id, card, ctx);
      }
      const daily = rand() < 0.1;
      if (daily) setDailyDoorcode(db, person.id, true, ctx);
      residents.push({ personId: person.id, holder: person.holderRef, unitDoorId: door.id, card, daily });
    }
  }
  return { propertyId: prop.id, online: online.map((d) => ({ id: d.id, lockId: d.lockId })), unitDoors, residents };
}
