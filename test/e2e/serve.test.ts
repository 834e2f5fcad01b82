/**
 * `latchkit serve --radio virtual`: the API and the world (a simulated lock for every door in
 * the store, the gateway radio) in one process. A fresh lock is commissioned and synced without
 * any call, and a change made in the store while it runs reaches the lock by itself.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';

async function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('latchkit serve with a radio', () => {
  it('commissions, syncs and keeps pushing an online door of the store, with no fleet file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-serve-'));
    try {
      const db = g.openStore({ stateDir: dir });
      const prop = g.createProperty(db, { name: 'Serve Court', utcOffsetMin: 0 }, {});
      const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '4c4b0000000000c1', connectivity: 'online', gatewayRadio: 'gw-1' }, {});
      const key = g.createKey(db, prop.id, { name: 'Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: false, doorcodesDisabled: false }, {});
      const jane = g.invitePerson(db, prop.id, { email: 'jane@serve.example', firstName: 'Jane', lastName: 'Doe', accessType: 'app', isResident: true, mayShare: false, keyIds: [key.id] }, {}).person;
      db.close();

      const out: string[] = [];
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      const running = g.runCli(['--state-dir', dir, 'serve', '--port', '0', '--radio', 'virtual', '--sync-interval', '50'], {
        out: (t) => out.push(t),
        err: (t) => out.push(`ERR ${t}`),
        cwd: dir,
        env: {},
        untilStopped: () => stopped,
      });
      const synced = () => out.filter((l) => l.startsWith('gw-1 synced door')).length;
      await until(() => synced() >= 1, 20_000);
      expect(out.join('\n')).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ .*the simulated world on the virtual radio: 1 locks, gateway radios gw-1/);
      expect(existsSync(join(dir, 'locks', '4c4b0000000000c1', 'factory.json'))).toBe(true);

      // A change made while serve runs (another process, e.g. the CLI) reaches the lock by itself.
      const db2 = g.openStore({ stateDir: dir });
      g.revokeAllKeys(db2, jane.id, {});
      await until(() => synced() >= 2, 20_000);
      const state = g.doorSyncState(db2, lobby.id);
      expect(state.enforcedSeq).toBe(state.compiledSeq);
      expect(state.enforcedSeq).toBeGreaterThanOrEqual(2);
      db2.close();
      stop();
      expect(await running).toBe(0);
      expect(out.filter((l) => l.startsWith('ERR'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --fleet: the world runs every door of the store itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-serve-'));
    const out: string[] = [];
    try {
      const code = await g.runCli(['--state-dir', dir, 'serve', '--port', '0', '--fleet', 'x.json'], { out: (t) => out.push(t), err: (t) => out.push(t), cwd: dir, env: {}, untilStopped: async () => undefined });
      expect(code).not.toBe(0);
      expect(out.join('\n')).toMatch(/--fleet is no longer needed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a port in use fails cleanly: non-zero exit, and the radio and store it opened are closed again', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-serve-'));
    const out: string[] = [];
    try {
      const code = await g.runCli(['--state-dir', dir, 'serve', '--port', String(port), '--radio', 'virtual'], { out: (t) => out.push(t), err: (t) => out.push(t), cwd: dir, env: {}, untilStopped: async () => undefined });
      expect(code).not.toBe(0);
      expect(out.join('\n')).toMatch(/EADDRINUSE/);
      // The store was closed: a new connection can take an exclusive transaction at once.
      const db = g.openStore({ stateDir: dir });
      db.exec('BEGIN EXCLUSIVE; COMMIT;');
      db.close();
    } finally {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
