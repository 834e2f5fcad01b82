/** The timing model's formulas, profile validation, the scheduler, and the btsnoop codec. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BtsnoopWriter,
  createAir,
  exchangeAirtimeUs,
  pduAirtimeUs,
  predictedWriteCommandThroughputBps,
  PROFILES,
  readBtsnoopFile,
  resolveProfile,
  theoreticalThroughputBps,
  type LinkProfile,
} from '@latchkit/simulator';
import { Pacer, Timeline } from '../../../simulator/src/radio/timeline.js';

describe('airtime', () => {
  it('follows the LL packet format on both PHYs', () => {
    // 1M: preamble 1 + access address 4 + header 2 + payload + CRC 3 bytes, 8 µs each.
    expect(pduAirtimeUs('1M', 0)).toBe(80);
    expect(pduAirtimeUs('1M', 251)).toBe(2088);
    expect(pduAirtimeUs('1M', 27)).toBe(296);
    // 2M: two preamble bytes, 4 µs each.
    expect(pduAirtimeUs('2M', 0)).toBe(44);
    expect(pduAirtimeUs('2M', 251)).toBe(1048);
    expect(exchangeAirtimeUs('2M', 251, 0)).toBe(1048 + 150 + 44 + 150);
  });

  it('puts the PHY limits at ~0.79 and ~1.40 Mbit/s', () => {
    expect(theoreticalThroughputBps('1M') / 1000).toBeCloseTo(790.9, 1);
    expect(theoreticalThroughputBps('2M') / 1000).toBeCloseTo(1402.3, 1);
  });

  it('predicts the profiles: android ~1.3 Mbit/s, ios 5 × 182 B per 15 ms, gateway 6 × 244 B per 30 ms', () => {
    expect(predictedWriteCommandThroughputBps(PROFILES.android, 244) / 1000).toBeCloseTo(1301.3, 1);
    expect(predictedWriteCommandThroughputBps(PROFILES.ios, 182)).toBeCloseTo((5 * 182 * 8) / 0.015, 6);
    expect(predictedWriteCommandThroughputBps(PROFILES.gateway, 244)).toBeCloseTo((6 * 244 * 8) / 0.03, 6);
  });

  it('never predicts more than the PHY limit, whatever the profile', () => {
    fc.assert(
      fc.property(
        fc.record({
          connectionIntervalMs: fc.integer({ min: 6, max: 400 }).map((u) => u * 1.25),
          phy: fc.constantFrom<'1M' | '2M'>('1M', '2M'),
          dataLength: fc.integer({ min: 27, max: 251 }),
          packetsPerEvent: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constant(Infinity)),
        }),
        fc.integer({ min: 1, max: 244 }),
        (p, payload) => {
          const profile: LinkProfile = { ...PROFILES.android, ...p };
          const bps = predictedWriteCommandThroughputBps(profile, payload);
          expect(bps).toBeGreaterThan(0);
          expect(bps).toBeLessThanOrEqual(theoreticalThroughputBps(p.phy) + 1e-6);
        },
      ),
    );
  });
});

describe('profiles and options', () => {
  it('resolves names and overrides, and rejects what it cannot use with a precise message', () => {
    expect(resolveProfile('android')).toEqual({ ...PROFILES.android });
    expect(resolveProfile({ base: 'ios', mtu: 247 })).toMatchObject({ connectionIntervalMs: 15, mtu: 247 });
    expect(() => resolveProfile('windows' as never)).toThrow(/profile: expected one of ios, android, gateway, got "windows"/);
    expect(() => resolveProfile({ connectionIntervalMs: 8 })).toThrow(/multiple of 1.25 between 7.5 and 4000, got 8/);
    expect(() => resolveProfile({ dataLength: 300 })).toThrow(/between 27 and 251, got 300/);
    expect(() => resolveProfile({ packetsPerEvent: 0 })).toThrow(/packetsPerEvent/);
    expect(() => resolveProfile({ phy: 'coded' as never })).toThrow(/"1M" or "2M"/);
  });

  it('rejects bad air and device options with RADIO_BAD_ARGUMENT', async () => {
    expect(() => createAir({ pacing: 'slow' as never })).toThrow(expect.objectContaining({ code: 'RADIO_BAD_ARGUMENT' }));
    expect(() => createAir({ seed: {} as never })).toThrow(/seed: expected a number or a string/);
    const air = createAir();
    try {
      await expect(air.addPeripheral({ mtu: 600 })).rejects.toThrow(/mtu: expected an integer between 23 and 517, got 600/);
      await expect(air.addPeripheral({ address: 'nope' })).rejects.toMatchObject({ code: 'RADIO_BAD_ARGUMENT' });
      const p = await air.addPeripheral({ address: 'AA:BB:CC:DD:EE:01' });
      expect(p.address).toBe('aa:bb:cc:dd:ee:01');
      await expect(air.addPeripheral({ address: 'aa:bb:cc:dd:ee:01' })).rejects.toThrow(/not already on this air/);
      expect(() => air.setRssi(p, p, 99)).toThrow(/rssi/);
    } finally {
      await air.close();
    }
  });
});

describe('timeline', () => {
  it('runs callbacks in modelled-time order, one per turn, whatever order they were added in', async () => {
    const tl = new Timeline(new Pacer('fast'), (e) => {
      throw e;
    });
    const order: number[] = [];
    const done = new Promise<void>((resolve) => {
      for (const t of [30, 10, 20, 10]) tl.at(t, () => order.push(t));
      tl.at(40, resolve);
    });
    const cancelled = tl.at(15, () => order.push(15));
    cancelled.cancelled = true;
    expect(order).toEqual([]); // never synchronously
    await done;
    expect(order).toEqual([10, 10, 20, 30]);
    expect(tl.now).toBe(40);
    tl.dispose();
  });

  it('waits for the wall clock under realtime pacing', async () => {
    const tl = new Timeline(new Pacer('realtime'), (e) => {
      throw e;
    });
    const w0 = performance.now();
    await new Promise<void>((resolve) => tl.at(60, resolve));
    expect(performance.now() - w0).toBeGreaterThanOrEqual(55);
    tl.dispose();
  });

  it('holds a time-out back while another timeline has earlier work', async () => {
    const pacer = new Pacer('fast');
    const a = new Timeline(pacer, (e) => {
      throw e;
    });
    const b = new Timeline(pacer, (e) => {
      throw e;
    });
    const log: string[] = [];
    const finished = new Promise<void>((resolve) => b.timeout(1000, () => (log.push('timeout'), resolve())));
    // A chain of work on `a` that schedules itself step by step up to t = 900.
    const chain = (t: number): void => {
      log.push(`a${t}`);
      if (t < 900) a.at(t + 100, () => chain(t + 100));
    };
    a.at(0, () => chain(0));
    await finished;
    expect(log.at(-1)).toBe('timeout');
    expect(log).toContain('a900');
    a.dispose();
    b.dispose();
  });
});

describe('btsnoop codec', () => {
  it('round-trips any records through a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkit-btsnoop-'));
    try {
      let n = 0;
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              type: fc.constantFrom(0x01, 0x02, 0x04),
              body: fc.uint8Array({ minLength: 0, maxLength: 300 }),
              received: fc.boolean(),
              ms: fc.double({ min: 0, max: 1e7, noNaN: true }),
            }),
            { maxLength: 20 },
          ),
          (records) => {
            const path = join(dir, `f${n++}.btsnoop`);
            const w = new BtsnoopWriter(path, 1_700_000_000_000);
            for (const r of records) w.record(r.received ? 'controller-to-host' : 'host-to-controller', Buffer.from([r.type, ...r.body]), r.ms);
            w.close();
            const f = readBtsnoopFile(path);
            expect(f.datalink).toBe(1002);
            expect(f.records).toHaveLength(records.length);
            f.records.forEach((got, i) => {
              const r = records[i]!;
              expect(got.data).toEqual(Buffer.from([r.type, ...r.body]));
              expect(got.direction).toBe(r.received ? 'controller-to-host' : 'host-to-controller');
              expect(got.commandOrEvent).toBe(r.type !== 0x02);
              expect(Number(got.timestampUs)).toBe(Math.round((1_700_000_000_000 + r.ms) * 1000));
            });
          },
        ),
        { numRuns: 50 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
