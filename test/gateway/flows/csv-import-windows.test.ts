/**
 * CSV import, access-model issue item 2: per-row Start/Expiration, rows of one file with the same
 * email (any case) merged or in conflict, unknown columns as a preview warning. Seed 000: "the
 * same CSV import flow can update existing users. Match by email address."
 */
import { describe, expect, it } from 'vitest';
import * as g from '../../../gateway/src/index.js';
import { runCli } from '../../../gateway/src/cli/main.js';
import { apiFixturesClosedAfterEach } from '../api-helpers.js';
import { fixture, minute, tempDir } from '../helpers.js';
import { csv, f } from './flow-helpers.js';

const HEADER = ['First Name', 'Last Name', 'Email', 'Phone', 'Unit', 'Keys', 'Start', 'Expiration'] as const;
const row = (first: string, email: string, start = '', expiration = '', keys = 'Unit 4B', last = 'Doe') => [first, last, email, '', '4B', keys, start, expiration];
/** The fixture property is at UTC-5: local midnight is 05:00Z. */
const at = (iso: string) => minute(Date.parse(iso));
const grantsOf = (db: g.Db, pid: number, email: string) =>
  g
    .listGrants(db, g.findPersonByEmail(db, pid, email)!.id)
    .map((x) => [x.keyName, x.start, x.end])
    .sort((x, y) => String(y[0]).localeCompare(String(x[0])));

const api = apiFixturesClosedAfterEach();

describe('CSV import: Start and Expiration columns', () => {
  it('the template (API and CLI) has Start and Expiration after Keys', async () => {
    const a = await api();
    const res = await a.app.inject({ url: `${a.base}/imports/template`, headers: { authorization: `Bearer ${a.tokens.readOnly}` } });
    expect(res.body).toBe('First Name,Last Name,Email,Phone,Unit,Keys,Start,Expiration\r\n');
    const t = tempDir();
    try {
      const out: string[] = [];
      expect(await runCli(['import', 'template'], { out: (s) => out.push(s), err: () => {}, cwd: t.dir, env: {} })).toBe(0);
      expect(out.join('\n')).toBe('First Name,Last Name,Email,Phone,Unit,Keys,Start,Expiration\r');
    } finally {
      t.cleanup();
    }
  });

  it('a row\'s Start/Expiration, date or date-time in the property\'s time zone, is the window of its keys (and the communal ones)', async () => {
    const a = await api();
    const up = await a.call('km', 'POST', `${a.base}/imports`, {
      csv: csv(HEADER, [row('Ann', 'ann@example.com', '2025-07-01', '2026-06-30'), row('Bob', 'bob@example.com', '2025-07-01T08:30', '2026-06-30 17:45')]),
    });
    expect(up.status).toBe(201);
    expect(up.body.warnings).toEqual([]);
    expect(up.body.rows.map((r: { start: string; expiration: string; status: string }) => [r.status, r.start, r.expiration])).toEqual([
      ['ready', '2025-07-01', '2026-06-30'],
      ['ready', '2025-07-01T08:30', '2026-06-30 17:45'],
    ]);
    const applied = await a.call('km', 'POST', `${a.base}/imports/${up.body.import.id}/apply`, { communalKeyIds: [a.entrances.id] });
    expect(applied.body.import.counts).toMatchObject({ imported: 2, failed: 0 });
    expect(grantsOf(a.db, a.prop.id, 'ann@example.com')).toEqual([
      ['Unit 4B', at('2025-07-01T05:00Z'), at('2026-06-30T05:00Z')],
      ['Resident Entrances', at('2025-07-01T05:00Z'), at('2026-06-30T05:00Z')],
    ]);
    expect(grantsOf(a.db, a.prop.id, 'bob@example.com')[0]).toEqual(['Unit 4B', at('2025-07-01T13:30Z'), at('2026-06-30T22:45Z')]);
  });

  it('in a zone with daylight saving, each cell is read with the rules of its own date', async () => {
    const a = await api();
    await a.call('pm', 'PATCH', a.base, { timeZone: 'America/New_York' });
    const up = await a.call('km', 'POST', `${a.base}/imports`, { csv: csv(HEADER, [row('Cy', 'cy@example.com', '2025-07-01T09:00', '2025-12-01T09:00')]) });
    await a.call('km', 'POST', `${a.base}/imports/${up.body.import.id}/apply`, {});
    // 09:00 EDT in July, 09:00 EST in December.
    expect(grantsOf(a.db, a.prop.id, 'cy@example.com')[0]).toEqual(['Unit 4B', at('2025-07-01T13:00Z'), at('2025-12-01T14:00Z')]);
  });

  it('rows without Start/Expiration take the window chosen at apply, side by side', () => {
    const t = fixture();
    const imp = f.createImport(t.db, t.prop.id, { csv: csv(HEADER, [row('Ann', 'ann@example.com'), row('Bob', 'bob@example.com', '', '2026-06-30')]) }, t.ctx);
    const start = at('2025-07-01T05:00Z');
    const end = at('2027-01-01T05:00Z');
    f.applyImport(t.db, imp.id, { start, end }, t.ctx);
    expect(grantsOf(t.db, t.prop.id, 'ann@example.com')).toEqual([['Unit 4B', start, end]]);
    // Bob's own Expiration wins; his empty Start takes the import's.
    expect(grantsOf(t.db, t.prop.id, 'bob@example.com')).toEqual([['Unit 4B', start, at('2026-06-30T05:00Z')]]);
  });

  it('"update access for many residents at once": an existing email\'s row re-windows the keys it names, and the others stay', () => {
    const t = fixture();
    const first = f.createImport(t.db, t.prop.id, { csv: csv(HEADER, [row('Ann', 'ann@example.com', '', '2026-06-30')]) }, t.ctx);
    f.applyImport(t.db, first.id, { communalKeyIds: [t.entrances.id] }, t.ctx);
    // Next year: the same file with everyone's expiration moved. New content, so not "already imported".
    const renew = f.createImport(t.db, t.prop.id, { csv: csv(HEADER, [row('Ann', 'ANN@example.com', '', '2027-06-30')]) }, t.ctx);
    expect(f.importRows(t.db, renew.id).map((r) => [r.status, r.action])).toEqual([['ready', 'add_keys']]);
    f.applyImport(t.db, renew.id, {}, t.ctx);
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true }).length).toBe(1);
    expect(grantsOf(t.db, t.prop.id, 'ann@example.com')).toEqual([
      ['Unit 4B', null, at('2027-06-30T05:00Z')],
      ['Resident Entrances', null, at('2026-06-30T05:00Z')],
    ]);
    // The same renewal uploaded again changes nothing.
    const again = f.createImport(t.db, t.prop.id, { csv: csv(HEADER, [row('Ann', 'ann@example.com', '', '2027-06-30')]) }, t.ctx);
    expect(again.counts).toMatchObject({ alreadyImported: 1, ready: 0 });
    // Rows of the old six-column template keep their fingerprint: a file imported before stays imported.
    const old = f.createImport(t.db, t.prop.id, { csv: 'First Name,Last Name,Email,Phone,Unit,Keys\nCy,Doe,cy@example.com,,4B,Unit 4B\n' }, t.ctx);
    f.applyImport(t.db, old.id, {}, t.ctx);
    const oldAgain = f.createImport(t.db, t.prop.id, { csv: csv(HEADER, [row('Cy', 'cy@example.com')]) }, t.ctx);
    expect(oldAgain.counts).toMatchObject({ alreadyImported: 1 });
  });

  it('an expiration not after its start, a date the template does not allow, or an expiration already past is a row error', () => {
    const t = fixture();
    const imp = f.createImport(
      t.db,
      t.prop.id,
      {
        csv: csv(HEADER, [
          row('Ann', 'ann@example.com', '2026-07-01', '2026-07-01'),
          row('Bob', 'bob@example.com', '07/01/2026'),
          row('Cy', 'cy@example.com', '', '2026-06-30T10:00:00Z'),
          row('Dee', 'dee@example.com', '', '2026-02-30'),
          row('Eve', 'eve@example.com', '', '2025-01-01'),
          row('Fay', 'fay@example.com', '2025-07-01', '2026-06-30'),
        ]),
      },
      t.ctx,
    );
    const rows = f.importRows(t.db, imp.id);
    expect(rows.map((r) => [r.line, r.errorCode])).toEqual([
      [2, 'INVALID_WINDOW'],
      [3, 'INVALID_TIME'],
      [4, 'INVALID_TIME'],
      [5, 'INVALID_TIME'],
      [6, 'EXPIRATION_IN_PAST'],
      [7, null],
    ]);
    expect(rows[1]!.errorMessage).toContain('Start: "07/01/2026" is not a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM');
    expect(rows[0]!.errorMessage).toContain('not after Start');
    // The error report keeps the Start and Expiration cells, so the corrected report re-uploads.
    const report = f.importErrorReport(t.db, imp.id);
    expect(report.split('\r\n')[0]).toBe('First Name,Last Name,Email,Phone,Unit,Keys,Start,Expiration,Error');
    expect(report).toContain('Bob,Doe,bob@example.com,,4B,Unit 4B,07/01/2026,,"line 3: INVALID_TIME');
    const fixed = f.createImport(t.db, t.prop.id, { csv: report.replace('07/01/2026', '2025-07-01') }, t.ctx);
    expect(f.importRows(t.db, fixed.id).find((r) => r.cells.email === 'bob@example.com')!.status).toBe('ready');
  });
});

describe('CSV import: one email in several rows', () => {
  it('rows whose emails differ only in case and agree are one person: keys unioned, one invite, one welcome', async () => {
    const a = await api();
    g.createKey(a.db, a.prop.id, { name: 'Storage 4B', kind: 'residential', doorIds: [a.door4b.id], mayShare: false, doorcodesDisabled: false, unitId: a.unit4b.id }, a.ctx);
    const up = await a.call('km', 'POST', `${a.base}/imports`, {
      csv: csv(HEADER, [row('Ann', 'ann@example.com', '', '2026-06-30'), row('Bob', 'bob@example.com'), row('Ann', 'Ann@Example.com', '', '2026-06-30', 'Storage 4B')]),
    });
    expect(up.body.errors).toEqual([]);
    expect(up.body.import.counts).toMatchObject({ total: 3, ready: 3, newPeople: 2 });
    const applied = await a.call('km', 'POST', `${a.base}/imports/${up.body.import.id}/apply`, {});
    expect(applied.body.import.counts).toMatchObject({ imported: 3, failed: 0, newPeople: 2 });
    const ann = g.findPersonByEmail(a.db, a.prop.id, 'ann@example.com')!;
    expect(g.listPeople(a.db, a.prop.id, { includeExpired: true }).map((p) => p.email).sort()).toEqual(['ann@example.com', 'bob@example.com']);
    expect(grantsOf(a.db, a.prop.id, 'ann@example.com')).toEqual([
      ['Unit 4B', null, at('2026-06-30T05:00Z')],
      ['Storage 4B', null, at('2026-06-30T05:00Z')],
    ]);
    const rows = f.importRows(a.db, up.body.import.id);
    expect(rows.filter((r) => r.personId === ann.id).map((r) => r.line)).toEqual([2, 4]);
    expect(f.listNotifications(a.db, a.prop.id, { personId: ann.id }).filter((n) => n.kind === 'welcome').length).toBe(1);
  });

  it('the same row twice is one person, imported once; a row with only a phone or unit the other lacks still agrees', () => {
    const t = fixture();
    const same = row('Ann', 'ann@example.com', '', '2026-06-30');
    const withPhone = ['Ann', 'Doe', 'ANN@example.com', '+1 555 0100', '', 'Unit 4B', '', '2026-06-30'];
    const imp = f.createImport(t.db, t.prop.id, { csv: csv(HEADER, [same, same, withPhone]) }, t.ctx);
    expect(imp.counts).toMatchObject({ ready: 3, error: 0, newPeople: 1 });
    const r = f.applyImport(t.db, imp.id, {}, t.ctx);
    expect(r.import.counts).toMatchObject({ imported: 3, failed: 0 });
    const ann = g.findPersonByEmail(t.db, t.prop.id, 'ann@example.com', t.ctx)!;
    expect([ann.phone, ann.unitId]).toEqual(['+1 555 0100', t.unit4b.id]);
    expect(f.createImport(t.db, t.prop.id, { csv: csv(HEADER, [same]) }, t.ctx).counts).toMatchObject({ alreadyImported: 1 });
  });

  it('more rows for one email than a person can need are all errors', () => {
    const t = fixture();
    const imp = f.createImport(t.db, t.prop.id, { csv: csv(HEADER, Array.from({ length: 101 }, () => row('Ann', 'ann@example.com'))) }, t.ctx);
    expect(imp.counts).toMatchObject({ error: 101, ready: 0 });
    expect(f.importRows(t.db, imp.id, { limit: 1 })[0]!.errorMessage).toContain('the same email is on 101 rows');
  });

  it('rows with the same email that disagree on the name or the window are errors naming each other; the rest imports', () => {
    const t = fixture();
    const imp = f.createImport(
      t.db,
      t.prop.id,
      {
        csv: csv(HEADER, [
          row('Ann', 'ann@example.com'),
          row('Annie', 'ANN@example.com'),
          row('Bob', 'bob@example.com', '', '2026-06-30'),
          row('Bob', 'Bob@example.com', '', '2026-07-31'),
          row('Cy', 'cy@example.com'),
        ]),
      },
      t.ctx,
    );
    const rows = f.importRows(t.db, imp.id);
    expect(rows.map((r) => [r.line, r.errorCode])).toEqual([
      [2, 'DUPLICATE_EMAIL_IN_FILE'],
      [3, 'DUPLICATE_EMAIL_IN_FILE'],
      [4, 'DUPLICATE_EMAIL_IN_FILE'],
      [5, 'DUPLICATE_EMAIL_IN_FILE'],
      [6, null],
    ]);
    expect(rows[0]!.errorMessage).toContain('line 3 has the same email with a different First Name');
    expect(rows[1]!.errorMessage).toContain('line 2');
    expect(rows[2]!.errorMessage).toContain('line 5 has the same email with a different Expiration');
    expect(rows[3]!.errorMessage).toContain('line 4');
    f.applyImport(t.db, imp.id, {}, t.ctx);
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true }).map((p) => p.email)).toEqual(['cy@example.com']);
  });
});

describe('CSV import: header', () => {
  it('unknown columns are a named warning in the preview and are ignored; a missing required column still refuses the file', async () => {
    const a = await api();
    const up = await a.call('km', 'POST', `${a.base}/imports`, { csv: 'First Name,Last Name,Email,Keys,Notes,Move-in\nAnn,Doe,ann@example.com,Unit 4B,quiet,2025-07-01\n' });
    expect(up.status).toBe(201);
    expect(up.body.warnings).toEqual([expect.objectContaining({ code: 'CSV_UNKNOWN_COLUMNS', columns: ['Notes', 'Move-in'] })]);
    expect(up.body.warnings[0].message).toContain('"Notes", "Move-in"');
    expect(up.body.import.counts).toMatchObject({ total: 1, ready: 1 });
    const bad = await a.call('km', 'POST', `${a.base}/imports`, { csv: 'First Name,Email,Notes\nAnn,ann@example.com,x\n' });
    expect([bad.status, bad.code]).toEqual([400, 'CSV_BAD_HEADER']);
    expect(bad.body.error.message).toContain('missing column(s) Last Name');
  });
});
