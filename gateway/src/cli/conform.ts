/**
 * `latchkit conform`: the protocol conformance suite against one lock, over BLE GATT only.
 * The runner, its cases and the mutant firmwares live in @latchkit/simulator (conformance/);
 * this file is the command line around them (simulator/CONFORMANCE.md documents both).
 */
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MAX_MESSAGE_BYTES, fromHex } from '@latchkit/protocol';
import {
  CASES,
  checkMutant,
  findCases,
  formatTable,
  MUTANT_NAMES,
  MUTANTS,
  openHciTarget,
  progressLine,
  runConformance,
  runMutants,
  SimulatorError,
  startSimTarget,
  toJunit,
  type ConformanceTarget,
  type MutantName,
  type CaseResult,
  type RunOptions,
  type RunReport,
} from '@latchkit/simulator';
import type { CliIo } from './main.js';
import { table } from './format.js';

interface ConformOptions {
  target: string;
  radio?: 'virtual' | 'hci';
  hciDevice?: number;
  mutant?: string;
  listMutants?: boolean;
  listCases?: boolean;
  only?: string[];
  junit?: string;
  issuerSeed?: Uint8Array;
  caseTimeout: number;
  maxMessage?: number;
  nonceLifetime?: number;
  logCapacity?: number;
}

const hex32 = (s: string): Uint8Array => {
  if (!/^[0-9a-fA-F]{64}$/.test(s)) throw new InvalidArgumentError(`expected 64 hex digits (32 bytes), got "${s}"`);
  return fromHex(s.toLowerCase());
};

const positive = (what: string) => (s: string): number => {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new InvalidArgumentError(`expected ${what} >= 1, got "${s}"`);
  return Number(s);
};

/** A message limit no larger than the protocol's ceiling (PROTOCOL.md §13): no lock may take more. */
const messageLimit = (s: string): number => {
  const n = positive('bytes')(s);
  if (n > DEFAULT_MAX_MESSAGE_BYTES) throw new InvalidArgumentError(`expected at most ${DEFAULT_MAX_MESSAGE_BYTES} bytes (2 MiB, the protocol's ceiling), got "${s}"`);
  return n;
};

/**
 * The JUnit file must be writable before the run starts: a run against a real lock takes
 * minutes and changes the lock, and its results must not be lost to a typo in the path.
 */
function checkWritable(path: string): void {
  const existing = statSync(path, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new InvalidArgumentError(`--junit: ${path} is a directory`);
  try {
    accessSync(existing ? path : dirname(path), constants.W_OK);
  } catch {
    throw new InvalidArgumentError(`--junit: cannot write ${path} (${existing ? 'not writable' : 'its directory does not exist or is not writable'})`);
  }
}

/** What the suite needs besides the lock: a real lock needs hci, the simulated one runs on the virtual air. */
function checkTarget(o: ConformOptions): { kind: 'sim' } | { kind: 'lock'; lockId: Uint8Array } {
  if (o.target === 'sim') {
    if (o.radio === 'hci') throw new InvalidArgumentError('--target sim runs a simulated lock on the virtual radio; for a real lock give its id: --target <16 hex digits> --radio hci');
    return { kind: 'sim' };
  }
  if (!/^[0-9a-fA-F]{16}$/.test(o.target)) throw new InvalidArgumentError(`--target: expected "sim" or a lock id of 16 hex digits, got "${o.target}"`);
  if (o.radio !== 'hci') throw new InvalidArgumentError('a real lock is reached through a Bluetooth adapter: add --radio hci (the virtual radio exists only inside this process)');
  if (o.mutant !== undefined) throw new InvalidArgumentError('--mutant selects a broken simulated firmware; it needs --target sim');
  return { kind: 'lock', lockId: fromHex(o.target.toLowerCase()) };
}

export function registerConformCommand(program: Command, deps: { io: CliIo; json: () => boolean }): void {
  const { io } = deps;
  program
    .command('conform')
    .description('run the protocol conformance suite against one lock over BLE GATT (simulator/CONFORMANCE.md)')
    .option('--target <sim|lock id>', 'sim: a simulated lock started here; or the 16-hex-digit id of a real lock (with --radio hci)', 'sim')
    .addOption(new Option('--radio <kind>', 'virtual (the simulated lock) or hci (a real lock through a Bluetooth adapter)').choices(['virtual', 'hci']))
    .option('--hci-device <n>', 'hci only: adapter index (hciN); default the first adapter that is up', (s) => {
      if (!/^\d+$/.test(s)) throw new InvalidArgumentError(`expected an adapter index >= 0, got "${s}"`);
      return Number(s);
    })
    .option('--issuer-seed <hex>', 'the test issuer (32 bytes hex): the key the lock is commissioned with; keep it to run again', hex32)
    .option('--mutant <name>', 'run against a deliberately broken simulated firmware (see --list-mutants), or "all" for the mutation score')
    .option('--list-mutants', 'list the mutant firmwares and exit')
    .option('--list-cases', 'list the cases and exit')
    .option('--only <ids>', 'run only these case ids (comma-separated; cases they need must be listed too)', (s) => {
      const ids = s.split(',').map((x) => x.trim()).filter(Boolean);
      // An empty selection would run nothing and report that nothing failed.
      if (ids.length === 0) throw new InvalidArgumentError(`expected at least one case id (see --list-cases), got "${s}"`);
      return ids;
    })
    .option('--junit <file>', 'also write the results as JUnit XML')
    .option('--case-timeout <ms>', 'time-out of one case, wall ms', positive('milliseconds'), 20_000)
    .option('--max-message <bytes>', "the lock's message limit (its flash slot) for the oversize case; default and at most 2 MiB", messageLimit)
    .option('--log-capacity <records>', "the fewest event records the lock keeps once its log has wrapped (ring less one erase sector); without it the log must start at index 0", positive('records'))
    .option('--nonce-lifetime <s>', "how long the lock keeps an unlock nonce, seconds (default 30); a real lock is waited for that long", positive('seconds'))
    .action(async (o: ConformOptions) => {
      if (o.listMutants) return listMutants(io, deps.json());
      if (o.listCases) return listCases(io, deps.json());
      const target = checkTarget(o);
      const junit = o.junit === undefined ? undefined : resolve(io.cwd, o.junit);
      if (junit !== undefined) checkWritable(junit);
      const cases = o.only ? findCases(o.only) : CASES;
      const run: RunOptions = {
        caseTimeoutMs: o.caseTimeout,
        ...(o.issuerSeed ? { issuerSeed: o.issuerSeed } : {}),
        ...(o.maxMessage !== undefined ? { maxMessageBytes: o.maxMessage } : {}),
        ...(o.nonceLifetime !== undefined ? { nonceLifetimeS: o.nonceLifetime } : {}),
        ...(o.logCapacity !== undefined ? { logCapacity: o.logCapacity } : {}),
        onProgress: (p) => io.err(progressLine(p)),
      };
      if (o.mutant === 'all') return mutationScore(io, deps.json(), cases, run);
      const mutant: MutantName | undefined = o.mutant === undefined ? undefined : checkMutant(o.mutant);
      const lock: ConformanceTarget =
        target.kind === 'sim' ? await startSimTarget(mutant ? { mutant } : {}) : await openHciTarget({ lockId: target.lockId, ...(o.hciDevice !== undefined ? { deviceId: o.hciDevice } : {}) });
      let report: RunReport;
      try {
        report = await runConformance(lock, cases, run);
      } finally {
        await lock.close();
      }
      // The results first: if writing the file still fails, they are on screen.
      io.out(deps.json() ? JSON.stringify(report, null, 2) : formatTable(report));
      if (junit !== undefined) writeFileSync(junit, toJunit(report));
      if (!report.ok) {
        // A skipped automatic case (its prerequisite failed or was left out of --only) did not pass either.
        const ids = (pick: (r: CaseResult) => boolean): string[] => report.results.filter(pick).map((r) => r.id);
        const failed = ids((r) => r.status === 'fail');
        const notRun = ids((r) => r.status === 'skip' && r.manual === null);
        const parts = [`${failed.length} of ${report.summary.automatic} automatic case(s) failed${failed.length ? `: ${failed.join(', ')}` : ''}`];
        if (notRun.length) parts.push(`${notRun.length} not run: ${notRun.join(', ')}`);
        if (report.summary.pass === 0) parts.push('no case passed');
        throw new SimulatorError('CONFORMANCE_FAILED', parts.join('; '));
      }
    });
}

function listMutants(io: CliIo, json: boolean): void {
  const rows = MUTANT_NAMES.map((name) => ({ name, ...MUTANTS[name] }));
  io.out(json ? JSON.stringify(rows, null, 2) : table(rows, ['name', 'kind', 'section', 'description']));
}

function listCases(io: CliIo, json: boolean): void {
  const rows = CASES.map((c) => ({ id: c.id, section: c.section, run: c.manual ? 'hook or manual' : 'automatic', title: c.title }));
  io.out(json ? JSON.stringify(rows, null, 2) : table(rows, ['id', 'section', 'run', 'title']));
}

async function mutationScore(io: CliIo, json: boolean, cases: typeof CASES, run: RunOptions): Promise<void> {
  const verdicts = await runMutants(cases, { ...run, onProgress: undefined, onMutant: (v) => io.err(`${v.caught ? 'caught' : 'MISSED'} ${v.mutant}: ${v.failedCases.join(', ') || 'no case failed'}`) });
  const caught = verdicts.filter((v) => v.caught).length;
  if (json) io.out(JSON.stringify({ caught, total: verdicts.length, verdicts }, null, 2));
  else {
    io.out(table(verdicts.map((v) => ({ mutant: v.mutant, section: v.section, caught: v.caught ? 'yes' : 'NO', 'caught by': v.failedCases })), ['mutant', 'section', 'caught', 'caught by']));
    io.out(`\nmutation score: ${caught}/${verdicts.length} mutants caught`);
  }
  if (caught < verdicts.length) throw new SimulatorError('CONFORMANCE_FAILED', `${verdicts.length - caught} mutant(s) not caught: ${verdicts.filter((v) => !v.caught).map((v) => v.mutant).join(', ')}`);
}
