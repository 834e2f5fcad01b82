/**
 * Run the locks of a property in one process: each lock is a directory of flash files (restart
 * keeps its state), its own bleno peripheral on the chosen radio, and its own timers.
 *
 * With a `backend` in the description the fleet also plays the property backend at start:
 * fresh locks are commissioned and the listed credentials installed as a signed full set,
 * directly into flash (the installer's step). Everything after start arrives over the radio,
 * from the gateway or a relaying phone.
 */
import { join } from 'node:path';
import type { CredentialSpec, CryptoProvider, EventRecord, SetSecrets, SigningKey } from '@latchkit/protocol';
import { deriveIndexKey, entriesFromSpecs, equalBytes, hkdfSha256, issueCommission, issueFullSet, packSet, signingKeyFromSeed } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { simFail } from '../errors.js';
import type { LockDevice } from '../lock/device.js';
import { serveLock, type ServedLock } from '../lock/gatt-service.js';
import { openLockDir } from '../lock/lock-dir.js';
import { keepTime } from '../lock/runtime.js';
import { openRadio, type Radio } from '../radio/index.js';
import type { PropertyDescription, ResolvedProperty } from './property.js';
import { loadPropertyFile, resolveProperty } from './property.js';

/** The keys a fleet-as-backend signs with (derived from the description's seeds). */
export interface FleetBackend {
  issuer: SigningKey;
  secrets: SetSecrets;
  contentKey(lockId: Uint8Array): Uint8Array;
}

export function fleetBackend(b: NonNullable<ResolvedProperty['backend']>, crypto: CryptoProvider = nodeCryptoProvider): FleetBackend {
  const empty = new Uint8Array(0);
  return {
    issuer: signingKeyFromSeed(b.issuerSeed, crypto),
    secrets: {
      daily: b.dailySecret ?? hkdfSha256(b.issuerSeed, empty, 'latchkit/fleet/daily-secret', 32),
      cardMaster: b.cardMaster ?? hkdfSha256(b.issuerSeed, empty, 'latchkit/fleet/card-master', 32),
    },
    contentKey: (lockId) => hkdfSha256(b.contentKeySeed, lockId, 'latchkit/fleet/content-key', 32),
  };
}

export interface FleetLock {
  id: string;
  name: string;
  dir: string;
  device: LockDevice;
  served: ServedLock;
  /** What start-up did: commissioned a fresh lock, installed a new set (its sequence), or nothing. */
  provisioned: { commissioned: boolean; installedSeq: number | null };
}

export interface FleetProgress {
  phase: 'starting' | 'started' | 'stopping' | 'stopped';
  done: number;
  total: number;
  lock?: { id: string; name: string; seq: number };
}

export interface StartFleetOptions {
  /** A radio to put the locks on (shared with a gateway or phones in the same process). */
  radio?: Radio;
  /** Override the description's radio kind when the fleet opens its own radio. */
  radioKind?: 'virtual' | 'hci';
  /** Override the description's state directory. */
  stateDir?: string;
  onProgress?: (p: FleetProgress) => void;
  /** Every event record any lock appends (the CLI's --watch). */
  onEvent?: (lock: FleetLock, e: EventRecord) => void;
  /** Locks started concurrently (default 8). */
  concurrency?: number;
  crypto?: CryptoProvider;
  /** Host clock (ms); default wall time. */
  clock?: () => number;
}

export interface Fleet {
  readonly name: string;
  readonly radio: Radio;
  readonly property: ResolvedProperty;
  readonly locks: ReadonlyMap<string, FleetLock>;
  readonly backend: FleetBackend | null;
  stop(): Promise<void>;
}

/** Start every lock of a property description (a file path, a description object, or a resolved one). */
export async function startFleet(description: string | PropertyDescription | ResolvedProperty, options: StartFleetOptions = {}): Promise<Fleet> {
  const property = typeof description === 'string' ? loadPropertyFile(description) : isResolved(description) ? description : resolveProperty(description);
  const crypto = options.crypto ?? nodeCryptoProvider;
  const clock = options.clock ?? Date.now;
  const stateDir = options.stateDir ?? property.stateDir;
  const kind = options.radioKind ?? property.radio;
  if (!options.radio && kind === 'hci' && property.locks.length > 1) {
    simFail('BAD_ARGUMENT', `the hci radio serves one lock per adapter (bleno is a singleton) but "${property.name}" has ${property.locks.length} locks; use the virtual radio or one process per lock`);
  }
  const ownRadio = !options.radio;
  const radio = options.radio ?? (await openRadio({ radio: kind, seed: property.seed }));
  const backend = property.backend ? fleetBackend(property.backend, crypto) : null;
  const locks = new Map<string, FleetLock>();
  const stops: Array<() => void> = [];
  const total = property.locks.length;
  options.onProgress?.({ phase: 'starting', done: 0, total });

  const startOne = async (spec: ResolvedProperty['locks'][number]): Promise<void> => {
    const dir = join(stateDir, spec.idHex);
    const device = openLockDir(dir, { create: { lockId: spec.id, profile: spec.device, driftPpm: spec.driftPpm }, crypto, clock });
    const provisioned = backend ? provision(device, backend, spec.credentials, property.utcOffset, clock, crypto) : { commissioned: false, installedSeq: null };
    const served = await serveLock(radio, device, { mtu: spec.mtu });
    const lock: FleetLock = { id: spec.idHex, name: spec.name, dir, device, served, provisioned };
    locks.set(spec.idHex, lock);
    stops.push(keepTime(device));
    if (options.onEvent) {
      const onEvent = options.onEvent;
      let off = device.firmware.onEvent((e) => onEvent(lock, e));
      const offBoot = device.onBoot((fw) => {
        off();
        off = fw.onEvent((e) => onEvent(lock, e));
      });
      stops.push(() => {
        off();
        offBoot();
      });
    }
    options.onProgress?.({ phase: 'started', done: locks.size, total, lock: { id: spec.idHex, name: spec.name, seq: device.firmware.seq } });
  };

  const stop = async (): Promise<void> => {
    options.onProgress?.({ phase: 'stopping', done: 0, total: locks.size });
    for (const s of stops.splice(0)) s();
    let done = 0;
    for (const lock of locks.values()) {
      await lock.served.stop().catch(() => undefined);
      lock.device.close();
      options.onProgress?.({ phase: 'stopped', done: ++done, total: locks.size });
    }
    if (ownRadio) await radio.close();
  };

  try {
    const queue = [...property.locks];
    const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, queue.length)) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await startOne(next);
    });
    await Promise.all(workers);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { name: property.name, radio, property, locks, backend, stop };
}

/**
 * The backend's start-up step for one lock: commission it if fresh, and install the listed
 * credentials as a new full set when they differ from what it enforces.
 */
function provision(device: LockDevice, backend: FleetBackend, specs: CredentialSpec[], utcOffset: number, clock: () => number, crypto: CryptoProvider): FleetLock['provisioned'] {
  const fw = device.firmware;
  const now = Math.floor(clock() / 1000);
  const contentKey = backend.contentKey(fw.lockId);
  let commissioned = false;
  if (!fw.commissioned) {
    fw.commission(
      issueCommission({
        issuer: backend.issuer,
        lockId: fw.lockId,
        issuedAt: now,
        anchors: [backend.issuer.publicKey],
        lockEncryptionPublic: fw.device.encryptionPublic,
        contentKey,
        utcOffset,
        generation: 1,
        provider: crypto,
      }),
    );
    commissioned = true;
  }
  if (specs.length === 0 && fw.seq > 0) return { commissioned, installedSeq: null };
  const entries = entriesFromSpecs(specs, deriveIndexKey(contentKey, fw.lockId), crypto);
  // Same set, byte for byte: nothing to install (whatever digest form it was named by).
  if (fw.persisted.set && equalBytes(fw.persisted.set.body, packSet(entries, backend.secrets))) return { commissioned, installedSeq: null };
  const seq = fw.seq + 1;
  fw.applySetMessage(issueFullSet({ issuer: backend.issuer, lockId: fw.lockId, contentKey, seq, entries, secrets: backend.secrets, issuedAt: now, provider: crypto }).bytes);
  return { commissioned, installedSeq: seq };
}

function isResolved(d: PropertyDescription | ResolvedProperty): d is ResolvedProperty {
  return typeof d.stateDir === 'string' && Array.isArray(d.locks) && d.locks.every((l) => 'idHex' in l);
}
