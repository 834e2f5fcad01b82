import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { cliIn, tempDirPerTest } from './helpers.js';

const BIN = join(import.meta.dirname, '..', '..', 'gateway', 'bin', 'latchkit.js');
const tempDirFor = tempDirPerTest();

function cli() {
  return cliIn(tempDirFor());
}

async function seeded(c: ReturnType<typeof cli>) {
  const prop = await c.json('property', 'create', '--name', 'Elm Court', '--utc-offset', '-300');
  const lobby = await c.json('door', 'create', '--property', String(prop.id), '--name', 'Lobby', '--lock-id', '00000000000000a1');
  const gym = await c.json('door', 'create', '--property', String(prop.id), '--name', 'Gym', '--lock-id', '00000000000000a2', '--online', 'gw-1');
  const key = await c.json('key', 'create', '--property', String(prop.id), '--name', 'Entrances', '--doors', `${lobby.id},${gym.id}`, '--communal', '--may-share');
  return { prop, lobby, gym, key };
}

describe('latchkit CLI', () => {
  it('creates the store under .latchkit in the working directory on first use', async () => {
    const c = cli();
    const status = await c.json('status');
    expect(status).toEqual({ stateDir: join(c.dir, '.latchkit'), schemaVersion: g.MIGRATIONS.length, properties: 0, pendingDoors: 0 });
    const other = await c.json('--state-dir', 'elsewhere', 'status');
    expect(other.stateDir).toBe(join(c.dir, 'elsewhere'));
  });

  it('runs the invite / revoke / re-grant / delete flow against the state directory', async () => {
    const c = cli();
    const { prop, lobby, key } = await seeded(c);
    const inv = await c.json('person', 'invite', '--property', String(prop.id), '--email', 'jane@example.com', '--first', 'Jane', '--last', 'Doe', '--keys', String(key.id), '--may-share', '--start', '2030-01-01', '--expires', '2031-01-01');
    expect(inv.created).toBe(true);
    expect(inv.person.status).toBe('scheduled');
    expect(inv.grants[0]).toMatchObject({ startsAt: '2030-01-01T05:00:00.000Z', expiresAt: '2031-01-01T05:00:00.000Z' });
    const id = String(inv.person.id);

    const human = await c.run('person', 'invite', '--property', String(prop.id), '--email', 'JANE@example.com', '--first', 'J', '--last', 'D', '--keys', String(key.id));
    expect(human.code).toBe(0);
    expect(human.out).toContain('already exists');
    expect(human.out).toContain('warning EXPIRATION_RECOMMENDED');

    const guest = await c.json('guest', 'invite', id, '--email', 'gus@example.com', '--first', 'Gus', '--last', 'Guest', '--keys', String(key.id));
    expect(guest.grants[0].sharedBy).toBe(inv.person.id);
    const card = await c.json('keycard', 'activate', id, '--uid', '04a1b2c3');
    expect(card.uid).toBe('04a1b2c3');
    const reset = await c.json('doorcode', 'reset', id);
    expect(reset.doorcode).toMatch(/^\d{6}$/);
    expect((await c.json('doorcode', 'show', id)).doorcode).toBe(reset.doorcode);

    const revoked = await c.json('person', 'revoke-all', id);
    expect(revoked.status).toBe('revoked');
    expect(await c.json('grant', 'list', String(guest.guest.id))).toEqual([]);
    expect(await c.json('person', 'list', '--property', String(prop.id))).toEqual([]);
    expect((await c.json('person', 'list', '--property', String(prop.id), '--all')).map((p: { email: string }) => p.email).sort()).toEqual(['gus@example.com', 'jane@example.com']);

    const regrant = await c.json('grant', 'add', id, '--keys', String(key.id), '--expires', '2031-06-30');
    const grantId = String(regrant.grants[0].id);
    expect((await c.json('grant', 'update', grantId, '--expires', 'none')).expiresAt).toBeNull();
    const creds = await c.json('door', 'credentials', String(lobby.id));
    expect(creds.map((x: { kind: string }) => x.kind)).toEqual(['doorcode', 'keycard']);

    const tasks = await c.json('sync-tasks', '--property', String(prop.id), '--connectivity', 'offline');
    expect(tasks.map((t: { doorId: number }) => t.doorId)).toEqual([lobby.id]);
    expect(tasks[0].changes.map((x: { reason: string }) => x.reason)).toContain('revoked all keys of Jane Doe');

    await c.json('person', 'delete', id);
    const gone = await c.run('person', 'show', id);
    expect(gone.code).toBe(1);
    expect(gone.err).toBe(`error PERSON_NOT_FOUND: person ${id} does not exist`);
    const activity = await c.json('activity', '--property', String(prop.id), '--holder', String(inv.person.holderRef));
    expect(activity.map((a: { action: string }) => a.action)).toContain('person.deleted');
  });

  it('reports refusals as one line with the stable code, exit status 1; --json as JSON on stderr', async () => {
    const c = cli();
    const { prop } = await seeded(c);
    const dup = await c.run('door', 'create', '--property', String(prop.id), '--name', 'X', '--lock-id', '00000000000000A1');
    expect(dup).toEqual({ code: 1, out: '', err: 'error LOCK_ID_TAKEN: lock id 00000000000000a1 already belongs to another door' });
    const asJson = await c.run('--json', 'person', 'show', '99');
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.err)).toEqual({ error: { code: 'PERSON_NOT_FOUND', message: 'person 99 does not exist' } });
    const badTime = await c.run('person', 'invite', '--property', String(prop.id), '--email', 'a@b.co', '--first', 'A', '--last', 'B', '--keys', '1', '--expires', 'soon');
    expect(badTime.err).toMatch(/^error INVALID_TIME: /);
  });

  it('rejects bad arguments with VALIDATION_FAILED and exit status 2', async () => {
    const c = cli();
    for (const args of [['person', 'show', 'abc'], ['door', 'list'], ['nonsense'], ['token', 'create', '--name', 'x', '--role', 'janitor']]) {
      const r = await c.run(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/^error VALIDATION_FAILED: [^\n]+$/);
    }
    expect((await c.run('--help')).code).toBe(0);
  });

  it('creates API tokens whose secret authenticates, and lists them without secrets', async () => {
    const c = cli();
    const { prop } = await seeded(c);
    const t = await c.json('token', 'create', '--name', 'desk', '--role', 'property_manager', '--property', String(prop.id), '--key-management');
    expect(t.token).toMatchObject({ role: 'property_manager', keyManagement: true, propertyId: prop.id });
    const db = g.openStore({ stateDir: join(c.dir, '.latchkit') });
    expect(g.authenticate(db, t.secret)).toMatchObject({ name: 'desk', keyManagement: true });
    db.close();
    expect(JSON.stringify(await c.json('token', 'list'))).not.toContain(t.secret);
    const pmNoProperty = await c.run('token', 'create', '--name', 'x', '--role', 'property_manager');
    expect(pmNoProperty.err).toMatch(/^error INVALID_ARGUMENT: /);
  });
});

describe('latchkit binary', () => {
  it('runs through the bin shim with exit codes', () => {
    const dir = tempDirFor();
    const ok = spawnSync(process.execPath, [BIN, '--json', 'status'], { cwd: dir, encoding: 'utf8', env: { ...process.env, LATCHKIT_STATE_DIR: '' } });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).stateDir).toBe(join(dir, '.latchkit'));
    const bad = spawnSync(process.execPath, [BIN, 'property', 'show', '7'], { cwd: dir, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('error PROPERTY_NOT_FOUND: property 7 does not exist');
  });

  it('`latchkit serve` listens on 127.0.0.1 and answers with the store it was given', async () => {
    const dir = tempDirFor();
    const db = g.openStore({ stateDir: dir });
    g.createProperty(db, { name: 'Served', utcOffsetMin: 0 });
    const { secret } = g.createToken(db, { name: 'root', role: 'portfolio_manager' });
    db.close();
    const child = spawn(process.execPath, [BIN, '--json', '--state-dir', dir, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        child.on('exit', (code) => reject(new Error(`serve exited early (${code})`)));
      });
      const { listening } = JSON.parse(line) as { listening: string };
      expect(listening).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${listening}/properties`, { headers: { authorization: `Bearer ${secret}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { name: string }[]).map((p) => p.name)).toEqual(['Served']);
      expect((await fetch(`${listening}/properties`)).status).toBe(401);
    } finally {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
