import type { Db } from './db.js';

/**
 * Migration 8: row ids the API hands out are never handed out again.
 *
 * A rowid table (`id INTEGER PRIMARY KEY`) gives a new row max(id) + 1, so deleting the newest
 * unit, door, person... and creating another gave the new one the deleted one's id: a client
 * holding the old id (a bookmark, a retried DELETE, a CSV error report, a log line) then acted on
 * a different thing. With AUTOINCREMENT, SQLite keeps the largest id ever used in
 * sqlite_sequence and never goes below it.
 *
 * SQLite cannot add AUTOINCREMENT to a table, so each table below is rebuilt following its
 * documented table-rebuild procedure (https://www.sqlite.org/lang_altertable.html#otheralter):
 * with foreign key enforcement off (the runner does that: the pragma is a no-op inside a
 * transaction, and with it on, dropping the old table would cascade to every child row),
 * create the new table, copy, drop the old one, rename, recreate its indexes, then
 * `PRAGMA foreign_key_check` before the commit. Every trigger of the schema is dropped first and
 * recreated last, exactly as it was: their bodies name the rebuilt tables, and SQLite refuses to
 * rename a table while a trigger refers to a table that does not exist at that moment.
 *
 * The new tables are the stored definitions (columns, constraints, foreign keys, the columns
 * later migrations added) with only `id INTEGER PRIMARY KEY` becoming `... AUTOINCREMENT`.
 * sqlite_sequence starts at each table's current max(id): ids deleted before this migration
 * (above the current maximum) cannot be known any more; from here on none is reused.
 *
 * Not rebuilt: properties, activity and pms_sync_runs (never deleted, so their max id never goes
 * down); door_changes, the journal (its rows go only with their door, no route takes a change id,
 * the per-door watermarks only compare a door's own rows, and it is the hottest insert path: one
 * row per door per access change, where AUTOINCREMENT added 20-30 % to a bare insert, measured); internal
 * tables whose ids the API does not show (issuer_keys, anchor_updates); tables keyed by another
 * table's id. access_touches is AUTOINCREMENT already (migration 6).
 */
export const ID_REUSE_TABLES = [
  'units',
  'doors',
  'keys',
  'people',
  'grants',
  'keycards',
  'phone_keys',
  'api_tokens',
  'notifications',
  'csv_imports',
  'access_suggestions',
  'pms_alerts',
] as const;

const ROWID_ID = /\bid\s+INTEGER\s+PRIMARY\s+KEY\b(?!\s+AUTOINCREMENT)/gi;
const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The stored CREATE TABLE of `table`, renamed to `to`, with its id made AUTOINCREMENT. */
export function autoincrementDefinition(sql: string, table: string, to: string): string {
  const head = /^CREATE\s+TABLE\s+("(?:[^"]|"")+"|\w+)\s*\(/i.exec(sql);
  if (!head) throw new Error(`table ${table}: unexpected definition ${sql.slice(0, 60)}`);
  const ids = sql.match(ROWID_ID) ?? [];
  if (ids.length !== 1) throw new Error(`table ${table}: expected one "id INTEGER PRIMARY KEY" column, found ${ids.length}`);
  return `CREATE TABLE ${q(to)} (${sql.slice(head[0].length).replace(ROWID_ID, 'id INTEGER PRIMARY KEY AUTOINCREMENT')}`;
}

export function rebuildWithAutoincrement(db: Db, tables: readonly string[] = ID_REUSE_TABLES): void {
  if (db.pragma('foreign_keys', { simple: true }) !== 0) {
    throw new Error('the table rebuild needs foreign key enforcement off (run it as a foreignKeysOff migration)');
  }
  const triggers = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY rowid").all() as { name: string; sql: string }[];
  for (const t of triggers) db.exec(`DROP TRIGGER ${q(t.name)}`);

  const definition = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck();
  const indexes = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY rowid").pluck();
  for (const table of tables) {
    const sql = definition.get(table) as string | undefined;
    if (sql === undefined) throw new Error(`table ${table} does not exist`);
    const info = db.pragma(`table_info(${q(table)})`) as { name: string; type: string; pk: number }[];
    const pk = info.filter((c) => c.pk > 0);
    if (pk.length !== 1 || pk[0]!.name !== 'id' || pk[0]!.type.toUpperCase() !== 'INTEGER') throw new Error(`table ${table}: id is not its rowid`);
    const tableIndexes = indexes.all(table) as string[];
    const columns = info.map((c) => q(c.name)).join(', ');
    const temp = `${table}_v8`;
    db.exec(autoincrementDefinition(sql, table, temp));
    db.exec(`INSERT INTO ${q(temp)} (${columns}) SELECT ${columns} FROM ${q(table)} ORDER BY id`);
    db.exec(`DROP TABLE ${q(table)}`);
    db.exec(`ALTER TABLE ${q(temp)} RENAME TO ${q(table)}`);
    for (const index of tableIndexes) db.exec(index);
    // Continue above the largest id in use (the copy already did; said explicitly, it survives any rename detail).
    db.prepare('DELETE FROM sqlite_sequence WHERE name IN (?, ?)').run(table, temp);
    db.prepare(`INSERT INTO sqlite_sequence (name, seq) SELECT ?, max(id) FROM ${q(table)} HAVING count(*) > 0`).run(table);
  }

  for (const t of triggers) db.exec(t.sql);
}
