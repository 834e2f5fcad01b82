/**
 * The demo property in a running world on a temporary state directory, its loops off (tests
 * drive every step): what the world, schedule and console tests start from.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as g from '../../gateway/src/index.js';

export interface DemoWorld {
  dir: string;
  db: g.Db;
  world: g.World;
  demo: g.DemoProperty;
  close(): Promise<void>;
}

export async function openDemoWorld(o: { units: number; seed: number }): Promise<DemoWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkit-demo-world-'));
  const db = g.openStore({ stateDir: dir });
  const world = await g.World.open({ db, stateDir: dir, seed: o.seed, syncIntervalMs: 0, collectIntervalMs: 0, findTimeoutMs: 1_000 });
  const demo = g.seedDemoProperty(db, world, { units: o.units, seed: o.seed });
  await world.refresh();
  return {
    dir,
    db,
    world,
    demo,
    close: async () => {
      await world.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Moves the world's clock forward to an instant (UTC ISO), half a minute in: a lock's clock may
 * trail by a second. Refuses to go back (the world clock never does).
 */
export function goTo(world: g.World, iso: string): void {
  const target = Date.parse(iso) + 30_000;
  if (!(target > world.clock.now())) throw new Error(`goTo ${iso}: the world is already at ${new Date(world.clock.now()).toISOString()}`);
  world.clock.advance(target - world.clock.now());
}
