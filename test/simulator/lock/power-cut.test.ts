/**
 * Power cut at every flash write of a set update: the lock must boot with the old set or the
 * new one, never a broken one and never a lower sequence, and keep working afterwards.
 */
import { describe, expect, it } from 'vitest';
import type { IssuedSet } from '@latchkit/protocol';
import { toHex } from '@latchkit/protocol';
import { SimulatorError } from '../../../simulator/src/errors.js';
import { LockDevice, ManualClock, MemoryFlash, type FlashDevice } from '../../../simulator/src/lock/index.js';
import { Backend, crypto, lockIdOf, resident, seededRandom, T0, verifyLog } from './fixtures.js';

// Small pages so one image spans several program operations, and small event sectors so the
// log's sector erases fall inside the exhaustive loops too.
const PROFILE = { base: 'compact' as const, pageBytes: 128, slotBytes: 16 * 1024, eventSectorRecords: 4, eventRecords: 64 };
const lockId = lockIdOf(77);
const backend = new Backend(lockId);
const oldSpecs = [...resident(1, '111111'), ...resident(2, '222222'), ...resident(3, '333333')];
const newSpecs = [...resident(1, '111111'), ...resident(3, '333333'), ...resident(4, '444444'), ...resident(5, '555555')];
const v1 = backend.full(1, oldSpecs);
const v2full = backend.full(2, newSpecs, T0 + 60);
const v2delta = backend.delta(v1, 2, newSpecs, T0 + 60);

function deviceOn(storage: FlashDevice): LockDevice {
  const clock = new ManualClock(5_000);
  return new LockDevice({
    identity: { lockId, deviceSeed: backend.deviceSeed },
    profile: PROFILE,
    storage,
    clock: clock.now,
    rtc: { lockMs: T0 * 1000, hostMs: clock.ms },
    crypto,
    random: seededRandom('power-cut'),
  });
}

/** Flash of a commissioned lock enforcing v1. */
function baseline(): MemoryFlash {
  const storage = new MemoryFlash({ slot0: 16 * 1024, slot1: 16 * 1024, commit: 128, events: 64 * 32, journal: 4 * 128, changes: 16 * 128 });
  const d = deviceOn(storage);
  d.firmware.commission(backend.commission());
  d.firmware.applySetMessage(v1.bytes);
  // A few events so the log's ring position is not trivially at its start.
  d.firmware.enterCode('111111');
  d.firmware.enterCode('999999');
  return storage;
}

function checkBooted(d: LockDevice, next: IssuedSet): 'old' | 'new' {
  const fw = d.firmware;
  expect(fw.commissioned).toBe(true);
  expect(fw.seq === 1 || fw.seq === 2).toBe(true);
  const expected = fw.seq === 1 ? v1 : next;
  expect(toHex(fw.persisted.set!.digest)).toBe(toHex(expected.digest));
  // The set in force is exactly the one that digest names, byte for byte.
  expect(toHex(fw.set!.body)).toBe(toHex(expected.body));
  // The event log that survived is one unbroken chain.
  verifyLog(fw);
  // And the lock works: resident 3 is in both sets, resident 2 only in the old, 4 only in the new.
  expect(fw.enterCode('333333').granted).toBe(true);
  expect(fw.enterCode('222222').granted).toBe(fw.seq === 1);
  expect(fw.enterCode('444444').granted).toBe(fw.seq === 2);
  return fw.seq === 1 ? 'old' : 'new';
}

function exhaustive(message: IssuedSet): { writes: number; outcomes: Record<string, number> } {
  const clean = baseline();
  const probe = deviceOn(clean.clone());
  const before = probe.flash.writes;
  probe.firmware.applySetMessage(message.bytes);
  const writes = probe.flash.writes - before;
  const outcomes: Record<string, number> = { old: 0, new: 0 };
  for (let atWrite = 0; atWrite < writes; atWrite++) {
    for (const torn of [0, 0.5, 0.99]) {
      const storage = clean.clone();
      const d = deviceOn(storage);
      d.flash.cutAt({ atWrite: d.flash.writes + atWrite, torn });
      let thrown: unknown;
      try {
        d.firmware.applySetMessage(message.bytes);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, `cut at write ${atWrite}`).toBeInstanceOf(SimulatorError);
      expect((thrown as SimulatorError).code).toBe('POWER_CUT');
      expect(() => d.firmware.info()).toThrow(/lost power/);
      const after = d.powerCycle();
      const which = checkBooted(d, message);
      outcomes[which]!++;
      // The update can be completed after the reboot: the same message again (if the old set
      // survived) or nothing to do (the new one is already there).
      if (which === 'old') {
        expect(after.applySetMessage(message.bytes).seq).toBe(2);
      } else {
        expect(() => after.applySetMessage(message.bytes)).toThrow(/not newer/);
      }
      expect(d.powerCycle().seq).toBe(2);
    }
  }
  return { writes, outcomes };
}

describe('power cut at every flash write', () => {
  it('during a full-set apply: boots old or new, never broken, never lower', () => {
    const { writes, outcomes } = exhaustive(v2full);
    expect(writes).toBeGreaterThan(6);
    // Cuts before the commit record keep the old set; a cut after it (the event append) the new.
    expect(outcomes['old']).toBeGreaterThan(0);
    expect(outcomes['new']).toBeGreaterThan(0);
  });

  it('during a delta apply: boots old or new, never broken, never lower', () => {
    const { writes, outcomes } = exhaustive(v2delta);
    // A delta is one change-journal record (its body across pages, then the commit word) and the
    // event record, not a whole image: a handful of writes, each cut at three tear points.
    expect(writes).toBeGreaterThanOrEqual(3);
    expect(outcomes['old']).toBeGreaterThan(0);
    expect(outcomes['new']).toBeGreaterThan(0);
  });

  it('during commissioning: a fresh lock boots uncommissioned or commissioned', () => {
    const storage = new MemoryFlash({ slot0: 16 * 1024, slot1: 16 * 1024, commit: 128, events: 64 * 32, journal: 4 * 128, changes: 16 * 128 });
    const probe = deviceOn(storage.clone());
    const w0 = probe.flash.writes;
    probe.firmware.commission(backend.commission());
    const writes = probe.flash.writes - w0;
    const seen = new Set<boolean>();
    for (let atWrite = 0; atWrite < writes; atWrite++) {
      const d = deviceOn(storage.clone());
      d.flash.cutAt({ atWrite: d.flash.writes + atWrite });
      expect(() => d.firmware.commission(backend.commission())).toThrow(SimulatorError);
      const fw = d.powerCycle();
      seen.add(fw.commissioned);
      if (!fw.commissioned) fw.commission(backend.commission());
      expect(fw.applySetMessage(v1.bytes).seq).toBe(1);
    }
    expect(seen).toEqual(new Set([false, true]));
  });

  it('a slot image that does not verify is never booted (a flipped bit in the newest slot falls back)', () => {
    const storage = baseline();
    const d = deviceOn(storage);
    d.firmware.applySetMessage(v2full.bytes);
    const newest = d.powerCycle().boot.slot === 0 ? 'slot0' : 'slot1';
    // Clearing bits is what a NOR cell can do without an erase; boot must refuse the damaged
    // image and take the older, intact one rather than enforce a broken set.
    storage.program(newest, 40, Uint8Array.of(0x00));
    const again = d.powerCycle();
    expect(again.boot.fellBack).toBe(true);
    expect(again.seq).toBe(1);
    expect(again.enterCode('222222').granted).toBe(true);
  });
});
