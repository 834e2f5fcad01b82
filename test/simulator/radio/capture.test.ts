/** btsnoop capture: written per controller, parsed back, and opened by tshark when it is installed. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAir, DATALINK_H4, parseBtsnoop, readBtsnoopFile, type BtsnoopRecord } from '@latchkit/simulator';
import { addTestLock, connect } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkit-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasTshark = spawnSync('sh', ['-c', 'command -v tshark'], { encoding: 'utf8' }).status === 0;

/** ACL records whose L2CAP payload starts with ATT opcode `op`. */
function att(records: BtsnoopRecord[], op: number, direction: BtsnoopRecord['direction']): BtsnoopRecord[] {
  return records.filter((r) => r.data[0] === 0x02 && r.direction === direction && r.data.length > 9 && r.data.readUInt16LE(7) === 0x0004 && r.data[9] === op);
}

function event(records: BtsnoopRecord[], code: number, sub?: number): BtsnoopRecord[] {
  return records.filter((r) => r.data[0] === 0x04 && r.data[1] === code && (sub === undefined || r.data[3] === sub));
}

async function session(): Promise<{ lockFile: string; phoneFile: string; established: number; closedAt: number }> {
  const air = createAir({ seed: 31, capture: { dir } });
  await addTestLock(air, { name: 'door-cap', readValue: Buffer.from('captured') });
  const phone = await air.addCentral({ name: 'phone-cap', profile: 'android' });
  const s = await connect(phone, 'door-cap');
  const link = phone.links()[0]!;
  expect((await s.read.readAsync()).toString()).toBe('captured');
  await s.write.writeAsync(Buffer.from('hello'), false);
  await s.peripheral.disconnectAsync();
  const closure = await link.closed;
  await air.close();
  return { lockFile: join(dir, 'door-cap.btsnoop'), phoneFile: join(dir, 'phone-cap.btsnoop'), established: link.establishedAtMs, closedAt: closure.atMs };
}

describe('btsnoop capture', () => {
  it('writes one H4 btsnoop file per controller that parses back into the session', async () => {
    const { lockFile, phoneFile, established, closedAt } = await session();
    const phone = readBtsnoopFile(phoneFile);
    const lock = readBtsnoopFile(lockFile);
    for (const f of [phone, lock]) {
      expect(f.version).toBe(1);
      expect(f.datalink).toBe(DATALINK_H4);
      // The host speaks first: its first command is in the file as host-to-controller.
      expect(f.records[0]).toMatchObject({ direction: 'host-to-controller', commandOrEvent: true });
      expect(f.records[0]!.data[0]).toBe(0x01);
      for (const r of f.records) {
        expect(r.commandOrEvent).toBe(r.data[0] !== 0x02);
        expect(r.originalLength).toBe(r.data.length);
      }
    }
    // The read request leaves the phone's host and reaches the lock's host; the response goes back.
    expect(att(phone.records, 0x0a, 'host-to-controller')).toHaveLength(1);
    expect(att(lock.records, 0x0a, 'controller-to-host')).toHaveLength(1);
    const response = att(phone.records, 0x0b, 'controller-to-host');
    expect(response).toHaveLength(1);
    expect(response[0]!.data.subarray(10).toString()).toBe('captured');
    // What a host receives starts with packet-boundary flag 0b10 whatever the sender used.
    expect(att(lock.records, 0x0a, 'controller-to-host')[0]!.data.readUInt16LE(1) >> 12).toBe(0x2);
    // Timestamps are modelled time: Connection Complete to Disconnection Complete spans the link.
    const connected = event(phone.records, 0x3e, 0x01)[0]!;
    const disconnected = event(phone.records, 0x05)[0]!;
    const spanUs = Number(disconnected.timestampUs - connected.timestampUs);
    expect(spanUs / 1000).toBeCloseTo(closedAt - established, 2);
    // Flow control made it to the file too.
    expect(event(phone.records, 0x13).length).toBeGreaterThan(0);
  });

  it('tells a truncated file and a foreign file apart', () => {
    expect(() => parseBtsnoop(Buffer.from('not a capture at all'))).toThrow(/bad magic/);
    expect(() => parseBtsnoop(Buffer.from('btsnoop\0'))).toThrow(/16-byte header/);
    const header = Buffer.alloc(16);
    header.write('btsnoop\0', 'latin1');
    header.writeUInt32BE(1, 8);
    header.writeUInt32BE(1002, 12);
    const record = Buffer.alloc(24 + 4);
    record.writeUInt32BE(4, 0);
    record.writeUInt32BE(4, 4);
    expect(parseBtsnoop(Buffer.concat([header, record])).records).toHaveLength(1);
    expect(() => parseBtsnoop(Buffer.concat([header, record.subarray(0, 20)]))).toThrow(/truncated record header/);
    expect(() => parseBtsnoop(Buffer.concat([header, record.subarray(0, 26)]))).toThrow(/truncated record data/);
  });

  it.skipIf(!hasTshark)('opens in tshark, which decodes the ATT traffic', async () => {
    const { phoneFile } = await session();
    const out = execFileSync('tshark', ['-r', phoneFile, '-Y', 'btatt', '-T', 'fields', '-e', 'btatt.opcode'], { encoding: 'utf8' });
    const opcodes = out.split(/\s+/).filter(Boolean).map((x) => Number.parseInt(x, 16));
    expect(opcodes).toContain(0x02); // Exchange MTU Request
    expect(opcodes).toContain(0x0a); // Read Request
    expect(opcodes).toContain(0x0b); // Read Response
    writeFileSync(join(dir, 'tshark.txt'), out);
  });
});
