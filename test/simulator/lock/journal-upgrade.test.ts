/**
 * Lock directories from before the guard journal existed have no `journal.bin`: the file reads
 * as erased flash (no entry), the lock takes its lockout from the event log once, writes the
 * first journal entry, and from then on the journal is what counts.
 */
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ByteWriter } from '@latchkit/protocol';
import { deviceProfile, flashSizes, inspectLockDir, ManualClock, MemoryFlash, openLockDir } from '../../../simulator/src/lock/index.js';
import { GuardJournal } from '../../../simulator/src/lock/journal.js';
import { Backend, crypto, lockIdOf, resident, T0 } from './fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function lockDir(n: number): { dir: string; backend: Backend; clock: ManualClock; open: () => ReturnType<typeof openLockDir> } {
  const dir = join(mkdtempSync(join(tmpdir(), 'latchkit-journal-')), 'lock');
  dirs.push(join(dir, '..'));
  const backend = new Backend(lockIdOf(n));
  const clock = new ManualClock(T0 * 1000);
  const open = () => openLockDir(dir, { create: { lockId: backend.lockId, profile: 'compact', deviceSeed: backend.deviceSeed }, clock: clock.now, crypto });
  return { dir, backend, clock, open };
}

describe('a lock directory without journal.bin (written by the previous firmware)', () => {
  it('boots, keeps the lockout found in its event log, and writes the journal from then on', () => {
    const { dir, backend, clock, open } = lockDir(301);
    let d = open();
    d.firmware.commission(backend.commission(T0));
    d.firmware.applySetMessage(backend.full(1, resident(1, '111111')).bytes);
    for (let i = 0; i < d.profile.lockoutThreshold; i++) d.firmware.enterCode('000000');
    const until = d.firmware.lockedOutUntil;
    expect(until).not.toBeNull();
    d.close();
    // What the previous firmware left: the same cells, no journal file.
    unlinkSync(join(dir, 'journal.bin'));

    // Read-only inspection shows the lockout and creates nothing.
    expect(inspectLockDir(dir, { clock: clock.now }).summary.lockedOutUntil).toBe(until);
    expect(existsSync(join(dir, 'journal.bin'))).toBe(false);

    d = open();
    expect(d.firmware.lockedOutUntil).toBe(until);
    expect(d.firmware.enterCode('111111').reason).toBe('lockedOut');
    d.close();
    expect(existsSync(join(dir, 'journal.bin'))).toBe(true);
    // From the journal now (the event log is no longer consulted).
    d = open();
    expect(d.firmware.lockedOutUntil).toBe(until);
    d.close();
  });

  it('boots with no lockout when the log holds none', () => {
    const { dir, backend, open } = lockDir(302);
    let d = open();
    d.firmware.commission(backend.commission(T0));
    d.firmware.applySetMessage(backend.full(1, resident(1, '111111')).bytes);
    d.firmware.enterCode('000000');
    d.close();
    unlinkSync(join(dir, 'journal.bin'));
    d = open();
    expect(d.firmware.lockedOut).toBe(false);
    expect(d.firmware.summary().keypad).toEqual({ failures: 1, lockoutLevel: 0 });
    expect(d.firmware.enterCode('111111').granted).toBe(true);
    d.close();
  });
});

describe('a guard journal written by the previous firmware (entry layout 1)', () => {
  it('still reads: lockout, clock floor, RTC-loss margin and dropped-noise counter, with no offset time', () => {
    const profile = deviceProfile('compact');
    const flash = new MemoryFlash(flashSizes(profile));
    // Layout 1: magic, version 1, level, seq, failures, reserved u16, lockoutUntil, floor, uncertainUntil, dropped, check.
    const body = new ByteWriter(28).u16(0x4c47).u8(1).u8(2).u32(7).u16(3).u16(0).u32(T0 + 50).u32(T0).u32(T0 + 600).u32(9).finish();
    const entry = new Uint8Array(32);
    entry.set(body);
    entry.set(crypto.sha256(body).subarray(0, 4), 28);
    flash.program('journal', 0, entry);
    const { state } = GuardJournal.open(flash, profile, crypto);
    expect(state).toEqual({ keypadFailures: 3, lockoutLevel: 2, lockoutUntil: T0 + 50, clockFloor: T0, clockUncertainUntil: T0 + 600, droppedNoise: 9, offsetIssuedAt: 0 });
    // What layout 2 writes reads back the same, with the offset time.
    const { journal } = GuardJournal.open(flash, profile, crypto);
    journal.write({ ...state!, offsetIssuedAt: T0 + 30 });
    expect(GuardJournal.open(flash, profile, crypto).state).toEqual({ ...state, offsetIssuedAt: T0 + 30 });
  });
});
