/**
 * `latchkit sim …` and `latchkit events`: commands that drive a running `latchkit serve` world
 * over its HTTP API (a real HTTP client), so they never open the store's locks themselves.
 *
 * The server is found from `--server`, `$LATCHKIT_SERVER`, or `<state-dir>/server.json` (written
 * by serve while it listens); the token from `--token`, `$LATCHKIT_TOKEN`, or
 * `<state-dir>/demo-token` (written by `serve --demo`); the property from `--property`, or the
 * store's only property.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ERROR_CATALOGUE, GatewayError, type GatewayErrorCode } from '../errors.js';
import { all } from '../model/base.js';
import type { Db } from '../store/db.js';
import { int } from './args.js';
import type { CliIo } from './main.js';
import { DEMO_TOKEN_FILE, SERVER_FILE } from './serve.js';

export interface SimCommandDeps {
  io: CliIo;
  stateDir: () => string;
  store: () => Db;
  json: () => boolean;
}

interface Target {
  url: string;
  token: string;
  propertyId: number;
}

/** A duration for the world clock: `90` (minutes), `90m`, `6h`, `2d`. */
export function parseMinutes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([mhd]?)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected minutes, or a number with m, h or d (e.g. 90, 6h, 2d), got "${value}"`);
  const n = Number(m[1]) * (m[2] === 'h' ? 60 : m[2] === 'd' ? 1440 : 1);
  if (!(n > 0)) throw new InvalidArgumentError(`the world clock only moves forward: expected more than 0 minutes, got "${value}"`);
  return n;
}

export function registerSimCommands(program: Command, deps: SimCommandDeps): void {
  const { io } = deps;
  const opts = (cmd: Command): { server?: string; token?: string; property?: number } => cmd.optsWithGlobals();

  const target = (cmd: Command): Target => {
    const o = opts(cmd);
    const dir = deps.stateDir();
    let url = o.server ?? io.env['LATCHKIT_SERVER'];
    if (!url) {
      const f = join(dir, SERVER_FILE);
      if (!existsSync(f)) throw new GatewayError('SERVER_UNREACHABLE', `no running server found: ${f} does not exist; start one with \`latchkit serve --radio virtual\` or pass --server`);
      url = (JSON.parse(readFileSync(f, 'utf8')) as { url: string }).url;
    }
    let token = o.token ?? io.env['LATCHKIT_TOKEN'];
    if (!token) {
      const f = join(dir, DEMO_TOKEN_FILE);
      if (!existsSync(f)) throw new GatewayError('UNAUTHENTICATED', `no token: pass --token, set LATCHKIT_TOKEN, or start the server with --demo (which writes ${f})`);
      token = readFileSync(f, 'utf8').trim();
    }
    let propertyId = o.property;
    if (propertyId === undefined) {
      const ids = all<{ id: number }>(deps.store(), 'SELECT id FROM properties ORDER BY id LIMIT 2');
      if (ids.length !== 1) throw new GatewayError('INVALID_ARGUMENT', `the store has ${ids.length === 0 ? 'no property' : 'several properties'}; pass --property`);
      propertyId = ids[0]!.id;
    }
    return { url: url.replace(/\/+$/, ''), token, propertyId };
  };

  /**
   * One request to the running server: a connection failure is SERVER_UNREACHABLE, a refusal
   * the server's own code and message (INTERNAL for a code this CLI does not know).
   */
  const request = async (t: Target, path: string, init: RequestInit): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(`${t.url}/properties/${t.propertyId}${path}`, { ...init, headers: { authorization: `Bearer ${t.token}`, ...(init.headers as Record<string, string> | undefined) } });
    } catch (err) {
      throw new GatewayError('SERVER_UNREACHABLE', `cannot reach ${t.url}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`);
    }
    if (!res.ok) {
      const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string; details?: Record<string, unknown> } };
      const code = data.error?.code ?? 'INTERNAL';
      throw new GatewayError(code in ERROR_CATALOGUE ? (code as GatewayErrorCode) : 'INTERNAL', data.error?.message ?? `HTTP ${res.status}`, data.error?.details);
    }
    return res;
  };

  const call = async (cmd: Command, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await request(target(cmd), path, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return (await res.json().catch(() => ({}))) as Record<string, unknown>;
  };

  const show = (data: unknown, text: () => string): void => io.out(deps.json() ? JSON.stringify(data, null, 2) : text());
  const attempt = (what: string, r: Record<string, unknown>): string =>
    `${what}: ${String(r['outcome']).toUpperCase()}${r['reason'] ? ` (${String(r['reason'])})` : ''}${r['credentialKind'] ? ` — ${String(r['credentialKind'])}` : ''}${r['personId'] ? `, person ${String(r['personId'])}` : ''}`;
  const ms = (x: unknown): string => `${Number(x).toFixed(0)} ms`;

  const sim = program
    .command('sim')
    .description('drive the running world of `latchkit serve --radio virtual`: Door Sync, phone unlock, keypad, keycard, faults, clock')
    .option('--server <url>', 'the running server (default: $LATCHKIT_SERVER or <state-dir>/server.json)')
    .option('--token <token>', 'API token with Key Management (default: $LATCHKIT_TOKEN or <state-dir>/demo-token)')
    .option('--property <id>', 'property id (default: the store\'s only property)', int('property id'));

  sim
    .command('doors')
    .description("every door's state: compiled vs enforced sequence, what the lock runs, battery, range")
    .action(async (_o, cmd: Command) => {
      const doors = (await call(cmd, 'GET', '/simulate/doors')) as unknown as Record<string, unknown>[];
      show(doors, () =>
        doors
          .map((d) => `${String(d['doorId']).padStart(5)}  ${String(d['name']).padEnd(22)} ${String(d['connectivity']).padEnd(7)} ${d['inSync'] ? 'in sync   ' : Number(d['compiledSeq']) === 0 && Number(d['enforcedSeq']) === 0 ? 'never synced (factory-new lock)' : `behind (${String(d['enforcedSeq'])} of ${String(d['compiledSeq'])}${Number(d['pendingChanges']) > 0 ? ', changes pending' : ''})`} lock seq ${String(d['lockSeq'])}  battery ${String(d['battery'])}%${d['inRange'] ? '' : '  OUT OF RANGE'}${d['lockedOutUntil'] ? `  locked out until ${String(d['lockedOutUntil'])}` : ''}`)
          .join('\n'),
      );
    });

  sim
    .command('door-sync')
    .description("Door Sync: the manager's phone in range of the door commissions it if needed and delivers what it lacks")
    .argument('<doorId>', 'door id', int('door id'))
    .action(async (doorId: number, _o, cmd: Command) => {
      const r = await call(cmd, 'POST', `/simulate/doors/${doorId}/door-sync`);
      const s = r['result'] as Record<string, unknown>;
      const events = Number(s['eventsUploaded']);
      const attempts = Number(s['attempts']);
      show(r, () => `Door Sync of door ${doorId}: seq ${String(r['seqBefore'])} -> ${String(r['seqAfter'])}${s['commissioned'] ? ', commissioned' : ''}${s['sent'] ? `, ${String(s['sent'])} ${String(s['bytes'])} B` : ', already up to date'}, ${events} event${events === 1 ? '' : 's'} uploaded, ${ms(s['elapsedMs'])} modelled${attempts > 1 ? ` (${attempts} attempts: the link or the lock failed before)` : ''}`);
    });

  sim
    .command('unlock')
    .description("a person's phone at the door: passive sync if the door is behind, then unlock")
    .argument('<doorId>', 'door id', int('door id'))
    .requiredOption('--person <id>', 'person id', int('person id'))
    .option('--profile <profile>', 'ios or android', 'ios')
    .action(async (doorId: number, o: { person: number; profile: string }, cmd: Command) => {
      if (o.profile !== 'ios' && o.profile !== 'android') throw new InvalidArgumentError(`--profile: expected ios or android, got "${o.profile}"`);
      const r = await call(cmd, 'POST', `/simulate/doors/${doorId}/phone-unlock`, { personId: o.person, profile: o.profile });
      const relay = r['relay'] as Record<string, unknown> | null;
      show(r, () => `${attempt(`phone of person ${o.person} at door ${doorId}`, { ...r, credentialKind: 'phone', personId: null })}${relay ? `; relayed ${String(relay['sent'])} of ${String(relay['bytes'])} B (seq ${String(r['seqBefore'])} -> ${String(r['seqAfter'])})` : ''}${r['relayError'] ? `; relay refused: ${String(r['relayError'])}` : ''}; ${ms((r['modelledMs'] as Record<string, unknown>)['total'])} modelled`);
    });

  sim
    .command('keypad')
    .description("type a code on the door's keypad")
    .argument('<doorId>', 'door id', int('door id'))
    .argument('<code>', 'the digits')
    .action(async (doorId: number, code: string, _o, cmd: Command) => {
      const r = await call(cmd, 'POST', `/simulate/doors/${doorId}/keypad`, { code });
      show(r, () => attempt(`keypad ${code} at door ${doorId}`, r));
    });

  sim
    .command('card')
    .description('hold a keycard the property issued to the reader')
    .argument('<doorId>', 'door id', int('door id'))
    .argument('<uid>', 'card UID (hex)')
    .option('--cloned', 'a copy: right UID, no key')
    .action(async (doorId: number, uid: string, o: { cloned?: boolean }, cmd: Command) => {
      const r = await call(cmd, 'POST', `/simulate/doors/${doorId}/keycard`, { uid: uid.toLowerCase(), cloned: o.cloned === true });
      show(r, () => attempt(`${o.cloned ? 'cloned ' : ''}card ${uid} at door ${doorId}`, r));
    });

  sim
    .command('power-cut')
    .description("cut the lock's power now, or at the Nth flash write of the next set it applies")
    .argument('<doorId>', 'door id', int('door id'))
    .option('--at-write <n>', 'flash write (0-based) of the next apply', (s) => {
      if (!/^\d+$/.test(s)) throw new InvalidArgumentError(`expected a write number, got "${s}"`);
      return Number(s);
    })
    .action(async (doorId: number, o: { atWrite?: number }, cmd: Command) => {
      const r = await call(cmd, 'POST', `/simulate/doors/${doorId}/power-cut`, o.atWrite === undefined ? {} : { atWrite: o.atWrite });
      show(r, () => (r['mode'] === 'now' ? `door ${doorId}: power cut and restored; the lock booted from flash` : `door ${doorId}: power will fail at write ${String(r['atWrite'])} of ${String(r['applyWrites'])} of the next apply`));
    });

  sim
    .command('battery')
    .description("set the lock battery's charge")
    .argument('<doorId>', 'door id', int('door id'))
    .argument('<percent>', '0 to 100', int('percent'))
    .action(async (doorId: number, percent: number, _o, cmd: Command) => {
      const r = await call(cmd, 'POST', `/simulate/doors/${doorId}/battery`, { percent });
      show(r, () => `door ${doorId}: battery ${String(r['battery'])}%`);
    });

  sim
    .command('range')
    .description('take a door out of every radio range, or bring it back')
    .argument('<doorId>', 'door id', int('door id'))
    .argument('<state>', 'in or out')
    .action(async (doorId: number, state: string, _o, cmd: Command) => {
      if (state !== 'in' && state !== 'out') throw new InvalidArgumentError(`expected in or out, got "${state}"`);
      const r = await call(cmd, 'POST', `/simulate/doors/${doorId}/range`, { inRange: state === 'in' });
      show(r, () => `door ${doorId}: ${r['inRange'] ? 'in range' : 'out of range'}`);
    });

  sim
    .command('lock-clock')
    .description("move the lock's RTC by N seconds (negative: behind)")
    .argument('<doorId>', 'door id', int('door id'))
    .argument('<seconds>', 'seconds, e.g. -3600')
    .action(async (doorId: number, seconds: string, _o, cmd: Command) => {
      if (!/^[-+]?\d+$/.test(seconds)) throw new InvalidArgumentError(`expected whole seconds, e.g. 600 or -3600, got "${seconds}"`);
      const r = await call(cmd, 'POST', `/simulate/doors/${doorId}/lock-clock`, { skewSeconds: Number(seconds) });
      show(r, () => `door ${doorId}: lock clock ${String(r['lockClock'])}`);
    });

  sim
    .command('install-phone')
    .description("give a person a simulated phone (its key becomes the person's phone key)")
    .argument('<personId>', 'person id', int('person id'))
    .action(async (personId: number, _o, cmd: Command) => {
      const r = await call(cmd, 'POST', `/simulate/people/${personId}/install-phone`);
      show(r, () => `person ${personId}: ${r['added'] ? 'phone key added' : 'already had the simulated phone'} (${String(r['publicKey'])})`);
    });

  sim
    .command('clock')
    .description("show the world's time, or advance it")
    .option('--advance <duration>', 'minutes, or with m/h/d (90, 6h, 2d)', parseMinutes)
    .action(async (o: { advance?: number }, cmd: Command) => {
      const r = o.advance === undefined ? await call(cmd, 'GET', '/simulate/clock') : await call(cmd, 'POST', '/simulate/clock/advance', { minutes: o.advance });
      show(r, () => `world time ${String(r['now'])} (${(Number(r['aheadMs']) / 60_000).toFixed(0)} minutes ahead of wall time)`);
    });

  program
    .command('events')
    .description("the running server's live event stream (Server-Sent Events): recent events, or --follow")
    .option('--server <url>', 'the running server (default: $LATCHKIT_SERVER or <state-dir>/server.json)')
    .option('--token <token>', 'API token (default: $LATCHKIT_TOKEN or <state-dir>/demo-token)')
    .option('--property <id>', "property id (default: the store's only property)", int('property id'))
    .option('--since <id>', 'start after this event id (default: the last --last events)', int('event id'))
    .option('--last <n>', 'how many recent events to print first', int('count'), 10)
    .option('--follow', 'keep printing new events until interrupted')
    .action(async (o: { since?: number; last: number; follow?: boolean }, cmd: Command) => {
      const t = target(cmd);
      const ac = new AbortController();
      const stop = (io.untilStopped ?? (() => new Promise<void>(() => undefined)))();
      // The buffer is replayed from `since`; without it, from the start, and only the last N are printed.
      const res = await request(t, `/events?lastEventId=${o.since ?? 0}`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
      if (!res.body) throw new GatewayError('SERVER_UNREACHABLE', `${t.url} answered the event stream without a body`);
      const print = (e: Record<string, unknown>): void => io.out(deps.json() ? JSON.stringify(e) : describeEvent(e));
      const backlog: Record<string, unknown>[] = [];
      let live = false;
      const reader = readEvents(res.body, (e) => (live ? print(e) : backlog.push(e)));
      // The replay arrives at once; what comes after it is live.
      await new Promise((r) => setTimeout(r, 300));
      for (const e of o.since === undefined ? (o.last === 0 ? [] : backlog.slice(-o.last)) : backlog) print(e);
      live = true;
      if (o.follow) await Promise.race([stop, reader]);
      ac.abort();
      await reader.catch(() => undefined);
    });
}

/** Parse a text/event-stream body, calling `onEvent` with each message's JSON data. */
export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (e: Record<string, unknown>) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (data) onEvent(JSON.parse(data) as Record<string, unknown>);
    }
  }
}

/** One line per stream event, for people. */
export function describeEvent(e: Record<string, unknown>): string {
  const at = String(e['at']).slice(0, 19).replace('T', ' ');
  const head = `#${String(e['id'])} ${at} ${String(e['kind']).padEnd(8)}`;
  switch (e['kind']) {
    case 'attempt':
      return `${head} ${String(e['doorName'])}: ${String(e['outcome']).toUpperCase()} ${String(e['credentialKind'] ?? 'unknown credential')}${e['personName'] ? ` of ${String(e['personName'])}` : ''}${e['reason'] ? ` (${String(e['reason'])})` : ''}`;
    case 'sync':
      return `${head} door ${String(e['doorId'])} by ${String(e['by'])}: ${String(e['phase'])}${e['sent'] ? ` ${String(e['sent'])} seq ${String(e['seq'])} ${String(e['bytes'])} B` : ''}${e['code'] ? ` ${String(e['code'])}` : ''}`;
    case 'door':
      return `${head} ${String(e['name'])}: ${e['inSync'] ? 'in sync' : 'behind'} (enforces ${String(e['enforcedSeq'])}, compiled ${String(e['compiledSeq'])}), battery ${String(e['battery'])}%${e['lockedOutUntil'] ? ', locked out' : ''}${e['inRange'] ? '' : ', out of range'}`;
    case 'access':
    case 'activity':
      return `${head} ${String(e['message'])}`;
    case 'clock':
      return `${head} world time ${String(e['now'])}`;
    case 'gap':
      return e['reason'] === 'server restarted'
        ? `${head} the server restarted since that event id: what happened before its restart is not in the stream`
        : `${head} ${String(e['missed'])} events were dropped from the server's buffer before this reconnect`;
    case 'visit':
      return `${head} door ${String(e['doorId'])}: phone of person ${String(e['personId'])} ${String(e['outcome']).toUpperCase()}${e['relayed'] ? `, relayed a ${String(e['relayed'])}` : ''}, ${Number(e['modelledMs']).toFixed(0)} ms modelled`;
    default:
      return `${head} ${JSON.stringify(e)}`;
  }
}
