/**
 * The change journal (simulator/src/lock/change-journal.ts, storage.ts): an accepted delta is
 * one record appended to pre-erased flash, replayed at boot; full image commits and compactions
 * empty it. Real flash emulation throughout (MemoryFlash, PowerCutFlash, FileFlash).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CredentialSpec, IssuedDelta, IssuedSet } from '@latchkit/protocol';
import { ENTRY_ACC_BYTES, KEY_BYTES, packDelta, toHex } from '@latchkit/protocol';
import { SimulatorError } from '../../../simulator/src/errors.js';
import { recordBytes } from '../../../simulator/src/lock/change-journal.js';
import type { FlashDevice, FlashRegion } from '../../../simulator/src/lock/index.js';
import { decodeImage, deviceProfile, encodeImage, flashSizes, imageLength, LockDevice, ManualClock, MemoryFlash, openLockDir, StateStore } from '../../../simulator/src/lock/index.js';
import { Backend, crypto, lockIdOf, resident, seededRandom, T0 } from './fixtures.js';

/** Real flash, with every program and erase noted (region, bytes). */
class RecordingFlash implements FlashDevice {
  ops: { op: 'program' | 'erase'; region: FlashRegion; offset: number; bytes: number }[] = [];
  constructor(readonly inner: MemoryFlash) {}
  size(region: FlashRegion): number {
    return this.inner.size(region);
  }
  read(region: FlashRegion, offset: number, length: number): Uint8Array {
    return this.inner.read(region, offset, length);
  }
  program(region: FlashRegion, offset: number, data: Uint8Array): void {
    this.ops.push({ op: 'program', region, offset, bytes: data.length });
    this.inner.program(region, offset, data);
  }
  erase(region: FlashRegion, offset: number, length: number): void {
    this.ops.push({ op: 'erase', region, offset, bytes: length });
    this.inner.erase(region, offset, length);
  }
}

// Small pages: the journal (16 pages) is 2 KiB, so it fills after a few deltas.
const SMALL = { base: 'compact' as const, pageBytes: 128, slotBytes: 16 * 1024, eventSectorRecords: 4, eventRecords: 64 };
const lockId = lockIdOf(91);
const backend = new Backend(lockId);

function deviceOn(storage: FlashDevice, profile: typeof SMALL | 'compact' = SMALL, clock = new ManualClock(5_000)): LockDevice {
  return new LockDevice({ identity: { lockId, deviceSeed: backend.deviceSeed }, profile, storage, clock: clock.now, rtc: { lockMs: T0 * 1000, hostMs: clock.ms }, crypto, random: seededRandom('journal') });
}

/** Residents 1..n with codes 1000NN. */
const residents = (ids: number[]): CredentialSpec[] => ids.flatMap((i) => resident(i, String(100000 + i)));

/** A chain of sets: v1 full with residents 1..3, then each delta adds resident 3 + k. */
function chain(n: number): IssuedSet[] {
  const out: IssuedSet[] = [backend.full(1, residents([1, 2, 3]))];
  for (let k = 1; k <= n; k++) out.push(backend.delta(out[k - 1]!, k + 1, residents([1, 2, 3, ...Array.from({ length: k }, (_, i) => 4 + i)]), T0 + 60 * k));
  return out;
}
const sets = chain(40);

function expectState(d: LockDevice, set: IssuedSet): void {
  const fw = d.firmware;
  expect(fw.seq).toBe(set.seq);
  expect(toHex(fw.persisted.set!.digest)).toBe(toHex(set.digest));
  // The set in force is byte for byte the one that digest names (entry form: PROTOCOL.md §4.7).
  expect(toHex(fw.set!.body)).toBe(toHex(set.body));
  expect(toHex(fw.persisted.set!.entryAcc!)).toBe(toHex(set.entryAcc!));
  const newest = 3 + (set.seq - 1);
  expect(fw.enterCode(String(100000 + newest)).granted).toBe(true);
  expect(fw.enterCode('100001').granted).toBe(true);
  if (newest + 1 <= 3 + 40) expect(fw.enterCode(String(100000 + newest + 1)).reason).toBe('unknownCredential');
}

/** Commissioned, v1 applied, then `deltas` deltas. */
function lockAt(deltas: number, storage = new MemoryFlash(flashSizes(deviceProfile(SMALL))), profile: typeof SMALL | 'compact' = SMALL): { storage: MemoryFlash; device: LockDevice } {
  const device = deviceOn(storage, profile);
  device.firmware.commission(backend.commission());
  for (let i = 0; i <= deltas; i++) device.firmware.applySetMessage(sets[i]!.bytes);
  return { storage, device };
}

describe('change journal', () => {
  it('a delta writes one journal record (no erase, no slot write) and survives a reboot', () => {
    const storage = new RecordingFlash(new MemoryFlash(flashSizes(deviceProfile('compact'))));
    const d = deviceOn(storage, 'compact');
    d.firmware.commission(backend.commission());
    d.firmware.applySetMessage(sets[0]!.bytes);
    const generation = d.firmware.summary().flash.generation;
    storage.ops = [];
    const before = d.mcu!.total;
    d.firmware.applySetMessage(sets[1]!.bytes);
    const ms = d.mcu!.total - before;
    const ops = storage.ops.filter((o) => o.region !== 'events');
    expect(ops.every((o) => o.op === 'program' && o.region === 'changes')).toBe(true);
    const programmed = ops.reduce((n, o) => n + o.bytes, 0);
    expect(d.firmware.changeJournal).toMatchObject({ records: 1, used: programmed });
    const plain = packDelta((sets[1] as IssuedDelta).changes);
    // The record carries the new set's 36-byte entry accumulator with the delta body.
    expect(programmed).toBe(recordBytes({ entryAcc: sets[1]!.entryAcc, plain }));
    expect(programmed).toBeLessThan(plain.length + ENTRY_ACC_BYTES + 100);
    expect(d.firmware.summary().flash.generation).toBe(generation);
    // Seconds before; now the delta costs tens of ms of MCU time (verify, AEAD, digest, record).
    expect(ms).toBeLessThan(200);

    const fw = d.powerCycle();
    expect(fw.boot.replayed).toBe(1);
    expectState(d, sets[1]!);
    expect(fw.info().seq).toBe(2);
  });

  it('a power cut at every write of a journal append boots the old or the new state, never lower', () => {
    const { storage } = lockAt(1);
    const probe = deviceOn(storage.clone());
    const w0 = probe.flash.writes;
    probe.firmware.applySetMessage(sets[2]!.bytes);
    const writes = probe.flash.writes - w0;
    expect(writes).toBeGreaterThanOrEqual(3);
    const seen = { old: 0, new: 0 };
    for (let atWrite = 0; atWrite < writes; atWrite++) {
      for (const torn of [0, 0.25, 0.5, 0.99]) {
        const d = deviceOn(storage.clone());
        d.flash.cutAt({ atWrite: d.flash.writes + atWrite, torn });
        expect(() => d.firmware.applySetMessage(sets[2]!.bytes)).toThrow(SimulatorError);
        d.powerCycle();
        const which = d.firmware.seq === 2 ? 'old' : 'new';
        expectState(d, sets[which === 'old' ? 1 : 2]!);
        seen[which]++;
        // The update completes afterwards (over a torn record: as a full image), and sticks.
        if (which === 'old') d.firmware.applySetMessage(sets[2]!.bytes);
        d.firmware.applySetMessage(sets[3]!.bytes);
        d.powerCycle();
        expectState(d, sets[3]!);
      }
    }
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new).toBeGreaterThan(0);
  });

  it('a torn record followed by garbage is ignored, and the next delta does not program over it', () => {
    const { storage, device } = lockAt(2);
    const end = device.firmware.changeJournal.used;
    // A record header that looks right (magic, generation) with a body that does not check, then noise.
    const head = storage.read('changes', 0, 8);
    const junk = seededRandom('junk')(300);
    junk.set(head, 0);
    storage.program('changes', end, junk);
    let d = deviceOn(storage);
    expect(d.firmware.boot.replayed).toBe(2);
    expectState(d, sets[2]!);
    const generation = d.firmware.summary().flash.generation;
    d.firmware.applySetMessage(sets[3]!.bytes);
    // Dirty cells where the record would go: a full image instead, and the journal erased.
    expect(d.firmware.summary().flash.generation).toBe(generation + 1);
    expect(d.firmware.changeJournal.records).toBe(0);
    expect([...storage.read('changes', 0, storage.size('changes'))].every((b) => b === 0xff)).toBe(true);
    d = deviceOn(storage);
    expectState(d, sets[3]!);
  });

  it('records of an older image generation are ignored after a full commit', () => {
    const { storage, device } = lockAt(2);
    const old = storage.read('changes', 0, device.firmware.changeJournal.used);
    // A full set: new image, journal erased.
    const full = backend.full(10, residents([1, 2, 3, 4]), T0 + 3600);
    device.firmware.applySetMessage(full.bytes);
    expect(device.firmware.changeJournal.used).toBe(0);
    // Put the old records back, as if the erase had been cut: valid records, older generation.
    storage.program('changes', 0, old);
    const d = deviceOn(storage);
    expect(d.firmware.boot.replayed).toBe(0);
    expect(d.firmware.seq).toBe(10);
    expect(toHex(d.firmware.persisted.set!.digest)).toBe(toHex(full.digest));
    expect(d.firmware.enterCode('100005').reason).toBe('unknownCredential');
  });

  it('a cut while erasing the journal after a full commit boots the new image, and recovers', () => {
    const { storage } = lockAt(2);
    const full = backend.full(10, residents([1, 2, 3, 4]), T0 + 3600);
    const probe = new RecordingFlash(storage.clone());
    deviceOn(probe).firmware.applySetMessage(full.bytes);
    const eraseAt = probe.ops.findIndex((o) => o.op === 'erase' && o.region === 'changes');
    expect(eraseAt).toBeGreaterThan(0);
    const d = deviceOn(storage);
    d.flash.cutAt({ atWrite: d.flash.writes + eraseAt, torn: 0.5 });
    expect(() => d.firmware.applySetMessage(full.bytes)).toThrow(SimulatorError);
    d.powerCycle();
    expect(d.firmware.seq).toBe(10);
    expect(d.firmware.boot.replayed).toBe(0);
    const next = backend.delta(full, 11, residents([1, 2, 3, 4, 5]), T0 + 7200);
    d.firmware.applySetMessage(next.bytes);
    d.powerCycle();
    expect(d.firmware.seq).toBe(11);
    expect(d.firmware.enterCode('100005').granted).toBe(true);
  });

  it('a full journal compacts into a full image on the delta that does not fit; state stays right across reboots', () => {
    const { device } = lockAt(0);
    let compactions = 0;
    let generation = device.firmware.summary().flash.generation;
    for (let k = 1; k <= 40; k++) {
      device.firmware.applySetMessage(sets[k]!.bytes);
      const g = device.firmware.summary().flash.generation;
      if (g !== generation) {
        compactions++;
        expect(device.firmware.changeJournal.records).toBe(0);
      }
      generation = g;
      if (k % 7 === 0) {
        device.powerCycle();
        expectState(device, sets[k]!);
      }
    }
    expect(compactions).toBeGreaterThan(0);
    device.powerCycle();
    expectState(device, sets[40]!);
  });

  it('idle compaction (tick with no link) empties a journal past half full off the air, and keeps the state', () => {
    const { device } = lockAt(0);
    let k = 0;
    while (2 * device.firmware.changeJournal.used <= device.firmware.changeJournal.size) device.firmware.applySetMessage(sets[++k]!.bytes);
    const used = device.firmware.changeJournal.used;
    const generation = device.firmware.summary().flash.generation;
    // With a central connected it waits.
    device.linkUp = true;
    device.firmware.tick();
    expect(device.firmware.changeJournal.used).toBe(used);
    device.linkUp = false;
    device.mcu!.take();
    const idleBefore = device.mcu!.breakdown.idleCompaction;
    const totalBefore = device.mcu!.total;
    device.firmware.tick();
    expect(device.firmware.changeJournal).toMatchObject({ used: 0, records: 0 });
    expect(device.firmware.summary().flash.generation).toBe(generation + 1);
    const idle = device.mcu!.breakdown.idleCompaction - idleBefore;
    expect(idle).toBeGreaterThan(85); // at least one slot page erase
    // Sums of float ms: equal up to rounding.
    expect(device.mcu!.total - totalBefore).toBeGreaterThanOrEqual(idle - 1e-6);
    // No answer waits for it.
    expect(device.mcu!.take()).toBeLessThan(1);
    expectState(device, sets[k]!);
    device.powerCycle();
    expect(device.firmware.boot.replayed).toBe(0);
    expectState(device, sets[k]!);
    // Below half full: nothing to do.
    device.firmware.applySetMessage(sets[k + 1]!.bytes);
    expect(device.firmware.compactIfIdle()).toBe(false);
  });

  describe('lock directory', () => {
    const dirs: string[] = [];
    afterEach(() => {
      for (const x of dirs.splice(0)) rmSync(x, { recursive: true, force: true });
    });

    it('a reopened lock directory replays its journal (changes.bin)', () => {
      const root = mkdtempSync(join(tmpdir(), 'latchkit-changes-'));
      dirs.push(root);
      const dir = join(root, 'lock');
      const clock = new ManualClock(T0 * 1000);
      const open = () => openLockDir(dir, { create: { lockId: backend.lockId, profile: 'compact', deviceSeed: backend.deviceSeed }, clock: clock.now, crypto });
      let d = open();
      d.firmware.commission(backend.commission(T0));
      for (let i = 0; i <= 3; i++) d.firmware.applySetMessage(sets[i]!.bytes);
      expect(d.firmware.changeJournal.records).toBe(3);
      d.close();
      expect(existsSync(join(dir, 'changes.bin'))).toBe(true);
      d = open();
      try {
        expect(d.firmware.boot.replayed).toBe(3);
        expectState(d, sets[3]!);
      } finally {
        d.close();
      }
    });
  });
});

describe('state image', () => {
  const commission = { generation: 1, rotationSeq: 0, commissionedAt: T0, utcOffset: -300, transition: { at: T0 + 100, offset: -240 }, anchors: [new Uint8Array(32).fill(1)], contentKey: new Uint8Array(32).fill(2) };
  const set = { seq: 4, issuedAt: T0, digest: new Uint8Array(32).fill(3), body: new Uint8Array(100).fill(4) };

  it('imageLength is the encoded length; the entry accumulator (flag 8) round-trips; images without it read as before', () => {
    for (const s of [
      { commission: null, set: null, clockFloor: 1 },
      { commission, set, clockFloor: 2 },
      { commission: { ...commission, transition: null }, set: { ...set, entryAcc: new Uint8Array(36).fill(9) }, clockFloor: 3 },
      { commission, set: { ...set, entryAcc: new Uint8Array(36).fill(9) }, clockFloor: 3 },
    ]) {
      const image = encodeImage(s);
      expect(imageLength(s)).toBe(image.length);
      const back = decodeImage(image);
      expect(back.set?.entryAcc ?? null).toEqual(s.set && 'entryAcc' in s.set ? s.set.entryAcc : null);
      expect(back.set?.body).toEqual(s.set?.body);
    }
    const plain = encodeImage({ commission, set, clockFloor: 2 });
    expect(plain[5]! & 8).toBe(0);
  });

  it('a journal record carries the entry accumulator across a reboot', () => {
    const profile = deviceProfile(SMALL);
    const flash = new MemoryFlash(flashSizes(profile));
    const v1 = sets[0]!;
    const v2 = sets[1]!;
    const base = { commission: { ...commission, transition: null }, set: { seq: 1, issuedAt: T0, digest: v1.digest, body: v1.body, entryAcc: new Uint8Array(36).fill(7) }, clockFloor: T0 };
    const { store } = StateStore.open(flash, profile, crypto);
    store.commit(base);
    const acc = new Uint8Array(36).fill(8);
    expect(store.commitDelta({ ...base, set: { seq: 2, issuedAt: T0 + 60, digest: v2.digest, body: v2.body, entryAcc: acc } }, { plain: packDelta((v2 as IssuedDelta).changes), baseSeq: 1 })).toBe('journal');
    const reopened = StateStore.open(flash, profile, crypto);
    expect(reopened.boot.replayed).toBe(1);
    expect(reopened.state.set!.seq).toBe(2);
    expect(reopened.state.set!.entryAcc).toEqual(acc);
    expect(reopened.state.set!.body).toEqual(v2.body);
    expect(reopened.state.clockFloor).toBe(T0 + 60);
  });

  it('a record whose removal names a key not held ends the replay (the records after it are not applied)', () => {
    const profile = deviceProfile(SMALL);
    const flash = new MemoryFlash(flashSizes(profile));
    const [v1, v2, v3] = sets as [IssuedSet, IssuedSet, IssuedSet];
    const base = { commission: { ...commission, transition: null }, set: { seq: 1, issuedAt: T0, digest: v1.digest, body: v1.body }, clockFloor: T0 };
    const { store } = StateStore.open(flash, profile, crypto);
    store.commit(base);
    const at = (v: IssuedSet, seq: number) => ({ ...base, set: { seq, issuedAt: T0 + seq, digest: v.digest, body: v.body } });
    expect(store.commitDelta(at(v2, 2), { plain: packDelta((v2 as IssuedDelta).changes), baseSeq: 1 })).toBe('journal');
    const bogus = packDelta({ removed: [{ kind: 'doorcode', key: new Uint8Array(KEY_BYTES.doorcode).fill(0xee) }], upserts: [], secrets: null });
    expect(store.commitDelta(at(v2, 3), { plain: bogus, baseSeq: 2 })).toBe('journal');
    expect(store.commitDelta(at(v3, 4), { plain: packDelta((v3 as IssuedDelta).changes), baseSeq: 3 })).toBe('journal');
    const reopened = StateStore.open(flash, profile, crypto);
    expect(reopened.boot.replayed).toBe(1);
    expect(reopened.state.set!.seq).toBe(2);
    expect(reopened.state.set!.body).toEqual(v2.body);
    expect(reopened.store.journal.records).toBe(1);
  });
});
