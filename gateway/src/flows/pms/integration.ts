import { isAbsolute } from 'node:path';
import type { Db } from '../../store/db.js';
import { GatewayError } from '../../errors.js';
import { bit, bool, nowOf, one, run, tx, type Ctx } from '../../model/base.js';
import { logAccess } from '../../model/activity.js';
import { getProperty } from '../../model/properties.js';
import { FileFeedAdapter, HttpFeedAdapter, normalizeStatus, type PmsAdapter } from './feed.js';

/**
 * A property's PMS integration settings. User Sync pulls "at least once per hour" (seed 003), so
 * the pull interval is capped at 60 minutes; the default of 5 is what makes "past → all access
 * revoked within minutes" (seed 002) true in Automatic mode.
 */

export type AccessMode = 'approval_required' | 'automatic';
export type FeedKind = 'file' | 'http';

export interface PmsIntegration {
  propertyId: number;
  feedKind: FeedKind;
  feedSource: string;
  timeoutMs: number;
  intervalMin: number;
  userSync: boolean;
  automatedAccess: boolean;
  mode: AccessMode;
  /** Lease statuses never pulled into DOOR (normalised: lower case, single spaces). */
  excludedStatuses: string[];
  /** When the last successful sync completed: "the last sync timestamp on the People tab". */
  lastSyncAt: number | null;
  lastAttemptAt: number | null;
  lastErrorCode: string | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface IntegrationInput {
  feedKind?: FeedKind;
  /** An absolute file path (file) or an http(s) URL (http). */
  feedSource?: string;
  timeoutMs?: number;
  intervalMin?: number;
  userSync?: boolean;
  automatedAccess?: boolean;
  mode?: AccessMode;
  excludedStatuses?: string[];
}

export const DEFAULT_INTERVAL_MIN = 5;
export const DEFAULT_TIMEOUT_MS = 10_000;

interface Row extends Omit<PmsIntegration, 'userSync' | 'automatedAccess' | 'excludedStatuses'> {
  userSync: number;
  automatedAccess: number;
  excludedStatuses: string;
}

const COLS = `property_id AS propertyId, feed_kind AS feedKind, feed_source AS feedSource, timeout_ms AS timeoutMs,
  interval_min AS intervalMin, user_sync AS userSync, automated_access AS automatedAccess, mode,
  excluded_statuses AS excludedStatuses, last_sync_at AS lastSyncAt, last_attempt_at AS lastAttemptAt,
  last_error_code AS lastErrorCode, last_error AS lastError, created_at AS createdAt, updated_at AS updatedAt`;

function toIntegration(r: Row): PmsIntegration {
  return { ...r, userSync: bool(r.userSync), automatedAccess: bool(r.automatedAccess), excludedStatuses: JSON.parse(r.excludedStatuses) as string[] };
}

export function findIntegration(db: Db, propertyId: number): PmsIntegration | undefined {
  const r = one<Row>(db, `SELECT ${COLS} FROM pms_integrations WHERE property_id = ?`, propertyId);
  return r ? toIntegration(r) : undefined;
}

export function getIntegration(db: Db, propertyId: number): PmsIntegration {
  const i = findIntegration(db, propertyId);
  if (!i) throw new GatewayError('INTEGRATION_NOT_FOUND', `property ${propertyId} has no PMS integration; configure one first`);
  return i;
}

export function listIntegrations(db: Db): PmsIntegration[] {
  return (db.prepare(`SELECT ${COLS} FROM pms_integrations ORDER BY property_id`).all() as Row[]).map(toIntegration);
}

function checkSource(kind: FeedKind, source: string): string {
  const s = source.trim();
  if (kind === 'file') {
    // The server resolves nothing against its own working directory: say exactly which file.
    if (!isAbsolute(s)) throw new GatewayError('INVALID_ARGUMENT', `a file feed needs an absolute path, got ${JSON.stringify(source)}`);
    return s;
  }
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new GatewayError('INVALID_ARGUMENT', `an http feed needs a URL, got ${JSON.stringify(source)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new GatewayError('INVALID_ARGUMENT', `an http feed URL must be http or https, got ${url.protocol}`);
  return url.toString();
}

function range(v: number, lo: number, hi: number, what: string): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new GatewayError('INVALID_ARGUMENT', `${what} must be a whole number in ${lo}..${hi}, got ${v}`);
  return v;
}

/**
 * Creates or changes the integration. A first configuration needs the feed; later ones change only
 * what they name. Automated Access cannot be on without User Sync (seed 002, step 1), and turning
 * User Sync off while Automated Access is on is refused for the same reason.
 */
export function configureIntegration(db: Db, propertyId: number, input: IntegrationInput, ctx: Ctx = {}): PmsIntegration {
  return tx(db, () => {
    getProperty(db, propertyId);
    const before = findIntegration(db, propertyId);
    const kind = input.feedKind ?? before?.feedKind;
    const source = input.feedSource ?? before?.feedSource;
    if (kind === undefined || source === undefined) throw new GatewayError('INVALID_ARGUMENT', 'a new integration needs feedKind and feedSource');
    if (input.feedKind !== undefined && input.feedSource === undefined && input.feedKind !== before?.feedKind) {
      throw new GatewayError('INVALID_ARGUMENT', 'changing feedKind needs the new feedSource too');
    }
    const next = {
      feedKind: kind,
      feedSource: checkSource(kind, source),
      timeoutMs: range(input.timeoutMs ?? before?.timeoutMs ?? DEFAULT_TIMEOUT_MS, 100, 120_000, 'timeoutMs'),
      intervalMin: range(input.intervalMin ?? before?.intervalMin ?? DEFAULT_INTERVAL_MIN, 1, 60, 'intervalMin (User Sync runs at least hourly)'),
      userSync: input.userSync ?? before?.userSync ?? true,
      automatedAccess: input.automatedAccess ?? before?.automatedAccess ?? false,
      // Seed 002: Approval Required is the default mode.
      mode: input.mode ?? before?.mode ?? 'approval_required',
      excludedStatuses: [...new Set((input.excludedStatuses ?? before?.excludedStatuses ?? []).map(normalizeStatus).filter((s) => s !== ''))].sort(),
    };
    if (next.automatedAccess && !next.userSync) {
      throw new GatewayError('USER_SYNC_REQUIRED', 'Automated Access requires User Sync to be active on the property; enable User Sync first');
    }
    const at = nowOf(ctx);
    run(
      db,
      `INSERT INTO pms_integrations (property_id, feed_kind, feed_source, timeout_ms, interval_min, user_sync, automated_access, mode,
         excluded_statuses, created_at, updated_at)
       VALUES (@pid, @feedKind, @feedSource, @timeoutMs, @intervalMin, @userSync, @aa, @mode, @excluded, @at, @at)
       ON CONFLICT (property_id) DO UPDATE SET feed_kind = @feedKind, feed_source = @feedSource, timeout_ms = @timeoutMs,
         interval_min = @intervalMin, user_sync = @userSync, automated_access = @aa, mode = @mode, excluded_statuses = @excluded,
         updated_at = @at`,
      {
        pid: propertyId,
        ...next,
        userSync: bit(next.userSync),
        aa: bit(next.automatedAccess),
        excluded: JSON.stringify(next.excludedStatuses),
        at,
      },
    );
    const changes = [
      before === undefined ? 'configured' : null,
      before && before.mode !== next.mode ? `mode ${next.mode}` : null,
      before && before.automatedAccess !== next.automatedAccess ? `Automated Access ${next.automatedAccess ? 'on' : 'off'}` : null,
      before && before.userSync !== next.userSync ? `User Sync ${next.userSync ? 'on' : 'off'}` : null,
    ].filter((c) => c !== null);
    if (changes.length > 0) logAccess(db, propertyId, { action: 'pms.configured', message: `PMS integration: ${changes.join(', ')}` }, ctx);
    return getIntegration(db, propertyId);
  });
}

/** The adapter the settings name. Tests and embedders may pass their own to runPmsSync instead. */
export function adapterFor(i: PmsIntegration): PmsAdapter {
  return i.feedKind === 'file' ? new FileFeedAdapter(i.feedSource) : new HttpFeedAdapter(i.feedSource);
}
