import { createAir } from '@latchkit/simulator';
const N = Number(process.argv[2] ?? 1000);
const air = createAir({ seed: 1 });
globalThis.gc?.();
const rss0 = process.memoryUsage();
const t0 = performance.now();
const batch = 200;
for (let i = 0; i < N; i += batch) {
  await Promise.all(Array.from({ length: Math.min(batch, N - i) }, async (_, j) => {
    const p = await air.addPeripheral({ name: `lock-${i + j}` });
    const b = p.bleno as any;
    await new Promise<void>((r, k) => b.startAdvertising(`lock-${i + j}`, ['fff0'], (e: any) => (e ? k(e) : r())));
  }));
}
const t1 = performance.now();
globalThis.gc?.();
const m = process.memoryUsage();
console.log(N, 'locks in', ((t1 - t0) / 1000).toFixed(2), 's; rss', (m.rss / 1e6).toFixed(0), 'MB, +', ((m.rss - rss0.rss) / N / 1024).toFixed(1), 'KB/lock; heap +', ((m.heapUsed - rss0.heapUsed) / N / 1024).toFixed(1), 'KB/lock');
const gw = await air.addCentral({ profile: 'gateway' });
const noble = gw.noble as any;
let n = 0;
const t2 = performance.now();
const all = new Promise<void>((r) => noble.on('discover', () => { if (++n === N) r(); }));
await noble.startScanningAsync([], false);
await all;
console.log('discovered', n, 'in', (performance.now() - t2).toFixed(0), 'ms wall; modelled', gw.now().toFixed(1));
const t3 = performance.now();
await air.close();
console.log('close', (performance.now() - t3).toFixed(0), 'ms');
