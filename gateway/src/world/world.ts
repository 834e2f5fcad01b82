/**
 * One running property world: every door's simulated lock (flash in the state directory), the
 * gateway radio(s) that reach the online doors, a phone for each person with a simulated phone
 * key, and a manager's phone for Door Syncs, all on one virtual air; plus the world clock and
 * the live event stream. `latchkit serve --radio virtual`, `npm start` and the tests all drive a
 * property through this one module (the actions are in actions.ts).
 *
 * Range: the air starts with nobody hearing anybody. A gateway radio hears the online doors it
 * serves; a phone is walked to the one door it acts on (`air.moveTo`), as a person walks up to
 * it. A door put "out of range" is heard by nobody, so a Door Sync or unlock there fails on the
 * radio, as it would in a corridor the signal does not reach.
 */
import { join } from 'node:path';
import { fromHex, hkdfSha256, signingKeyFromSeed, toHex, type CryptoProvider, type EventRecord, type SigningKey } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createAir, DEFAULT_ADVERTISING_POLICY, keepTime, KIND_BY_CODE, MAINS_ADVERTISING_POLICY, openLockDir, Phone, serveLock, type Air, type LockDevice, type ServedLock } from '@latchkit/simulator';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, one, type Ctx } from '../model/base.js';
import { doorState } from './door-views.js';
import { SyncEngine, type SyncProgress } from '../sync/engine.js';
import type { CompilerOptions, SignerResolver } from '../compiler/index.js';
import { readWorldFile, WorldClock, writeWorldFile } from './clock.js';
import { EventHub } from './events.js';

export interface WorldOptions {
  db: Db;
  /** Where `world.json` and the lock directories (`locks/<lockId>/`) live: the store's state directory. */
  stateDir: string;
  /** The air to run on (default: a new one, seeded with `seed`). */
  air?: Air;
  /** Seed of a new air and of a new world's secret (default: a random secret). */
  seed?: number;
  crypto?: CryptoProvider;
  /**
   * The issuer signer of a property's key (a KMS, an HSM, a signing process; compiler
   * SignerResolver): every signature the world's gateways, Door Syncs and phones' bundles need
   * goes through it. Default: the key in the store.
   */
  signerFor?: SignerResolver;
  /** The stream to publish to (default: a new hub on the world clock). */
  hub?: EventHub;
  /** Gateway radio for online doors that name none (default `gw-1`). */
  gatewayName?: string;
  /** How often each gateway radio pushes pending changes, ms; 0 leaves it to the caller (default 1,000). */
  syncIntervalMs?: number;
  /** How often each gateway radio collects event logs from its online doors, ms; 0: never (default 10,000). */
  collectIntervalMs?: number;
  /** Wall ms a phone or the manager waits to hear a door before giving up (default 2,000). */
  findTimeoutMs?: number;
  /** One line per notable thing (syncs, failures): serve prints them. */
  log?: (line: string) => void;
}

export interface SimulatedDoor {
  doorId: number;
  propertyId: number;
  name: string;
  lockId: string;
  connectivity: 'online' | 'offline';
  gateway: string | null;
  dir: string;
  device: LockDevice;
  served: ServedLock;
  inRange: boolean;
  busy: boolean;
  stopTime: () => void;
}

interface DoorRow {
  id: number;
  propertyId: number;
  name: string;
  lockId: string;
  connectivity: 'online' | 'offline';
  gatewayRadio: string | null;
}

const enc = new TextEncoder();

export class World {
  readonly clock: WorldClock;
  readonly hub: EventHub;
  readonly air: Air;
  readonly doors = new Map<number, SimulatedDoor>();
  readonly gateways = new Map<string, SyncEngine>();
  private readonly phones = new Map<string, Phone>();
  private managerEngine: SyncEngine | null = null;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private closed = false;
  private readonly ownsAir: boolean;

  private constructor(
    readonly options: WorldOptions,
    private readonly secret: Uint8Array,
    clockOffsetMs: number,
  ) {
    this.clock = new WorldClock(clockOffsetMs, (offset) => writeWorldFile(options.stateDir, { clockOffsetMs: offset, secret: toHex(secret) }));
    this.hub = options.hub ?? new EventHub(undefined, this.clock.now);
    this.ownsAir = options.air === undefined;
    // Nobody hears anybody until placed: gateways hear their doors, phones the door they walk to.
    this.air = options.air ?? createAir({ seed: options.seed ?? 1, defaultInRange: false });
  }

  /** Open the world of a store: a lock for every door, a radio for every gateway name. */
  static async open(options: WorldOptions): Promise<World> {
    const crypto = options.crypto ?? nodeCryptoProvider;
    let file = readWorldFile(options.stateDir);
    if (!file) {
      const secret = options.seed === undefined ? crypto.randomBytes(32) : crypto.sha256(enc.encode(`latchkit/world/${options.seed}`));
      file = { clockOffsetMs: 0, secret: toHex(secret) };
      writeWorldFile(options.stateDir, file);
    }
    const world = new World(options, fromHex(file.secret), file.clockOffsetMs);
    try {
      await world.refresh();
      world.managerEngine = await SyncEngine.create({
        db: options.db,
        radio: world.air,
        name: 'manager-phone',
        profile: 'ios',
        ...world.compilerOptions('world:door-sync'),
        // A manager standing at a door tries again once; the door being out of range is an answer.
        retry: { attempts: 2, baseDelayMs: 100, maxDelayMs: 100 },
        timeoutMs: world.findTimeoutMs,
        onProgress: (e) => world.onSyncProgress('manager-phone', e),
      });
      world.hub.tailActivity(options.db);
      return world;
    } catch (err) {
      await world.close();
      throw err;
    }
  }

  get signerFor(): SignerResolver | undefined {
    return this.options.signerFor;
  }

  get crypto(): CryptoProvider {
    return this.options.crypto ?? nodeCryptoProvider;
  }

  get db(): Db {
    return this.options.db;
  }

  get findTimeoutMs(): number {
    return this.options.findTimeoutMs ?? 2_000;
  }

  get manager(): SyncEngine {
    if (!this.managerEngine) throw new GatewayError('WORLD_NOT_RUNNING', 'the world is not open');
    return this.managerEngine;
  }

  /** A model context on the world clock, with who acted. */
  ctx(actor: string): Ctx {
    return { now: this.clock.now, actor };
  }

  /** What every compiler call the world makes is given: its clock, crypto and issuer signer. */
  compilerOptions(actor: string): CompilerOptions & { ctx: Ctx } {
    return { ctx: this.ctx(actor), provider: this.crypto, ...(this.options.signerFor ? { signerFor: this.options.signerFor } : {}) };
  }

  /** Device seed of a door's simulated lock (only for locks the world creates). */
  deviceSeedFor(lockId: string): Uint8Array {
    return hkdfSha256(this.secret, fromHex(lockId), 'latchkit/world/device-seed', 32);
  }

  /** The private key on a person's simulated phone (its public key is what the store holds). */
  phoneKeyFor(personId: number): SigningKey {
    return signingKeyFromSeed(hkdfSha256(this.secret, enc.encode(String(personId)), 'latchkit/world/phone-key', 32), this.crypto);
  }

  /**
   * Bring the running locks in line with the store: a lock for each new door (a fresh one is
   * factory-new until its first Door Sync or gateway push), and none for a deleted door (its
   * directory stays). Cheap when nothing changed; serve calls it every sync interval.
   */
  async refresh(): Promise<{ added: number; removed: number }> {
    const rows = all<DoorRow>(
      this.db,
      'SELECT id, property_id AS propertyId, name, lock_id AS lockId, connectivity, gateway_radio AS gatewayRadio FROM doors ORDER BY id',
    );
    const seen = new Set<number>();
    let added = 0;
    for (const d of rows) {
      seen.add(d.id);
      const running = this.doors.get(d.id);
      if (running && running.lockId === d.lockId) {
        if (running.connectivity !== d.connectivity || running.gateway !== this.gatewayOf(d)) await this.placeDoor(running, d);
        running.name = d.name;
        continue;
      }
      if (running) await this.stopDoor(running);
      await this.startDoor(d);
      added++;
    }
    let removed = 0;
    for (const door of [...this.doors.values()]) {
      if (!seen.has(door.doorId)) {
        await this.stopDoor(door);
        removed++;
      }
    }
    return { added, removed };
  }

  private gatewayOf(d: DoorRow): string | null {
    return d.connectivity === 'online' ? (d.gatewayRadio ?? this.options.gatewayName ?? 'gw-1') : null;
  }

  private async startDoor(d: DoorRow): Promise<void> {
    const dir = join(this.options.stateDir, 'locks', d.lockId);
    const device = openLockDir(dir, { create: { lockId: fromHex(d.lockId), deviceSeed: this.deviceSeedFor(d.lockId) }, crypto: this.crypto, clock: this.clock.now });
    let served: ServedLock;
    try {
      served = await serveLock(this.air, device, {
        // Battery locks advertise slowly until their proximity sensor sees someone (walkTo);
        // online doors are on mains and advertise fast all the time (simulator/LOCK.md).
        advertising: d.connectivity === 'online' ? MAINS_ADVERTISING_POLICY : DEFAULT_ADVERTISING_POLICY,
        hooks: {
          // Power comes back right after a cut: the lock boots from what reached its flash.
          halted: () => setImmediate(() => this.reboot(d.id)),
        },
      });
    } catch (err) {
      device.close();
      throw err;
    }
    const door: SimulatedDoor = {
      doorId: d.id,
      propertyId: d.propertyId,
      name: d.name,
      lockId: d.lockId,
      connectivity: d.connectivity,
      gateway: null,
      dir,
      device,
      served,
      inRange: true,
      busy: false,
      stopTime: keepTime(device),
    };
    const follow = (): void => {
      device.firmware.onEvent((e) => this.onLockEvent(door, e));
    };
    device.onBoot(follow);
    follow();
    this.doors.set(d.id, door);
    await this.placeDoor(door, d);
  }

  /** Put a door in range of the gateway radio that serves it (and out of any other's). */
  private async placeDoor(door: SimulatedDoor, d: DoorRow): Promise<void> {
    door.connectivity = d.connectivity;
    const name = this.gatewayOf(d);
    if (door.gateway && door.gateway !== name) {
      const old = this.gateways.get(door.gateway);
      if (old) this.air.setInRange(old.address, door.served.peripheral.address, false);
    }
    door.gateway = name;
    if (name === null) return;
    const engine = await this.gateway(name);
    this.air.setInRange(engine.address, door.served.peripheral.address, door.inRange);
  }

  private async gateway(name: string): Promise<SyncEngine> {
    let engine = this.gateways.get(name);
    if (engine) return engine;
    engine = await SyncEngine.create({
      db: this.db,
      radio: this.air,
      name,
      ...this.compilerOptions(`gateway:${name}`),
      timeoutMs: this.findTimeoutMs,
      onProgress: (e) => this.onSyncProgress(name, e),
    });
    this.gateways.set(name, engine);
    return engine;
  }

  private async stopDoor(door: SimulatedDoor): Promise<void> {
    this.doors.delete(door.doorId);
    door.stopTime();
    await door.served.stop();
    door.device.close();
  }

  /** Start the gateway loops: push pending changes, collect event logs, pick up new doors. */
  start(): void {
    const sync = this.options.syncIntervalMs ?? 1_000;
    if (sync > 0) {
      for (const engine of this.gateways.values()) engine.start(sync);
      this.every(sync, async () => {
        const before = new Set(this.gateways.keys());
        await this.refresh();
        for (const [name, engine] of this.gateways) if (!before.has(name)) engine.start(sync);
      });
    }
    const collect = this.options.collectIntervalMs ?? 10_000;
    if (collect > 0) this.every(collect, () => this.collectAll());
  }

  private every(ms: number, fn: () => Promise<unknown>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.closed) return;
      running = true;
      fn()
        .catch((err: unknown) => this.options.log?.(`world: ${(err as Error).message}`))
        .finally(() => {
          running = false;
        });
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Each gateway radio reads the new event records of every online door it hears. */
  async collectAll(): Promise<number> {
    let uploaded = 0;
    for (const door of this.doors.values()) {
      if (door.gateway === null || !door.inRange || door.device.firmware.isHalted) continue;
      uploaded += await this.collect(door);
    }
    return uploaded;
  }

  /** One gateway collection from one online door; failures are logged, not thrown. */
  async collect(door: SimulatedDoor): Promise<number> {
    const engine = door.gateway ? this.gateways.get(door.gateway) : undefined;
    if (!engine) return 0;
    try {
      const r = await engine.collectEvents(door.doorId);
      if (r.eventsUploaded > 0) this.publishDoor(door.doorId);
      return r.eventsUploaded;
    } catch (err) {
      this.options.log?.(`event collection from door ${door.doorId} failed: ${(err as { code?: string }).code ?? 'INTERNAL'}: ${(err as Error).message}`);
      return 0;
    }
  }

  /** A lock-side attempt at a door, published as it happens (before any upload). */
  private onLockEvent(door: SimulatedDoor, e: EventRecord): void {
    if (e.type === 'granted' || e.type === 'denied') {
      const person = e.holder
        ? one<{ id: number; name: string }>(
            this.db,
            "SELECT id, first_name || ' ' || last_name AS name FROM people WHERE property_id = ? AND holder_ref = ?",
            door.propertyId,
            e.holder,
          )
        : undefined;
      this.hub.publish('attempt', door.propertyId, {
        doorId: door.doorId,
        doorName: door.name,
        lockId: door.lockId,
        personId: person?.id ?? null,
        personName: person?.name ?? null,
        holder: e.holder || null,
        credentialKind: KIND_BY_CODE[e.kind] ?? null,
        outcome: e.type,
        reason: e.type === 'denied' ? e.reason : null,
        lockEventIndex: e.index,
      });
    } else if (e.type === 'lockout' || e.type === 'syncApplied' || e.type === 'boot') {
      // Door state shown live changes with these (lockout, the set the lock runs, battery).
      queueMicrotask(() => this.publishDoor(door.doorId));
    }
  }

  private onSyncProgress(by: string, e: SyncProgress): void {
    const propertyOf = (doorId: number): number | null => this.doors.get(doorId)?.propertyId ?? null;
    switch (e.kind) {
      case 'attempt':
        this.hub.publish('sync', propertyOf(e.doorId), { doorId: e.doorId, by, phase: 'started', attempt: e.attempt });
        break;
      case 'retry':
        this.hub.publish('sync', propertyOf(e.doorId), { doorId: e.doorId, by, phase: 'retry', attempt: e.attempt, error: e.error });
        break;
      case 'done':
        this.hub.publish('sync', propertyOf(e.result.doorId), { by, phase: 'done', ...e.result });
        if (e.result.action === 'synced') this.options.log?.(`${by} synced door ${e.result.doorId}: ${e.result.sent ?? 'commissioned'} seq ${e.result.seq}, ${e.result.bytes} B, ${e.result.elapsedMs.toFixed(0)} ms modelled`);
        this.publishDoor(e.result.doorId);
        break;
      case 'failed':
        this.hub.publish('sync', propertyOf(e.doorId), { doorId: e.doorId, by, phase: 'failed', code: e.code, message: e.message });
        this.options.log?.(`${by}: sync of door ${e.doorId} failed: ${e.code}: ${e.message}`);
        break;
      case 'bytes':
        // Progress of one transfer: only its end is worth a stream event (the result says the bytes).
        break;
    }
  }

  publishDoor(doorId: number): void {
    const door = this.doors.get(doorId);
    if (!door || this.closed) return;
    this.hub.publish('door', door.propertyId, { ...doorState(this, doorId) });
  }

  /** The running door, or DOOR_NOT_FOUND (also for a door of another property when one is given). */
  door(doorId: number, propertyId?: number): SimulatedDoor {
    const door = this.doors.get(doorId);
    if (!door || (propertyId !== undefined && door.propertyId !== propertyId)) {
      throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist${propertyId === undefined ? '' : ` in property ${propertyId}`}`);
    }
    return door;
  }

  /** A person's simulated phone (a noble central with an iPhone- or Android-like link), made on first use. */
  async phone(personId: number, profile: PhoneProfile = 'ios'): Promise<Phone> {
    const id = `${personId}:${profile}`;
    let phone = this.phones.get(id);
    if (!phone) {
      phone = await Phone.create({ radio: this.air, key: this.phoneKeyFor(personId), profile, name: `phone-${personId}-${profile}`, crypto: this.crypto, timeoutMs: this.findTimeoutMs });
      this.phones.set(id, phone);
    }
    return phone;
  }

  /** Walk a phone (or the manager's) up to a door: it hears that door only, if the door is in range. */
  walkTo(address: string, door: SimulatedDoor): void {
    this.air.moveTo(address, door.inRange ? [door.served.peripheral.address] : []);
    // Every device on the air keeps its own modelled clock. A phone idle since its last visit
    // is behind a lock that served others meanwhile, and would "scan" until it caught up with
    // the lock's present, time no person spends. The person arrives at the door's present.
    const mover = this.air.controllerOf(address);
    mover.hostTime = Math.max(mover.hostTime, this.air.controllerOf(door.served.peripheral.address).now());
    // The door's proximity sensor sees the person arrive: the lock advertises fast for a while.
    door.served.wake(mover.hostTime);
  }

  private readonly walks = new Map<string, Promise<unknown>>();

  /**
   * Walk a phone (or the manager's) to a door and do `fn` there. One device is at one door at a
   * time: a second action of the same device (a Door Sync at another door meanwhile) waits for
   * the first, instead of walking the device away from the door the first is still talking to.
   */
  atDoor<T>(address: string, door: SimulatedDoor, fn: () => Promise<T>): Promise<T> {
    const go = (): Promise<T> => {
      this.walkTo(address, door);
      return fn();
    };
    const run = (this.walks.get(address) ?? Promise.resolve()).then(go, go);
    const settled = run.catch(() => undefined);
    this.walks.set(address, settled);
    void settled.then(() => {
      if (this.walks.get(address) === settled) this.walks.delete(address);
    });
    return run;
  }

  /** 409 DOOR_BUSY while a Door Sync or phone visit is using the door. */
  assertIdle(door: SimulatedDoor): void {
    if (door.busy) throw new GatewayError('DOOR_BUSY', `door ${door.doorId} is busy with another simulated action; try again when it finishes`);
  }

  /** Run an action on a door that no other world action is using (409 DOOR_BUSY otherwise). */
  async exclusive<T>(door: SimulatedDoor, fn: () => Promise<T>): Promise<T> {
    this.assertIdle(door);
    door.busy = true;
    try {
      return await fn();
    } finally {
      door.busy = false;
    }
  }

  /** Boot a halted lock again from its flash (power restored after a cut). */
  reboot(doorId: number): void {
    const door = this.doors.get(doorId);
    if (!door || this.closed) return;
    if (door.device.firmware.isHalted) door.device.powerCycle();
    this.publishDoor(doorId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const engine of this.gateways.values()) await engine.close();
    await this.managerEngine?.close();
    for (const phone of this.phones.values()) await phone.close();
    for (const door of [...this.doors.values()]) await this.stopDoor(door);
    if (this.ownsAir) await this.air.close();
    this.hub.close();
  }
}

export type PhoneProfile = 'ios' | 'android';
