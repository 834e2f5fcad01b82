/**
 * One person, one door, two disjoint windows (two keys, each with its own window): a set carries
 * one window per credential, so the door's set holds the first; the gateway records when it ends
 * and, at that instant, its running sync engine compiles the door again and pushes the second
 * window as a future start. The person opens the door in both windows and not in the gap.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { cliIn } from '../gateway/helpers.js';

let dir: string;
let db: g.Db;
let world: g.World;
let demo: g.DemoProperty;
let cli: ReturnType<typeof cliIn>;
const json = (...args: string[]) => cli.json('--state-dir', dir, ...args);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkit-windows-'));
  db = g.openStore({ stateDir: dir });
  // The gateway loops run (every 100 ms) as under `latchkit serve`: nothing in the test pushes.
  world = await g.World.open({ db, stateDir: dir, seed: 21, syncIntervalMs: 100, collectIntervalMs: 0, findTimeoutMs: 1_000 });
  demo = g.seedDemoProperty(db, world, { units: 10, seed: 21 });
  await world.refresh();
  world.start();
  cli = cliIn(dir);
}, 60_000);

afterAll(async () => {
  await world?.close();
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const until = async (what: string, ok: () => boolean, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('every window of a person at a door', () => {
  it('two disjoint windows: open in the first, shut in the gap, open in the second, shut after', async () => {
    const pid = demo.propertyId;
    const door = demo.online[2]!.id; // Fitness Center, served by gateway gw-1
    const synced = () => {
      const s = g.doorSyncState(db, door);
      return s.pendingChanges === 0 && s.enforcedSeq === s.compiledSeq && s.compiledSeq > 0;
    };
    await until('the first push', synced);

    // Windows a day apart, in the property's time zone (the demo property is UTC).
    const day = new Date(world.clock.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const next = new Date(world.clock.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    const morning = await json('key', 'create', '--property', String(pid), '--name', 'Gym morning', '--doors', String(door), '--communal');
    const evening = await json('key', 'create', '--property', String(pid), '--name', 'Gym evening', '--doors', String(door), '--communal');
    const inv = await json('person', 'invite', '--property', String(pid), '--email', 'win@example.com', '--first', 'Win', '--last', 'Dow', '--keys', String(morning.id), '--start', `${day}T08:00`, '--expires', `${day}T10:00`);
    const person = inv.person.id as number;
    await json('grant', 'add', String(person), '--keys', String(evening.id), '--start', `${next}T18:00`, '--expires', `${next}T20:00`);
    const code: string = (await json('doorcode', 'show', String(person))).doorcode;
    await until('the invite reaching the lock', synced);
    const first = g.doorSyncState(db, door).enforcedSeq;
    // The set holds the first window; the boundary is its end.
    expect(db.prepare('SELECT window_boundary_min AS b FROM door_sync_state WHERE door_id = ?').get(door)).toEqual({ b: Date.parse(`${day}T10:00:00Z`) / 60_000 });

    const at = async (iso: string) => {
      const target = Date.parse(iso) + 30_000;
      world.clock.advance(target - world.clock.now());
      // Let the gateway loop see the new time (it may push now).
      await new Promise((r) => setTimeout(r, 300));
      await until('the door to be in sync', synced);
      return g.keypad(world, pid, door, code);
    };
    expect(await at(`${day}T07:30:00Z`)).toMatchObject({ outcome: 'denied', reason: 'notYetValid' });
    expect(await at(`${day}T09:00:00Z`)).toMatchObject({ outcome: 'granted', personId: person });
    // The first window ended: the engine compiled the door again and pushed the second window.
    expect(await at(`${day}T10:01:00Z`)).toMatchObject({ outcome: 'denied', reason: 'notYetValid' });
    expect(g.doorSyncState(db, door).enforcedSeq).toBeGreaterThan(first);
    expect(await at(`${next}T12:00:00Z`)).toMatchObject({ outcome: 'denied', reason: 'notYetValid' });
    expect(await at(`${next}T18:30:00Z`)).toMatchObject({ outcome: 'granted', personId: person });
    expect(await at(`${next}T20:30:00Z`)).toMatchObject({ outcome: 'denied', reason: 'expired' });
    expect(db.prepare('SELECT window_boundary_min AS b FROM door_sync_state WHERE door_id = ?').get(door)).toEqual({ b: null });
  }, 120_000);
});
