import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MIGRATIONS, migrate, type Migration } from './migrations.js';

export type Db = Database.Database;

export const STATE_DIR_ENV = 'LATCHKIT_STATE_DIR';
export const DB_FILE_NAME = 'latchkit.db';

/** `.latchkit/` under `cwd`, unless LATCHKIT_STATE_DIR names another directory. */
export function defaultStateDir(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[STATE_DIR_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? resolve(cwd, fromEnv) : join(cwd, '.latchkit');
}

export interface OpenStoreOptions {
  /** Directory holding `latchkit.db`; created if missing. Ignored when `file` is given. */
  stateDir?: string;
  /** An explicit database file, or `:memory:` for tests. */
  file?: string;
  /** Override the migration list (tests of the migration runner). */
  migrations?: readonly Migration[];
  now?: () => number;
}

/**
 * Opens (creating on first run) the gateway's SQLite store and migrates it to the current schema.
 */
export function openStore(options: OpenStoreOptions = {}): Db {
  let file = options.file;
  if (file === undefined) {
    const dir = options.stateDir ?? defaultStateDir();
    mkdirSync(dir, { recursive: true });
    file = join(dir, DB_FILE_NAME);
  }
  const db = new Database(file);
  try {
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: a committed revocation must survive a power cut, and access changes are rare.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // The CLI and a running `latchkit serve` may share the file; wait instead of failing at once.
    db.pragma('busy_timeout = 5000');
    migrate(db, options.migrations ?? MIGRATIONS, options.now);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
