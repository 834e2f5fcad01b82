/**
 * `latchkit serve --radio virtual`: the API and the world (a simulated lock for every door in
 * the store, the gateway radio) in one process. A fresh lock is commissioned and synced without
 * any call, and a change made in the store while it runs reaches the lock by itself.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyId, toHex } from '@latchkit/protocol';
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

  it('--signer: a property whose key the store does not hold is commissioned and synced through the module', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-serve-'));
    try {
      // The key lives with the signer module (here: in its file, as PKCS#8); the store gets its public half.
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
      const kid = toHex(keyId(raw));
      const db = g.openStore({ stateDir: dir });
      const prop = g.createProperty(db, { name: 'Signer Court', utcOffsetMin: 0 }, {});
      const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '4c4b0000000000c2', connectivity: 'online', gatewayRadio: 'gw-1' }, {});
      g.addIssuerKey(db, { propertyId: prop.id, kid, publicKey: raw, activate: true }, {});
      db.close();
      const module = join(dir, 'signer.mjs');
      writeFileSync(
        module,
        `import { createPrivateKey, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
const key = createPrivateKey({ key: Buffer.from('${Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' })).toString('hex')}', 'hex'), format: 'der', type: 'pkcs8' });
const signer = { publicKey: Uint8Array.from(Buffer.from('${toHex(raw)}', 'hex')), kid: Uint8Array.from(Buffer.from('${kid}', 'hex')), sign: async (m) => new Uint8Array(sign(null, m, key)) };
export const signerFor = (issuer) => (Buffer.from(issuer.kid).toString('hex') === '${kid}' ? signer : undefined);
export const close = () => writeFileSync(${JSON.stringify(join(dir, 'signer-closed'))}, 'yes');
`,
      );
      const out: string[] = [];
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      const running = g.runCli(['--state-dir', dir, 'serve', '--port', '0', '--radio', 'virtual', '--sync-interval', '50', '--signer', module], {
        out: (t) => out.push(t),
        err: (t) => out.push(`ERR ${t}`),
        cwd: dir,
        env: {},
        untilStopped: () => stopped,
      });
      await until(() => out.some((l) => l.startsWith('gw-1 synced door')), 20_000);
      const db2 = g.openStore({ stateDir: dir });
      expect(g.lockIdentity(db2, lobby.id)).toBeDefined();
      expect(g.doorSyncState(db2, lobby.id).enforcedSeq).toBe(1);
      expect(db2.prepare('SELECT count(*) FROM issuer_keys WHERE secret_sealed IS NOT NULL').pluck().get()).toBe(0);
      db2.close();
      stop();
      expect(await running).toBe(0);
      expect(out.filter((l) => l.startsWith('ERR'))).toEqual([]);
      expect(existsSync(join(dir, 'signer-closed'))).toBe(true);

      // A module that exports no signerFor is refused before the server starts.
      const wrong = join(dir, 'not-a-signer.mjs');
      writeFileSync(wrong, 'export const nothing = 1;\n');
      const bad: string[] = [];
      expect(await g.runCli(['--state-dir', dir, 'serve', '--port', '0', '--signer', wrong], { out: (t) => bad.push(t), err: (t) => bad.push(t), cwd: dir, env: {}, untilStopped: async () => undefined })).not.toBe(0);
      expect(bad.join('\n')).toMatch(/must export a function signerFor/);
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
