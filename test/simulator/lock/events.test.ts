/**
 * The event log in flash: survives restarts, wraps by erase sector, drops a record torn by a
 * power cut, and stays one hash chain throughout.
 */
import { describe, expect, it } from 'vitest';
import { SimulatorError } from '../../../simulator/src/errors.js';
import { resident, testLock, verifyLog } from './fixtures.js';

describe('event log', () => {
  it('keeps granted, denied-with-reason, sync, lockout and tamper records across restarts', () => {
    const t = testLock({ specs: resident(1, '111111') });
    let fw = t.device.firmware;
    fw.enterCode('111111');
    fw.enterCode('000000');
    fw.reportTamper(3);
    const before = fw.events.read(0, 1000).map((e) => [e.index, e.type, e.reason, e.holder]);
    fw = t.device.powerCycle();
    const after = fw.events.read(0, 1000).map((e) => [e.index, e.type, e.reason, e.holder]);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.at(-1)).toEqual([before.length, 'boot', 'none', 0]);
    expect(before.map((e) => e[1])).toEqual(['boot', 'commissioned', 'syncApplied', 'granted', 'denied', 'tamper']);
    expect(before[4]![2]).toBe('unknownCredential');
    verifyLog(fw);
  });

  it('wraps around the ring one erase sector at a time, oldest first', () => {
    const t = testLock({ specs: resident(1, '111111') });
    let fw = t.device.firmware;
    const capacity = fw.profile.eventRecords;
    const sector = fw.profile.eventSectorRecords;
    for (let i = 0; i < capacity + sector + 5; i++) fw.enterCode('111111');
    expect(fw.events.length).toBeLessThanOrEqual(capacity);
    expect(fw.events.length).toBeGreaterThan(capacity - sector);
    expect(fw.events.nextIndex - fw.events.oldestIndex).toBe(fw.events.length);
    verifyLog(fw);
    const next = fw.events.nextIndex;
    fw = t.device.powerCycle();
    expect(fw.events.nextIndex).toBe(next + 1);
    verifyLog(fw);
  });

  it('drops a record torn by a power cut and carries on from the next sector', () => {
    for (const torn of [0.1, 0.5, 0.9]) {
      const t = testLock({ specs: resident(1, '111111') });
      const fw = t.device.firmware;
      // Wrap the ring once first and stop mid-sector, so the cells skipped after the torn write
      // still hold records from the previous lap.
      for (let i = 0; i < fw.profile.eventRecords + 10; i++) fw.enterCode('111111');
      const kept = fw.events.nextIndex;
      t.device.flash.cutAt({ atWrite: t.device.flash.writes, torn });
      expect(() => fw.enterCode('111111')).toThrow(SimulatorError);
      const rebooted = t.device.powerCycle();
      // The torn record is gone; the boot record takes its index and the chain is intact.
      expect(rebooted.events.nextIndex).toBe(kept + 1);
      expect(rebooted.events.tail(1)[0]!.type).toBe('boot');
      verifyLog(rebooted);
      // Two more laps of the ring past the skipped cells: what the firmware holds in RAM must be
      // exactly what the next boot finds in flash.
      for (let i = 0; i < 2 * rebooted.profile.eventRecords + 7; i++) rebooted.enterCode('111111');
      const inRam = rebooted.events.read(0, 1e6).map((e) => e.index);
      const again = t.device.powerCycle();
      expect(again.events.read(0, 1e6).map((e) => e.index)).toEqual([...inRam, inRam.at(-1)! + 1]);
      verifyLog(again);
    }
  });
});
