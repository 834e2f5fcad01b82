/**
 * Row ids are never reused after a delete (migration 8: AUTOINCREMENT), and a store at migration 7
 * upgrades keeping every row, id, index, trigger and foreign key.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { ID_REUSE_TABLES, rebuildWithAutoincrement } from '../../gateway/src/store/migration-008-no-id-reuse.js';
import { apiFixture } from './api-helpers.js';
import { codeOf, fixture, legacyProperty, resident, tempDir, type Fixture } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Create two, delete the newer, create again: the third id is above both. */
function expectNoReuse(create: () => number, remove: (id: number) => void): void {
  const first = create();
  const newest = create();
  expect(newest).toBeGreaterThan(first);
  remove(newest);
  const again = create();
  expect(again).toBeGreaterThan(newest);
}

let n = 0;
const next = () => ++n;

function invite(f: Fixture, keyIds = [f.entrances.id]) {
  const i = next();
  return g.invitePerson(f.db, f.prop.id, { email: `p${i}@example.com`, firstName: 'P', lastName: `${i}`, accessType: 'app', keyIds }, f.ctx).person;
}

describe('ids are never reused after deletes', () => {
  it('units, doors, keys, people', () => {
    const f = fixture();
    cleanups.push(() => {
      f.db.close();
    });
    expectNoReuse(
      () => g.createUnit(f.db, f.prop.id, { name: `U${next()}` }, f.ctx).id,
      (id) => g.deleteUnit(f.db, id),
    );
    expectNoReuse(
      () => g.createDoor(f.db, f.prop.id, { name: 'D', lockId: `00000000000001${next().toString(16).padStart(2, '0')}`, connectivity: 'offline' }, f.ctx).id,
      (id) => g.deleteDoor(f.db, id),
    );
    expectNoReuse(
      () => g.createKey(f.db, f.prop.id, { name: `K${next()}`, kind: 'communal', doorIds: [f.lobby.id], mayShare: false, doorcodesDisabled: false }, f.ctx).id,
      (id) => g.deleteKey(f.db, id, f.ctx),
    );
    expectNoReuse(
      () => invite(f).id,
      (id) => g.deletePerson(f.db, id, f.ctx),
    );
  });

  it('grants, keycards, phone keys and welcome notifications (gone with their person)', () => {
    const f = fixture();
    cleanups.push(() => {
      f.db.close();
    });
    const p = invite(f);
    const grantOfAmenities = () => {
      g.addGrants(f.db, p.id, { keyIds: [f.amenities.id], start: null, end: null }, f.ctx);
      return g.listGrants(f.db, p.id).find((x) => x.keyId === f.amenities.id)!.id;
    };
    const newest = grantOfAmenities();
    expect(newest).toBe((f.db.prepare('SELECT max(id) AS id FROM grants').get() as { id: number }).id);
    g.removeGrant(f.db, newest, f.ctx);
    expect(grantOfAmenities()).toBeGreaterThan(newest);
    const lastOf = (table: string) => (f.db.prepare(`SELECT max(id) AS id FROM ${table}`).get() as { id: number }).id;
    let uid = 0x10;
    const withCredentials = () => {
      const q = invite(f);
      g.activateKeycard(f.db, q.id, `04a1b2${(uid++).toString(16)}`, f.ctx);
      g.addPhoneKey(f.db, q.id, { publicKey: (uid++).toString(16).padStart(64, '0') }, f.ctx);
      return { person: q.id, keycard: lastOf('keycards'), phone: lastOf('phone_keys'), notification: lastOf('notifications') };
    };
    withCredentials();
    const gone = withCredentials();
    g.deletePerson(f.db, gone.person, f.ctx);
    expect(lastOf('keycards')).toBeLessThan(gone.keycard);
    const fresh = withCredentials();
    expect(fresh.keycard).toBeGreaterThan(gone.keycard);
    expect(fresh.phone).toBeGreaterThan(gone.phone);
    expect(fresh.notification).toBeGreaterThan(gone.notification);
    expect(fresh.person).toBeGreaterThan(gone.person);
  });

  it('over the API: a stale id finds nothing instead of the next unit', async () => {
    const a = await apiFixture();
    cleanups.push(async () => {
      await a.app.close();
      a.db.close();
    });
    const made = await a.call('pm', 'POST', `${a.base}/units`, { name: 'Temp' });
    expect((await a.call('pm', 'DELETE', `${a.base}/units/${made.body.id}`)).status).toBe(204);
    const again = await a.call('pm', 'POST', `${a.base}/units`, { name: 'Temp' });
    expect(again.body.id).toBeGreaterThan(made.body.id);
    expect((await a.call('pm', 'GET', `${a.base}/units/${made.body.id}`)).code).toBe('UNIT_NOT_FOUND');
  });
});

type Row = Record<string, unknown>;
/** Every row of every table (as JSON, sorted), and the schema's indexes and triggers. */
function snapshot(db: g.Db) {
  const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('sqlite_sequence', 'schema_migrations') ORDER BY name").pluck().all() as string[]);
  const rows: Record<string, string[]> = {};
  for (const t of tables) rows[t] = (db.prepare(`SELECT * FROM "${t}"`).all() as Row[]).map((r) => JSON.stringify(r, (_, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v))).sort();
  const norm = (sql: string | null) => (sql ?? '').replace(/"(\w+)"/g, '$1').replace(/ AUTOINCREMENT/g, '');
  const schema = Object.fromEntries(
    (db.prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT IN ('sqlite_sequence', 'schema_migrations') ORDER BY type, name").all() as { type: string; name: string; sql: string | null }[]).map(
      (r) => [`${r.type} ${r.name}`, norm(r.sql)],
    ),
  );
  return { rows, schema };
}

describe('migration 8 upgrades a store at migration 7', () => {
  it('keeps every row and id, indexes, triggers and foreign keys; ids then continue upward', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const old = g.openStore({ stateDir: t.dir, migrations: g.MIGRATIONS.slice(0, 7) });
    // Today's model functions read and write columns later migrations added (weekly schedules,
    // migration 10; time zones and window boundaries, migration 12): give the old store those
    // columns while it is seeded, and take them away again before the upgrade, so the upgrade
    // sees exactly a migration-7 store with data.
    const later = [
      ...['keys', 'grants'].flatMap((table) => ['schedule_days', 'schedule_from', 'schedule_to'].map((column) => [table, column, 'INTEGER'] as const)),
      ['properties', 'time_zone', "TEXT NOT NULL DEFAULT 'UTC'"] as const,
      ['door_sync_state', 'window_boundary_min', 'INTEGER'] as const,
    ];
    for (const [table, column, type] of later) old.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    const ctx: g.Ctx = { now: () => Date.UTC(2025, 5, 1, 12), actor: 'test' };
    // A store in use: things created, some deleted (gaps), credentials, guests, a token, an import.
    const prop = legacyProperty(old, 'Elm');
    const units = ['1A', '1B', '1C'].map((name) => g.createUnit(old, prop.id, { name }, ctx));
    g.deleteUnit(old, units[1]!.id);
    const lobby = g.createDoor(old, prop.id, { name: 'Lobby', lockId: '00000000000000a1', connectivity: 'offline' }, ctx);
    const door1a = g.createDoor(old, prop.id, { name: '1A door', lockId: '00000000000000a2', connectivity: 'online', gatewayRadio: 'gw-1', unitId: units[0]!.id }, ctx);
    const entrances = g.createKey(old, prop.id, { name: 'Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: true, doorcodesDisabled: false }, ctx);
    const key1a = g.createKey(old, prop.id, { name: '1A', kind: 'residential', doorIds: [door1a.id], mayShare: true, doorcodesDisabled: false, unitId: units[0]!.id }, ctx);
    const invite = (email: string) =>
      g.invitePerson(old, prop.id, { email, firstName: 'R', lastName: email, accessType: 'app', isResident: true, mayShare: true, keyIds: [entrances.id, key1a.id], unitId: units[0]!.id }, ctx).person;
    const ann = invite('ann@example.com');
    const gone = invite('gone@example.com');
    const bob = invite('bob@example.com');
    g.deletePerson(old, gone.id, ctx);
    g.inviteGuest(old, ann.id, { email: 'gus@example.com', firstName: 'Gus', lastName: 'G', keyIds: [entrances.id] }, ctx);
    g.activateKeycard(old, ann.id, '04a1b2c3', ctx);
    g.addPhoneKey(old, bob.id, { publicKey: 'ab'.repeat(32), label: 'phone' }, ctx);
    g.createToken(old, { name: 'desk', role: 'property_manager', propertyId: prop.id, keyManagement: true }, ctx);
    g.createImport(old, prop.id, { csv: 'First Name,Last Name,Email\nCy,Lee,cy@example.com\n' }, ctx);
    for (const [table, column] of later) old.exec(`ALTER TABLE ${table} DROP COLUMN ${column}`);
    const before = snapshot(old);
    expect(before.rows.units!.length).toBe(2);
    expect(before.rows.grants!.length).toBeGreaterThan(3);
    const maxIds = Object.fromEntries(ID_REUSE_TABLES.map((tb) => [tb, (old.prepare(`SELECT max(id) AS m FROM ${tb}`).get() as { m: number | null }).m]));
    old.close();

    const db = g.openStore({ stateDir: t.dir, migrations: g.MIGRATIONS.slice(0, 8) });
    expect(g.schemaVersion(db)).toBe(8);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const after = snapshot(db);
    expect(after.rows).toEqual(before.rows);
    // Same tables, indexes (also the automatic ones of UNIQUE constraints) and triggers, same SQL but AUTOINCREMENT.
    expect(after.schema).toEqual(before.schema);
    const seq = new Map((db.prepare('SELECT name, seq FROM sqlite_sequence').all() as { name: string; seq: number }[]).map((r) => [r.name, r.seq]));
    for (const tb of ID_REUSE_TABLES) {
      expect(db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(tb), tb).toMatch(/\bid INTEGER PRIMARY KEY AUTOINCREMENT\b/);
      expect(seq.get(tb) ?? null, tb).toBe(maxIds[tb]);
    }

    // Ids continue upward from here, also after deleting the newest (the model of today needs
    // the later migrations too; they keep the counters).
    db.close();
    const now = g.openStore({ stateDir: t.dir });
    cleanups.push(() => {
      now.close();
    });
    const u = g.createUnit(now, prop.id, { name: '2A' }, ctx);
    expect(u.id).toBe(maxIds.units! + 1);
    g.deleteUnit(now, u.id);
    expect(g.createUnit(now, prop.id, { name: '2B' }, ctx).id).toBe(u.id + 1);
    // Triggers fire (access touches), cascades and foreign keys hold.
    const touches = () => (now.prepare('SELECT count(*) AS n FROM access_touches').get() as { n: number }).n;
    const t0 = touches();
    g.addGrants(now, bob.id, { keyIds: [entrances.id], start: null, end: Date.UTC(2026, 0, 1) / 60_000 }, ctx);
    expect(touches()).toBeGreaterThan(t0);
    g.deletePerson(now, ann.id, ctx);
    expect(now.prepare('SELECT count(*) AS n FROM keycards WHERE person_id = ?').get(ann.id)).toEqual({ n: 0 });
    expect(now.prepare('SELECT count(*) AS n FROM grants WHERE shared_by = ?').get(ann.id)).toEqual({ n: 0 });
    expect(() => now.prepare("INSERT INTO units (property_id, name, created_at) VALUES (999, 'x', 0)").run()).toThrow(/FOREIGN KEY/);
    expect(() => g.deleteDoor(now, lobby.id)).toThrow();
    g.deleteUnit(now, units[0]!.id);
    expect(g.getDoor(now, door1a.id).unitId).toBeNull();
  });

  it('a fresh store gets the same schema as an upgraded one', () => {
    const fresh = g.openStore({ file: ':memory:', migrations: g.MIGRATIONS.slice(0, 8) });
    const t = tempDir();
    cleanups.push(t.cleanup);
    g.openStore({ stateDir: t.dir, migrations: g.MIGRATIONS.slice(0, 7) }).close();
    const upgraded = g.openStore({ stateDir: t.dir, migrations: g.MIGRATIONS.slice(0, 8) });
    try {
      const sql = (db: g.Db) => db.prepare("SELECT type, name, sql FROM sqlite_schema WHERE name <> 'sqlite_sequence' ORDER BY type, name").all();
      expect(sql(upgraded)).toEqual(sql(fresh));
    } finally {
      fresh.close();
      upgraded.close();
    }
  });
});

describe('migrations that switch foreign keys off', () => {
  it('are rolled back when they leave a broken reference, and foreign keys come back on', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    g.openStore({ stateDir: t.dir }).close();
    const broken: g.Migration[] = [
      ...g.MIGRATIONS,
      { version: g.MIGRATIONS.length + 1, name: 'orphan', foreignKeysOff: true, up: "INSERT INTO units (property_id, name, created_at) VALUES (999, 'orphan', 0)" },
    ];
    expect(codeOf(() => g.openStore({ stateDir: t.dir, migrations: broken }))).toBe('MIGRATION_FAILED');
    const db = g.openStore({ stateDir: t.dir });
    try {
      expect(g.schemaVersion(db)).toBe(g.MIGRATIONS.length);
      expect(db.prepare('SELECT count(*) AS n FROM units').get()).toEqual({ n: 0 });
      // The runner restores the setting even when the migration failed (same connection).
      expect(codeOf(() => g.migrate(db, broken))).toBe('MIGRATION_FAILED');
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });

  it('the rebuild refuses to run with foreign keys on (dropping a parent would cascade to its children)', () => {
    const f = fixture();
    cleanups.push(() => {
      f.db.close();
    });
    resident(f);
    expect(() => rebuildWithAutoincrement(f.db, ['units'])).toThrow(/foreign key enforcement off/);
    expect(g.listUnits(f.db, f.prop.id)).toHaveLength(1);
  });
});
