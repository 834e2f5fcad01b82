import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/db.js';
import { systemClock, type Clock } from '../time.js';

/** Who is acting and when. Every model function takes one; tests pass a fixed clock. */
export interface Ctx {
  now?: Clock;
  /** Recorded in the activity log for access changes ("token: front desk", "cli"). */
  actor?: string;
}

export function nowOf(ctx: Ctx): number {
  return (ctx.now ?? systemClock)();
}

export function actorOf(ctx: Ctx): string {
  return ctx.actor ?? 'system';
}

const cache = new WeakMap<Db, Map<string, Statement>>();

/** Prepared statements are cached per connection: compiling SQL dominates small queries. */
export function stmt(db: Db, sql: string): Statement {
  let perDb = cache.get(db);
  if (!perDb) {
    perDb = new Map();
    cache.set(db, perDb);
  }
  let s = perDb.get(sql);
  if (!s) {
    s = db.prepare(sql);
    perDb.set(sql, s);
  }
  return s;
}

export function one<T>(db: Db, sql: string, ...params: unknown[]): T | undefined {
  return stmt(db, sql).get(...params) as T | undefined;
}

export function all<T>(db: Db, sql: string, ...params: unknown[]): T[] {
  return stmt(db, sql).all(...params) as T[];
}

const rawCache = new WeakMap<Db, Map<string, Statement>>();

/** Rows as arrays, for hot paths: building one object per row dominated large compiles. */
export function allRaw<T extends unknown[]>(db: Db, sql: string, ...params: unknown[]): T[] {
  let perDb = rawCache.get(db);
  if (!perDb) {
    perDb = new Map();
    rawCache.set(db, perDb);
  }
  let s = perDb.get(sql);
  if (!s) {
    s = db.prepare(sql).raw(true);
    perDb.set(sql, s);
  }
  return s.all(...params) as T[];
}

export function run(db: Db, sql: string, ...params: unknown[]): { changes: number; lastInsertRowid: number } {
  const r = stmt(db, sql).run(...params);
  return { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) };
}

/** Runs `fn` in a transaction (a savepoint when already inside one). */
export function tx<T>(db: Db, fn: () => T): T {
  return db.transaction(fn)();
}

export const bool = (v: number): boolean => v === 1;
export const bit = (v: boolean): 0 | 1 => (v ? 1 : 0);

export function uniq(ids: Iterable<number>): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}
