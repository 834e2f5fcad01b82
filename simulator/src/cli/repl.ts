/**
 * `latchkit lock run`: one lock at a hardware engineer's desk. Type codes on its keypad, tap
 * simulated cards, watch its events, cut its power, read its state. Lines in, lines out, so a
 * script (or a test) can drive it through any stream.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fromHex, hkdfSha256, toHex } from '@latchkit/protocol';
import { SimulatorError } from '../errors.js';
import type { LockDevice } from '../lock/device.js';
import type { AccessOutcome } from '../lock/firmware.js';
import { SimulatedCard } from '../lock/hardware.js';
import { formatEvent, formatSummary, isoSeconds } from './format.js';

export const REPL_HELP = [
  'commands:',
  '  <digits>               type a code on the keypad and press # (e.g. 123456)',
  '  key <k>                press one keypad key: 0-9, # (submit) or * (clear)',
  '  card <uid-hex> [clone] tap a card: genuine (its key diversified from the installed set), or a clone',
  '                         with the same UID and a wrong key',
  '  state                  sequence, digest, credential counts, clock, battery, bolt, events',
  '  events [n]             the last n events (default 10)',
  '  watch on|off           print events as they happen (default on)',
  '  battery <percent>      put in batteries at that charge',
  '  tamper                 trip the tamper sensor',
  '  cut [n]                cut power during the n-th next flash write (default 0: the next one)',
  '  reboot                 power-cycle the lock (flash and RTC survive)',
  '  time                   the lock clock',
  '  help, quit',
];

export interface ReplOptions {
  device: LockDevice;
  input: Readable;
  output: Writable;
  /** Print a prompt before each line (interactive terminals). */
  prompt?: boolean;
}

function outcomeLine(o: AccessOutcome): string {
  return o.granted ? `GRANTED ${o.kind} holder ${o.holder} (event #${o.event.index})` : `DENIED ${o.kind ?? ''} ${o.reason}${o.holder ? ` holder ${o.holder}` : ''} (event #${o.event.index})`;
}

/** Runs until `quit` or the end of input. */
export async function runLockRepl(o: ReplOptions): Promise<void> {
  const { device } = o;
  const write = (line: string): void => {
    o.output.write(`${line}\n`);
  };
  let watch = true;
  let offEvents = device.firmware.onEvent((e) => watch && write(`  event ${formatEvent(e)}`));
  const offBoot = device.onBoot((fw) => {
    offEvents();
    offEvents = fw.onEvent((e) => watch && write(`  event ${formatEvent(e)}`));
  });
  const rl = createInterface({ input: o.input, terminal: false });
  const prompt = (): void => {
    if (o.prompt) o.output.write('lock> ');
  };
  write(`lock ${toHex(device.lockId)} running (${device.profile.name}); type "help" for commands`);
  prompt();
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '') {
        prompt();
        continue;
      }
      const [cmd, ...args] = line.split(/\s+/);
      try {
        if (cmd === 'quit' || cmd === 'exit') break;
        handle(cmd!, args);
      } catch (err) {
        if (err instanceof SimulatorError && (err.code === 'POWER_CUT' || err.code === 'LOCK_HALTED')) {
          write(`POWER LOST: ${err.message}. Type "reboot" to power the lock up again.`);
        } else if (err instanceof Error && 'code' in err) {
          write(`error ${String((err as { code: unknown }).code)}: ${err.message}`);
        } else {
          throw err;
        }
      }
      if (!device.firmware.isHalted) device.firmware.tick();
      prompt();
    }
  } finally {
    rl.close();
    offEvents();
    offBoot();
  }

  function handle(cmd: string, args: string[]): void {
    const fw = device.firmware;
    if (/^[0-9]+$/.test(cmd)) {
      write(outcomeLine(fw.enterCode(cmd)));
      return;
    }
    switch (cmd) {
      case 'help':
        REPL_HELP.forEach(write);
        return;
      case 'key': {
        const r = fw.pressKey(args[0] ?? '');
        if (r) write(outcomeLine(r));
        return;
      }
      case 'card': {
        const uidHex = args[0] ?? '';
        if (!/^([0-9a-fA-F]{2}){4,10}$/.test(uidHex)) {
          write('usage: card <uid-hex> [clone]   (4..10 bytes of hex)');
          return;
        }
        const uid = fromHex(uidHex.toLowerCase());
        const master = fw.set?.secrets?.cardMaster;
        let card: SimulatedCard;
        if (args[1] === 'clone' || !master) {
          // Same UID, a key that was never diversified from this property's master.
          card = new SimulatedCard(uid, hkdfSha256(uid, new Uint8Array(0), 'latchkit/cli/clone', 16), device.crypto);
          if (!master && args[1] !== 'clone') write('(no set installed: the card cannot hold a genuine key)');
        } else {
          card = SimulatedCard.issue(master, uid, device.crypto);
        }
        write(outcomeLine(fw.tapCard(card)));
        return;
      }
      case 'state':
        formatSummary(fw.summary()).forEach(write);
        return;
      case 'events': {
        const n = args[0] === undefined ? 10 : Number(args[0]);
        if (!Number.isInteger(n) || n < 1) {
          write('usage: events [n]');
          return;
        }
        fw.events.tail(n).forEach((e) => write(formatEvent(e)));
        return;
      }
      case 'watch':
        if (args[0] !== 'on' && args[0] !== 'off') {
          write('usage: watch on|off');
          return;
        }
        watch = args[0] === 'on';
        write(`watch ${args[0]}`);
        return;
      case 'battery': {
        const p = Number(args[0]);
        device.battery.setPercent(p);
        write(`battery ${fw.info().batteryPercent}%`);
        return;
      }
      case 'tamper':
        fw.reportTamper(1);
        return;
      case 'cut': {
        const n = args[0] === undefined ? 0 : Number(args[0]);
        if (!Number.isInteger(n) || n < 0) {
          write('usage: cut [n]');
          return;
        }
        device.flash.cutAt({ atWrite: device.flash.writes + n });
        write(`power will fail during flash write #${device.flash.writes + n} (${n === 0 ? 'the next write' : `after ${n} more write(s)`})`);
        return;
      }
      case 'reboot': {
        const next = device.powerCycle();
        const s = next.summary();
        write(`rebooted: seq ${s.seq}${s.boot.fellBack ? ' (fell back to an older commit)' : ''}, ${s.nextEventIndex} events`);
        return;
      }
      case 'time':
        write(`${isoSeconds(fw.now())} (UTC offset ${fw.utcOffset} min)`);
        return;
      default:
        write(`unknown command "${cmd}"; type "help"`);
    }
  }
}
