import { readFileSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import type { Ctx } from '../model/base.js';
import { getProperty, propertyZone } from '../model/properties.js';
import { parseTimeToMinute } from '../time.js';
import * as f from '../flows/index.js';
import { record, table } from './format.js';
import type { CliIo } from './main.js';
import { changedDoors, int, intList, untilSignal, yesNo } from './args.js';

/** What the flow commands borrow from the program in main.ts. */
export interface FlowCliContext {
  io: CliIo;
  store(): Db;
  show(data: unknown, text: () => string): void;
  ctx(): Ctx;
  /** For long-running commands: the store stays open after the action returns; the caller closes it. */
  takeStore(): Db;
}

const changed = changedDoors;

/** --limit/--offset of a list command. */
export interface PageOpts {
  limit: number;
  offset: number;
}

/** Adds --limit and --offset to a list command. */
export function withPaging(cmd: Command, defaultLimit: number): Command {
  return cmd
    .option('--limit <n>', `list at most this many (default ${defaultLimit})`, int('count'), defaultLimit)
    .option('--offset <n>', 'skip this many first (the next page)', int('count'), 0);
}

/**
 * One page of a list: `fetch(limit, offset)` reads rows (a negative limit reads all the rest).
 * `more` counts the rows after the page, only when the page came back full: with `count` (a SQL
 * COUNT of the whole list) where the list can be long, else by reading the rest.
 */
export function paged<T>(fetch: (limit: number, offset: number) => T[], p: PageOpts, count?: () => number): { rows: T[]; more: number } {
  const rows = fetch(p.limit + 1, p.offset);
  if (rows.length <= p.limit) return { rows, more: 0 };
  return { rows: rows.slice(0, p.limit), more: count ? count() - p.offset - p.limit : fetch(-1, p.offset + p.limit).length };
}

/** Pages an array already in memory (short lists: doors, units, keys). */
export const sliced =
  <T>(rows: readonly T[]) =>
  (limit: number, offset: number): T[] =>
    rows.slice(offset, limit < 0 ? undefined : offset + limit);

/**
 * Shows a page; when the list stopped early says so ("N more; use --offset M") after the table,
 * or on stderr with --json (stdout stays the JSON array).
 */
export function showPage<T>(io: CliIo, show: FlowCliContext['show'], page: { rows: T[]; more: number }, p: PageOpts, text: (rows: T[]) => string): void {
  const note = page.more > 0 ? `${page.more} more; use --offset ${p.offset + page.rows.length}` : null;
  let asText = false;
  show(page.rows, () => {
    asText = true;
    return note ? `${text(page.rows)}\n${note}` : text(page.rows);
  });
  if (!asText && note) io.err(note);
}

/** CSV import, the welcome outbox, and the PMS integration (User Sync, Automated Access). */
export function registerFlowCommands(program: Command, c: FlowCliContext): void {
  const { io, store, show, ctx } = c;
  const path = (p: string): string => resolve(io.cwd, p);

  // ---- CSV import (seed 000)
  const imp = program.command('import').description('CSV import of residents: template, upload (preview), apply, error report');
  imp
    .command('template')
    .description('print the CSV template (redirect it to a file)')
    .option('--out <file>', 'write it to this file instead')
    .action((o: { out?: string }) => {
      const csv = f.csvTemplate();
      if (o.out) {
        writeFileSync(path(o.out), csv);
        show({ written: path(o.out) }, () => `wrote the template to ${path(o.out!)}`);
      } else show({ csv }, () => csvForOut(csv));
    });
  imp
    .command('upload')
    .description('check a CSV file and show the preview with per-row errors; nothing is applied')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .argument('<file>', 'the CSV file')
    .action((file: string, o: { property: number }) => {
      let content: Buffer;
      try {
        content = readFileSync(path(file));
      } catch (e) {
        throw new GatewayError('INVALID_ARGUMENT', `cannot read ${path(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const s = f.createImport(store(), o.property, { csv: content, fileName: basename(file) }, ctx());
      const errors = f.importRows(store(), s.id, { status: 'error', limit: 1000 }).map(f.importRowView);
      const data = { import: f.importView(s), errors };
      show(data, () =>
        [
          `import ${s.id} (${s.fileName}): ${s.counts.total} rows: ${s.counts.ready} ready (${s.counts.newPeople} new, ${s.counts.existingPeople} existing email: keys added), ${s.counts.error} with errors, ${s.counts.alreadyImported} already imported`,
          ...(errors.length > 0 ? ['', 'rows with errors (skipped; fix them and upload the file again):', table(errors, ['line', 'email', 'errorCode', 'errorMessage'])] : []),
          '',
          s.counts.ready > 0 ? `apply with: latchkit import apply ${s.id} [--communal-keys <ids>] [--start <time>] [--expires <time>]` : 'nothing to apply',
        ].join('\n'),
      );
    });
  imp
    .command('apply')
    .description('"Send": import the ready rows; communal keys and the window apply to every imported resident')
    .argument('<importId>', 'import id', int('import id'))
    .option('--communal-keys <ids>', 'comma-separated communal key ids for everyone in the import', intList('key id'))
    .option('--start <time>', 'access starts (date or date-time, property local time unless zoned)')
    .option('--expires <time>', 'access ends')
    .action((id: number, o: { communalKeys?: number[]; start?: string; expires?: string }) => {
      const s0 = f.getImport(store(), id);
      const off = propertyZone(store(), s0.propertyId);
      const r = f.applyImport(
        store(),
        id,
        {
          communalKeyIds: o.communalKeys ?? [],
          start: o.start === undefined ? null : parseTimeToMinute(o.start, off, 'up'),
          end: o.expires === undefined ? null : parseTimeToMinute(o.expires, off, 'down'),
        },
        ctx(),
      );
      const data = { import: f.importView(r.import), failed: r.failed.map(f.importRowView), affectedDoors: r.affectedDoors };
      const n = r.import.counts;
      show(data, () =>
        [
          `import ${id}: ${n.imported} imported (${n.newPeople} new people, ${n.existingPeople} existing), ${n.failed} failed, ${n.error} skipped with errors, ${n.alreadyImported} already imported`,
          ...(r.failed.length > 0 ? [table(data.failed, ['line', 'email', 'errorCode', 'errorMessage'])] : []),
          changed(r.affectedDoors),
        ].join('\n'),
      );
    });
  withPaging(
    imp.command('list').description('list the CSV imports of a property, newest first').requiredOption('--property <id>', 'property id', int('property id')),
    50,
  ).action((o: { property: number } & PageOpts) => {
    getProperty(store(), o.property);
    const page = paged((limit, offset) => f.listImports(store(), o.property, { limit, offset }), o, () => f.countImports(store(), o.property));
    showPage(io, show, { rows: page.rows.map(f.importView), more: page.more }, o, (rows) =>
      table(rows.map((r) => ({ ...r, ...r.counts })), ['id', 'fileName', 'status', 'createdAt', 'total', 'imported', 'error', 'alreadyImported', 'failed']),
    );
  });
  imp
    .command('show')
    .description('show a CSV import: status, counts, the keys and window it was applied with')
    .argument('<importId>', 'import id', int('import id'))
    .addOption(new Option('--status <status>', 'only rows with this status').choices(['ready', 'error', 'already_imported', 'imported', 'failed']))
    .option('--limit <n>', 'how many rows', int('count'), 100)
    .option('--offset <n>', 'skip this many first (the next page of rows)', int('count'), 0)
    .action((id: number, o: { status?: f.ImportRowStatus } & PageOpts) => {
      const s = f.importView(f.getImport(store(), id));
      const status = o.status ? { status: o.status } : {};
      const page = paged((limit, offset) => f.importRows(store(), id, { ...status, limit, offset }).map(f.importRowView), o, () => f.countImportRows(store(), id, o.status));
      const note = page.more > 0 ? `${page.more} more rows; use --offset ${o.offset + page.rows.length}` : null;
      show({ import: s, rows: page.rows, moreRows: page.more }, () =>
        [record({ ...s, counts: JSON.stringify(s.counts) }), table(page.rows, ['line', 'status', 'action', 'email', 'keys', 'errorCode', 'errorMessage']), ...(note ? [note] : [])].join('\n\n'),
      );
    });
  imp
    .command('errors')
    .description('the error report as CSV: skipped rows plus an Error column; correct it and upload it again')
    .argument('<importId>', 'import id', int('import id'))
    .option('--out <file>', 'write it to this file instead')
    .action((id: number, o: { out?: string }) => {
      const csv = f.importErrorReport(store(), id);
      if (o.out) {
        writeFileSync(path(o.out), csv);
        show({ written: path(o.out) }, () => `wrote the error report to ${path(o.out!)}`);
      } else show({ csv }, () => csvForOut(csv));
    });

  // ---- message outbox
  const note = program.command('notification').description('the message outbox: welcome and daily-doorcode messages (no mail transport is built in)');
  const noteList = note
    .command('list')
    .description('list the outbox with each message rendered')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .option('--person <id>', 'only this person', int('person id'))
    .addOption(new Option('--kind <kind>', 'only welcome or daily messages').choices(['welcome', 'daily']))
    .option('--unsent', 'only messages not yet marked sent')
    .option('--full', 'print each message in full');
  withPaging(noteList, 100).action((o: { property: number; person?: number; kind?: 'welcome' | 'daily'; unsent?: boolean; full?: boolean } & PageOpts) => {
    getProperty(store(), o.property);
    const q = { ...(o.person ? { personId: o.person } : {}), ...(o.kind ? { kind: o.kind } : {}), unsentOnly: o.unsent ?? false };
    // Counted in SQL, as the API route does: rendering every remaining message (a daily one
    // derives its code and doors) only to count them made a short page cost the whole outbox.
    const page = paged(
      (limit, offset) => f.listNotifications(store(), o.property, { ...q, limit, offset }),
      o,
      () => f.countNotifications(store(), o.property, q),
    );
    showPage(io, show, { rows: page.rows.map(f.notificationView), more: page.more }, o, (rows) =>
      o.full
        ? rows.map((n) => `#${n.id} to ${n.email} (${n.sentAt ? `sent ${n.sentAt}` : 'unsent'})\nSubject: ${n.subject}\n\n${n.body}`).join('\n\n---\n\n') || '(none)'
        : table(rows, ['id', 'personId', 'email', 'kind', 'localDay', 'createdAt', 'sentAt', 'subject']),
    );
  });
  note
    .command('sent')
    .description('mark a message as handed to the mail transport')
    .argument('<notificationId>', 'notification id', int('notification id'))
    .action((id: number) => {
      const n = f.notificationView(f.markNotificationSent(store(), id, ctx()));
      show(n, () => `notification ${id} marked sent at ${n.sentAt}`);
    });

  // ---- PMS integration (seeds 002, 003)
  const pms = program.command('pms').description('PMS integration: User Sync and Automated Access');
  const integrationOut = (propertyId: number) =>
    f.integrationView(f.getIntegration(store(), propertyId), {
      pendingSuggestions: f.pendingSuggestionCount(store(), propertyId),
      openAlerts: f.openAlertCount(store(), propertyId),
    });
  pms
    .command('configure')
    .description('configure the PMS feed, User Sync, Automated Access and its mode')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .option('--feed-file <path>', 'read the feed from this JSON file')
    .option('--feed-url <url>', 'GET the feed from this http(s) URL')
    .option('--timeout-ms <ms>', 'give up on a pull after this long', int('milliseconds'))
    .option('--interval-min <min>', 'minutes between pulls (1-60; User Sync runs at least hourly)', int('minutes'))
    .option('--user-sync <yes|no>', 'pull resident records into DOOR', yesNo)
    .option('--automated-access <yes|no>', 'turn lease status changes into access (needs User Sync)', yesNo)
    .addOption(new Option('--mode <mode>', 'Automated Access mode').choices(['approval_required', 'automatic']))
    .option('--exclude-statuses <list>', 'comma-separated lease statuses never pulled ("" for none)')
    .action(
      (o: { property: number; feedFile?: string; feedUrl?: string; timeoutMs?: number; intervalMin?: number; userSync?: boolean; automatedAccess?: boolean; mode?: f.AccessMode; excludeStatuses?: string }) => {
        if (o.feedFile && o.feedUrl) throw new GatewayError('INVALID_ARGUMENT', 'give --feed-file or --feed-url, not both');
        const input: f.IntegrationInput = {};
        if (o.feedFile) Object.assign(input, { feedKind: 'file', feedSource: path(o.feedFile) });
        if (o.feedUrl) Object.assign(input, { feedKind: 'http', feedSource: o.feedUrl });
        if (o.timeoutMs !== undefined) input.timeoutMs = o.timeoutMs;
        if (o.intervalMin !== undefined) input.intervalMin = o.intervalMin;
        if (o.userSync !== undefined) input.userSync = o.userSync;
        if (o.automatedAccess !== undefined) input.automatedAccess = o.automatedAccess;
        if (o.mode) input.mode = o.mode;
        if (o.excludeStatuses !== undefined) input.excludedStatuses = o.excludeStatuses.split(',').filter((s) => s.trim() !== '');
        f.configureIntegration(store(), o.property, input, ctx());
        const i = integrationOut(o.property);
        show(i, () => `PMS integration of property ${o.property}:\n${record(i)}`);
      },
    );
  pms
    .command('status')
    .description('settings, the last sync time, pending suggestions and open alerts')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .action((o: { property: number }) => {
      const i = integrationOut(o.property);
      show(i, () => record(i));
    });
  pms
    .command('sync')
    .description('Sync Now: pull the PMS feed and apply it')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .action(async (o: { property: number }) => {
      const r = f.syncRunView(await f.runPmsSync(store(), o.property, { trigger: 'manual', ctx: ctx() }));
      const rep = r.report!;
      show(r, () =>
        [
          `synced property ${o.property} at ${r.finishedAt}: ${rep.received} records, ${rep.excluded} excluded`,
          ...(rep.userSync ? [`User Sync: ${Object.entries(rep.userSync).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
          ...(rep.automatedAccess
            ? [`Automated Access: ${rep.automatedAccess.changes} status changes, ${rep.automatedAccess.suggestions} suggestions, ${rep.automatedAccess.applied} applied, ${rep.automatedAccess.failed} failed`]
            : []),
          ...(rep.issues.length > 0 ? ['records skipped:', table(rep.issues.map((i) => ({ ...i })), ['ref', 'code', 'message'])] : []),
          changed(rep.affectedDoors),
        ].join('\n'),
      );
    });
  pms
    .command('runs')
    .description('the recent PMS sync runs')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .option('--limit <n>', 'how many', int('count'), 20)
    .action((o: { property: number; limit: number }) => {
      const rows = f.listSyncRuns(store(), o.property, { limit: o.limit }).map(f.syncRunView);
      show(rows, () => table(rows.map((r) => ({ ...r, issues: r.report?.issues.length ?? null })), ['id', 'trigger', 'startedAt', 'finishedAt', 'status', 'errorCode', 'issues']));
    });
  pms
    .command('watch')
    .description('run the scheduler: pull every enabled integration at its interval until stopped')
    .option('--check-every-ms <ms>', 'how often to look for due pulls', int('milliseconds'), 30_000)
    .action(async (o: { checkEveryMs: number }) => {
      const db = c.takeStore();
      const scheduler = new f.PmsScheduler({
        db,
        checkEveryMs: o.checkEveryMs,
        onResult: (r) =>
          io.out(
            r.error
              ? `${new Date().toISOString()} property ${r.propertyId}: sync failed: ${(r.error as GatewayError).code ?? 'INTERNAL'}: ${r.error.message}`
              : `${new Date().toISOString()} property ${r.propertyId}: synced (${r.run!.report!.received} records, ${r.run!.report!.issues.length} skipped)`,
          ),
      });
      scheduler.start();
      io.out(`PMS scheduler running (checks every ${o.checkEveryMs} ms); stop with Ctrl-C`);
      await (io.untilStopped ?? untilSignal)();
      await scheduler.stop();
      db.close();
    });

  const sug = program.command('suggestion').description('Automated Access suggestions: approve (Update Access) or discard');
  const sugList = sug
    .command('list')
    .description('list Automated Access suggestions (pending by default)')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .addOption(new Option('--state <state>', 'only suggestions in this state').choices(['pending', 'applied', 'discarded', 'superseded', 'failed']).default('pending'))
    .option('--person <id>', 'only this person', int('person id'));
  withPaging(sugList, 100).action((o: { property: number; state: f.SuggestionState; person?: number } & PageOpts) => {
    const page = paged((limit, offset) => f.listSuggestions(store(), o.property, { state: o.state, ...(o.person ? { personId: o.person } : {}), limit, offset }), o);
    showPage(io, show, { rows: page.rows.map(f.suggestionView), more: page.more }, o, (rows) => table(rows, ['id', 'color', 'action', 'personName', 'keyName', 'startsAt', 'detail', 'state']));
  });
  sug
    .command('approve')
    .description('Update Access: apply up to 50 pending suggestions')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .argument('<ids>', 'comma-separated suggestion ids', intList('suggestion id'))
    .action((ids: number[], o: { property: number }) => {
      const results = f.approveSuggestions(store(), o.property, ids, ctx());
      const doors = [...new Set(results.flatMap((r) => r.affectedDoors))].sort((a, b) => a - b);
      show({ results, affectedDoors: doors }, () => `${table(results.map((r) => ({ ...r })), ['id', 'outcome', 'result', 'code'])}\n${changed(doors)}`);
    });
  sug
    .command('discard')
    .description('discard suggestions without changing access')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .argument('<suggestionId>', 'suggestion id', int('suggestion id'))
    .action((id: number, o: { property: number }) => {
      const s = f.suggestionView(f.discardSuggestion(store(), o.property, id, ctx()));
      show(s, () => `discarded suggestion ${id}`);
    });

  const alert = program.command('alert').description('User Sync alerts: partial matches and Email Mismatch');
  const alertList = alert
    .command('list')
    .description('list User Sync alerts')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .addOption(new Option('--state <state>', 'only alerts in this state').choices(['open', 'resolved', 'dismissed']).default('open'));
  withPaging(alertList, 100).action((o: { property: number; state: f.AlertState } & PageOpts) => {
    const page = paged((limit, offset) => f.listAlerts(store(), o.property, { state: o.state, limit, offset }), o);
    showPage(io, show, { rows: page.rows.map(f.alertView), more: page.more }, o, (rows) => table(rows, ['id', 'kind', 'externalRef', 'personId', 'message', 'state']));
  });
  alert
    .command('resolve')
    .description('resolve a User Sync alert (link, create, accept the PMS email, or dismiss)')
    .requiredOption('--property <id>', 'property id', int('property id'))
    .argument('<alertId>', 'alert id', int('alert id'))
    .addOption(new Option('--action <action>', 'link to a contact, create one, take the PMS email, or dismiss').choices(['link', 'create', 'accept_pms_email', 'dismiss']).makeOptionMandatory())
    .option('--person <id>', 'link: the contact to link to (default: the matched one)', int('person id'))
    .action((id: number, o: { property: number; action: f.AlertAction; person?: number }) => {
      const a = f.alertView(f.resolveAlert(store(), o.property, id, { action: o.action, ...(o.person ? { personId: o.person } : {}) }, ctx()));
      show(a, () => `alert ${id} ${a.state}: ${a.resolution}`);
    });

  const rs = program.command('resident-status').description('DOOR OS resident status (future/current/past) and manual overrides');
  rs.command('show')
    .description("a person's resident status and any manual override")
    .argument('<personId>', 'person id', int('person id'))
    .action((id: number) => {
      const r = f.residentStatusView(f.residentStatus(store(), id));
      show(r, () => record({ ...r, pms: r.pms && JSON.stringify(r.pms), lease: r.lease && JSON.stringify(r.lease) }));
    });
  rs.command('set')
    .description('override: current assigns the PMS unit keys; past or future revokes every key')
    .argument('<personId>', 'person id', int('person id'))
    .argument('<status>', 'future, current or past', (s: string) => {
      if (s !== 'future' && s !== 'current' && s !== 'past') throw new InvalidArgumentError(`expected future, current or past, got "${s}"`);
      return s;
    })
    .action((id: number, status: f.CanonicalStatus) => {
      const r = f.setResidentStatus(store(), id, status, ctx());
      show({ ...f.residentStatusView(r), affectedDoors: r.affectedDoors }, () => `person ${id} is now ${status}; ${changed(r.affectedDoors)}`);
    });
}

/**
 * CSV text for `io.out`, which ends every write with LF: the last CRLF loses only its LF, so
 * the bytes on stdout are the CSV's own, CRLF on every line.
 */
function csvForOut(csv: string): string {
  return csv.endsWith('\r\n') ? csv.slice(0, -1) : csv;
}
