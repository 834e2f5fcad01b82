/**
 * The real noble and bleno stacks over the virtual radio: scan, connect, MTU exchange, discovery,
 * read, write, write without response, notify, disconnect — plus the timing model's effect on
 * what the stacks see.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAir, PROFILES, predictedWriteCommandThroughputBps, type Air } from '@latchkit/simulator';
import { addTestLock, blast, connect, discover, within } from './helpers.js';

let air: Air | undefined;
afterEach(async () => {
  await air?.close();
  air = undefined;
});

describe('noble central and bleno peripheral on the virtual air', () => {
  it('runs a whole GATT session through the unmodified stacks', async () => {
    air = createAir({ seed: 42 });
    const lock = await addTestLock(air, { name: 'door-1', readValue: Buffer.from('lock info v1') });
    const phone = await air.addCentral({ profile: 'ios' });

    const found = await discover(phone, 'door-1');
    expect(found.address).toBe(lock.device.address);
    expect(found.advertisement.serviceUuids).toContain('fff0');
    const discoveredAt = phone.now();
    expect(discoveredAt).toBeGreaterThan(0);

    await found.connectAsync();
    const link = phone.linkTo(lock.device);
    expect(link).toBeDefined();
    expect(lock.device.link).toBe(link);
    expect(link!.params).toMatchObject({ connectionIntervalMs: 15, phy: '1M', dataLength: 251, packetsPerEvent: 5 });

    const { characteristics } = await found.discoverSomeServicesAndCharacteristicsAsync(['fff0'], ['fff1', 'fff2', 'fff3', 'fff4']);
    expect(characteristics.map((c) => c.uuid).sort()).toEqual(['fff1', 'fff2', 'fff3', 'fff4']);
    // MTU exchange happened before discovery (noble queues it first): ios asks 185, the lock allows 247.
    expect(found.mtu).toBe(185);
    expect((lock.device.bleno as unknown as { mtu: number }).mtu).toBe(185);

    const by = (u: string) => characteristics.find((c) => c.uuid === u)!;
    expect((await by('fff1').readAsync()).toString()).toBe('lock info v1');

    await by('fff2').writeAsync(Buffer.from('unlock'), false);
    expect(lock.writes.at(-1)).toEqual({ uuid: 'fff2', data: Buffer.from('unlock'), withoutResponse: false });

    await by('fff3').writeAsync(Buffer.from('chunk-0'), true);
    await lock.waitForBulk(7);
    expect(lock.writes.at(-1)).toEqual({ uuid: 'fff3', data: Buffer.from('chunk-0'), withoutResponse: true });

    await by('fff4').subscribeAsync();
    await lock.subscribed();
    const note = new Promise<Buffer>((resolve) => by('fff4').once('data', (d: Buffer) => resolve(d)));
    lock.notify(Buffer.from('event: granted'));
    expect((await note).toString()).toBe('event: granted');

    const closed = link!.closed;
    const lockSawDisconnect = new Promise<string>((r) => (lock.device.bleno as unknown as { once(e: string, f: (a: string) => void): void }).once('disconnect', r));
    await found.disconnectAsync();
    expect(await lockSawDisconnect).toBe(phone.address);
    const closure = await closed;
    expect(closure).toMatchObject({ centralReason: 0x16, peripheralReason: 0x13, cause: 'central disconnected' });
    expect(lock.device.link).toBeUndefined();
    expect(air.diagnostics).toEqual([]);
  });

  it('keeps a modelled clock on every link that matches the timing model', async () => {
    air = createAir({ seed: 3 });
    const lock = await addTestLock(air, { name: 'door-2' });
    const phone = await air.addCentral({ profile: 'android' });
    const s = await connect(phone, 'door-2');
    const link = phone.linkTo(lock.device)!;
    expect(link.params).toMatchObject({ connectionIntervalMs: 7.5, phy: '2M' });
    expect(s.peripheral.mtu).toBe(247); // android asks 517, the lock caps at 247

    // An acknowledged write costs about two connection intervals: the request goes out in one
    // event, the response comes back in the next, the next request waits for the event after.
    const t0 = phone.now();
    for (let i = 0; i < 10; i++) await s.write.writeAsync(Buffer.from([i]), false);
    const perWrite = (phone.now() - t0) / 10;
    expect(perWrite).toBeGreaterThanOrEqual(2 * 7.5 - 1);
    expect(perWrite).toBeLessThanOrEqual(2 * 7.5 + 1);

    // Bulk write without response: throughput within 3% of the model's steady-state prediction.
    const total = 40 * 1024;
    const start = link.modelledMs;
    blast(s, total);
    await within(lock.waitForBulk(total), 10_000, 'bulk transfer');
    const kbps = (total * 8) / (lock.device.now() - start);
    const predicted = predictedWriteCommandThroughputBps(PROFILES.android, 244) / 1000;
    expect(Math.abs(kbps - predicted) / predicted).toBeLessThan(0.03);
    expect(link.stats.bytesToPeripheral).toBeGreaterThan(total);
  });

  it('streams notifications from the lock through bleno flow control at the modelled rate', async () => {
    air = createAir({ seed: 6 });
    const lock = await addTestLock(air, { name: 'door-n' });
    const phone = await air.addCentral({ profile: 'ios' });
    const s = await connect(phone, 'door-n');
    await s.notify.subscribeAsync();
    await lock.subscribed();
    const total = 30 * 1024;
    const chunk = s.peripheral.mtu! - 3;
    let got = 0;
    const all = new Promise<void>((resolve) =>
      s.notify.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= total) resolve();
      }),
    );
    const t0 = lock.device.now();
    for (let off = 0; off < total; off += chunk) lock.notify(Buffer.alloc(Math.min(chunk, total - off), 7));
    await within(all, 10_000, 'notifications');
    const kbps = (total * 8) / (phone.now() - t0);
    const predicted = predictedWriteCommandThroughputBps(PROFILES.ios, chunk) / 1000;
    expect(got).toBe(total);
    expect(Math.abs(kbps - predicted) / predicted).toBeLessThan(0.05);
  });

  it('changes link parameters on a live link: connection update, PHY, RSSI', async () => {
    air = createAir({ seed: 10 });
    const lock = await addTestLock(air, { name: 'door-u' });
    const phone = await air.addCentral({ profile: 'android' });
    const s = await connect(phone, 'door-u');
    const link = phone.linkTo(lock.device)!;
    const perWrite = async (): Promise<number> => {
      const t0 = phone.now();
      for (let i = 0; i < 6; i++) await s.write.writeAsync(Buffer.from([i]), false);
      return (phone.now() - t0) / 6;
    };
    expect(await perWrite()).toBeCloseTo(15, 0);
    const hci = (phone.noble as unknown as { _bindings: { _hci: { on(e: string, f: (...a: number[]) => void): void } } })._bindings._hci;
    const updated = new Promise<number[]>((resolve) => hci.on('leConnUpdateComplete', (...args: number[]) => resolve(args)));
    air.setLinkParams(phone, lock.device, { connectionIntervalMs: 30 });
    await s.read.readAsync(); // traffic carries the link past the update instant
    const [status, handle, interval] = await within(updated, 2000, 'LE Connection Update Complete');
    expect([status, handle, interval]).toEqual([0, link.centralHandle, 30]);
    expect(link.params.connectionIntervalMs).toBe(30);
    await s.write.writeAsync(Buffer.from('settle'), false); // may straddle the update instant
    expect(await perWrite()).toBeCloseTo(60, 0);
    air.setLinkParams(phone, lock.device, { phy: '1M' });
    expect(link.params.phy).toBe('1M');
    air.setRssi(phone, lock.device, -77);
    const rssi = await (s.peripheral as unknown as { updateRssiAsync(): Promise<number> }).updateRssiAsync();
    expect(rssi).toBe(-77);
  });

  it('reports the same modelled times for the same seed, and different ones for another seed', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const a = createAir({ seed });
      try {
        await addTestLock(a, { name: 'door' });
        const phone = await a.addCentral({ profile: 'gateway' });
        const s = await connect(phone, 'door');
        const afterConnect = phone.now();
        await s.read.readAsync();
        return [afterConnect, phone.now()];
      } finally {
        await a.close();
      }
    };
    const first = await run(11);
    expect(await run(11)).toEqual(first);
    expect(await run(12)).not.toEqual(first);
  });

  it('runs with realtime pacing: wall time follows modelled time', async () => {
    air = createAir({ seed: 5, pacing: 'realtime' });
    await addTestLock(air, { name: 'door-rt', advertisingIntervalMs: 20 });
    const phone = await air.addCentral({ profile: 'android' });
    const w0 = performance.now();
    const m0 = phone.now();
    const s = await connect(phone, 'door-rt');
    await s.read.readAsync();
    const modelled = phone.now() - m0;
    const wall = performance.now() - w0;
    expect(modelled).toBeGreaterThan(20);
    // Realtime never runs ahead of the modelled clock (small slack for timer rounding).
    expect(wall).toBeGreaterThanOrEqual(modelled - 5);
    expect(wall).toBeLessThan(modelled + 2000);
  });

  it('lets close() stop every timer so the process can exit', async () => {
    const before = new Set(process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate'));
    const a = createAir({ seed: 9 });
    const locks = await Promise.all([1, 2, 3].map((i) => addTestLock(a, { name: `door-${i}` })));
    const phone = await a.addCentral();
    await connect(phone, 'door-2');
    expect(locks[1]!.device.link).toBeDefined();
    await a.close();
    await new Promise((r) => setImmediate(r));
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate');
    expect(timers.length).toBeLessThanOrEqual(before.size);
    expect(process.listenerCount('exit')).toBeLessThan(5);
    await expect(a.addCentral()).rejects.toMatchObject({ code: 'RADIO_CLOSED' });
  });
});
