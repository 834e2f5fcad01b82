import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { codeOf, tempDirPerTest } from './helpers.js';

const dir = tempDirPerTest();

describe('store', () => {
  it('creates the state directory and database file on first run, migrated, WAL, foreign keys on', () => {
    const stateDir = join(dir(), 'nested', '.latchkit');
    const db = g.openStore({ stateDir });
    try {
      expect(existsSync(join(stateDir, g.DB_FILE_NAME))).toBe(true);
      expect(g.schemaVersion(db)).toBe(g.MIGRATIONS.length);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => (r as { name: string }).name);
      for (const t of ['people', 'grants', 'keys', 'doors', 'door_changes', 'door_sync_state', 'issuer_keys', 'api_tokens', 'activity', 'holders']) {
        expect(tables).toContain(t);
      }
    } finally {
      db.close();
    }
  });

  it('re-opens an existing file without re-running migrations and keeps the data', () => {
    const stateDir = dir();
    const db1 = g.openStore({ stateDir });
    g.createProperty(db1, { name: 'Elm', utcOffsetMin: 0 });
    const applied1 = g.appliedMigrations(db1);
    db1.close();
    const db2 = g.openStore({ stateDir });
    try {
      expect(g.appliedMigrations(db2)).toEqual(applied1);
      expect(g.listProperties(db2).map((p) => p.name)).toEqual(['Elm']);
    } finally {
      db2.close();
    }
  });

  it('applies only the migrations a store lacks, in order', () => {
    const stateDir = dir();
    const first = g.openStore({ stateDir, migrations: g.MIGRATIONS });
    first.close();
    const extra: g.Migration[] = [
      ...g.MIGRATIONS,
      { version: g.MIGRATIONS.length + 1, name: 'add lease end', up: 'ALTER TABLE people ADD COLUMN lease_end INTEGER' },
      { version: g.MIGRATIONS.length + 2, name: 'index lease end', up: (db) => db.exec('CREATE INDEX people_lease_end ON people(lease_end)') },
    ];
    const db = g.openStore({ stateDir, migrations: extra });
    try {
      expect(g.appliedMigrations(db).map((m) => m.version)).toEqual(extra.map((m) => m.version));
      expect(() => db.prepare('SELECT lease_end FROM people').all()).not.toThrow();
    } finally {
      db.close();
    }
  });

  it('rolls a failing migration back entirely and leaves the store at the previous version', () => {
    const stateDir = dir();
    g.openStore({ stateDir }).close();
    const broken: g.Migration[] = [
      ...g.MIGRATIONS,
      { version: g.MIGRATIONS.length + 1, name: 'half done', up: 'CREATE TABLE half (x INTEGER); INSERT INTO nope VALUES (1);' },
    ];
    expect(codeOf(() => g.openStore({ stateDir, migrations: broken }))).toBe('MIGRATION_FAILED');
    const db = g.openStore({ stateDir });
    try {
      expect(g.schemaVersion(db)).toBe(g.MIGRATIONS.length);
      expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('refuses a store written by a newer gateway', () => {
    const stateDir = dir();
    const newer: g.Migration[] = [...g.MIGRATIONS, { version: g.MIGRATIONS.length + 1, name: 'future', up: 'CREATE TABLE future (x INTEGER)' }];
    g.openStore({ stateDir, migrations: newer }).close();
    expect(codeOf(() => g.openStore({ stateDir }))).toBe('STORE_TOO_NEW');
  });

  it('refuses a store whose migration history differs from this code', () => {
    const stateDir = dir();
    g.openStore({ stateDir }).close();
    const renamed: g.Migration[] = [{ ...g.MIGRATIONS[0]!, name: 'something else' }];
    expect(codeOf(() => g.openStore({ stateDir, migrations: renamed }))).toBe('MIGRATION_FAILED');
  });

  it('rejects a migration list that skips a version', () => {
    expect(codeOf(() => g.openStore({ file: ':memory:', migrations: [{ version: 2, name: 'x', up: '' }] }))).toBe('MIGRATION_FAILED');
  });

  it('uses .latchkit under the cwd unless LATCHKIT_STATE_DIR says otherwise', () => {
    expect(g.defaultStateDir('/srv/site', {})).toBe('/srv/site/.latchkit');
    expect(g.defaultStateDir('/srv/site', { LATCHKIT_STATE_DIR: 'data' })).toBe('/srv/site/data');
    expect(g.defaultStateDir('/srv/site', { LATCHKIT_STATE_DIR: '/var/lib/latchkit' })).toBe('/var/lib/latchkit');
  });

  it('enforces the schema itself: a lock id must be 16 lower-case hex digits and unique', () => {
    const db = g.openStore({ file: ':memory:' });
    const p = g.createProperty(db, { name: 'P', utcOffsetMin: 0 });
    const insert = db.prepare("INSERT INTO doors (property_id, name, lock_id, connectivity, created_at) VALUES (?, 'd', ?, 'offline', 0)");
    expect(() => insert.run(p.id, '00112233445566ZZ')).toThrow(/CHECK/);
    insert.run(p.id, '0011223344556677');
    expect(() => insert.run(p.id, '0011223344556677')).toThrow(/UNIQUE/);
    expect(() => db.prepare("INSERT INTO units (property_id, name, created_at) VALUES (999, 'x', 0)").run()).toThrow(/FOREIGN KEY/);
    db.close();
  });

  it('migrations 11 and 12: fixed offsets become fixed zones, notifications keep their ids and counter, daily messages once per person per day', () => {
    const stateDir = dir();
    const old = g.openStore({ stateDir, migrations: g.MIGRATIONS.slice(0, 10) });
    const ins = old.prepare("INSERT INTO properties (name, utc_offset_min, doorcode_length, created_at) VALUES (?, ?, 6, 0)");
    for (const [name, off] of [['NY', -300], ['London', 0], ['Delhi', 330], ['Kathmandu', 345]] as const) ins.run(name, off);
    // A lock commissioned at New York's fixed offset, before time zones.
    old.prepare("INSERT INTO doors (property_id, name, lock_id, connectivity, created_at) VALUES (1, 'Lobby', '00000000000000b1', 'offline', 0)").run();
    const b32 = Buffer.alloc(32, 7);
    old.prepare('INSERT INTO lock_identities (door_id, device_signing_public, device_encryption_public, content_key, generation, commission_message, commissioned_at) VALUES (1, ?, ?, ?, 1, ?, 5)').run(b32, b32, b32, Buffer.from([1]));
    const note = old.prepare("INSERT INTO notifications (property_id, person_id, kind, email, created_at) VALUES (1, NULL, 'welcome', 'a@example.com', 0)");
    note.run();
    note.run();
    old.prepare('DELETE FROM notifications WHERE id = 2').run();
    old.close();
    const db = g.openStore({ stateDir });
    try {
      expect(g.listProperties(db).map((p) => [p.name, p.timeZone, p.utcOffsetMin, p.nextOffsetChange])).toEqual([
        ['NY', 'UTC-05:00', -300, null],
        ['London', 'UTC', 0, null],
        ['Delhi', 'UTC+05:30', 330, null],
        ['Kathmandu', 'UTC+05:45', 345, null],
      ]);
      expect(() => db.prepare('SELECT utc_offset_min FROM properties').all()).toThrow(/no such column/);
      // That lock knows its (fixed) zone already: no time sync and no Door Sync task for it.
      expect(db.prepare('SELECT door_id AS d, offset_min AS o, next_at AS n, told_at AS t FROM door_time_state').all()).toEqual([{ d: 1, o: -300, n: null, t: 5 }]);
      expect(g.doorsWithStaleTime(db, Date.UTC(2027, 0, 1))).toEqual([]);
      // Id 2 was handed out before the rebuild and is never handed out again.
      const next = db.prepare("INSERT INTO notifications (property_id, kind, email, created_at) VALUES (1, 'welcome', 'c@example.com', 0)").run().lastInsertRowid;
      expect(next).toBe(3);
      const daily = db.prepare("INSERT INTO notifications (property_id, person_id, kind, email, created_at, local_day) VALUES (1, NULL, 'daily', 'a@example.com', 0, ?)");
      expect(() => db.prepare("INSERT INTO notifications (property_id, kind, email, created_at) VALUES (1, 'daily', 'a@example.com', 0)").run()).toThrow(/CHECK/);
      expect(() => daily.run('2027-3-1')).toThrow(/CHECK/);
      expect(() => db.prepare("INSERT INTO notifications (property_id, kind, email, created_at) VALUES (1, 'sms', 'a@example.com', 0)").run()).toThrow(/CHECK/);
      daily.run('2027-03-01');
    } finally {
      db.close();
    }
  });
});
