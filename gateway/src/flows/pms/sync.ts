import type { Db } from '../../store/db.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import { all, nowOf, one, run, tx, type Ctx } from '../../model/base.js';
import { fetchWithTimeout, parseFeed, type PmsAdapter, type PmsRecord, type RecordIssue } from './feed.js';
import { adapterFor, getIntegration, type PmsIntegration } from './integration.js';
import { processAutomatedAccess } from './automated-access.js';
import { syncUserRecord, type UserSyncOutcome } from './user-sync.js';

/**
 * One pull of the PMS: fetch (async, under the integration's timeout), then everything else in one
 * transaction with a savepoint per record: the mirror, User Sync, Automated Access. A feed that
 * cannot be fetched or is not a feed applies nothing and leaves the last sync time as it was; a
 * bad record is reported and skipped, and the other records still sync.
 */

export type SyncTrigger = 'schedule' | 'manual';

export interface SyncReport {
  source: string;
  /** Records in the feed, valid or not. */
  received: number;
  /** Records set aside for their lease status (the exclusion list). */
  excluded: number;
  userSync: Record<UserSyncOutcome, number> | null;
  automatedAccess: { changes: number; suggestions: number; applied: number; failed: number } | null;
  affectedDoors: number[];
  issues: RecordIssue[];
}

export interface SyncRun {
  id: number;
  propertyId: number;
  trigger: SyncTrigger;
  startedAt: number;
  finishedAt: number;
  status: 'ok' | 'failed';
  errorCode: string | null;
  errorMessage: string | null;
  report: SyncReport | null;
}

type RunRow = Omit<SyncRun, 'report'> & { report: string };
const RUN_COLS = `id, property_id AS propertyId, trigger, started_at AS startedAt, finished_at AS finishedAt, status, error_code AS errorCode,
  error_message AS errorMessage, report`;
const toRun = (r: RunRow): SyncRun => ({ ...r, report: r.report === 'null' ? null : (JSON.parse(r.report) as SyncReport) });

export function getSyncRun(db: Db, id: number): SyncRun {
  const r = one<RunRow>(db, `SELECT ${RUN_COLS} FROM pms_sync_runs WHERE id = ?`, id);
  if (!r) throw new Error(`sync run ${id} vanished`);
  return toRun(r);
}

export function listSyncRuns(db: Db, propertyId: number, opts: { limit?: number } = {}): SyncRun[] {
  return all<RunRow>(db, `SELECT ${RUN_COLS} FROM pms_sync_runs WHERE property_id = ? ORDER BY id DESC LIMIT ?`, propertyId, opts.limit ?? 20).map(toRun);
}

/** Properties with a pull in flight, per store: a second pull would race the first one's writes. */
const running = new WeakMap<Db, Set<number>>();

function isExcluded(rec: PmsRecord, excluded: readonly string[]): boolean {
  return excluded.includes(rec.leaseStatus) || (rec.canonical !== null && excluded.includes(rec.canonical));
}

/** Records what the PMS now says; a changed status is dated by the PMS, or by this pull. */
function upsertMirror(db: Db, propertyId: number, rec: PmsRecord, at: number): void {
  const before = one<{ status: string; changedAt: number }>(
    db,
    'SELECT lease_status AS status, status_changed_at AS changedAt FROM pms_residents WHERE property_id = ? AND external_ref = ?',
    propertyId,
    rec.externalRef,
  );
  const changedAt = rec.statusChangedAt ?? (before && before.status === rec.leaseStatus ? before.changedAt : at);
  run(
    db,
    `INSERT INTO pms_residents (property_id, external_ref, first_name, last_name, email, phone, unit, lease_status, lease_start, lease_end,
       move_in, move_out, status_changed_at, first_seen_at, last_seen_at)
     VALUES (@pid, @externalRef, @firstName, @lastName, @email, @phone, @unit, @leaseStatus, @leaseStart, @leaseEnd, @moveIn, @moveOut,
       @changedAt, @at, @at)
     ON CONFLICT (property_id, external_ref) DO UPDATE SET first_name = @firstName, last_name = @lastName, email = @email, phone = @phone,
       unit = @unit, lease_status = @leaseStatus, lease_start = @leaseStart, lease_end = @leaseEnd, move_in = @moveIn, move_out = @moveOut,
       status_changed_at = @changedAt, last_seen_at = @at`,
    {
      pid: propertyId,
      externalRef: rec.externalRef,
      firstName: rec.firstName,
      lastName: rec.lastName,
      email: rec.email,
      phone: rec.phone,
      unit: rec.unit,
      leaseStatus: rec.leaseStatus,
      leaseStart: rec.leaseStart,
      leaseEnd: rec.leaseEnd,
      moveIn: rec.moveIn,
      moveOut: rec.moveOut,
      changedAt,
      at,
    },
  );
}

/** Applies a fetched feed. Exposed for tests of the apply step; runPmsSync is the entry point. */
export function applyFeed(db: Db, integ: PmsIntegration, raw: unknown, source: string, ctx: Ctx): SyncReport {
  const { records, issues } = parseFeed(raw);
  const report: SyncReport = {
    source,
    received: records.length + issues.length,
    excluded: 0,
    userSync: integ.userSync ? { created: 0, linked: 0, updated: 0, unchanged: 0, partial_match: 0, email_mismatch: 0, not_candidate: 0 } : null,
    automatedAccess: integ.automatedAccess ? { changes: 0, suggestions: 0, applied: 0, failed: 0 } : null,
    affectedDoors: [],
    issues: [...issues],
  };
  const doors = new Set<number>();
  const failed = new Set<string>();
  const at = nowOf(ctx);
  const perRecord = (rec: PmsRecord, fn: () => void): boolean => {
    try {
      tx(db, fn);
      return true;
    } catch (e) {
      if (!isGatewayError(e)) throw e;
      report.issues.push({ ref: rec.externalRef, code: e.code, message: e.message });
      return false;
    }
  };
  for (const rec of records) {
    // Seed 003: "Lease statuses you added to the exclusion list during setup are not pulled into DOOR."
    if (isExcluded(rec, integ.excludedStatuses)) {
      report.excluded++;
      continue;
    }
    // The mirror records what the PMS said even when DOOR cannot take the record in yet, so a
    // status change is dated from the pull that first saw it.
    if (!perRecord(rec, () => upsertMirror(db, integ.propertyId, rec, at))) failed.add(rec.externalRef);
    else if (report.userSync) {
      const us = report.userSync;
      if (!perRecord(rec, () => us[syncUserRecord(db, integ.propertyId, rec, ctx)]++)) failed.add(rec.externalRef);
    }
  }
  // After User Sync, so a record linked or created in this pull is acted on in the same pull. A
  // record User Sync could not take is reported once and retried whole on the next pull.
  if (report.automatedAccess) {
    const aa = report.automatedAccess;
    for (const rec of records) {
      if (isExcluded(rec, integ.excludedStatuses) || failed.has(rec.externalRef)) continue;
      perRecord(rec, () => {
        const o = processAutomatedAccess(db, integ, rec, ctx);
        if (o === null) return;
        aa.changes++;
        aa.suggestions += o.suggestions;
        aa.applied += o.applied;
        aa.failed += o.failed;
        for (const d of o.affectedDoors) doors.add(d);
      });
    }
  }
  report.affectedDoors = [...doors].sort((a, b) => a - b);
  return report;
}

export interface RunSyncOptions {
  trigger?: SyncTrigger;
  /** Defaults to the adapter the integration's settings name (file or HTTP feed). */
  adapter?: PmsAdapter;
  ctx?: Ctx;
}

/**
 * Sync Now, and what the scheduler calls. Resolves with the run when the feed was applied;
 * rejects with the run's error (PMS_TIMEOUT, PMS_FETCH_FAILED, PMS_FEED_INVALID,
 * SYNC_IN_PROGRESS) when it was not. Either way the attempt is recorded in pms_sync_runs.
 */
export async function runPmsSync(db: Db, propertyId: number, opts: RunSyncOptions = {}): Promise<SyncRun> {
  const ctx: Ctx = { actor: 'pms', ...opts.ctx };
  const integ = getIntegration(db, propertyId);
  if (!integ.userSync && !integ.automatedAccess) throw new GatewayError('INVALID_ARGUMENT', `the PMS integration of property ${propertyId} is switched off (enable User Sync)`);
  let inFlight = running.get(db);
  if (!inFlight) running.set(db, (inFlight = new Set()));
  if (inFlight.has(propertyId)) throw new GatewayError('SYNC_IN_PROGRESS', `a PMS sync of property ${propertyId} is already running`);
  inFlight.add(propertyId);
  const trigger = opts.trigger ?? 'manual';
  const startedAt = nowOf(ctx);
  try {
    const adapter = opts.adapter ?? adapterFor(integ);
    run(db, 'UPDATE pms_integrations SET last_attempt_at = ? WHERE property_id = ?', startedAt, propertyId);
    let raw: unknown;
    try {
      raw = await fetchWithTimeout(adapter, integ.timeoutMs);
    } catch (e) {
      // The adapter is the boundary: anything it throws that is not ours is a failed fetch.
      throw isGatewayError(e) ? e : new GatewayError('PMS_FETCH_FAILED', `${adapter.description}: ${(e as Error).message}`);
    }
    return tx(db, () => {
      // Settings may have changed while the fetch was in flight; apply with the current ones.
      const current = getIntegration(db, propertyId);
      const report = applyFeed(db, current, raw, adapter.description, ctx);
      const finishedAt = nowOf(ctx);
      const id = run(
        db,
        "INSERT INTO pms_sync_runs (property_id, trigger, started_at, finished_at, status, report) VALUES (?, ?, ?, ?, 'ok', ?)",
        propertyId,
        trigger,
        startedAt,
        finishedAt,
        JSON.stringify(report),
      ).lastInsertRowid;
      run(db, 'UPDATE pms_integrations SET last_sync_at = ?, last_error_code = NULL, last_error = NULL WHERE property_id = ?', finishedAt, propertyId);
      return getSyncRun(db, id);
    });
  } catch (e) {
    if (isGatewayError(e) && e.code !== 'SYNC_IN_PROGRESS') {
      const finishedAt = nowOf(ctx);
      tx(db, () => {
        run(
          db,
          "INSERT INTO pms_sync_runs (property_id, trigger, started_at, finished_at, status, error_code, error_message, report) VALUES (?, ?, ?, ?, 'failed', ?, ?, 'null')",
          propertyId,
          trigger,
          startedAt,
          finishedAt,
          e.code,
          e.message,
        );
        run(db, 'UPDATE pms_integrations SET last_error_code = ?, last_error = ? WHERE property_id = ?', e.code, e.message, propertyId);
      });
    }
    throw e;
  } finally {
    inFlight.delete(propertyId);
  }
}
