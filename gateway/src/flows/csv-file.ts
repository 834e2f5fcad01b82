import { parse, type CsvError } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { GatewayError, type GatewayErrorCode } from '../errors.js';
import { parseTimeToMinute } from '../time.js';

/**
 * Reading and writing the CSV files of the import flow (seed 000). The template's columns are the
 * contract; parsing is csv-parse's, and this module adds what a manager needs on top: the
 * physical line every row starts on (what a text editor shows, and a spreadsheet when no field
 * spans lines), header matching that forgives case and spacing (unknown columns are ignored and named), and
 * row-level errors instead of one failure for the whole file. Writing is csv-stringify's, with
 * formula escaping (OWASP "CSV Injection"): a cell a spreadsheet would run as a formula gets a
 * leading `'`, which reading takes off again, so an error report re-uploads with its values.
 */

/**
 * The template's columns, in order. Keys: residential key names separated by `;`. Start and
 * Expiration (optional): `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` in the property's time zone.
 */
export const TEMPLATE_COLUMNS = ['First Name', 'Last Name', 'Email', 'Phone', 'Unit', 'Keys', 'Start', 'Expiration'] as const;
export type CsvField = 'firstName' | 'lastName' | 'email' | 'phone' | 'unit' | 'keys' | 'start' | 'expiration';
const FIELDS: readonly CsvField[] = ['firstName', 'lastName', 'email', 'phone', 'unit', 'keys', 'start', 'expiration'];
const REQUIRED: readonly CsvField[] = ['email', 'firstName', 'lastName'];

/** Columns a row may leave out at its end (fewer fields than the header) without an error. */
const OPTIONAL_TRAILING: ReadonlySet<CsvField> = new Set(['start', 'expiration']);

/** The error report adds this column; it is ignored on upload so a corrected report re-uploads as is. */
export const ERROR_COLUMN = 'Error';

/** More rows than this is not a property's resident list; refuse before doing any work. */
export const MAX_IMPORT_ROWS = 50_000;

/** Header spellings seen in spreadsheets, compared lower-case without spaces, `_` or `-`. */
const HEADER_ALIASES: Record<string, CsvField> = {
  firstname: 'firstName',
  first: 'firstName',
  givenname: 'firstName',
  lastname: 'lastName',
  last: 'lastName',
  surname: 'lastName',
  familyname: 'lastName',
  email: 'email',
  emailaddress: 'email',
  phone: 'phone',
  phonenumber: 'phone',
  mobile: 'phone',
  unit: 'unit',
  unitnumber: 'unit',
  keys: 'keys',
  key: 'keys',
  residentialkeys: 'keys',
  start: 'start',
  startdate: 'start',
  starts: 'start',
  startsat: 'start',
  expiration: 'expiration',
  expirationdate: 'expiration',
  expires: 'expiration',
  expiresat: 'expiration',
  expiry: 'expiration',
  end: 'expiration',
  enddate: 'expiration',
};

export type CsvCells = Partial<Record<CsvField, string>>;

export interface CsvRow {
  /** 0-based position among the data rows. */
  idx: number;
  /** 1-based line of the file the row starts on. */
  line: number;
  cells: CsvCells;
  /** Set when the row itself cannot be read; its cells are then empty. */
  error?: { code: GatewayErrorCode; message: string };
}

/** Line starts of `buf` as byte offsets; `\r\n`, `\n` and a lone `\r` each end a line. */
function lineStarts(buf: Buffer): number[] {
  const starts = [0];
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x0a || (c === 0x0d && buf[i + 1] !== 0x0a)) starts.push(i + 1);
  }
  return starts;
}

/** 1-based line containing byte `offset`. */
function lineAt(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

function newlines(s: string): number {
  const m = s.match(/\r\n|\r|\n/g);
  return m === null ? 0 : m.length;
}

function skipLineBreaks(buf: Buffer, offset: number): number {
  let i = offset;
  while (i < buf.length && (buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  return i;
}

const headerKey = (h: string): string => h.toLowerCase().replace(/[\s_-]+/g, '');

/** Explains csv-parse's quoting errors in the words a spreadsheet user can act on. */
function describeParseError(e: CsvError): string {
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed (a " is missing), so everything from here to the end of the file was read as one field';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'a quoted field is followed by more characters before the next comma (write "" for a quote inside a quoted field)';
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'characters follow a closing quote';
    default:
      return e.message.replace(/\s+at line \d+.*$/, '');
  }
}

/**
 * Parses an import file. Handles a UTF-8 byte-order mark, quoted fields (also spanning lines),
 * CRLF/LF/CR line ends and blank lines (also lines of empty cells, which spreadsheets write).
 * Throws CSV_MALFORMED / CSV_BAD_HEADER for problems with the whole file; a row that cannot be
 * read comes back with `error` set and the rest of the file continues.
 */
export function readImportCsv(input: string | Buffer): CsvRow[] {
  return readImportFile(input).rows;
}

export interface CsvFile {
  rows: CsvRow[];
  /** Header cells that name no template column, as written; their cells are ignored (a warning, not an error). */
  unknownColumns: string[];
}

/** readImportCsv, also naming the columns that were ignored. */
export function readImportFile(input: string | Buffer): CsvFile {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const starts = lineStarts(buf);
  type Item = { line: number; record?: string[]; error?: string };
  const items: Item[] = [];
  // csv-parse calls on_record and on_skip in file order; the end of the last good record is the
  // only reliable start of a record it had to skip (its error offsets are not positions).
  let lastEnd = 0;
  let lastError: Item | undefined;
  try {
    parse(buf, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_record: (record: string[], context: { bytes: number }) => {
        // A record ends on the line holding its last byte; fields spanning lines move its start up.
        const endLine = lineAt(starts, Math.max(0, context.bytes - 1));
        const line = endLine - record.reduce((n, f) => n + newlines(f), 0);
        lastEnd = context.bytes;
        lastError = undefined;
        if (!record.every((f) => f.trim() === '')) items.push({ line, record });
        return null;
      },
      on_skip: (e: CsvError | undefined) => {
        if (!e) return;
        // One broken quote can raise several errors before the next good record; report one row.
        if (lastError) {
          lastError.error = `${lastError.error}; ${describeParseError(e)}`;
          return;
        }
        lastError = { line: lineAt(starts, skipLineBreaks(buf, lastEnd)), error: describeParseError(e) };
        items.push(lastError);
      },
    });
  } catch (e) {
    // With skip_records_with_error, only input-level failures (encoding, options) reach here.
    throw new GatewayError('CSV_MALFORMED', `the file cannot be read as CSV: ${(e as Error).message}`);
  }
  items.sort((a, b) => a.line - b.line);

  const headerItem = items.shift();
  if (!headerItem) throw new GatewayError('CSV_MALFORMED', 'the file is empty: expected a header row and at least one resident');
  if (!headerItem.record) throw new GatewayError('CSV_MALFORMED', `the header row (line ${headerItem.line}) cannot be read: ${headerItem.error}`);
  const { columns, unknown: unknownColumns } = mapHeader(headerItem.record);
  if (items.length > MAX_IMPORT_ROWS) {
    throw new GatewayError('CSV_MALFORMED', `the file has ${items.length} rows; an import holds at most ${MAX_IMPORT_ROWS} (split the file)`);
  }

  const rows = items.map((it, idx): CsvRow => {
    if (!it.record) return { idx, line: it.line, cells: {}, error: { code: 'CSV_ROW_MALFORMED', message: it.error! } };
    const rec = it.record;
    // Trailing empty cells are what spreadsheets write for untouched columns; real data is not.
    const extra = rec.slice(columns.length).some((f) => f.trim() !== '');
    // A row may stop before trailing optional columns (Start, Expiration): rows written for the
    // six-column template still read under the eight-column one. Any other short row is an error.
    const short = columns.slice(rec.length).some((c) => c !== null && !OPTIONAL_TRAILING.has(c));
    if (extra || short) {
      return {
        idx,
        line: it.line,
        cells: cellsOf(rec, columns),
        error: {
          code: 'CSV_ROW_MALFORMED',
          message: `the row has ${rec.length} fields, the header has ${columns.length} (a comma inside a name must be in quotes)`,
        },
      };
    }
    return { idx, line: it.line, cells: cellsOf(rec, columns) };
  });
  return { rows, unknownColumns };
}

function cellsOf(rec: readonly string[], columns: readonly (CsvField | null)[]): CsvCells {
  const cells: CsvCells = {};
  columns.forEach((c, i) => {
    if (c !== null && rec[i] !== undefined) cells[c] = unescapeFormula(rec[i]!.trim());
  });
  return cells;
}

/**
 * Header → field per column (null: ignored). Missing required and repeated columns are refused;
 * unknown columns are ignored and named, so the preview can warn about them.
 */
function mapHeader(header: readonly string[]): { columns: (CsvField | null)[]; unknown: string[] } {
  const seen = new Set<CsvField>();
  const unknown: string[] = [];
  const repeated: string[] = [];
  const columns = header.map((raw): CsvField | null => {
    const h = raw.trim();
    if (h === '' || headerKey(h) === headerKey(ERROR_COLUMN)) return null;
    const f = HEADER_ALIASES[headerKey(h)];
    if (f === undefined) {
      unknown.push(h);
      return null;
    }
    if (seen.has(f)) repeated.push(h);
    seen.add(f);
    return f;
  });
  const missing = FIELDS.filter((f) => REQUIRED.includes(f) && !seen.has(f));
  const problems = [
    ...(missing.length > 0 ? [`missing column(s) ${missing.map((f) => TEMPLATE_COLUMNS[FIELDS.indexOf(f)]).join(', ')}`] : []),
    ...(repeated.length > 0 ? [`repeated column(s) ${repeated.map((u) => JSON.stringify(u)).join(', ')}`] : []),
  ];
  if (problems.length > 0) {
    throw new GatewayError('CSV_BAD_HEADER', `${problems.join('; ')}; the template's columns are: ${TEMPLATE_COLUMNS.join(', ')}`, {
      missing,
      unknown,
      repeated,
    });
  }
  return { columns, unknown };
}

/** What a Start/Expiration cell may hold: the template's date or date-time (a space for the `T` too, as spreadsheets write it). */
const CSV_TIME_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?$/;

/**
 * A Start or Expiration cell → Unix minute in the property's time zone (`timeZone`). Throws
 * INVALID_TIME for any other format (seconds, a zone, `31/12/2026`) or a day that does not exist.
 */
export function parseCsvTime(cell: string, timeZone: string, round: 'up' | 'down'): number {
  if (!CSV_TIME_RE.test(cell)) {
    throw new GatewayError('INVALID_TIME', `${JSON.stringify(cell)} is not a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM`);
  }
  return parseTimeToMinute(cell, timeZone, round);
}

/** The downloadable template: the header row only, CRLF as spreadsheets write it. */
export function csvTemplate(): string {
  return writeCsv(TEMPLATE_COLUMNS, []);
}

/**
 * First characters that make a spreadsheet read a cell as a formula: what csv-stringify's
 * `escape_formulas` prefixes with `'` (= + - @, TAB and CR per OWASP, and the full-width
 * = + - @ that Apple Numbers folds to them). Reading undoes exactly that escape.
 */
const FORMULA_START = '=+-@\t\r\uFF1D\uFF0B\uFF0D\uFF20';
/** A value that is (after any number of `'`) a formula: it gets one more `'` when written. */
const QUOTED_FORMULA = new RegExp(`^'+[${FORMULA_START}]`);

/**
 * Undo the writer's formula escape: one leading `'` comes off a cell whose rest starts like a
 * formula (or with a `'` that was itself escaped). Anything else, a name like O'Neil included,
 * is kept as it is.
 */
export function unescapeFormula(cell: string): string {
  return QUOTED_FORMULA.test(cell) ? cell.slice(1) : cell;
}

/**
 * Rows → CSV text, every line ending in CRLF (the last one too). Quotes a field only where
 * needed (a comma, quote or line break inside, or leading/trailing white space) and escapes
 * formulas: `=HYPERLINK(…)` is written `'=HYPERLINK(…)`. A value that already starts with `'`
 * before a formula character gets one more, so reading (unescapeFormula) gives it back as it was.
 */
export function writeCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return stringify([header, ...rows] as string[][], {
    record_delimiter: 'windows',
    // Set explicitly: with a record delimiter given, csv-stringify would otherwise leave a lone
    // LF or CR inside a value unquoted, which splits the row for every reader.
    quote_record_delimiter: true,
    quoted_match: /^\s|\s$/,
    escape_formulas: true,
    cast: { string: (v) => (QUOTED_FORMULA.test(v) ? `'${v}` : v) },
  });
}

export function fieldColumn(f: CsvField): string {
  return TEMPLATE_COLUMNS[FIELDS.indexOf(f)]!;
}

export const CSV_FIELDS = FIELDS;
