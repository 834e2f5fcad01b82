/**
 * A lock directory is open in one place at a time: `openLockDir` holds `<dir>/lock.pid`, a second
 * open (same process or another one, e.g. `latchkit lock run` next to a running server) and
 * `inspectLockDir` are refused with LOCK_IN_USE without touching the directory, and a lock file
 * left by a dead process is taken over.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex } from '@latchkit/protocol';
import { nodeCryptoProvider as crypto } from '@latchkit/protocol/node';
import { SimulatorError } from '../../../simulator/src/errors.js';
import { inspectLockDir, LOCK_FILE, openLockDir, type LockDevice } from '../../../simulator/src/lock/index.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'gateway', 'bin', 'latchkit.js');
const LOCK_DIR_TS = join(ROOT, 'simulator', 'src', 'lock', 'lock-dir.ts');
const LOCK_ID = fromHex('4c4b0000000000aa');

const dirs: string[] = [];
const open: LockDevice[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of open.splice(0)) d.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'latchkit-lockpid-'));
  dirs.push(d);
  return d;
}

function openHeld(dir: string): ReturnType<typeof openLockDir> {
  const d = openLockDir(dir, { create: { lockId: LOCK_ID, profile: 'compact' }, crypto });
  open.push(d);
  return d;
}

function closeHeld(d: LockDevice): void {
  open.splice(open.indexOf(d), 1);
  d.close();
}

/** Every file of the directory with its content hash and modification time. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, `${createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')} ${statSync(join(dir, f)).mtimeMs}`]));
}

function caught(f: () => unknown): SimulatorError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SimulatorError);
    return e as SimulatorError;
  }
  throw new Error('expected a throw');
}

/** The pid of a process that has exited and been reaped: certainly not alive. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
  expect(r.status).toBe(0);
  expect(r.pid).toBeGreaterThan(0);
  return r.pid!;
}

function lockPid(dir: string): number {
  return Number(readFileSync(join(dir, LOCK_FILE), 'utf8').split('\n')[0]);
}

/** Run a module script in a child Node process with tsx (so it can import the TypeScript sources). */
function childScript(dir: string, body: string): string {
  const file = join(dir, '..', `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, `const { openLockDir } = await import(${JSON.stringify(LOCK_DIR_TS)});\n${body}\n`);
  return file;
}

/** Start `latchkit lock run --dir <dir>` and resolve once it holds the directory. */
async function startLockRun(dir: string): Promise<{ child: ChildProcessWithoutNullStreams; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'lock', 'run', '--dir', dir, '--id', '4c4b0000000000aa', '--device', 'compact'], { cwd: ROOT });
  children.push(child);
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  await new Promise<void>((ready, fail) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('lock directory')) ready();
    });
    void exited.then((code) => fail(new Error(`lock run exited (${code}) before it was ready: ${out} ${err}`)));
  });
  return { child, exited };
}

describe('lock.pid: one opener per lock directory', () => {
  it('a second open in the same process is refused with LOCK_IN_USE and changes nothing', () => {
    const dir = join(tmp(), 'lock');
    const first = openHeld(dir);
    first.firmware.reportTamper(1);
    expect(lockPid(dir)).toBe(process.pid);
    const before = snapshot(dir);
    const err = caught(() => openLockDir(dir, { crypto }));
    expect(err.code).toBe('LOCK_IN_USE');
    expect(err.wire).toBeNull();
    expect(err.message).toContain(`${dir} is held by process ${process.pid}`);
    expect(err.message).toMatch(/nothing was changed$/);
    // With create options too (the CLI always passes them), and again: still nothing written.
    expect(caught(() => openLockDir(dir, { create: { lockId: LOCK_ID }, crypto })).code).toBe('LOCK_IN_USE');
    expect(snapshot(dir)).toEqual(before);
    // The first device goes on working and still holds the directory.
    expect(first.firmware.events.nextIndex).toBe(2);
    expect(lockPid(dir)).toBe(process.pid);
  });

  it('close() releases the directory: it opens again (a new boot), and close is idempotent', () => {
    const dir = join(tmp(), 'lock');
    const first = openHeld(dir);
    closeHeld(first);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const again = openHeld(dir);
    expect(again.firmware.events.tail(5).map((e) => e.type)).toEqual(['boot', 'boot']);
    // Closing the old device again must not release the new holder's file.
    first.close();
    expect(lockPid(dir)).toBe(process.pid);
    expect(caught(() => openLockDir(dir, { crypto })).code).toBe('LOCK_IN_USE');
    closeHeld(again);
    expect(readdirSync(dir).filter((f) => f.startsWith(LOCK_FILE))).toEqual([]);
  });

  it('a lock.pid left by a dead process is taken over', () => {
    const dir = join(tmp(), 'lock');
    closeHeld(openHeld(dir));
    const dead = deadPid();
    writeFileSync(join(dir, LOCK_FILE), `${dead}\nsomehost\n2026-01-01T00:00:00.000Z\n`);
    const d = openHeld(dir);
    expect(lockPid(dir)).toBe(process.pid);
    expect(d.firmware.events.nextIndex).toBe(2);
    closeHeld(d);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    // Our own pid, but not held by us: left by an earlier process with the same pid (a restarted container).
    writeFileSync(join(dir, LOCK_FILE), `${process.pid}\nsomehost\n2026-01-01T00:00:00.000Z\n`);
    closeHeld(openHeld(dir));
    // An unreadable file that has sat there for a while (its creator died before writing the pid).
    writeFileSync(join(dir, LOCK_FILE), '');
    utimesSync(join(dir, LOCK_FILE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    closeHeld(openHeld(dir));
    // A fresh unreadable file is its creator still writing it: in use.
    writeFileSync(join(dir, LOCK_FILE), '');
    const err = caught(() => openLockDir(dir, { crypto }));
    expect(err.code).toBe('LOCK_IN_USE');
    expect(err.message).toMatch(/a process that is opening it right now/);
  });

  it('a stale lock.pid in a new directory does not make it "not empty"', () => {
    const dir = join(tmp(), 'lock');
    // A creation that crashed after taking the lock and before factory.json.
    mkdirSync(dir);
    writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
    const d = openHeld(dir);
    expect(d.factory.lockId).toBe('4c4b0000000000aa');
    closeHeld(d);
  });

  it('inspectLockDir refuses while the directory is held and reads it after close()', () => {
    const dir = join(tmp(), 'lock');
    const d = openHeld(dir);
    d.firmware.reportTamper(1);
    const before = snapshot(dir);
    const err = caught(() => inspectLockDir(dir));
    expect(err.code).toBe('LOCK_IN_USE');
    expect(snapshot(dir)).toEqual(before);
    closeHeld(d);
    const seen = inspectLockDir(dir);
    expect(seen.events.map((e) => e.type)).toEqual(['boot', 'tamper']);
    // A stale file does not stop a read, and the read leaves it as it is.
    writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
    expect(inspectLockDir(dir).summary.lockId).toBe('4c4b0000000000aa');
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
  });

  it('another process is refused while this one holds the directory: latchkit lock run and lock state exit 1 with LOCK_IN_USE', () => {
    const dir = join(tmp(), 'lock');
    const d = openHeld(dir);
    const before = snapshot(dir);
    for (const args of [['lock', 'run', '--dir', dir], ['lock', 'state', dir], ['--json', 'lock', 'state', dir]]) {
      const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', input: 'quit\n' });
      expect(r.status, `${args.join(' ')}: ${r.stdout} ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain('LOCK_IN_USE');
      expect(r.stderr).toContain(`is held by process ${process.pid} (a running latchkit serve or lock run)`);
    }
    const state = spawnSync(process.execPath, [BIN, 'lock', 'state', dir], { cwd: ROOT, encoding: 'utf8' });
    expect(state.stderr).toMatch(/exposes the door's state through its API/);
    expect(snapshot(dir)).toEqual(before);
    closeHeld(d);
    const after = spawnSync(process.execPath, [BIN, 'lock', 'state', dir], { cwd: ROOT, encoding: 'utf8' });
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/4c4b0000000000aa/);
  });

  it('while `latchkit lock run` holds it in another process, this one is refused; after it quits or is killed, it opens', async () => {
    const dir = join(tmp(), 'lock');
    closeHeld(openHeld(dir));

    // A clean quit removes the lock file.
    const run = await startLockRun(dir);
    expect(lockPid(dir)).toBe(run.child.pid);
    const before = snapshot(dir);
    const err = caught(() => openLockDir(dir, { crypto }));
    expect([err.code, err.details]).toEqual(['LOCK_IN_USE', { dir, pid: run.child.pid, lockFile: join(dir, LOCK_FILE) }]);
    expect(caught(() => inspectLockDir(dir)).code).toBe('LOCK_IN_USE');
    expect(snapshot(dir)).toEqual(before);
    run.child.stdin.end('quit\n');
    expect(await run.exited).toBe(0);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    // SIGKILL leaves a stale file naming a dead process; the next opener takes it over.
    const killed = await startLockRun(dir);
    expect(caught(() => openLockDir(dir, { crypto })).code).toBe('LOCK_IN_USE');
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(lockPid(dir)).toBe(killed.child.pid);
    const d = openHeld(dir);
    expect(lockPid(dir)).toBe(process.pid);
    closeHeld(d);
  });

  it('a process that exits without close() leaves no lock file', () => {
    const dir = join(tmp(), 'lock');
    closeHeld(openHeld(dir));
    const script = childScript(dir, `const d = openLockDir(${JSON.stringify(dir)}); process.stdout.write(String(process.pid));`);
    const r = spawnSync(process.execPath, ['--conditions=@latchkit/source', '--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(Number(r.stdout)).toBe(r.pid);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('of several processes racing for a stale lock file, exactly one gets the directory', async () => {
    const dir = join(tmp(), 'lock');
    closeHeld(openHeld(dir));
    writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
    const startAt = Date.now() + 2_500;
    // Each child spins until the common start time, tries to open, and holds what it got for a while.
    const script = childScript(
      dir,
      `while (Date.now() < ${startAt});
let d = null;
try { d = openLockDir(${JSON.stringify(dir)}); process.stdout.write('OK'); } catch (e) { process.stdout.write(String(e.code)); }
await new Promise((r) => setTimeout(r, 4000));
d?.close();`,
    );
    const results = await Promise.all(
      Array.from({ length: 6 }, () => {
        const c = spawn(process.execPath, ['--conditions=@latchkit/source', '--import', 'tsx', script], { cwd: ROOT });
        children.push(c);
        let out = '';
        let err = '';
        c.stdout.on('data', (b: Buffer) => (out += b.toString()));
        c.stderr.on('data', (b: Buffer) => (err += b.toString()));
        return new Promise<string>((r) => c.on('close', (code) => r(code === 0 ? out : `exit ${code}: ${err}`)));
      }),
    );
    expect(results.filter((r) => r === 'OK')).toHaveLength(1);
    expect(results.filter((r) => r === 'LOCK_IN_USE')).toHaveLength(5);
    expect(readdirSync(dir).filter((f) => f.startsWith(LOCK_FILE))).toEqual([]);
  });
});
