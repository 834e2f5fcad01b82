/**
 * How the world's doors look from outside: a door's state (what the gateway compiled, what the
 * lock runs, its hardware), a paged list with the doors behind first, and a door's credentials
 * as its lock holds them against as compiled. The simulate routes and the console read these.
 */
import { all } from '../model/base.js';
import { credentialsForDoor } from '../model/compile-input.js';
import { DOOR_BEHIND_SQL, doorSyncState } from '../model/sync-state.js';
import type { World } from './world.js';

/** The door as a console shows it: what the gateway compiled, what the lock runs, its hardware. */
export function doorState(world: World, doorId: number): DoorState {
  const door = world.door(doorId);
  const s = doorSyncState(world.db, doorId);
  const fw = door.device.firmware;
  const halted = fw.isHalted;
  const lockedOutUntil = halted ? null : fw.lockedOutUntil;
  return {
    doorId,
    name: door.name,
    lockId: door.lockId,
    connectivity: door.connectivity,
    gateway: door.gateway,
    inRange: door.inRange,
    compiledSeq: s.compiledSeq,
    enforcedSeq: s.enforcedSeq,
    pendingChanges: s.pendingChanges,
    inSync: s.enforcedSeq === s.compiledSeq && s.pendingChanges === 0,
    lastVisitAt: s.lastReceiptAt === null ? null : new Date(s.lastReceiptAt).toISOString(),
    lockSeq: halted ? null : fw.seq,
    commissioned: halted ? null : fw.commissioned,
    battery: door.device.battery.percent(),
    lockedOutUntil: lockedOutUntil === null ? null : new Date(lockedOutUntil * 1000).toISOString(),
    lockClock: halted ? null : new Date(fw.now() * 1000).toISOString(),
    powered: !halted,
    busy: door.busy,
  };
}

/**
 * Doors of a property for a list: those behind first (the Door Sync tasks), then by id;
 * `search` matches the name. Returns one page and the total.
 */
export function listWorldDoors(world: World, propertyId: number, o: { search?: string; offset?: number; limit?: number } = {}): { total: number; behind: number; doors: DoorState[] } {
  const search = o.search?.toLowerCase();
  const ids = [...world.doors.values()].filter((d) => d.propertyId === propertyId && (!search || d.name.toLowerCase().includes(search))).map((d) => d.doorId);
  const behind = new Set(
    all<{ id: number }>(
      world.db,
      `SELECT d.id FROM doors d JOIN door_sync_state s ON s.door_id = d.id
        WHERE d.property_id = ? AND ${DOOR_BEHIND_SQL}`,
      propertyId,
    ).map((r) => r.id),
  );
  ids.sort((a, b) => Number(behind.has(b)) - Number(behind.has(a)) || a - b);
  const offset = o.offset ?? 0;
  const page = ids.slice(offset, offset + (o.limit ?? ids.length));
  return { total: ids.length, behind: ids.filter((id) => behind.has(id)).length, doors: page.map((id) => doorState(world, id)) };
}

/**
 * A door's credentials as its lock holds them (read from the set it runs) and as the gateway
 * would compile them now: the sync-until rule, row by row.
 */
export function doorCredentials(world: World, doorId: number): { lock: HeldCredential[]; compiled: HeldCredential[] } {
  const door = world.door(doorId);
  const fw = door.device.firmware;
  const set = fw.isHalted ? null : fw.set;
  const minuteIso = (m: number | null): string | null => (m === null ? null : new Date(m * 60_000).toISOString());
  // Names from the holder registry (it outlives deleted people), person ids from living people.
  const who = new Map(
    all<{ ref: number; name: string; personId: number | null }>(
      world.db,
      `SELECT h.holder_ref AS ref, h.name, p.id AS personId FROM holders h LEFT JOIN people p ON p.property_id = h.property_id AND p.holder_ref = h.holder_ref
        WHERE h.property_id = ?`,
      door.propertyId,
    ).map((r) => [r.ref, r]),
  );
  const held = (kind: HeldCredential['kind'], holderRef: number, start: number | null, end: number | null): HeldCredential => ({
    kind,
    holderRef,
    name: who.get(holderRef)?.name ?? null,
    personId: who.get(holderRef)?.personId ?? null,
    startsAt: minuteIso(start),
    expiresAt: minuteIso(end),
  });
  const lock: HeldCredential[] = [];
  if (set) {
    for (const kind of ['doorcode', 'daily', 'keycard', 'phone'] as const) {
      for (let row = 0; row < set.counts[kind]; row++) {
        const h = set.holderAt(set.holderRowOf(kind, row));
        lock.push(held(kind, h.holder, h.start, h.end));
      }
    }
  }
  const compiled = credentialsForDoor(world.db, doorId, world.ctx('world')).map((c) => held(c.kind, c.holder, c.start, c.end));
  return { lock, compiled };
}

/** One credential row of a door: who (holder reference) and when, never the secret. */
export interface HeldCredential {
  kind: 'doorcode' | 'daily' | 'keycard' | 'phone';
  holderRef: number;
  /** The holder's name (kept after the person is deleted), or null if never registered. */
  name: string | null;
  /** The living person with this holder reference, or null. */
  personId: number | null;
  startsAt: string | null;
  expiresAt: string | null;
}

export interface DoorState {
  doorId: number;
  name: string;
  lockId: string;
  connectivity: 'online' | 'offline';
  gateway: string | null;
  inRange: boolean;
  /** Newest set the gateway compiled for the door. */
  compiledSeq: number;
  /** What the door last confirmed it enforces (signed receipt). */
  enforcedSeq: number;
  /** Access changes not compiled into any set yet. */
  pendingChanges: number;
  inSync: boolean;
  /** When the door last confirmed a set (its newest signed receipt: a sync or a visit), ISO 8601. */
  lastVisitAt: string | null;
  /** What the simulated lock runs right now (null while it has no power). */
  lockSeq: number | null;
  commissioned: boolean | null;
  battery: number;
  lockedOutUntil: string | null;
  lockClock: string | null;
  powered: boolean;
  busy: boolean;
}
