/** Many bleno instances in one process: each lock is its own stack, and a gateway hears them all. */
import { describe, expect, it } from 'vitest';
import { createAir } from '@latchkit/simulator';
import { addTestLock, connect, SERVICE, type NobleLike, type NoblePeripheral } from './helpers.js';

describe('a fleet of locks in one process', () => {
  it('runs 300 independent bleno stacks that a gateway can all hear and talk to', async () => {
    const air = createAir({ seed: 300 });
    try {
      const n = 300;
      const locks = [];
      for (let i = 0; i < n; i += 50) {
        locks.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => addTestLock(air, { name: `lock-${i + j}`, readValue: Buffer.from(`id ${i + j}`) })))));
      }
      // Separate module instances: separate Bleno objects, bindings and GATT databases.
      expect(new Set(locks.map((l) => l.device.bleno)).size).toBe(n);
      const bindings = locks.map((l) => (l.device.bleno as unknown as { _bindings: unknown })._bindings);
      expect(new Set(bindings).size).toBe(n);
      expect(process.listenerCount('exit')).toBeLessThan(10);

      const gateway = await air.addCentral({ profile: 'gateway' });
      const noble = gateway.noble as unknown as NobleLike;
      const heard = new Map<string, NoblePeripheral>();
      const all = new Promise<void>((resolve) =>
        noble.on('discover', (p: NoblePeripheral) => {
          heard.set(p.advertisement.localName!, p);
          if (heard.size === n) resolve();
        }),
      );
      await noble.startScanningAsync([SERVICE], false);
      await all;
      await noble.stopScanningAsync();
      // Every lock answers with its own GATT database.
      for (const i of [0, 137, 299]) {
        const s = await connect(gateway, heard.get(`lock-${i}`)!);
        expect((await s.read.readAsync()).toString()).toBe(`id ${i}`);
        await s.peripheral.disconnectAsync();
      }
      expect(air.diagnostics).toEqual([]);
    } finally {
      await air.close();
    }
  });
});
