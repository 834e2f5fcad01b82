/**
 * The conformance suite proven both ways: the correct simulated lock passes every case, and
 * each rule mutant (a firmware that breaks exactly one rule) is caught by the named cases
 * below, and only by them. A lock that hangs, talks nonsense, drops the link or is no latchkit
 * lock at all fails case by case without stopping the run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GattUuid, toHex } from '@latchkit/protocol';
import {
  CASES,
  connectLock,
  findCases,
  createAir,
  MUTANT_NAMES,
  MUTANTS,
  openHciTarget,
  runConformance,
  runMutants,
  startSimTarget,
  type Air,
  type ConformanceTarget,
  type MutantName,
  type RunReport,
} from '../../../simulator/src/index.js';

const root = join(import.meta.dirname, '..', '..', '..');
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function run(target: ConformanceTarget, caseTimeoutMs = 5_000, nonceLifetimeS?: number): Promise<RunReport> {
  cleanup.push(() => target.close());
  return runConformance(target, CASES, { caseTimeoutMs, ...(nonceLifetimeS ? { nonceLifetimeS } : {}) });
}

const failed = (r: RunReport): string[] => r.results.filter((x) => x.status === 'fail').map((x) => x.id);
const statusOf = (r: RunReport, id: string) => r.results.find((x) => x.id === id);

/** Which cases catch each rule mutant: the rule it breaks, and nothing else. */
const CAUGHT_BY: Record<Exclude<MutantName, 'mute' | 'garbage' | 'drops-link'>, string[]> = {
  'stale-sequence': ['refuse.stale-sequence', 'refuse.replay'],
  'skips-signature': ['refuse.tamper-claims', 'refuse.tamper-ciphertext', 'refuse.tamper-tag', 'refuse.tamper-signature'],
  // A changed aud then fails the signature instead of giving WRONG_LOCK: the aud check is what it lacks.
  'other-lock': ['refuse.other-lock', 'refuse.tamper-claims'],
  'delta-any-base': ['refuse.delta-wrong-base'],
  'ignores-digest': ['refuse.digest-mismatch'],
  'accepts-oversize': ['refuse.oversize'],
  'forgets-transfer': ['bulk.resume-after-drop'],
  // Tickets are nonces too (§9.8): the same one comes back after every grant, so a replayed MAC opens.
  'reuses-nonce': ['unlock.replayed-answer', 'unlock.ticket-mac'],
  'nonce-never-expires': ['unlock.expired-nonce'],
  // The phone's proof on every path, the ticket MAC's included.
  'skips-phone-proof': ['unlock.replayed-answer', 'unlock.other-lock', 'unlock.ticket-mac'],
  // Its clock then trails the newest signed time by an hour, so the offset cases' syncs, signed
  // from the lock's clock, are older than a time it accepted and may not set the offset (§7.4).
  'clock-backwards': ['time.backwards-ignored', 'time.transition-applied', 'time.replayed-offset-ignored'],
  'unsigned-time': ['time.unsigned-refused'],
  'accepts-any-mac': ['unlock.ticket-mac'],
  // Booting factory-fresh after the cut also leaves the lock unable to take the final set.
  'torn-commit': ['power.cut-during-apply', 'robust.accepts-valid-set'],
  'event-gap': ['events.no-gaps-across-reconnects'],
  'hides-log-start': ['events.chain-verifies'],
  'ignores-transition': ['time.transition-applied'],
  'replayed-offset': ['time.replayed-offset-ignored'],
  // A stranger's set, and a set whose kid byte was changed, verify under no anchor: BAD_SIGNATURE, not UNKNOWN_KEY_ID.
  'kid-as-hint': ['refuse.tamper-header', 'refuse.unknown-issuer'],
  // The changed alg byte then fails the signature instead of giving UNSUPPORTED_ALGORITHM.
  'ignores-alg': ['refuse.tamper-header'],
  // Under another content key the body decrypts to garbage that the body parser refuses instead.
  'unchecked-tag': ['refuse.wrong-content-key'],
};

describe('events.chain-verifies and a log that does not start at 0', () => {
  const cases = findCases(['commission.accepted', 'events.chain-verifies']);
  const target = async () => {
    const t = await startSimTarget({ mutant: 'hides-log-start' });
    cleanup.push(() => t.close());
    return t;
  };

  it('fails, naming the missing records, unless the log is plausibly full (--log-capacity)', async () => {
    const hidden = await runConformance(await target(), cases, { caseTimeoutMs: 5_000 });
    expect(statusOf(hidden, 'events.chain-verifies')).toMatchObject({ status: 'fail', observed: expect.stringMatching(/^records 0\.\.0 missing/) });
    const tooFew = await runConformance(await target(), cases, { caseTimeoutMs: 5_000, logCapacity: 512 });
    expect(statusOf(tooFew, 'events.chain-verifies')).toMatchObject({ status: 'fail', observed: expect.stringMatching(/fewer than the 512 a wrapped log keeps/) });
    // A lock that says its wrapped log keeps at least one record: the chain is checked from the first it kept.
    const wrapped = await runConformance(await target(), cases, { caseTimeoutMs: 5_000, logCapacity: 1 });
    expect(statusOf(wrapped, 'events.chain-verifies')?.status).toBe('pass');
  });
});

describe('a run that proves nothing does not conform', () => {
  it('no case selected is refused; a run whose only cases were skipped as manual is not ok', async () => {
    expect(() => findCases([])).toThrow(/at least one case id/);
    const sim = await startSimTarget();
    cleanup.push(() => sim.close());
    const empty = await runConformance(sim, [], { caseTimeoutMs: 5_000 });
    expect([empty.summary.pass, empty.ok]).toEqual([0, false]);
    const manualOnly = await runConformance({ ...sim, hooks: null }, findCases(['door.keypad']), { caseTimeoutMs: 5_000 });
    expect(manualOnly.summary).toMatchObject({ pass: 0, fail: 0, skip: 1 });
    expect(manualOnly.ok).toBe(false);
  });
});

describe('the conformance suite against the simulated lock', () => {
  it('the correct firmware passes every case, each naming a PROTOCOL.md section that exists', async () => {
    const report = await run(await startSimTarget());
    expect(failed(report), JSON.stringify(report.results.filter((r) => r.status !== 'pass'), null, 2)).toEqual([]);
    expect(report.summary).toEqual({ pass: CASES.length, fail: 0, skip: 0, automatic: CASES.length });
    expect(report.ok).toBe(true);
    // Timing is reported per case: wall ms, modelled air ms on the virtual radio, and each answer.
    for (const r of report.results) {
      expect(r.wallMs).toBeGreaterThanOrEqual(0);
      expect(r.modelledMs).not.toBeNull();
      expect(r.answersMs.length, r.id).toBeGreaterThan(0);
    }
    // §N.M is a subsection heading, or (as PROTOCOL.md itself writes §7.4) item M of section N's numbered list.
    const protocol = readFileSync(join(root, 'PROTOCOL.md'), 'utf8');
    const sections = new Map([...protocol.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? [\s\S]*?(?=^#{2,3} \d|(?![\s\S]))/gm)].map((m) => [m[1]!, m[0]]));
    const exists = (ref: string): boolean => {
      if (sections.has(ref)) return true;
      const [n, item] = ref.split('.');
      return item !== undefined && new RegExp(`^${item}\\. `, 'm').test(sections.get(n!) ?? '');
    };
    for (const c of CASES) {
      for (const ref of c.section.matchAll(/§(\d+(?:\.\d+)?)/g)) expect(exists(ref[1]!), `${c.id} cites §${ref[1]}`).toBe(true);
    }
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
  });

  it('every rule mutant is caught, by exactly the cases that check the rule it breaks', async () => {
    const rules = MUTANT_NAMES.filter((m) => MUTANTS[m].kind === 'rule');
    expect(Object.keys(CAUGHT_BY).sort()).toEqual([...rules].sort());
    const verdicts = await runMutants(CASES, { caseTimeoutMs: 5_000 });
    const seen = Object.fromEntries(verdicts.map((v) => [v.mutant, v.failedCases]));
    expect(seen).toEqual(CAUGHT_BY);
    expect(verdicts.every((v) => v.caught)).toBe(true);
  });

  it('a lock without the fast path, or without the ticket MAC, passes unlock.ticket-mac (both are optional)', async () => {
    for (const [gatt, what] of [
      [{ fastPath: false }, 'ticketIssue'],
      [{ ticketMac: false }, 'unlockTicketMac'],
    ] as const) {
      const report = await run(await startSimTarget({ gatt }));
      expect(failed(report)).toEqual([]);
      expect(statusOf(report, 'unlock.ticket-mac')).toMatchObject({ status: 'pass', observed: `${what} not served (optional, §9.8)` });
    }
  });

  it('a lock the runner commissioned before is re-commissioned by the same seed and passes again; another issuer is refused', async () => {
    const target = await startSimTarget();
    cleanup.push(() => target.close());
    const seed = new Uint8Array(32).fill(0x42);
    const first = await runConformance(target, CASES, { caseTimeoutMs: 5_000, issuerSeed: seed });
    expect(first.ok).toBe(true);
    const again = await runConformance(target, CASES, { caseTimeoutMs: 5_000, issuerSeed: seed });
    expect(failed(again)).toEqual([]);
    expect(statusOf(again, 'commission.accepted')?.observed).toMatch(/^status 0 \(generation \d{10}\)/);
    const stranger = await runConformance(target, CASES, { caseTimeoutMs: 5_000, issuerSeed: new Uint8Array(32).fill(0x43) });
    expect(statusOf(stranger, 'commission.accepted')).toMatchObject({ status: 'fail', observed: expect.stringMatching(/UNKNOWN_KEY_ID: the lock is already commissioned and does not trust this test issuer/) });
    expect(stranger.summary).toMatchObject({ pass: 0, fail: 1 });
    expect(stranger.ok).toBe(false);
  });

  it('without bench hooks the keypad, keycard and power-cut cases are manual, with steps, and do not fail the run', async () => {
    // Without a hook to let time pass, the nonce case waits for real: a lock keeping nonces 1 s keeps it short.
    const sim = await startSimTarget({ profile: { base: 'standard', challengeSeconds: 1 } });
    const report = await run({ ...sim, hooks: null }, 5_000, 1);
    expect(failed(report)).toEqual([]);
    const manual = report.results.filter((r) => r.manual !== null).map((r) => r.id);
    expect(manual).toEqual(['door.keypad', 'door.keycard', 'power.cut-during-apply']);
    for (const id of manual) expect(statusOf(report, id)).toMatchObject({ status: 'skip', observed: expect.stringMatching(/^manual/) });
    expect(report.ok).toBe(true);
  });
});

describe('a lock that misbehaves fails case by case; the run goes on and ends', () => {
  it('one that never answers unlockPhone: each unlock case times out, every other case still passes', async () => {
    const t0 = performance.now();
    const report = await run(await startSimTarget({ mutant: 'mute' }), 500);
    expect(performance.now() - t0).toBeLessThan(15_000);
    const timedOut = report.results.filter((r) => r.status === 'fail');
    expect(timedOut.map((r) => r.id)).toEqual(expect.arrayContaining(['unlock.granted', 'unlock.unknown-key', 'unlock.replayed-answer', 'unlock.other-lock', 'unlock.expired-nonce']));
    for (const r of timedOut) expect(r.observed).toMatch(/TIMEOUT/);
    expect(statusOf(report, 'refuse.truncated-bulk')?.status).toBe('pass');
    expect(statusOf(report, 'robust.accepts-valid-set')?.status).toBe('pass');
  });

  it('one that answers garbage: that case fails with what came back, the rest pass', async () => {
    const report = await run(await startSimTarget({ mutant: 'garbage' }));
    expect(statusOf(report, 'events.chain-verifies')).toMatchObject({ status: 'fail', observed: expect.stringMatching(/MALFORMED.*0x5a/) });
    expect(statusOf(report, 'events.no-gaps-across-reconnects')).toMatchObject({ status: 'skip', observed: expect.stringMatching(/needs events.chain-verifies/) });
    expect(failed(report)).toEqual(['events.chain-verifies']);
  });

  it('one that drops the link mid-case: that case fails NOT_CONNECTED, the runner reconnects for the next', async () => {
    const report = await run(await startSimTarget({ mutant: 'drops-link' }));
    expect(statusOf(report, 'sync.receipt-read')).toMatchObject({ status: 'fail', observed: expect.stringMatching(/NOT_CONNECTED/) });
    expect(failed(report)).toEqual(['sync.receipt-read', 'events.chain-verifies']);
    expect(statusOf(report, 'refuse.stale-sequence')?.status).toBe('pass');
  });

  it('a device that advertises as the lock but serves no latchkit service: reported, not crashed', async () => {
    const air: Air = createAir({ seed: 3 });
    cleanup.push(() => air.close());
    const lockId = Uint8Array.from([0x4c, 0x4b, 0, 0, 0, 0, 0xba, 0xd0]);
    const device = await air.addPeripheral({ name: `LK-${toHex(lockId)}` });
    const bleno = device.bleno;
    const other = new bleno.Characteristic({ uuid: '6c6bffff00004d6f8c3b2f1e5d4c3b2a', properties: ['read'], onReadRequest: (_o, cb) => cb(0, Buffer.from('hi')) });
    await new Promise<void>((resolve, reject) => bleno.setServices([new bleno.PrimaryService({ uuid: '6c6bfff000004d6f8c3b2f1e5d4c3b2a', characteristics: [other] })], (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => bleno.startAdvertising(`LK-${toHex(lockId)}`, [GattUuid.service], (e) => (e ? reject(e) : resolve())));
    const central = await air.addCentral({ profile: 'gateway' });
    const target: ConformanceTarget = {
      label: 'not a latchkit lock',
      radio: 'virtual',
      lockId,
      connect: (timeoutMs) => connectLock(central.noble, lockId, { timeoutMs, findTimeoutMs: timeoutMs }),
      measure: async (fn) => ({ value: await fn(), modelledMs: null }),
      hooks: null,
      close: async () => undefined,
    };
    const report = await runConformance(target, CASES, { caseTimeoutMs: 1_000 });
    expect(statusOf(report, 'commission.accepted')).toMatchObject({ status: 'fail', observed: expect.stringMatching(/LOCK_NOT_FOUND.*no latchkit service/) });
    expect(report.results.every((r) => r.status !== 'pass')).toBe(true);
    expect(report.ok).toBe(false);
  });
});

describe('a real lock through hci', () => {
  it('checks the lock id, and on this machine (no adapter) fails plainly before any case', async () => {
    await expect(openHciTarget({ lockId: new Uint8Array(7) })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(openHciTarget({ lockId: new Uint8Array(8) })).rejects.toMatchObject({ code: 'RADIO_NO_ADAPTER' });
  });
});
