import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { runCli, type CliIo } from '../../gateway/src/cli/main.js';

export const T0 = Date.UTC(2025, 5, 1, 12, 0, 0); // 2025-06-01T12:00Z
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** A store with a movable clock and the small property most tests need. */
export function fixture() {
  const db = g.openStore({ file: ':memory:' });
  const clock = { t: T0 };
  const ctx: g.Ctx = { now: () => clock.t, actor: 'test' };
  const prop = g.createProperty(db, { name: 'Elm Court', utcOffsetMin: -300 }, ctx);
  const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '00000000000000a1', connectivity: 'offline' }, ctx);
  const gym = g.createDoor(db, prop.id, { name: 'Gym', lockId: '00000000000000a2', connectivity: 'online', gatewayRadio: 'gw-1' }, ctx);
  const unit4b = g.createUnit(db, prop.id, { name: '4B' }, ctx);
  const door4b = g.createDoor(db, prop.id, { name: '4B front door', lockId: '00000000000000b4', connectivity: 'offline', unitId: unit4b.id }, ctx);
  const entrances = g.createKey(db, prop.id, { name: 'Resident Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: true, doorcodesDisabled: false }, ctx);
  const amenities = g.createKey(db, prop.id, { name: 'Amenities', kind: 'communal', doorIds: [gym.id], mayShare: false, doorcodesDisabled: true }, ctx);
  const key4b = g.createKey(db, prop.id, { name: 'Unit 4B', kind: 'residential', doorIds: [door4b.id], mayShare: true, doorcodesDisabled: false, unitId: unit4b.id }, ctx);
  return { db, clock, ctx, prop, lobby, gym, door4b, unit4b, entrances, amenities, key4b };
}

export type Fixture = ReturnType<typeof fixture>;

/** Invites a resident with sensible defaults; override anything. */
export function resident(f: Fixture, over: Partial<g.InviteInput> = {}) {
  return g.invitePerson(
    f.db,
    f.prop.id,
    {
      email: 'jane@example.com',
      firstName: 'Jane',
      lastName: 'Doe',
      accessType: 'app',
      isResident: true,
      mayShare: true,
      keyIds: [f.entrances.id, f.key4b.id],
      ...over,
    },
    f.ctx,
  );
}

export function minute(ms: number): number {
  return Math.floor(ms / MIN);
}

/** Runs `fn` and returns the GatewayError code it threw (fails the test if it did not throw one). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof g.GatewayError) return e.code;
    throw e;
  }
  throw new Error('expected a GatewayError, nothing was thrown');
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'latchkit-gw-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Temporary directories removed after each test: call at module scope (it registers the
 * afterEach), then call what it returns for a fresh directory.
 */
export function tempDirPerTest(): () => string {
  const made: Array<() => void> = [];
  afterEach(() => {
    while (made.length) made.pop()!();
  });
  return () => {
    const t = tempDir();
    made.push(t.cleanup);
    return t.dir;
  };
}

/**
 * The `latchkit` CLI in-process against a state directory: `run` gives exit code and output,
 * `json` the parsed `--json` output (throwing when the command fails), with what it wrote on
 * stderr (a paged list says "N more" there).
 */
export function cliIn(dir: string) {
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s), cwd: dir, env: {} };
    const code = await runCli(args, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const jsonWithErr = async (...args: string[]) => {
    const r = await run('--json', ...args);
    if (r.code !== 0) throw new Error(`latchkit ${args.join(' ')} failed: ${r.err}`);
    return { data: JSON.parse(r.out), err: r.err };
  };
  const json = async (...args: string[]) => (await jsonWithErr(...args)).data;
  return { dir, run, json, jsonWithErr };
}

/**
 * A property as a store before migration 12 holds it (a fixed `utc_offset_min`, no time zone):
 * for tests that seed an old store, where today's createProperty would write `time_zone`.
 */
export function legacyProperty(db: g.Db, name: string, utcOffsetMin = 0): { id: number } {
  const id = Number(db.prepare('INSERT INTO properties (name, utc_offset_min, doorcode_length, created_at) VALUES (?, ?, 6, 0)').run(name, utcOffsetMin).lastInsertRowid);
  return { id };
}

/** Clears the journal so a test sees only the changes it makes. */
export function drainJournal(db: g.Db): void {
  db.prepare('UPDATE door_sync_state SET compiled_through = journal_head').run();
}

export function pendingDoors(db: g.Db): number[] {
  return g.dirtyDoors(db).map((d) => d.doorId).sort((a, b) => a - b);
}
