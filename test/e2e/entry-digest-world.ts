/**
 * The world the entry-digest end-to-end tests share: a property with one door in a store file,
 * a simulated lock for it (optionally firmware from before the entry digest) served on the
 * virtual radio, the gateway's sync engine, and the stored sets read back. Each test file calls
 * `entryDigestWorld()` once; everything it opens is closed after each test.
 */
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { CredentialSet, EntryAccumulator, entryDigestKey, fromHex, signingKeyFromSeed, toHex, type DigestForm } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { createAir, LockDevice, serveLock, type Air, type FlashDevice, type ServedLock } from '@latchkit/simulator';
import * as g from '../../gateway/src/index.js';
import { tempDirPerTest } from '../gateway/helpers.js';

export function entryDigestWorld() {
  const crypto = nodeCryptoProvider;
  const dir = tempDirPerTest();
  let air: Air | undefined;
    const theAir = (): Air => (air ??= createAir({ seed: 15 }));
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    await air?.close();
    air = undefined;
  });

  const seed = (label: string): Uint8Array => crypto.sha256(new TextEncoder().encode(label));
  const LOCK_ID = '4c4b0000000000e1';
  const ADDRESS = 'c0:de:00:00:00:e1';

  /** A property with one online door and its key, in a store file (optionally at an older schema). */
  function store(file: string, migrations?: readonly g.Migration[]) {
    const db = g.openStore({ file, ...(migrations ? { migrations } : {}) });
    cleanup.push(() => {
      if (db.open) db.close();
    });
    return db;
  }

  function build(db: g.Db, ctx: g.Ctx, connectivity: 'online' | 'offline' = 'online') {
    const prop = g.createProperty(db, { name: 'Elm Court', utcOffsetMin: 0 }, ctx);
    const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: LOCK_ID, connectivity, ...(connectivity === 'online' ? { gatewayRadio: 'gw-1' } : {}) }, ctx);
    const key = g.createKey(db, prop.id, { name: 'Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: false, doorcodesDisabled: false }, ctx);
    return { prop, lobby, key };
  }

  function invite(db: g.Db, propertyId: number, keyId: number, first: string, ctx: g.Ctx) {
    const p = g.invitePerson(db, propertyId, { email: `${first.toLowerCase()}@example.com`, firstName: first, lastName: 'Doe', accessType: 'app', isResident: true, mayShare: false, keyIds: [keyId] }, ctx).person;
    g.addPhoneKey(db, p.id, { publicKey: toHex(signingKeyFromSeed(seed(`phone-${first}`), crypto).publicKey) }, ctx);
    return { person: p, code: g.personDoorcode(db, p.id)!, key: signingKeyFromSeed(seed(`phone-${first}`), crypto) };
  }

  /** A simulated lock for the door, with the given firmware; `storage`: the flash of the same hardware before an update. */
  function lockDevice(o: { beforeEntryDigest?: boolean; firmware?: string; storage?: FlashDevice } = {}): LockDevice {
    return new LockDevice({
      identity: { lockId: fromHex(LOCK_ID), deviceSeed: seed(LOCK_ID) },
      ...(o.storage ? { storage: o.storage } : {}),
      crypto,
      ...(o.firmware ? { firmware: o.firmware } : {}),
      ...(o.beforeEntryDigest ? { beforeEntryDigest: true } : {}),
    });
  }

  async function serve(device: LockDevice): Promise<ServedLock> {
    air ??= createAir({ seed: 15 });
    const served = await serveLock(air, device, { address: ADDRESS });
    cleanup.push(() => served.stop());
    return served;
  }

  async function engine(db: g.Db, ctx: g.Ctx): Promise<g.SyncEngine> {
    air ??= createAir({ seed: 15 });
    const gw = await g.SyncEngine.create({ db, radio: air, name: 'gw-1', provider: crypto, ctx, sleep: async () => undefined });
    cleanup.push(() => gw.close());
    return gw;
  }

  const setRow = (db: g.Db, doorId: number, seq: number) =>
    db.prepare('SELECT digest, digest_form AS form, entry_acc AS acc FROM door_sets WHERE door_id = ? AND seq = ?').get(doorId, seq) as { digest: Buffer; form: DigestForm; acc: Buffer | null };

  /** The digest of a compiled set in `form`, computed from its body alone (a full pass: what the stored one must equal). */
  function digestFromScratch(db: g.Db, doorId: number, propertyId: number, seq: number, form: DigestForm): { digest: Uint8Array; acc: Uint8Array | null } {
    const body = g.compiledBody(db, doorId, seq)!;
    if (form === 'body') return { digest: crypto.sha256(body), acc: null };
    const id = g.lockIdentity(db, doorId)!;
    const acc = EntryAccumulator.of(entryDigestKey(id.contentKey, id.lockId), CredentialSet.fromTrustedBody(body).entries());
    return { digest: acc.digest(g.propertySecrets(db, propertyId)), acc: acc.bytes() };
  }

  /** A store file with the property, and a lock for its door on firmware from before the entry digest. */
  function oldLockDoor(connectivity: 'online' | 'offline' = 'online') {
    const file = join(dir(), 'latchkit.db');
    const ctx: g.Ctx = { actor: 'e2e' };
    const db = store(file);
    const { prop, lobby, key } = build(db, ctx, connectivity);
    const oldFw = 'latchkit-sim/0.0.9';
    const device = lockDevice({ beforeEntryDigest: true, firmware: oldFw });
    return { file, ctx, db, prop, lobby, key, oldFw, device };
  }

  /** Commissioned by hand (no set yet), as an installer would: what the lock takes is not known. */
  async function commissionByHand(db: g.Db, doorId: number, device: LockDevice, ctx: g.Ctx): Promise<void> {
    const info = device.firmware.info();
    const c = await g.commissionDoor(db, doorId, { signingPublic: info.deviceSigningPublic, encryptionPublic: info.deviceEncryptionPublic }, { ctx, provider: crypto });
    device.firmware.applyMessage(c.message);
    g.acceptReceipt(db, doorId, device.firmware.receipt(), { ctx, provider: crypto });
  }

  return {
    crypto,
    dir,
    seed,
    LOCK_ID,
    ADDRESS,
    /** The virtual radio of this test (created on first use). */
    air: theAir,
    /** Close `f` after this test, before the radio. */
    onCleanup: (f: () => Promise<void> | void) => void cleanup.push(f),
    store,
    build,
    invite,
    lockDevice,
    serve,
    engine,
    setRow,
    digestFromScratch,
    oldLockDoor,
    commissionByHand,
  };
}
