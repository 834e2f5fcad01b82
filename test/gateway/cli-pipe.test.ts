/**
 * `latchkit … | head`: a reader that closes the pipe early is the reader's choice, not an error.
 * The real binary (gateway/bin/latchkit.js) runs with stdout on a pipe whose reader takes the
 * first chunk and closes it (or closes it before anything was written); every command must then
 * exit 0 quietly, with no stack trace on stderr.
 *
 * The outputs are far larger than a pipe's buffer (64 KiB on Linux), so the command is still
 * writing when the reader goes away and really meets EPIPE.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { openLockDir } from '../../simulator/src/lock/index.js';
import { tempDirPerTest } from './helpers.js';

const BIN = join(import.meta.dirname, '..', '..', 'gateway', 'bin', 'latchkit.js');
const dir = tempDirPerTest();


interface PipeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Bytes the reader took before it closed the pipe. */
  read: number;
}

/**
 * Runs the binary with stdout on a pipe. `closeAt: 'first-chunk'` reads one chunk and destroys
 * the stream; `'before-output'` destroys it at once, before the command (still starting) writes.
 */
function runClosingEarly(args: string[], closeAt: 'first-chunk' | 'before-output', cwd: string): Promise<PipeRun> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LATCHKIT_STATE_DIR: '' } });
  let read = 0;
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (stderr += d));
  if (closeAt === 'before-output') child.stdout.destroy();
  else {
    child.stdout.once('data', (d: Buffer) => {
      read = d.length;
      child.stdout.destroy();
    });
  }
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr, read }));
  });
}

function expectQuietExit(r: PipeRun): void {
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
  expect(r.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
  expect(r.stderr).toBe('');
}

describe('every CLI command exits quietly on a closed pipe', () => {
  it('`latchkit lock state <dir>` with thousands of event lines', async () => {
    const lockDir = join(dir(), 'lock');
    const device = openLockDir(lockDir, { create: { lockId: Uint8Array.from([0x4c, 0x4b, 0, 0, 0, 0, 0x0e, 0x01]), profile: 'lobby' } });
    try {
      for (let i = 0; i < 6000; i++) device.firmware.reportTamper(i & 0xff);
    } finally {
      device.close();
    }
    const r = await runClosingEarly(['lock', 'state', lockDir, '--events', '8192'], 'first-chunk', dir());
    expect(r.read).toBeGreaterThan(0);
    expectQuietExit(r);
  }, 60_000);

  it('`latchkit person list` of a large property, as JSON (one 450 kB write) and as a table', async () => {
    const stateDir = dir();
    const db = g.openStore({ stateDir });
    try {
      const prop = g.createProperty(db, { name: 'Elm Court', utcOffsetMin: 0 });
      const lobby = g.createDoor(db, prop.id, { name: 'Lobby', lockId: '00000000000000a1', connectivity: 'offline' });
      const key = g.createKey(db, prop.id, { name: 'Entrances', kind: 'communal', doorIds: [lobby.id], mayShare: false, doorcodesDisabled: false });
      db.transaction(() => {
        // 1,000 people: as many as `person list` shows.
        for (let i = 0; i < 1000; i++) {
          g.invitePerson(db, prop.id, { email: `resident-${i}@example.com`, firstName: `Resident${i}`, lastName: 'Longname-Of-The-Building', accessType: 'app', keyIds: [key.id] });
        }
      })();
    } finally {
      db.close();
    }
    const r = await runClosingEarly(['--json', '--state-dir', stateDir, 'person', 'list', '--property', '1'], 'first-chunk', dir());
    expect(r.read).toBeGreaterThan(0);
    expectQuietExit(r);
    // The table is ~110 kB, too close to the pipe's buffer to be sure a first-chunk reader is
    // still gone before it is all written: close the pipe before the command writes at all.
    expectQuietExit(await runClosingEarly(['--state-dir', stateDir, 'person', 'list', '--property', '1'], 'before-output', dir()));
  }, 60_000);

  it('`latchkit --help` (and a subcommand help) with the pipe closed before it writes', async () => {
    expectQuietExit(await runClosingEarly(['--help'], 'before-output', dir()));
    expectQuietExit(await runClosingEarly(['person', '--help'], 'before-output', dir()));
  }, 60_000);
});
