/** Several locks and centrals sharing one air: topology, concurrency, one attempt per central. */
import { afterEach, describe, expect, it } from 'vitest';
import { createAir, type Air, type RawHciDevice } from '@latchkit/simulator';
import { addTestLock, blast, connect, discover, discoverAll, SERVICE, waitForDisconnect, within, type NobleLike, type NoblePeripheral } from './helpers.js';

let air: Air | undefined;
afterEach(async () => {
  await air?.close();
  air = undefined;
});

/** Names discovered during one scan that lasts until `expected` have shown up plus a grace period. */
async function scanNames(noble: NobleLike, expected: number): Promise<string[]> {
  const names = new Set<string>();
  const enough = new Promise<void>((resolve) => {
    noble.on('discover', (p: NoblePeripheral) => {
      names.add(p.advertisement.localName ?? '?');
      if (names.size >= expected) resolve();
    });
  });
  await noble.startScanningAsync([SERVICE], false);
  await within(enough, 5000, 'discovery');
  // Anything in range has been reported by now (fast pacing); give stragglers a few turns anyway.
  await new Promise((r) => setTimeout(r, 50));
  await noble.stopScanningAsync();
  noble.removeAllListeners('discover');
  return [...names].sort();
}

describe('many devices on one air', () => {
  it('hears only what is in range, and keeps concurrent links apart', async () => {
    air = createAir({ seed: 8 });
    const locks = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => addTestLock(air!, { name: `door-${i}` })));
    const gateway = await air.addCentral({ profile: 'gateway', name: 'gateway' });
    const phone = await air.addCentral({ profile: 'ios', name: 'phone' });
    air.moveTo(gateway, [locks[0]!.device, locks[1]!.device, locks[2]!.device]);
    air.moveTo(phone, locks[3]!.device);
    expect(air.isInRange(gateway, locks[3]!.device)).toBe(false);

    expect(await scanNames(gateway.noble as unknown as NobleLike, 3)).toEqual(['door-1', 'door-2', 'door-3']);
    expect(await scanNames(phone.noble as unknown as NobleLike, 1)).toEqual(['door-4']);

    // The gateway connects to its three doors at once (noble queues the attempts) and pushes a
    // different payload to each over its own link.
    const found = await discoverAll(gateway, ['door-1', 'door-2', 'door-3']);
    const sessions = await Promise.all(found.map((p) => connect(gateway, p)));
    expect(gateway.links()).toHaveLength(3);
    const handles = gateway.links().map((l) => l.centralHandle);
    expect(new Set(handles).size).toBe(3);
    sessions.forEach((s, i) => blast(s, 4000, 0x10 + i));
    await within(Promise.all([0, 1, 2].map((i) => locks[i]!.waitForBulk(4000))), 10_000, 'three transfers');
    for (const i of [0, 1, 2]) {
      const bytes = Buffer.concat(locks[i]!.writes.filter((w) => w.uuid === 'fff3').map((w) => w.data));
      expect(bytes.length).toBe(4000);
      expect(bytes.every((b) => b === 0x10 + i)).toBe(true);
    }

    // The phone talks to door-4, then walks to door-5: the old link is lost by supervision timeout.
    const s4 = await connect(phone, 'door-4');
    expect((await s4.read.readAsync()).toString()).toBe('hello from door-4');
    const link4 = phone.linkTo(locks[3]!.device)!;
    const lost = waitForDisconnect(s4.peripheral);
    air.moveTo(phone, locks[4]!.device);
    expect(await lost).toBe(0x08);
    const closure = await link4.closed;
    expect(closure.cause).toBe('out-of-range');
    expect(closure.atMs - link4.modelledMs).toBeLessThanOrEqual(0);
    expect(await scanNames(phone.noble as unknown as NobleLike, 1)).toEqual(['door-5']);
    const s5 = await connect(phone, 'door-5');
    expect((await s5.read.readAsync()).toString()).toBe('hello from door-5');
  });

  it('makes a second central wait while a lock serves the first (one connection per lock)', async () => {
    air = createAir({ seed: 21 });
    const lock = await addTestLock(air, { name: 'door' });
    const a = await air.addCentral({ name: 'phone-a', profile: 'android' });
    const b = await air.addCentral({ name: 'phone-b', profile: 'android' });
    // B hears the lock while it still advertises; then A connects and the lock stops advertising.
    const pb = await discover(b, 'door');
    const sa = await connect(a, 'door');
    let bConnected = false;
    const bConnect = pb.connectAsync().then(() => (bConnected = true));
    await sa.write.writeAsync(Buffer.from('a'), false);
    await sa.read.readAsync();
    expect(bConnected).toBe(false);
    const aEnd = (await Promise.all([sa.peripheral.disconnectAsync(), a.linkTo(lock.device)?.closed]))[1];
    await within(bConnect, 5000, 'B connects after A leaves');
    const bLink = b.linkTo(lock.device)!;
    // B's link starts after the lock advertised again, on the lock's clock.
    expect(bLink.establishedAtMs).toBeGreaterThan(aEnd?.atMs ?? 0);
  });

  it('allows one pending connection attempt per central', async () => {
    air = createAir({ seed: 2 });
    const host = air.addHciDevice({ role: 'central', name: 'raw' });
    const events = collect(host);
    const create = (peer: string): Buffer => {
      const p = Buffer.alloc(25);
      p.writeUInt16LE(0x60, 0);
      p.writeUInt16LE(0x30, 2);
      Buffer.from(peer.split(':').reverse().join(''), 'hex').copy(p, 6);
      p.writeUInt16LE(6, 13);
      p.writeUInt16LE(12, 15);
      p.writeUInt16LE(42, 19);
      return Buffer.concat([Buffer.from([0x01, 0x0d, 0x20, 25]), p]);
    };
    host.socket.write(create('11:22:33:44:55:66'));
    host.socket.write(create('11:22:33:44:55:77'));
    const statuses = await events.commandStatuses(2);
    expect(statuses).toEqual([
      { opcode: 0x200d, status: 0x00 },
      { opcode: 0x200d, status: 0x0c }, // Command Disallowed
    ]);
  });
});

function collect(device: RawHciDevice) {
  const seen: Buffer[] = [];
  let wake: (() => void) | undefined;
  device.socket.on('data', (b: Buffer) => {
    seen.push(b);
    wake?.();
  });
  return {
    seen,
    async commandStatuses(n: number): Promise<Array<{ opcode: number; status: number }>> {
      for (;;) {
        const cs = seen.filter((b) => b[0] === 0x04 && b[1] === 0x0f).map((b) => ({ opcode: b.readUInt16LE(5), status: b[3]! }));
        if (cs.length >= n) return cs;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}
