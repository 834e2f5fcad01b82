/**
 * `latchkit conform` on the command line: README's "Testing your own lock" block run as written
 * (in-process), exit statuses, the lists, a mutant named with the case that catches it, and the
 * argument checks of the real-lock path, which on this machine (no adapter) fails plainly.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'junit2json';
import { afterAll, describe, expect, it } from 'vitest';
import { cliIn } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'latchkit-conform-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = cliIn(dir);

/** The `npx latchkit …` lines of README's "Testing your own lock" block, as argument lists. */
function readmeCommands(): string[][] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf('\n## Testing your own lock\n');
  if (at < 0) throw new Error('README.md has no "## Testing your own lock" section');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  if (!block) throw new Error('the section has no ```sh block');
  return block
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean)
    .map((l) => {
      if (!l.startsWith('npx latchkit ')) throw new Error(`unexpected line in the README block: ${l}`);
      return l.slice('npx latchkit '.length).split(/\s+/);
    });
}

describe('latchkit conform', () => {
  it("README's block runs as written: the suite passes with JUnit written, and every mutant is caught", async () => {
    const [suite, mutants] = readmeCommands();
    expect(suite).toEqual(['conform', '--junit', 'conform.xml']);
    const r = await cli.run(...suite!);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/39 passed, 0 failed, 0 skipped .*: CONFORMS$/m);
    expect(r.err).toMatch(/^\[39\/39\] PASS robust\.accepts-valid-set/m);
    const junit = (await parse(readFileSync(join(dir, 'conform.xml'), 'utf8'))) as unknown as { tests: number; failures: number };
    expect(junit).toMatchObject({ tests: 39, failures: 0 });

    expect(mutants).toEqual(['conform', '--mutant', 'all']);
    const m = await cli.run(...mutants!);
    expect(m.code, m.err).toBe(0);
    expect(m.out).toMatch(/^mutation score: 21\/21 mutants caught$/m);
  });

  it('a broken lock exits 1 naming the case that caught it; --json prints the report', async () => {
    const r = await cli.run('--json', 'conform', '--mutant', 'reuses-nonce');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as { ok: boolean; results: Array<{ id: string; status: string; observed: string }> };
    expect(report.ok).toBe(false);
    expect(report.results.filter((x) => x.status === 'fail')).toEqual([
      { ...report.results.find((x) => x.id === 'unlock.replayed-answer'), status: 'fail', observed: expect.stringMatching(/new challenge was granted/) },
      // Tickets are nonces too: the reused one comes back after the grant, so the replayed MAC opens.
      { ...report.results.find((x) => x.id === 'unlock.ticket-mac'), status: 'fail', observed: expect.stringMatching(/the same MAC again: granted, expected staleNonce/) },
    ]);
    expect(r.err).toMatch(/"code":"CONFORMANCE_FAILED".*unlock\.replayed-answer/);
  });

  it('--only runs the cases named; one whose prerequisite was left out is not run, and the run does not pass', async () => {
    const ok = await cli.run('conform', '--only', 'commission.accepted,sync.full-set,unlock.granted');
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/3 passed, 0 failed, 0 skipped \(3 cases/);
    const partial = await cli.run('conform', '--only', 'commission.accepted,unlock.granted');
    expect(partial.code).toBe(1);
    expect(partial.out).toMatch(/^SKIP +unlock\.granted .*not run: needs sync\.full-set to pass first$/m);
    expect(partial.err).toBe(`${partial.err.split('\n').filter((l) => l.startsWith('[')).join('\n')}\nerror CONFORMANCE_FAILED: 0 of 2 automatic case(s) failed; 1 not run: unlock.granted`);
  });

  it('lists cases and mutants', async () => {
    const cases = await cli.json('conform', '--list-cases');
    expect(cases).toHaveLength(39);
    expect(cases[0]).toEqual({ id: 'commission.accepted', section: '§11.1', run: 'automatic', title: expect.any(String) });
    const mutants = (await cli.run('conform', '--list-mutants')).out;
    expect(mutants).toMatch(/^torn-commit +rule +§6\.7 +writes a new state over the slot in force/m);
    expect(mutants).toMatch(/^kid-as-hint +rule +§6\.2 S2 +takes a set whose kid names no trust anchor/m);
    expect(mutants).toMatch(/^mute +misbehaviour/m);
  });

  it('checks its arguments: a real lock needs hci and a 16-hex-digit id; mutants only on sim', async () => {
    const usage = async (...args: string[]) => {
      const r = await cli.run('conform', ...args);
      expect(r.code, r.err).toBe(2);
      return r.err;
    };
    expect(await usage('--target', '4c4b000000000001')).toMatch(/add --radio hci/);
    expect(await usage('--target', 'lock-1', '--radio', 'hci')).toMatch(/expected "sim" or a lock id of 16 hex digits/);
    expect(await usage('--target', 'sim', '--radio', 'hci')).toMatch(/runs a simulated lock on the virtual radio/);
    expect(await usage('--target', '4c4b000000000001', '--radio', 'hci', '--mutant', 'torn-commit')).toMatch(/needs --target sim/);
    expect(await usage('--issuer-seed', 'abc')).toMatch(/expected 64 hex digits/);
    expect(await usage('--radio', 'bluetooth')).toMatch(/Allowed choices are virtual, hci/);
    const r = await cli.run('conform', '--mutant', 'nope');
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/BAD_ARGUMENT: mutant: expected one of stale-sequence/)]);
    expect(await usage('--max-message', String(2 * 1024 * 1024 + 1))).toMatch(/at most 2097152 bytes/);
    // The JUnit path is checked before the run (which would take minutes on a real lock).
    const before = Date.now();
    expect(await usage('--junit', 'no-such-dir/conform.xml')).toMatch(/--junit: cannot write .*no-such-dir/);
    expect(await usage('--junit', '.')).toMatch(/--junit: .* is a directory/);
    expect(Date.now() - before).toBeLessThan(5_000);
    // An empty selection ran nothing and reported CONFORMS.
    expect(await usage('--only', ',')).toMatch(/expected at least one case id/);
    const only = await cli.run('conform', '--only', 'sync.nope');
    expect([only.code, only.err]).toEqual([1, expect.stringMatching(/BAD_ARGUMENT: case id/)]);
  });

  it('a real lock through hci fails before any case on a machine without an adapter', async () => {
    const r = await cli.run('conform', '--target', '4c4b000000000001', '--radio', 'hci', '--hci-device', '0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error RADIO_NO_ADAPTER: No Bluetooth adapter/);
    expect(r.out).toBe('');
  });
});
