/** Every fault kind, through the real stacks, and its determinism under a seed. */
import { afterEach, describe, expect, it } from 'vitest';
import { createAir, type Air } from '@latchkit/simulator';
import { addTestLock, blast, connect, discover, waitForDisconnect, within } from './helpers.js';

let air: Air | undefined;
afterEach(async () => {
  await air?.close();
  air = undefined;
});

async function setup(seed: number, profile: 'ios' | 'android' | 'gateway' = 'android') {
  air = createAir({ seed });
  const lock = await addTestLock(air, { name: 'door' });
  const phone = await air.addCentral({ profile });
  return { air, lock, phone };
}

describe('faults', () => {
  it('drop-at-byte: the PDU carrying byte N never arrives and the link times out', async () => {
    const { air, lock, phone } = await setup(1);
    const s = await connect(phone, 'door');
    const link = phone.linkTo(lock.device)!;
    const already = link.stats.bytesToPeripheral; // MTU exchange and discovery requests
    const byte = already + 5000;
    const fault = air.injectFault({ kind: 'drop-at-byte', peripheral: lock.device, byte, direction: 'central-to-peripheral' });
    const gone = waitForDisconnect(s.peripheral);
    blast(s, 20_000);
    expect(await within(gone, 5000, 'disconnect')).toBe(0x08);
    const closure = await link.closed;
    expect(closure.cause).toBe('drop-at-byte');
    expect(link.stats.bytesToPeripheral).toBeLessThanOrEqual(byte);
    expect(link.stats.bytesToPeripheral).toBeGreaterThan(byte - 251);
    expect(lock.bulkBytes()).toBeLessThan(5000);
    expect(lock.bulkBytes()).toBeGreaterThan(5000 - 2 * 251);
    expect(fault.firings).toHaveLength(1);
    expect(fault.active).toBe(false);
    // Both hosts hear of it one supervision timeout after the loss.
    expect(closure.atMs - fault.firings[0]!.atMs).toBeGreaterThanOrEqual(420 - 0.001);
    expect(closure.atMs - fault.firings[0]!.atMs).toBeLessThan(420 + 10);
  });

  it('drop-at-time: the link is lost a fixed modelled time after it was established', async () => {
    const { air, lock, phone } = await setup(2);
    const fault = air.injectFault({ kind: 'drop-at-time', peripheral: lock.device, afterMs: 400 });
    const s = await connect(phone, 'door');
    const link = phone.linkTo(lock.device)!;
    const gone = waitForDisconnect(s.peripheral);
    blast(s, 200_000);
    expect(await within(gone, 10_000, 'disconnect')).toBe(0x08);
    const closure = await link.closed;
    expect(closure.cause).toBe('drop-at-time');
    const lostAt = closure.atMs - link.params.supervisionTimeoutMs;
    expect(lostAt - link.establishedAtMs).toBeGreaterThanOrEqual(400);
    expect(lostAt - link.establishedAtMs).toBeLessThan(400 + 3);
    // About 400 ms minus setup at ~1.3 Mbit/s got through; far less than the 200 KB sent.
    expect(lock.bulkBytes()).toBeGreaterThan(10_000);
    expect(lock.bulkBytes()).toBeLessThan(70_000);
    expect(fault.firings).toHaveLength(1);
  });

  it('out-of-range: the link is lost, scans stop hearing the lock, cancelling brings it back', async () => {
    const { air, lock, phone } = await setup(3);
    const s = await connect(phone, 'door');
    const gone = waitForDisconnect(s.peripheral);
    const fault = air.injectFault({ kind: 'out-of-range', central: phone, peripheral: lock.device });
    expect(await within(gone, 5000, 'disconnect')).toBe(0x08);
    expect(air.isInRange(phone, lock.device)).toBe(false);
    await expect(discover(phone, 'door', 300)).rejects.toThrow(/not discovered/);
    fault.cancel();
    expect(air.isInRange(phone, lock.device)).toBe(true);
    const again = await connect(phone, 'door');
    expect((await again.read.readAsync()).toString()).toBe('hello from door');
  });

  it('sleep: the first connection to a sleeping lock is slow, later ones are not', async () => {
    air = createAir({ seed: 4 });
    const sleepy = await addTestLock(air, { name: 'sleepy' });
    await addTestLock(air, { name: 'awake' });
    const fault = air.injectFault({ kind: 'sleep', peripheral: sleepy.device, advertisingIntervalMs: 2000, wakeMs: 1500 });
    const phone = await air.addCentral({ profile: 'android' });

    const timeToConnect = async (name: string): Promise<number> => {
      const t0 = phone.now();
      const s = await connect(phone, name);
      const ms = phone.now() - t0;
      await s.peripheral.disconnectAsync();
      return ms;
    };
    const awakeMs = await timeToConnect('awake');
    const sleepyMs = await timeToConnect('sleepy');
    const sleepyAgainMs = await timeToConnect('sleepy');
    expect(awakeMs).toBeLessThan(400);
    expect(sleepyMs).toBeGreaterThan(1500);
    expect(sleepyMs).toBeLessThan(1500 + 2 * 2000 + 400);
    expect(sleepyAgainMs).toBeLessThan(400);
    expect(fault.firings).toHaveLength(1);
    expect(fault.active).toBe(false);
  });

  it('packet-loss: lost exchanges are resent, cost modelled time, and repeat exactly under the same seed', async () => {
    const transfer = async (seed: number, rate: number) => {
      const { air, lock, phone } = await setup(seed, 'ios');
      const fault = rate > 0 ? air.injectFault({ kind: 'packet-loss', peripheral: lock.device, rate }) : undefined;
      const s = await connect(phone, 'door');
      const link = phone.linkTo(lock.device)!;
      const t0 = link.modelledMs;
      blast(s, 20_000, 0x42);
      await within(lock.waitForBulk(20_000), 10_000, 'transfer');
      const bytes = Buffer.concat(lock.writes.filter((w) => w.uuid === 'fff3').map((w) => w.data));
      const result = { ms: lock.device.now() - t0, retransmissions: link.stats.retransmissions, intact: bytes.every((b) => b === 0x42) && bytes.length === 20_000 };
      expect(fault?.firings.length ?? 1).toBe(1);
      await air.close();
      return result;
    };
    const clean = await transfer(5, 0);
    const lossy = await transfer(5, 0.2);
    const lossyAgain = await transfer(5, 0.2);
    const otherSeed = await transfer(6, 0.2);
    expect(clean.retransmissions).toBe(0);
    expect(lossy.retransmissions).toBeGreaterThan(0);
    expect(lossy.intact).toBe(true);
    expect(lossy.ms).toBeGreaterThan(clean.ms * 1.2);
    expect(lossyAgain).toEqual(lossy);
    expect(otherSeed.ms).not.toBe(lossy.ms);
  });

  it('packet-loss beyond a threshold ends the link', async () => {
    const { air, lock, phone } = await setup(7);
    const s = await connect(phone, 'door');
    const link = phone.linkTo(lock.device)!;
    const gone = waitForDisconnect(s.peripheral);
    air.injectFault({ kind: 'packet-loss', peripheral: lock.device, rate: 0.95, linkLossAfter: 3 });
    blast(s, 5000);
    expect(await within(gone, 5000, 'disconnect')).toBe(0x08);
    expect((await link.closed).cause).toBe('packet-loss');
    expect(link.stats.retransmissions).toBeGreaterThanOrEqual(3);
  });

  it('connect-timeout: the attempt fails with Connection Failed to be Established, the next one works', async () => {
    const { air, lock, phone } = await setup(8);
    const fault = air.injectFault({ kind: 'connect-timeout', peripheral: lock.device });
    const p = await discover(phone, 'door');
    const t0 = phone.now();
    await expect(p.connectAsync()).rejects.toThrow(/Connection Failed to be Established \(0x3e\)/);
    // Six connection intervals after CONNECT_IND (plus the wait for an advertising event).
    expect(phone.now() - t0).toBeGreaterThanOrEqual(6 * 7.5);
    expect(fault.active).toBe(false);
    const s = await connect(phone, p);
    expect((await s.read.readAsync()).toString()).toBe('hello from door');
  });

  it('a connection attempt to a lock out of range times out after the profile connect timeout', async () => {
    air = createAir({ seed: 9 });
    await addTestLock(air, { name: 'door' });
    const phone = await air.addCentral({ profile: { base: 'android', connectTimeoutMs: 5000 } });
    const p = await discover(phone, 'door');
    air.setInRange(phone, air.device(p.address)!, false);
    const t0 = phone.now();
    await expect(p.connectAsync()).rejects.toThrow(/0x3e/);
    expect(phone.now() - t0).toBeCloseTo(5000, 0);
  });

  it('rejects malformed fault descriptions with a message that says what was expected', () => {
    air = createAir();
    expect(() => air!.injectFault({ kind: 'packet-loss', rate: 1.5 })).toThrow(/fault.rate: expected a number in \[0, 1\), got 1.5/);
    expect(() => air!.injectFault({ kind: 'drop-at-byte', byte: -1 })).toThrow(/fault.byte/);
    expect(() => air!.injectFault({ kind: 'nope' } as never)).toThrow(/fault.kind/);
    expect(() => air!.injectFault({ kind: 'sleep', peripheral: 'aa:bb:cc:dd:ee:ff' })).toThrow(/a device added to this air/);
  });
});
