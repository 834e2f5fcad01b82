import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GatewayError } from '../errors.js';
import { attachKek, checkKek, createKekFile, defaultKekFile, findKek, memoryKek, type Kek } from './key-encryption.js';
import { SEALED_ISSUER_KEYS_VERSION } from './migration-009-sealed-issuer-keys.js';
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
  /**
   * The key-encryption key issuer secret keys are sealed under (32 bytes, or 64 hex digits).
   * Default: LATCHKIT_KEK, else the file LATCHKIT_KEK_FILE names, else `<state-dir>/kek` (for
   * `file`, `kek` beside it); a store not yet bound to a KEK gets that file created (mode 0600),
   * an in-memory store a random key per process. See store/key-encryption.ts.
   */
  kek?: Uint8Array | string;
  /** Environment the KEK is looked up in (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Directory a relative LATCHKIT_KEK_FILE (and the default state directory) is resolved against (default process.cwd()). */
  cwd?: string;
}

/**
 * Opens (creating on first run) the gateway's SQLite store and migrates it to the current schema.
 * A store whose issuer keys are sealed opens only with its key-encryption key: without one it
 * fails with KEK_REQUIRED, with another with KEK_MISMATCH, in both cases before it writes.
 */
export function openStore(options: OpenStoreOptions = {}): Db {
  let file = options.file;
  if (file === undefined) {
    const dir = options.stateDir ?? defaultStateDir(options.cwd ?? process.cwd(), options.env ?? process.env);
    mkdirSync(dir, { recursive: true });
    file = join(dir, DB_FILE_NAME);
  }
  const memory = file === ':memory:' || file === '';
  const configured = findKek({ kek: options.kek, env: options.env ?? process.env, cwd: options.cwd ?? process.cwd(), dbFile: memory ? null : resolve(file) });
  const db = new Database(file);
  try {
    // 16 KiB pages, for a new file (SQLite ignores this once a file has tables): a big door's set
    // body is half a megabyte, and writing four of them took 2.6 ms in 4 KiB pages against
    // 1.1 ms in 16 KiB ones (reading: 0.82 against 0.16 ms), measured on this project's machine.
    db.pragma('page_size = 16384');
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: a committed revocation must survive a power cut, and access changes are rare.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // The CLI and a running `latchkit serve` may share the file; wait instead of failing at once.
    db.pragma('busy_timeout = 5000');
    // Reads only: a wrong or missing key fails here, before any migration or other write.
    checkKek(db, configured, memory ? 'the kek option' : defaultKekFile(resolve(file)));
    const kek: Kek = configured ?? (memory ? memoryKek() : createKekFile(defaultKekFile(resolve(file))));
    attachKek(db, kek);
    const applied = migrate(db, options.migrations ?? MIGRATIONS, options.now);
    // The migration that sealed the issuer keys zeroed the pages that held them in the clear;
    // copy that into the file and empty the WAL, whose frames may hold those pages too.
    if (applied.includes(SEALED_ISSUER_KEYS_VERSION) && !memory) db.pragma('wal_checkpoint(TRUNCATE)');
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** Connections in WAL mode: only there does synchronous = NORMAL keep the file intact on a power cut. */
const walConnections = new WeakMap<Db, boolean>();
function inWal(db: Db): boolean {
  let wal = walConnections.get(db);
  if (wal === undefined) {
    wal = db.pragma('journal_mode', { simple: true }) === 'wal';
    walConnections.set(db, wal);
  }
  return wal;
}

/**
 * Runs `fn` in a transaction that commits without an fsync (synchronous = NORMAL, WAL mode) and
 * notes in the store that such a commit may not be on disk yet. Only for derived data the
 * journal can rebuild (compiled sets): a power cut can roll the commit back, never corrupt the
 * file, and a rolled-back compile leaves its journal rows pending, so it simply runs again. The
 * fsync a FULL commit costs here (6–20 ms measured on this project's virtual disk) was most of
 * "recompile after one change". Inside an outer transaction, or when the store is not in WAL
 * mode, the commit keeps the connection's own setting.
 */
export function relaxedCommit<T>(db: Db, fn: () => T): T {
  const body = db.transaction(() => {
    const r = fn();
    db.prepare('UPDATE store_durability SET pending = 1 WHERE id = 1 AND pending = 0').run();
    return r;
  });
  if (db.inTransaction || !inWal(db)) return body();
  const level = db.pragma('synchronous', { simple: true }) as number;
  db.pragma('synchronous = NORMAL');
  try {
    return body();
  } finally {
    db.pragma(`synchronous = ${level}`);
  }
}

/**
 * Makes every earlier commit durable before anything compiled leaves the gateway (a set handed
 * to a lock or a phone must never be rolled back, or its sequence number could be reused for
 * other bytes). Writes, and so fsyncs the WAL, only when a relaxed commit is pending; `extra`
 * runs in the same fsync'd transaction. Cheap when nothing is pending: one row read. Refuses to
 * run inside a caller's transaction while a relaxed commit is pending: there it could not
 * commit, and the caller would hand out bytes that may not be on disk.
 */
export function durableBarrier(db: Db, extra?: () => void): void {
  if (db.inTransaction) {
    const r = db.prepare('SELECT pending FROM store_durability WHERE id = 1').get() as { pending: number };
    if (r.pending === 1) throw new GatewayError('INTERNAL', 'a compiled set cannot be handed out inside a transaction while a compile is not yet on disk; call syncPayload outside transactions');
  }
  db.transaction(() => {
    extra?.();
    db.prepare('UPDATE store_durability SET pending = 0 WHERE id = 1 AND pending = 1').run();
  })();
}
