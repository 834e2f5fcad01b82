import { createHash } from 'node:crypto';
import type { Db } from '../store/db.js';
import { GatewayError, isGatewayError, type GatewayErrorCode } from '../errors.js';
import { actorOf, all, nowOf, one, run, tx, uniq, type Ctx } from '../model/base.js';
import { checkNewWindow } from '../model/grants.js';
import { requireKeysIn } from '../model/keys.js';
import { invitePerson } from '../model/people.js';
import { getProperty } from '../model/properties.js';
import { nameTextProblem, normalizeEmail } from '../model/validate.js';
import { minuteOf } from '../time.js';
import { CSV_FIELDS, ERROR_COLUMN, TEMPLATE_COLUMNS, fieldColumn, parseCsvTime, readImportFile, writeCsv, type CsvCells, type CsvField, type CsvRow } from './csv-file.js';
import { queueWelcome } from './notifications.js';

/**
 * CSV import (seed 000): upload → preview with per-row errors → choose communal keys and an
 * optional window → apply. Email is the identity (an existing email gets the keys added through
 * invitePerson, never a second person; rows of one file with the same email are one person). A
 * row's own Start/Expiration is the window of its keys. Rows already imported, in this file or any
 * earlier one, are recognised by a fingerprint of their content in the property's ledger and
 * skipped, so a corrected file can be re-uploaded whole.
 */

export type ImportRowStatus = 'ready' | 'error' | 'already_imported' | 'imported' | 'failed';

export interface ImportRow {
  idx: number;
  line: number;
  status: ImportRowStatus;
  /** For ready and imported rows: a new person, or keys added to the person with this email. */
  action: 'invite' | 'add_keys' | null;
  cells: CsvCells;
  keyIds: number[];
  unitId: number | null;
  errorCode: GatewayErrorCode | null;
  errorMessage: string | null;
  personId: number | null;
}

export interface ImportSummary {
  id: number;
  propertyId: number;
  fileName: string | null;
  status: 'previewed' | 'applied';
  createdAt: number;
  createdBy: string;
  appliedAt: number | null;
  appliedBy: string | null;
  communalKeyIds: number[] | null;
  start: number | null;
  end: number | null;
  counts: { total: number; ready: number; error: number; alreadyImported: number; imported: number; failed: number; newPeople: number; existingPeople: number };
  /** File-level warnings of the upload (only on the summary createImport returns; not stored). */
  warnings?: { code: 'CSV_UNKNOWN_COLUMNS'; message: string; columns: string[] }[];
}

interface RowRecord {
  idx: number;
  line: number;
  cells: string;
  emailNorm: string | null;
  fingerprint: string | null;
  keyIds: string | null;
  unitId: number | null;
  status: ImportRowStatus;
  existingPerson: number;
  errorCode: GatewayErrorCode | null;
  errorMessage: string | null;
  personId: number | null;
}

const ROW_COLS = `idx, line, cells, email_norm AS emailNorm, fingerprint, key_ids AS keyIds, unit_id AS unitId, status,
  existing_person AS existingPerson, error_code AS errorCode, error_message AS errorMessage, person_id AS personId`;

function toRow(r: RowRecord): ImportRow {
  const ready = r.status === 'ready' || r.status === 'imported';
  return {
    idx: r.idx,
    line: r.line,
    status: r.status,
    action: ready ? (r.existingPerson === 1 ? 'add_keys' : 'invite') : null,
    cells: JSON.parse(r.cells) as CsvCells,
    keyIds: r.keyIds === null ? [] : (JSON.parse(r.keyIds) as number[]),
    unitId: r.unitId,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    personId: r.personId,
  };
}

/**
 * What identifies "the same row" across files: its content, normalised as it will be applied. A
 * row's own window is part of it (a file that moves everyone's expiration is new content); rows
 * without one keep the fingerprint they had before the Start/Expiration columns existed.
 */
function fingerprint(emailNorm: string, c: CsvCells, unitId: number | null, keyIds: readonly number[], w: RowWindow): string {
  const base = [emailNorm, c.firstName ?? '', c.lastName ?? '', c.phone ?? '', unitId, [...keyIds].sort((a, b) => a - b)];
  const canon = JSON.stringify(w.start === null && w.end === null ? base : [...base, w.start, w.end]);
  return createHash('sha256').update(canon, 'utf8').digest('hex');
}

interface Lookup {
  keysByName: Map<string, { id: number; name: string; kind: string }[]>;
  unitsByName: Map<string, { id: number; name: string }[]>;
  people: Map<string, number>;
}

function lookupsFor(db: Db, propertyId: number): Lookup {
  const keysByName = new Map<string, { id: number; name: string; kind: string }[]>();
  for (const k of all<{ id: number; name: string; kind: string }>(db, 'SELECT id, name, kind FROM keys WHERE property_id = ?', propertyId)) {
    const n = k.name.toLowerCase();
    keysByName.set(n, [...(keysByName.get(n) ?? []), k]);
  }
  const unitsByName = new Map<string, { id: number; name: string }[]>();
  for (const u of all<{ id: number; name: string }>(db, 'SELECT id, name FROM units WHERE property_id = ?', propertyId)) {
    const n = u.name.toLowerCase();
    unitsByName.set(n, [...(unitsByName.get(n) ?? []), u]);
  }
  const people = new Map<string, number>();
  for (const p of all<{ id: number; norm: string }>(db, 'SELECT id, email_norm AS norm FROM people WHERE property_id = ?', propertyId)) people.set(p.norm, p.id);
  return { keysByName, unitsByName, people };
}

/** The row's own Start/Expiration as Unix minutes; null where the cell is empty. */
interface RowWindow {
  start: number | null;
  end: number | null;
}

/**
 * A row's Start/Expiration cells in the property's time zone: starts round up, expirations down
 * (time.ts), so rounding never widens access. Throws INVALID_TIME for a cell the template does not allow.
 */
function rowWindow(c: CsvCells, timeZone: string): RowWindow {
  return {
    start: c.start ? parseCsvTime(c.start, timeZone, 'up') : null,
    end: c.expiration ? parseCsvTime(c.expiration, timeZone, 'down') : null,
  };
}

interface Checked {
  emailNorm: string | null;
  keyIds: number[];
  unitId: number | null;
  /** null when a Start or Expiration cell cannot be read. */
  window: RowWindow | null;
  problems: { code: GatewayErrorCode; message: string }[];
}

/** Everything wrong with one row, not just the first thing: the manager fixes the row once. */
function checkRow(row: CsvRow, look: Lookup, timeZone: string, nowMs: number): Checked {
  const c = row.cells;
  const problems: { code: GatewayErrorCode; message: string }[] = [];
  const window: RowWindow = { start: null, end: null };
  let windowOk = true;
  for (const [f, side, round] of [['start', 'start', 'up'], ['expiration', 'end', 'down']] as const) {
    const v = c[f];
    if (!v) continue;
    try {
      window[side] = parseCsvTime(v, timeZone, round);
    } catch (e) {
      if (!isGatewayError(e)) throw e;
      windowOk = false;
      problems.push({ code: e.code, message: `${fieldColumn(f)}: ${e.message}` });
    }
  }
  if (window.start !== null && window.end !== null && window.end <= window.start) {
    problems.push({ code: 'INVALID_WINDOW', message: `Expiration ${JSON.stringify(c.expiration)} is not after Start ${JSON.stringify(c.start)}` });
  } else if (window.end !== null && window.end <= minuteOf(nowMs)) {
    problems.push({ code: 'EXPIRATION_IN_PAST', message: `Expiration ${JSON.stringify(c.expiration)} is not in the future` });
  }
  let emailNorm: string | null = null;
  if (!c.email) problems.push({ code: 'INVALID_EMAIL', message: 'Email is empty' });
  else {
    try {
      emailNorm = normalizeEmail(c.email).norm;
    } catch (e) {
      if (!isGatewayError(e)) throw e;
      problems.push({ code: e.code, message: `Email ${JSON.stringify(c.email)} is not an email address` });
    }
  }
  for (const f of ['firstName', 'lastName'] as const) {
    const v = c[f] ?? '';
    const bad = nameTextProblem(v);
    // A newline or other control character in a name must not reach the store: this row waits for a fix.
    if (bad !== null) problems.push({ code: 'INVALID_TEXT', message: `${fieldColumn(f)} contains ${bad}` });
    else if (v === '') problems.push({ code: 'INVALID_ARGUMENT', message: `${fieldColumn(f)} is empty` });
    else if (v.length > 200) problems.push({ code: 'INVALID_ARGUMENT', message: `${fieldColumn(f)} is longer than 200 characters` });
  }
  if ((c.phone ?? '').length > 40) problems.push({ code: 'INVALID_ARGUMENT', message: 'Phone is longer than 40 characters' });
  let unitId: number | null = null;
  if (c.unit) {
    const units = look.unitsByName.get(c.unit.toLowerCase()) ?? [];
    const exact = units.find((u) => u.name === c.unit);
    if (units.length === 0) problems.push({ code: 'UNIT_NOT_FOUND', message: `Unit ${JSON.stringify(c.unit)} does not exist in this property` });
    else if (!exact && units.length > 1) problems.push({ code: 'UNIT_NOT_FOUND', message: `Unit ${JSON.stringify(c.unit)} matches several units; use the exact name` });
    else unitId = (exact ?? units[0]!).id;
  }
  const keyIds: number[] = [];
  for (const name of (c.keys ?? '').split(';').map((s) => s.trim()).filter((s) => s !== '')) {
    const keys = look.keysByName.get(name.toLowerCase()) ?? [];
    const k = keys.find((x) => x.name === name) ?? (keys.length === 1 ? keys[0] : undefined);
    if (!k) {
      const why = keys.length > 1 ? 'matches several keys; use the exact name' : 'does not exist in this property';
      problems.push({ code: 'KEY_NOT_FOUND', message: `Key ${JSON.stringify(name)} ${why}` });
    } else if (k.kind === 'communal') {
      // Seed 000 step 12: the Keys column is for residential keys; communal keys are added for the whole import.
      problems.push({ code: 'COMMUNAL_KEY_IN_CSV', message: `Key ${JSON.stringify(k.name)} is communal: choose communal keys for the whole import, not in the Keys column` });
    } else keyIds.push(k.id);
  }
  return { emailNorm, keyIds: uniq(keyIds), unitId, window: windowOk ? window : null, problems };
}

/** Same person said twice: equal when both say it (an empty Phone or Unit says nothing). */
function disagreements(a: CsvCells & { window: RowWindow | null }, b: CsvCells & { window: RowWindow | null }): string[] {
  const out: string[] = [];
  if ((a.firstName ?? '') !== (b.firstName ?? '')) out.push('First Name');
  if ((a.lastName ?? '') !== (b.lastName ?? '')) out.push('Last Name');
  if (a.phone && b.phone && a.phone !== b.phone) out.push('Phone');
  if (a.unit && b.unit && a.unit.toLowerCase() !== b.unit.toLowerCase()) out.push('Unit');
  if (a.window && b.window) {
    if (a.window.start !== b.window.start) out.push('Start');
    if (a.window.end !== b.window.end) out.push('Expiration');
  } else if ((a.start ?? '') !== (b.start ?? '') || (a.expiration ?? '') !== (b.expiration ?? '')) out.push('Start/Expiration');
  return out;
}

/** Rows of one file that may name the same person (each is compared with every other). */
const MAX_ROWS_PER_EMAIL = 100;

export interface CreateImportInput {
  csv: string | Buffer;
  fileName?: string | null;
}

/**
 * Upload + preview: parses and checks every row, records the verdicts, applies nothing. Whole-file
 * problems (no header, a missing or repeated column) throw; unknown columns come back as
 * `warnings` on the returned summary; row problems are reported on the row.
 */
export function createImport(db: Db, propertyId: number, input: CreateImportInput, ctx: Ctx = {}): ImportSummary {
  const prop = getProperty(db, propertyId);
  const { rows, unknownColumns } = readImportFile(input.csv);
  return tx(db, () => {
    const at = nowOf(ctx);
    const look = lookupsFor(db, propertyId);
    const checked = rows.map((r) => (r.error ? null : checkRow(r, look, prop.timeZone, at)));

    // Rows of one file with the same email (in any case) are one person: rows that agree are
    // merged at apply (keys unioned); rows that disagree on who the person is or on the window
    // are all errors naming each other, since which one is right is the manager's call.
    const byEmail = new Map<string, number[]>();
    checked.forEach((c, i) => {
      if (c?.emailNorm) byEmail.set(c.emailNorm, [...(byEmail.get(c.emailNorm) ?? []), i]);
    });
    const conflicts = new Map<number, string[]>();
    for (const group of byEmail.values()) {
      if (group.length > MAX_ROWS_PER_EMAIL) {
        // Not a person said twice but a broken file; and comparing every pair would be quadratic.
        const lines = group.map((i) => rows[i]!.line);
        const note = `the same email is on ${group.length} rows (lines ${lines.slice(0, 10).join(', ')}, …); at most ${MAX_ROWS_PER_EMAIL} rows may name one person`;
        for (const i of group) conflicts.set(i, [note]);
        continue;
      }
      for (const i of group) {
        const me = { ...rows[i]!.cells, window: checked[i]!.window };
        const notes: string[] = [];
        for (const j of group) {
          if (j === i) continue;
          const diff = disagreements(me, { ...rows[j]!.cells, window: checked[j]!.window });
          if (diff.length > 0) notes.push(`line ${rows[j]!.line} has the same email with a different ${diff.join(', ')}`);
        }
        if (notes.length > 0) conflicts.set(i, notes);
      }
    }

    const fileName = input.fileName == null || input.fileName.trim() === '' ? null : input.fileName.trim().slice(0, 200);
    const { lastInsertRowid: importId } = run(
      db,
      "INSERT INTO csv_imports (property_id, file_name, status, created_at, created_by) VALUES (?, ?, 'previewed', ?, ?)",
      propertyId,
      fileName,
      at,
      actorOf(ctx),
    );
    const inLedger = db.prepare('SELECT 1 FROM csv_imported_rows WHERE property_id = ? AND fingerprint = ?').pluck();
    const insert = db.prepare(
      `INSERT INTO csv_import_rows (import_id, idx, line, cells, email_norm, fingerprint, key_ids, unit_id, status, existing_person, error_code, error_message)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    rows.forEach((r, i) => {
      const c = checked[i];
      const cells = JSON.stringify(r.cells);
      if (!c) {
        insert.run(importId, r.idx, r.line, cells, null, null, null, null, 'error', 0, r.error!.code, r.error!.message);
        return;
      }
      const problems = [...c.problems];
      const clash = conflicts.get(i);
      if (clash) problems.unshift({ code: 'DUPLICATE_EMAIL_IN_FILE', message: `${clash.join('; ')}: the rows must agree or be merged into one` });
      if (problems.length > 0) {
        insert.run(importId, r.idx, r.line, cells, c.emailNorm, null, null, null, 'error', 0, problems[0]!.code, problems.map((p) => p.message).join('; '));
        return;
      }
      const fp = fingerprint(c.emailNorm!, r.cells, c.unitId, c.keyIds, c.window!);
      const status: ImportRowStatus = inLedger.get(propertyId, fp) !== undefined ? 'already_imported' : 'ready';
      const existing = look.people.has(c.emailNorm!) ? 1 : 0;
      insert.run(importId, r.idx, r.line, cells, c.emailNorm, fp, JSON.stringify(c.keyIds), c.unitId, status, existing, null, null);
    });
    const summary = getImport(db, importId);
    if (unknownColumns.length > 0) {
      summary.warnings = [
        {
          code: 'CSV_UNKNOWN_COLUMNS',
          message: `column(s) ${unknownColumns.map((u) => JSON.stringify(u)).join(', ')} are not in the template and were ignored; the template's columns are: ${TEMPLATE_COLUMNS.join(', ')}`,
          columns: unknownColumns,
        },
      ];
    }
    return summary;
  });
}

export function getImport(db: Db, importId: number): ImportSummary {
  // The summary's columns as stored: communal key ids as JSON, counts computed below.
  const r = one<Omit<ImportSummary, 'communalKeyIds' | 'counts'> & { communal: string | null }>(
    db,
    `SELECT id, property_id AS propertyId, file_name AS fileName, status, created_at AS createdAt, created_by AS createdBy,
       applied_at AS appliedAt, applied_by AS appliedBy, communal_key_ids AS communal, start_min AS start, end_min AS "end"
       FROM csv_imports WHERE id = ?`,
    importId,
  );
  if (!r) throw new GatewayError('IMPORT_NOT_FOUND', `CSV import ${importId} does not exist`);
  const counts = { total: 0, ready: 0, error: 0, alreadyImported: 0, imported: 0, failed: 0, newPeople: 0, existingPeople: 0 };
  // newPeople / existingPeople count people: rows of one file merged into one person count once.
  for (const c of all<{ status: ImportRowStatus; existing: number; n: number; people: number }>(
    db,
    `SELECT status, existing_person AS existing, count(*) AS n, count(DISTINCT email_norm) AS people
       FROM csv_import_rows WHERE import_id = ? GROUP BY status, existing_person`,
    importId,
  )) {
    counts[c.status === 'already_imported' ? 'alreadyImported' : c.status] += c.n;
    counts.total += c.n;
    if (c.status === 'ready' || c.status === 'imported') counts[c.existing === 1 ? 'existingPeople' : 'newPeople'] += c.people;
  }
  const { communal, ...rest } = r;
  return { ...rest, communalKeyIds: communal === null ? null : (JSON.parse(communal) as number[]), counts };
}

export function listImports(db: Db, propertyId: number, opts: { limit?: number; offset?: number } = {}): ImportSummary[] {
  return all<{ id: number }>(db, 'SELECT id FROM csv_imports WHERE property_id = ? ORDER BY id DESC LIMIT ? OFFSET ?', propertyId, opts.limit ?? 50, opts.offset ?? 0).map((r) =>
    getImport(db, r.id),
  );
}

/** How many imports listImports would list without a limit. */
export function countImports(db: Db, propertyId: number): number {
  return one<{ n: number }>(db, 'SELECT count(*) AS n FROM csv_imports WHERE property_id = ?', propertyId)!.n;
}

export interface ImportRowsQuery {
  status?: ImportRowStatus;
  limit?: number;
  offset?: number;
}

/** How many rows importRows would list without a limit (of one status, or all). */
export function countImportRows(db: Db, importId: number, status?: ImportRowStatus): number {
  getImport(db, importId);
  return one<{ n: number }>(db, 'SELECT count(*) AS n FROM csv_import_rows WHERE import_id = ? AND (? IS NULL OR status = ?)', importId, status ?? null, status ?? null)!.n;
}

export function importRows(db: Db, importId: number, q: ImportRowsQuery = {}): ImportRow[] {
  getImport(db, importId);
  return all<RowRecord>(
    db,
    `SELECT ${ROW_COLS} FROM csv_import_rows WHERE import_id = ? AND (? IS NULL OR status = ?) ORDER BY idx LIMIT ? OFFSET ?`,
    importId,
    q.status ?? null,
    q.status ?? null,
    q.limit ?? 100,
    q.offset ?? 0,
  ).map(toRow);
}

export interface ApplyImportInput {
  /** "Add Keys" step: communal keys every imported resident gets (seed 000 step 12). */
  communalKeyIds?: number[];
  /** Optional start and expiration for every imported resident (step 13), Unix minutes. */
  start?: number | null;
  end?: number | null;
}

export interface ApplyImportResult {
  import: ImportSummary;
  /** Rows that passed the preview but failed now (e.g. a key deleted in between). */
  failed: ImportRow[];
  affectedDoors: number[];
}

/**
 * "Send": imports every ready row, each in its own savepoint so a failing row leaves nothing
 * behind and the rest continues; rows with errors and rows already imported are skipped. The
 * whole apply is one transaction, so the ledger and the grants can never disagree. Every
 * imported resident is sent the welcome message (new people by the invite itself).
 */
export function applyImport(db: Db, importId: number, input: ApplyImportInput = {}, ctx: Ctx = {}): ApplyImportResult {
  return tx(db, () => {
    const imp = getImport(db, importId);
    if (imp.status === 'applied') {
      throw new GatewayError('IMPORT_ALREADY_APPLIED', `CSV import ${importId} was applied at ${new Date(imp.appliedAt!).toISOString()}; upload the corrected file as a new import`);
    }
    const at = nowOf(ctx);
    const communal = requireKeysIn(db, imp.propertyId, input.communalKeyIds ?? []);
    const residential = communal.find((k) => k.kind !== 'communal');
    if (residential) {
      throw new GatewayError('INVALID_ARGUMENT', `key ${residential.id} (${residential.name}) is residential: residential keys go in the Keys column, one row at a time`);
    }
    const communalIds = communal.map((k) => k.id);
    const window = { start: input.start ?? null, end: input.end ?? null };
    checkNewWindow(window, at);

    const rows = all<RowRecord>(db, `SELECT ${ROW_COLS} FROM csv_import_rows WHERE import_id = ? AND status = 'ready' ORDER BY idx`, importId);
    const inLedger = db.prepare('SELECT 1 FROM csv_imported_rows WHERE property_id = ? AND fingerprint = ?').pluck();
    const off = getProperty(db, imp.propertyId).timeZone;
    // Rows with the same email agreed at preview (or they would be errors): one person, one invite.
    const groups = new Map<string, RowRecord[]>();
    for (const r of rows) {
      // Another import may have brought in the same row since this preview.
      if (inLedger.get(imp.propertyId, r.fingerprint) !== undefined) {
        run(db, "UPDATE csv_import_rows SET status = 'already_imported' WHERE import_id = ? AND idx = ?", importId, r.idx);
        continue;
      }
      groups.set(r.emailNorm!, [...(groups.get(r.emailNorm!) ?? []), r]);
    }
    const affected = new Set<number>();
    for (const group of groups.values()) {
      const cellsOf = group.map((r) => JSON.parse(r.cells) as CsvCells);
      const cells = cellsOf[0]!;
      try {
        tx(db, () => {
          const keyIds = uniq([...group.flatMap((r) => JSON.parse(r.keyIds!) as number[]), ...communalIds]);
          if (keyIds.length === 0) {
            throw new GatewayError('INVALID_ARGUMENT', 'no keys: the Keys column is empty and no keys were chosen for the import');
          }
          // The row's own Start/Expiration win; an empty cell takes the window chosen for the import.
          const own = rowWindow(cells, off);
          const res = invitePerson(
            db,
            imp.propertyId,
            {
              email: cells.email!,
              firstName: cells.firstName!,
              lastName: cells.lastName!,
              phone: cellsOf.find((c) => c.phone)?.phone ?? null,
              accessType: 'app',
              isResident: true,
              unitId: group.find((r) => r.unitId !== null)?.unitId ?? null,
              keyIds,
              start: own.start ?? window.start,
              end: own.end ?? window.end,
              source: 'csv',
            },
            ctx,
          );
          // New people got the welcome with their invite; seed 000 says every imported resident does.
          if (!res.created) queueWelcome(db, imp.propertyId, res.person.id, res.person.email, at);
          for (const r of group) {
            // Two rows saying exactly the same thing share a fingerprint: one ledger entry.
            run(
              db,
              'INSERT OR IGNORE INTO csv_imported_rows (property_id, fingerprint, import_id, line, imported_at) VALUES (?, ?, ?, ?, ?)',
              imp.propertyId,
              r.fingerprint,
              importId,
              r.line,
              at,
            );
            run(
              db,
              "UPDATE csv_import_rows SET status = 'imported', person_id = ?, existing_person = ? WHERE import_id = ? AND idx = ?",
              res.person.id,
              res.created ? 0 : 1,
              importId,
              r.idx,
            );
          }
          for (const d of res.affectedDoors) affected.add(d);
        });
      } catch (e) {
        if (!isGatewayError(e)) throw e;
        for (const r of group) {
          run(db, "UPDATE csv_import_rows SET status = 'failed', error_code = ?, error_message = ? WHERE import_id = ? AND idx = ?", e.code, e.message, importId, r.idx);
        }
      }
    }
    run(
      db,
      "UPDATE csv_imports SET status = 'applied', applied_at = ?, applied_by = ?, communal_key_ids = ?, start_min = ?, end_min = ? WHERE id = ?",
      at,
      actorOf(ctx),
      JSON.stringify(communalIds),
      window.start,
      window.end,
      importId,
    );
    const failed = all<RowRecord>(db, `SELECT ${ROW_COLS} FROM csv_import_rows WHERE import_id = ? AND status = 'failed' ORDER BY idx`, importId).map(toRow);
    return { import: getImport(db, importId), failed, affectedDoors: [...affected].sort((a, b) => a - b) };
  });
}

/**
 * The error report: the rows that were skipped, with the template's columns as uploaded and an
 * Error column naming the line and the problem. Correct it and upload it again as is: the Error
 * column is ignored on upload.
 */
export function importErrorReport(db: Db, importId: number): string {
  getImport(db, importId);
  const rows = all<RowRecord>(db, `SELECT ${ROW_COLS} FROM csv_import_rows WHERE import_id = ? AND status IN ('error', 'failed') ORDER BY idx`, importId).map(toRow);
  // Start and Expiration are reported when the file had them, so a report re-uploads as the file was.
  const optional = new Set<CsvField>(['start', 'expiration']);
  const fields = CSV_FIELDS.filter((f) => !optional.has(f) || rows.some((r) => r.cells[f] !== undefined));
  return writeCsv(
    [...fields.map(fieldColumn), ERROR_COLUMN],
    rows.map((r) => [...fields.map((f) => r.cells[f] ?? ''), `line ${r.line}: ${r.errorCode}: ${r.errorMessage}`]),
  );
}
