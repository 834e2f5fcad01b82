/**
 * Bad input from hosts: malformed packets, unknown commands, writes on closed links, throwing
 * listeners. The controller answers with HCI statuses or drops and records; the air never throws
 * and other links keep working.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createAir, type Air, type RawHciDevice } from '@latchkit/simulator';
import { addTestLock, connect, waitForDisconnect, within } from './helpers.js';

let air: Air | undefined;
afterEach(async () => {
  await air?.close();
  air = undefined;
});

/** Sends `packet` and returns what the controller answered within a few event-loop turns. */
async function exchange(device: RawHciDevice, packet: Buffer): Promise<Buffer[]> {
  const got: Buffer[] = [];
  const on = (b: Buffer): void => void got.push(b);
  device.socket.on('data', on);
  device.socket.write(packet);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  device.socket.removeListener('data', on);
  return got;
}

const cmd = (opcode: number, params: number[] | Buffer = []): Buffer => {
  const p = Buffer.from(params);
  return Buffer.concat([Buffer.from([0x01, opcode & 0xff, opcode >> 8, p.length]), p]);
};
const commandComplete = (b: Buffer) => ({ event: b[1], opcode: b.readUInt16LE(4), status: b[6] });
const commandStatus = (b: Buffer) => ({ event: b[1], status: b[3], opcode: b.readUInt16LE(5) });

describe('bad input from a host', () => {
  it('answers unknown commands with Command Complete, status Unknown HCI Command (0x01)', async () => {
    air = createAir();
    const host = air.addHciDevice();
    const [reply] = await exchange(host, cmd(0xfc55, [1, 2, 3]));
    expect(commandComplete(reply!)).toEqual({ event: 0x0e, opcode: 0xfc55, status: 0x01 });
    expect(air.diagnosticCounts['unknown-command']).toBe(1);
  });

  it('answers bad parameter lengths with Invalid HCI Command Parameters (0x12)', async () => {
    air = createAir();
    const host = air.addHciDevice({ role: 'peripheral' });
    // Length byte says 15, packet carries 3.
    const [a] = await exchange(host, Buffer.from([0x01, 0x06, 0x20, 15, 1, 2, 3]));
    expect(commandComplete(a!)).toEqual({ event: 0x0e, opcode: 0x2006, status: 0x12 });
    // Consistent length, but too short for LE Set Advertising Parameters.
    const [b] = await exchange(host, cmd(0x2006, [0xa0, 0x00, 0xa0]));
    expect(commandComplete(b!)).toEqual({ event: 0x0e, opcode: 0x2006, status: 0x12 });
    // Out of range values: advertising interval below 20 ms.
    const [c] = await exchange(host, cmd(0x2006, [0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0]));
    expect(commandComplete(c!)).toEqual({ event: 0x0e, opcode: 0x2006, status: 0x12 });
    // Commands that answer with Command Status report it there.
    const [d] = await exchange(host, cmd(0x0406, [0x01]));
    expect(commandStatus(d!)).toEqual({ event: 0x0f, status: 0x12, opcode: 0x0406 });
    expect(air.diagnosticCounts['invalid-parameters']).toBe(4);
  });

  it('reports garbage that has no opcode with a Hardware Error event', async () => {
    air = createAir();
    const host = air.addHciDevice();
    for (const garbage of [Buffer.alloc(0), Buffer.from([0x07, 1, 2]), Buffer.from([0x01, 0x03])]) {
      const replies = await exchange(host, garbage);
      expect(replies).toEqual([Buffer.from([0x04, 0x10, 0x01, 0x01])]);
    }
    expect(air.diagnosticCounts['malformed-packet']).toBe(3);
  });

  it('answers Disconnect and Read RSSI on unknown handles with Unknown Connection Identifier (0x02)', async () => {
    air = createAir();
    const host = air.addHciDevice();
    const [a] = await exchange(host, cmd(0x0406, [0x34, 0x00, 0x13]));
    expect(commandStatus(a!)).toEqual({ event: 0x0f, status: 0x02, opcode: 0x0406 });
    const [b] = await exchange(host, cmd(0x1405, [0x34, 0x00]));
    expect(commandComplete(b!)).toMatchObject({ opcode: 0x1405, status: 0x02 });
  });

  it('drops ACL data on unknown handles and on links that are gone, without disturbing anything', async () => {
    air = createAir({ seed: 12 });
    const lock = await addTestLock(air, { name: 'door' });
    const phone = await air.addCentral({ profile: 'android' });
    const raw = air.addHciDevice();
    expect(await exchange(raw, Buffer.from([0x02, 0x40, 0x00, 0x03, 0x00, 1, 2, 3]))).toEqual([]);
    expect(air.diagnosticCounts['acl-unknown-handle']).toBe(1);

    const s = await connect(phone, 'door');
    const link = phone.linkTo(lock.device)!;
    // The phone's own socket, as noble holds it: write on a link the air has just lost.
    const socket = (phone.noble as unknown as { _bindings: { _hci: { _socket: { write(b: Buffer): void } } } })._bindings._hci._socket;
    const gone = waitForDisconnect(s.peripheral);
    air.setInRange(phone, lock.device, false);
    const att = Buffer.from([0x02, link.centralHandle & 0xff, link.centralHandle >> 8, 0x07, 0x00, 0x03, 0x00, 0x04, 0x00, 0x0a, 0x03, 0x00]);
    socket.write(att);
    expect(air.diagnosticCounts['acl-on-closed-link']).toBe(1);
    expect(await within(gone, 5000, 'disconnect')).toBe(0x08);
    socket.write(att);
    expect(air.diagnosticCounts['acl-unknown-handle']).toBe(2);
    air.setInRange(phone, lock.device, true);
    const again = await connect(phone, 'door');
    expect((await again.read.readAsync()).toString()).toBe('hello from door');
  });

  it('gives the buffer back for a malformed ACL packet on a live link so flow control keeps going', async () => {
    air = createAir({ seed: 13 });
    const lock = await addTestLock(air, { name: 'door' });
    const phone = await air.addCentral({ profile: 'android' });
    const s = await connect(phone, 'door');
    const h = phone.linkTo(lock.device)!.centralHandle;
    const socket = (phone.noble as unknown as { _bindings: { _hci: { _socket: { write(b: Buffer): void; on(e: string, f: (b: Buffer) => void): void } } } })._bindings._hci._socket;
    const nocp = new Promise<Buffer>((resolve) => socket.on('data', (b: Buffer) => b[1] === 0x13 && b[0] === 0x04 && resolve(b)));
    // Length field says 9, three bytes follow.
    socket.write(Buffer.from([0x02, h & 0xff, h >> 8, 0x09, 0x00, 1, 2, 3]));
    const ev = await within(nocp, 2000, 'Number Of Completed Packets');
    expect(ev.readUInt16LE(4)).toBe(h);
    expect(air.diagnosticCounts['acl-malformed']).toBe(1);
    expect((await s.read.readAsync()).toString()).toBe('hello from door');
  });

  it('survives random bytes from a host; the other links carry on', async () => {
    air = createAir({ seed: 14 });
    const lock = await addTestLock(air, { name: 'door' });
    const phone = await air.addCentral({ profile: 'ios' });
    const s = await connect(phone, 'door');
    const raw = air.addHciDevice({ name: 'fuzzer' });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.constantFrom(0x01, 0x02, 0x04, 0x09), async (bytes, type) => {
        const packet = Buffer.from([type, ...bytes]);
        expect(() => raw.socket.write(packet)).not.toThrow();
        await new Promise((r) => setImmediate(r));
      }),
      { seed: 14, numRuns: 300 },
    );
    expect(air.diagnosticCounts['internal-error'] ?? 0).toBe(0);
    await s.write.writeAsync(Buffer.from('still here'), false);
    expect(lock.writes.at(-1)?.data.toString()).toBe('still here');
  });

  it('contains a throwing host listener: reported once, other links unaffected', async () => {
    const errors: string[] = [];
    air = createAir({ seed: 15, onHostError: (e, d) => errors.push(`${d.name}: ${(e as Error).message}`) });
    const a = await addTestLock(air, { name: 'door-a' });
    await addTestLock(air, { name: 'door-b' });
    const phone = await air.addCentral();
    const bad = (a.device.bleno as unknown as { _bindings: { _hci: { _socket: { on(e: string, f: () => void): void } } } })._bindings._hci._socket;
    let thrown = 0;
    bad.on('data', () => {
      if (thrown++ === 0) throw new Error('listener bug');
    });
    const sa = await connect(phone, 'door-a');
    const sb = await connect(phone, 'door-b');
    expect((await sb.read.readAsync()).toString()).toBe('hello from door-b');
    expect((await sa.read.readAsync()).toString()).toBe('hello from door-a');
    expect(errors).toEqual(['door-a: listener bug']);
  });

  it('drops writes from a stack whose device was removed', async () => {
    air = createAir({ seed: 16 });
    const lock = await addTestLock(air, { name: 'door' });
    const socket = (lock.device.bleno as unknown as { _bindings: { _hci: { _socket: { write(b: Buffer): void } } } })._bindings._hci._socket;
    await lock.device.close();
    expect(() => socket.write(cmd(0x0c03))).not.toThrow();
    expect(air.diagnosticCounts['write-after-close']).toBe(1);
    expect(air.device(lock.device.address)).toBeUndefined();
  });
});
