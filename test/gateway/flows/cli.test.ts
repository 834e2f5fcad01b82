/**
 * The flows through the `latchkit` CLI, against a state directory on disk, as a manager would
 * run them: CSV template/upload/apply/error report, the outbox, and the PMS commands with a feed
 * file written by "the PMS".
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../../gateway/src/cli/main.js';
import { tempDirPerTest } from '../helpers.js';
import { jane } from './flow-helpers.js';

const tempDirFor = tempDirPerTest();

function cli() {
  const dir = tempDirFor();
  const run = async (args: string[], io: Partial<CliIo> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(args, { out: (s) => out.push(s), err: (s) => err.push(s), cwd: dir, env: {}, ...io });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const json = async (...args: string[]) => {
    const r = await run(['--json', ...args]);
    if (r.code !== 0) throw new Error(`latchkit ${args.join(' ')} failed: ${r.err}`);
    return JSON.parse(r.out);
  };
  return { dir, run, json };
}

async function seeded(c: ReturnType<typeof cli>) {
  const prop = await c.json('property', 'create', '--name', 'Elm Court', '--utc-offset', '0');
  const p = String(prop.id);
  const lobby = await c.json('door', 'create', '--property', p, '--name', 'Lobby', '--lock-id', '00000000000000a1');
  const unit = await c.json('unit', 'create', '--property', p, '--name', '4B');
  const d4b = await c.json('door', 'create', '--property', p, '--name', '4B door', '--lock-id', '00000000000000b4', '--unit', String(unit.id));
  const entrances = await c.json('key', 'create', '--property', p, '--name', 'Resident Entrances', '--doors', String(lobby.id), '--communal');
  const k4b = await c.json('key', 'create', '--property', p, '--name', 'Unit 4B', '--doors', String(d4b.id), '--unit', String(unit.id));
  return { p, entrances, k4b };
}

describe('latchkit CSV import commands', () => {
  it('template → upload (preview) → apply → errors → corrected re-upload; welcome messages in the outbox', async () => {
    const c = cli();
    const { p, entrances } = await seeded(c);
    expect((await c.run(['import', 'template'])).out).toBe('First Name,Last Name,Email,Phone,Unit,Keys,Start,Expiration\r'); // with the LF io.out adds: CRLF
    await c.run(['import', 'template', '--out', 'residents.csv']);
    const file = join(c.dir, 'residents.csv');
    writeFileSync(file, `${readFileSync(file, 'utf8')}Ann,Doe,ann@example.com,,4B,Unit 4B\r\nBob,Doe,bob@example.com,,4B,Unit 9\r\n`);

    const preview = await c.run(['import', 'upload', '--property', p, 'residents.csv']);
    expect(preview.code).toBe(0);
    expect(preview.out).toContain('2 rows: 1 ready (1 new, 0 existing email: keys added), 1 with errors, 0 already imported');
    expect(preview.out).toMatch(/3\s+bob@example.com\s+KEY_NOT_FOUND/);
    const id = preview.out.match(/^import (\d+)/)![1]!;
    expect((await c.json('person', 'list', '--property', p))).toEqual([]);

    const applied = await c.run(['import', 'apply', id, '--communal-keys', String(entrances.id), '--expires', '2099-06-30']);
    expect(applied.out).toContain('1 imported (1 new people, 0 existing), 0 failed, 1 skipped with errors');
    expect(applied.out).toContain('doors to sync');
    expect((await c.run(['import', 'apply', id])).err).toContain('error IMPORT_ALREADY_APPLIED');

    await c.run(['import', 'errors', id, '--out', 'errors.csv']);
    const report = readFileSync(join(c.dir, 'errors.csv'), 'utf8');
    expect(report).toContain('Bob,Doe,bob@example.com,,4B,Unit 9,"line 3: KEY_NOT_FOUND');
    writeFileSync(join(c.dir, 'errors.csv'), report.replace(',Unit 9,', ',Unit 4B,'));
    const second = await c.json('import', 'upload', '--property', p, 'errors.csv');
    expect(second.import.counts).toMatchObject({ total: 1, ready: 1 });
    await c.json('import', 'apply', String(second.import.id), '--communal-keys', String(entrances.id));
    const whole = await c.json('import', 'upload', '--property', p, 'residents.csv');
    expect(whole.import.counts).toMatchObject({ alreadyImported: 1, error: 1 });

    const notes = await c.json('notification', 'list', '--property', p);
    expect(notes.map((n: { email: string }) => n.email)).toEqual(['ann@example.com', 'bob@example.com']);
    const full = await c.run(['notification', 'list', '--property', p, '--full']);
    expect(full.out).toContain('Subject: Welcome to Elm Court: set up the DOOR App');
    expect((await c.json('notification', 'sent', String(notes[0].id))).sentAt).not.toBeNull();
    expect(await c.json('notification', 'list', '--property', p, '--unsent')).toHaveLength(1);
    const shown = await c.json('import', 'show', id, '--status', 'error');
    expect(shown.rows.map((r: { line: number }) => r.line)).toEqual([3]);
    expect((await c.json('import', 'list', '--property', p)).length).toBe(3);
  });

  it('a file with a bad header or a missing file is refused with its code and exit status 1', async () => {
    const c = cli();
    const { p } = await seeded(c);
    writeFileSync(join(c.dir, 'bad.csv'), 'Name,Mail\nA,a@example.com\n');
    const bad = await c.run(['import', 'upload', '--property', p, 'bad.csv']);
    expect([bad.code, bad.err]).toEqual([1, expect.stringContaining('error CSV_BAD_HEADER: missing column(s) First Name, Last Name, Email')]);
    const missing = await c.run(['import', 'upload', '--property', p, 'nope.csv']);
    expect([missing.code, missing.err]).toEqual([1, expect.stringContaining('error INVALID_ARGUMENT: cannot read')]);
  });
});

describe('latchkit PMS commands', () => {
  it('configure with a feed file → sync → suggestions approve → status shows the last sync; alerts; resident status', async () => {
    const c = cli();
    const { p } = await seeded(c);
    const feed = join(c.dir, 'feed.json');
    const write = (residents: unknown[]) => writeFileSync(feed, JSON.stringify({ residents }));
    write([{ ...jane, leaseStatus: 'current', statusChangedAt: '2020-01-01T00:00:00Z' }]);
    const refused = await c.run(['pms', 'configure', '--property', p, '--feed-file', 'feed.json', '--user-sync', 'no', '--automated-access', 'yes']);
    expect(refused.err).toContain('error USER_SYNC_REQUIRED');
    const conf = await c.json('pms', 'configure', '--property', p, '--feed-file', 'feed.json', '--automated-access', 'yes', '--exclude-statuses', 'notice');
    expect(conf).toMatchObject({ feedKind: 'file', feedSource: feed, mode: 'approval_required', excludedStatuses: ['notice'], lastSyncAt: null });

    const sync = await c.run(['pms', 'sync', '--property', p]);
    expect(sync.code).toBe(0);
    expect(sync.out).toContain('User Sync: created 1');
    expect(sync.out).toContain('Automated Access: 1 status changes, 2 suggestions, 0 applied');
    const list = await c.json('suggestion', 'list', '--property', p);
    expect(list.map((s: { color: string; keyName: string }) => `${s.color} ${s.keyName}`).sort()).toEqual(['green Resident Entrances', 'green Unit 4B']);
    const human = await c.run(['suggestion', 'list', '--property', p]);
    expect(human.out).toMatch(/green\s+grant\s+Jane Doe/);
    const approved = await c.json('suggestion', 'approve', '--property', p, list.map((s: { id: number }) => s.id).join(','));
    expect(approved.results.map((r: { outcome: string }) => r.outcome)).toEqual(['applied', 'applied']);
    const status = await c.json('pms', 'status', '--property', p);
    expect(status.lastSyncAt).not.toBeNull();
    expect(status.pendingSuggestions).toBe(0);

    // The PMS renames the email: an Email Mismatch alert, resolved from the CLI.
    write([{ ...jane, email: 'jane@new.example', leaseStatus: 'current', statusChangedAt: '2020-01-01T00:00:00Z' }]);
    await c.json('pms', 'sync', '--property', p);
    const [alert] = await c.json('alert', 'list', '--property', p);
    expect(alert.kind).toBe('email_mismatch');
    const resolved = await c.json('alert', 'resolve', '--property', p, String(alert.id), '--action', 'accept_pms_email');
    expect(resolved.state).toBe('resolved');

    const person = (await c.json('person', 'list', '--property', p))[0];
    expect(person.email).toBe('jane@new.example');
    const rs = await c.json('resident-status', 'show', String(person.id));
    expect(rs).toMatchObject({ status: 'current', source: 'pms', externalRef: jane.id });
    const past = await c.run(['resident-status', 'set', String(person.id), 'past']);
    expect(past.out).toContain(`person ${person.id} is now past; doors to sync`);
    expect(await c.json('grant', 'list', String(person.id))).toEqual([]);
    expect((await c.run(['resident-status', 'set', String(person.id), 'gone'])).code).toBe(2);

    // A broken feed: the command fails with the code and the run is recorded.
    writeFileSync(feed, '<html>');
    const broken = await c.run(['pms', 'sync', '--property', p]);
    expect([broken.code, broken.err]).toEqual([1, expect.stringContaining('error PMS_FEED_INVALID')]);
    const runs = await c.json('pms', 'runs', '--property', p);
    expect(runs.map((r: { status: string }) => r.status)).toEqual(['failed', 'ok', 'ok']);
  });

  it('pms watch runs the scheduler until stopped and pulls due integrations', async () => {
    const c = cli();
    const { p } = await seeded(c);
    writeFileSync(join(c.dir, 'feed.json'), JSON.stringify({ residents: [{ ...jane, leaseStatus: 'future' }] }));
    await c.json('pms', 'configure', '--property', p, '--feed-file', 'feed.json');
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const lines: string[] = [];
    const watching = c.run(['pms', 'watch', '--check-every-ms', '10'], {
      out: (s) => {
        lines.push(s);
        if (s.includes('synced')) stop();
      },
      untilStopped: () => stopped,
    });
    expect((await watching).code).toBe(0);
    expect(lines[0]).toContain('PMS scheduler running');
    expect(lines.some((l) => /property 1: synced \(1 records, 0 skipped\)/.test(l))).toBe(true);
    expect((await c.json('person', 'list', '--property', p, '--all')).map((x: { email: string }) => x.email)).toEqual([jane.email]);
  });
});
