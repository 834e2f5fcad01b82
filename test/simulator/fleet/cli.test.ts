/**
 * The simulator's CLI commands, run in-process through commander with captured output:
 * `lock run` driven by scripted input, `lock state` (text and JSON), `fleet start --check`.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '@latchkit/protocol';
import { registerSimulatorCommands } from '../../../simulator/src/cli/index.js';
import { SimulatorError } from '../../../simulator/src/errors.js';
import { det } from '../lock/fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'latchkit-cli-'));
  dirs.push(d);
  return d;
}

async function run(args: string[], input: string[] = []): Promise<string[]> {
  const lines: string[] = [];
  const output = new PassThrough();
  output.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter((l) => l !== '')));
  const program = new Command('latchkit').option('--json').exitOverride();
  registerSimulatorCommands(program, { out: (t) => lines.push(t), err: (t) => lines.push(`ERR ${t}`), input: Readable.from(input.map((l) => `${l}\n`)), output });
  await program.parseAsync(args, { from: 'user' });
  return lines;
}

describe('latchkit lock', () => {
  it('run: a hardware engineer types codes, taps cards, cuts power and reboots', async () => {
    const dir = join(tmp(), 'lock');
    const out = await run(['lock', 'run', '--dir', dir, '--id', '4c4b0000000000c1', '--device', 'compact', '--demo'], [
      '123456',
      '999999',
      'card 04a1b2c3d4e5f6',
      'card 04a1b2c3d4e5f6 clone',
      '777777',
      'key 6',
      'key 5',
      'key 4',
      'key 3',
      'key 2',
      'key 1',
      'key #',
      'cut',
      '654321',
      '123456',
      'reboot',
      'state',
      'nonsense',
      'quit',
    ]);
    const text = out.join('\n');
    expect(text).toMatch(/demo set installed \(seq 1\)/);
    expect(text).toMatch(/GRANTED doorcode holder 1001/);
    expect(text).toMatch(/DENIED doorcode unknownCredential/);
    expect(text).toMatch(/GRANTED keycard holder 1001/);
    expect(text).toMatch(/DENIED keycard badProof holder 1001/);
    expect(text).toMatch(/DENIED doorcode notYetValid holder 2001/);
    expect(text).toMatch(/GRANTED doorcode holder 1002/);
    expect(text).toMatch(/\[bolt retracted \(unlocked\)\]/);
    expect(text).toMatch(/POWER LOST: .*power cut during flash write/);
    expect(text).toMatch(/rebooted: seq 1/);
    expect(text).toMatch(/credentials 5 \(doorcode 3, daily 1, keycard 1, phone 0/);
    expect(text).toMatch(/unknown command "nonsense"/);
  });

  it('state: prints a lock directory without changing it, as text or JSON', async () => {
    const dir = join(tmp(), 'lock');
    await run(['lock', 'run', '--dir', dir, '--id', '4c4b0000000000c2', '--demo'], ['123456', 'quit']);
    const text = (await run(['lock', 'state', dir, '--events', '3'])).join('\n');
    expect(text).toMatch(/lock +4c4b0000000000c2 \(standard/);
    expect(text).toMatch(/set +seq 1, digest [0-9a-f]{64}/);
    expect(text).toMatch(/last 3 event\(s\):\n.*commissioned generation 1\n.*syncApplied seq 1\n.*granted doorcode holder 1001/);
    const json = JSON.parse((await run(['--json', 'lock', 'state', dir])).join('\n')) as { seq: number; counts: { doorcode: number }; events: Array<{ type: string }> };
    expect(json.seq).toBe(1);
    expect(json.counts.doorcode).toBe(3);
    expect(json.events.at(-1)!.type).toBe('granted');
    await expect(run(['lock', 'state', join(dir, 'missing')])).rejects.toBeInstanceOf(SimulatorError);
  });

  it('run: refuses to make a new lock in a directory that holds other files, and leaves them alone', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'notes.txt'), 'not a lock');
    await expect(run(['lock', 'run', '--dir', dir, '--id', '4c4b0000000000c3', '--demo'], ['quit'])).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });
});

describe('latchkit fleet start', () => {
  it('starts a property file, checks every lock over the radio, and stops', async () => {
    const dir = tmp();
    const file = join(dir, 'p.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        name: 'CLI Court',
        backend: { issuerSeed: toHex(det('cli-issuer')) },
        credentials: [{ holder: 7, doorcode: '424242' }],
        generate: { count: 3 },
      }),
    );
    const out = await run(['fleet', 'start', file, '--check', '--for', '0']);
    const text = out.join('\n');
    expect(text).toMatch(/starting 3 lock\(s\)/);
    expect(text).toMatch(/3\/3 started/);
    expect(text).toMatch(/fleet "CLI Court": 3 lock\(s\) advertising on the virtual radio/);
    expect(out.filter((l) => /^ {2}ok door \d 4c4b0000000000\d\d: seq 1, battery 100%/.test(l))).toHaveLength(3);
    expect(text).toMatch(/check: 3\/3 lock\(s\) answered over the radio/);
    expect(text).toMatch(/fleet stopped/);
  });
});
