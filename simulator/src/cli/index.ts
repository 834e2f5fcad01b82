/**
 * The simulator's commands of the `latchkit` CLI: `fleet start`, `lock run`, `lock state`.
 *
 * The gateway owns the binary and calls `registerSimulatorCommands(program)`. Actions throw
 * typed errors (SimulatorError, ProtocolError, RadioError, each with a stable `code`) and leave
 * formatting and the exit status to the program, as the gateway's `runCli` does for its own.
 * Program-level options of the same name (`--json`) are read through `optsWithGlobals()`.
 */
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { fromHex, toHex } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { serveLock } from '../lock/gatt-service.js';
import { inspectLockDir, openLockDir } from '../lock/lock-dir.js';
import { DEVICE_PROFILES, type DeviceProfileName } from '../lock/profiles.js';
import { keepTime } from '../lock/runtime.js';
import { findLock } from '../phone/discover.js';
import { LockClient } from '../phone/client.js';
import { openRadio, type Radio, type VirtualCentral } from '../radio/index.js';
import { installDemo } from './demo.js';
import { formatEvent, formatSummary, isoSeconds } from './format.js';
import { runLockRepl } from './repl.js';

export interface SimulatorCliIo {
  out(text: string): void;
  err(text: string): void;
  cwd?: string;
  /** Resolves when a long-running command should stop (default: SIGINT or SIGTERM). */
  untilStopped?: () => Promise<void>;
  /** Keyboard input and echo for `lock run` (default: process.stdin / process.stdout). */
  input?: Readable;
  output?: Writable;
}

const processIo = (): SimulatorCliIo => ({
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
});

function untilSignal(): Promise<void> {
  return new Promise((done) => {
    // A pending promise alone does not keep Node running; this timer does, until a signal.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const stop = (): void => {
      clearInterval(keepAlive);
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

const radioKind = (value: string): 'virtual' | 'hci' => {
  if (value !== 'virtual' && value !== 'hci') throw new InvalidArgumentError(`expected "virtual" or "hci", got "${value}"`);
  return value;
};
const lockRadioKind = (value: string): 'none' | 'virtual' | 'hci' => (value === 'none' ? 'none' : radioKind(value));
const profileName = (value: string): DeviceProfileName => {
  if (!(value in DEVICE_PROFILES)) throw new InvalidArgumentError(`expected one of ${Object.keys(DEVICE_PROFILES).join(', ')}, got "${value}"`);
  return value as DeviceProfileName;
};
const lockIdArg = (value: string): Uint8Array => {
  if (!/^[0-9a-fA-F]{16}$/.test(value)) throw new InvalidArgumentError(`expected 16 hex digits (8 bytes), got "${value}"`);
  return fromHex(value.toLowerCase());
};
const positiveInt = (what: string) => (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected ${what} (a non-negative integer), got "${value}"`);
  return Number(value);
};

/** Add `fleet start`, `lock run` and `lock state` to a commander program. */
export function registerSimulatorCommands(program: Command, ioIn: SimulatorCliIo = processIo()): Command {
  const io = ioIn;
  const cwd = (): string => io.cwd ?? process.cwd();

  const fleet = program.command('fleet').description('run simulated locks of a property');
  fleet
    .command('start <file>')
    .description('start every lock of a property description (JSON; schema in simulator/LOCK.md) and serve them until Ctrl-C')
    .option('--radio <kind>', 'virtual (default, in-process air) or hci (a real adapter; one lock)', radioKind)
    .option('--locks-dir <dir>', 'where lock state lives (default: the file\'s stateDir)')
    .option('--watch', 'print every event of every lock as it happens')
    .option('--check', 'after start, connect to each lock over the radio and read its info')
    .option('--for <seconds>', 'stop after this many seconds instead of waiting for Ctrl-C', positiveInt('seconds'))
    .action(async (file: string, opts: { radio?: 'virtual' | 'hci'; locksDir?: string; watch?: boolean; check?: boolean; for?: number }) => {
      const path = resolve(cwd(), file);
      const t0 = performance.now();
      let lastShown = 0;
      const started = await startFleet(path, {
        ...(opts.radio ? { radioKind: opts.radio } : {}),
        ...(opts.locksDir ? { stateDir: resolve(cwd(), opts.locksDir) } : {}),
        onProgress: (p) => {
          if (p.phase === 'starting') io.out(`starting ${p.total} lock(s)…`);
          // About ten progress lines whatever the fleet size, plus the last one.
          if (p.phase === 'started' && (p.done === p.total || p.done - lastShown >= Math.max(1, Math.ceil(p.total / 10)))) {
            lastShown = p.done;
            io.out(`  ${p.done}/${p.total} started${p.lock ? ` (last: ${p.lock.name} ${p.lock.id}, seq ${p.lock.seq})` : ''}`);
          }
        },
        ...(opts.watch ? { onEvent: (lock, e) => io.out(`${lock.name} ${lock.id}: ${formatEvent(e)}`) } : {}),
      });
      io.out(`fleet "${started.name}": ${started.locks.size} lock(s) advertising on the ${started.radio.kind} radio (${((performance.now() - t0) / 1000).toFixed(1)} s); state in ${started.property.stateDir}`);
      try {
        if (opts.check) await checkFleet(started, io);
        if (opts.for !== undefined) await new Promise((r) => setTimeout(r, opts.for! * 1000));
        else {
          io.out('serving; press Ctrl-C to stop');
          await (io.untilStopped ?? untilSignal)();
        }
      } finally {
        await started.stop();
        io.out('fleet stopped');
      }
    });

  const lock = program.command('lock').description('run or inspect one simulated lock');
  lock
    .command('run')
    .description('run one lock interactively: type codes, tap cards, watch events, show state')
    .option('--dir <dir>', 'lock directory (created if missing)', 'latchkit-lock')
    .option('--id <hex>', 'lock id for a new directory (16 hex digits; default random)', lockIdArg)
    .option('--device <profile>', `device profile for a new directory (${Object.keys(DEVICE_PROFILES).join(', ')})`, profileName)
    .option('--demo', 'commission with a demo backend and install demo credentials (codes are printed)')
    .option('--radio <kind>', 'also advertise the lock: none (default), hci (a real adapter) or virtual', lockRadioKind, 'none')
    .action(async (opts: { dir: string; id?: Uint8Array; device?: DeviceProfileName; demo?: boolean; radio: 'none' | 'virtual' | 'hci' }) => {
      const dir = resolve(cwd(), opts.dir);
      const device = openLockDir(dir, {
        create: { lockId: opts.id ?? Uint8Array.from([0x4c, 0x4b, ...nodeCryptoProvider.randomBytes(6)]), profile: opts.device ?? 'standard' },
        indicator: (e) => io.out(`  [${e.signal}: led ${e.led}, buzzer ${e.buzzer}]`),
        bolt: (locked) => io.out(`  [bolt ${locked ? 'thrown (locked)' : 'retracted (unlocked)'}]`),
      });
      const stopTime = keepTime(device);
      let radio: Radio | null = null;
      try {
        if (opts.demo) installDemo(device, Math.floor(Date.now() / 1000)).forEach((l) => io.out(l));
        if (opts.radio !== 'none') {
          radio = await openRadio({ radio: opts.radio });
          const served = await serveLock(radio, device);
          io.out(`advertising as ${served.server.name} on the ${radio.kind} radio`);
        }
        io.out(`lock directory ${dir}`);
        await runLockRepl({ device, input: io.input ?? process.stdin, output: io.output ?? process.stdout, prompt: (io.input ?? process.stdin) === process.stdin && process.stdin.isTTY === true });
      } finally {
        stopTime();
        await radio?.close();
        device.close();
      }
    });

  lock
    .command('state <dir>')
    .description("show a lock directory's state (sequence, digest, credential counts, clock, events) without changing it")
    .option('--events <n>', 'how many of the newest events to show', positiveInt('a count'), 10)
    .option('--json', 'print as JSON')
    .action((dir: string, opts: { events: number }, cmd: Command) => {
      const json = cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      const seen = inspectLockDir(resolve(cwd(), dir), { events: opts.events });
      if (json) {
        io.out(JSON.stringify({ ...seen.summary, dir: seen.dir, events: seen.events.map((e) => ({ ...e, chain: toHex(e.chain) })) }, null, 2));
        return;
      }
      formatSummary(seen.summary).forEach((l) => io.out(l));
      if (seen.events.length > 0) {
        io.out(`last ${seen.events.length} event(s):`);
        seen.events.forEach((e) => io.out(`  ${formatEvent(e)}`));
      }
    });
  return program;
}

/** A gateway-profile central visits each lock once and reads its info over the radio. */
async function checkFleet(fleet: Fleet, io: SimulatorCliIo): Promise<void> {
  const central = await fleet.radio.addCentral({ profile: 'gateway', name: 'fleet-check' });
  try {
    let ok = 0;
    for (const lock of fleet.locks.values()) {
      const t0 = (central as Partial<VirtualCentral>).now?.() ?? performance.now();
      const peripheral = await findLock(central.noble, lock.device.lockId, 10_000);
      await peripheral.connectAsync();
      const client = await LockClient.open(peripheral);
      try {
        const info = await client.info();
        const ms = ((central as Partial<VirtualCentral>).now?.() ?? performance.now()) - t0;
        io.out(`  ok ${lock.name} ${toHex(info.lockId)}: seq ${info.seq}, battery ${info.batteryPercent}%, clock ${isoSeconds(info.clock)}, ${info.commissioned ? 'commissioned' : 'not commissioned'} (find + connect + read: ${ms.toFixed(0)} ms ${fleet.radio.kind === 'virtual' ? 'modelled' : 'wall'})`);
        ok++;
      } finally {
        await client.disconnect();
      }
    }
    io.out(`check: ${ok}/${fleet.locks.size} lock(s) answered over the radio`);
  } finally {
    await central.close();
  }
}

export { formatEvent, formatSummary } from './format.js';
export { runLockRepl, REPL_HELP } from './repl.js';
export { installDemo } from './demo.js';
