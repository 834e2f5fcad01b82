import { readFile } from 'node:fs/promises';
import { GatewayError, isGatewayError, type GatewayErrorCode } from '../../errors.js';
import { normalizeEmail } from '../../model/validate.js';

/**
 * The PMS boundary. Everything the integration knows about a PMS arrives through a PmsAdapter as
 * untrusted JSON; parseFeed turns it into records, refusing a feed that is not a feed at all and
 * setting aside, with a reason, each record that is wrong on its own so the rest still sync.
 *
 * The feed format (file or HTTP body):
 *   { "residents": [ { "id": "t-1001", "firstName": "Jane", "lastName": "Doe", "email": "jane@example.com",
 *       "phone": "+1 555 0100", "unit": "4B", "leaseStatus": "current", "leaseStart": "2025-06-01",
 *       "leaseEnd": "2026-05-31", "moveIn": "2025-06-01", "moveOut": null,
 *       "statusChangedAt": "2025-06-01T09:00:00Z" } ] }
 * `id` may be a string or an integer; `phone`, `unit`, the dates and `statusChangedAt` are optional.
 * Unknown fields are ignored: PMS exports carry many we have no use for.
 */

/** The lease statuses seed 002 maps to DOOR actions. Others (e.g. "notice") are kept as named. */
export type CanonicalStatus = 'future' | 'current' | 'past';

// Seed 003 calls future residents "pending"; seed 002's "Unit Change" is a current resident whose
// unit differs from the last one DOOR acted on, which Automated Access detects from the unit.
const STATUS_ALIASES: Record<string, CanonicalStatus> = {
  future: 'future',
  'future resident': 'future',
  pending: 'future',
  current: 'current',
  'current resident': 'current',
  'unit change': 'current',
  transfer: 'current',
  past: 'past',
  'past resident': 'past',
  former: 'past',
};

export function normalizeStatus(s: string): string {
  return s.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
}

export function canonicalStatus(normalized: string): CanonicalStatus | null {
  return STATUS_ALIASES[normalized] ?? null;
}

export interface PmsRecord {
  /** The PMS's own id for the resident; stored as `people.external_ref`. */
  externalRef: string;
  firstName: string;
  lastName: string;
  email: string;
  emailNorm: string;
  phone: string | null;
  unit: string | null;
  /** As the PMS names it, normalised (lower case, single spaces). */
  leaseStatus: string;
  canonical: CanonicalStatus | null;
  leaseStart: string | null;
  leaseEnd: string | null;
  moveIn: string | null;
  moveOut: string | null;
  /** When the PMS says the status last changed (Unix ms), if it says. */
  statusChangedAt: number | null;
}

export interface RecordIssue {
  /** The record's id, or `#<index>` when it has none. */
  ref: string;
  code: GatewayErrorCode;
  message: string;
}

/** What one pull of the PMS returned: JSON, not yet trusted. */
export interface PmsAdapter {
  /** For run reports and logs: "file /srv/pms/feed.json", "http https://pms.example/feed". */
  readonly description: string;
  /**
   * Reads the feed. Must honour `signal` (the sync's timeout) where it can. Throws GatewayError
   * PMS_FETCH_FAILED / PMS_FEED_INVALID / PMS_TIMEOUT. Adapters only read: User Sync never
   * writes back to the PMS (seed 003).
   */
  fetchFeed(signal: AbortSignal): Promise<unknown>;
}

/** A record with more than this is not a resident list we can trust. */
export const MAX_FEED_RECORDS = 100_000;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function text(r: Record<string, unknown>, field: string, opts: { required: boolean; max: number }): string | null {
  const v = r[field];
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) {
    if (opts.required) throw new GatewayError('PMS_RECORD_INVALID', `${field} is missing`);
    return null;
  }
  if (typeof v !== 'string') throw new GatewayError('PMS_RECORD_INVALID', `${field} must be a string, got ${typeof v}`);
  const t = v.trim();
  if (t.length > opts.max) throw new GatewayError('PMS_RECORD_INVALID', `${field} is longer than ${opts.max} characters`);
  return t;
}

function date(r: Record<string, unknown>, field: string): string | null {
  const v = text(r, field, { required: false, max: 10 });
  if (v === null) return null;
  const d = new Date(`${v}T00:00:00Z`);
  if (!DATE_RE.test(v) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) {
    throw new GatewayError('PMS_RECORD_INVALID', `${field} must be a date YYYY-MM-DD, got ${JSON.stringify(v)}`);
  }
  return v;
}

function parseRecord(raw: unknown): PmsRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new GatewayError('PMS_RECORD_INVALID', 'a resident record must be a JSON object');
  const r = raw as Record<string, unknown>;
  const id = typeof r.id === 'number' && Number.isSafeInteger(r.id) ? String(r.id) : text(r, 'id', { required: true, max: 200 })!;
  const emailText = text(r, 'email', { required: true, max: 254 })!;
  let email: { email: string; norm: string };
  try {
    email = normalizeEmail(emailText);
  } catch {
    throw new GatewayError('PMS_RECORD_INVALID', `email ${JSON.stringify(emailText)} is not an email address`);
  }
  const status = normalizeStatus(text(r, 'leaseStatus', { required: true, max: 100 })!);
  let changed: number | null = null;
  const changedText = text(r, 'statusChangedAt', { required: false, max: 40 });
  if (changedText !== null) {
    // A zone is required: a PMS time without one could be any of 26 hours.
    changed = /(Z|[+-]\d{2}:?\d{2})$/.test(changedText) ? Date.parse(changedText) : Number.NaN;
    if (Number.isNaN(changed)) throw new GatewayError('PMS_RECORD_INVALID', `statusChangedAt must be an ISO 8601 date-time with a zone, got ${JSON.stringify(changedText)}`);
  }
  return {
    externalRef: id,
    firstName: text(r, 'firstName', { required: true, max: 200 })!,
    lastName: text(r, 'lastName', { required: true, max: 200 })!,
    email: email.email,
    emailNorm: email.norm,
    phone: text(r, 'phone', { required: false, max: 40 }),
    unit: text(r, 'unit', { required: false, max: 200 }),
    leaseStatus: status,
    canonical: canonicalStatus(status),
    leaseStart: date(r, 'leaseStart'),
    leaseEnd: date(r, 'leaseEnd'),
    moveIn: date(r, 'moveIn'),
    moveOut: date(r, 'moveOut'),
    statusChangedAt: changed,
  };
}

/**
 * Validates a pulled feed. A feed that is not `{ "residents": [...] }` is refused whole
 * (PMS_FEED_INVALID): acting on half of something unrecognisable is worse than waiting for the
 * next pull. Records that are wrong on their own, and records that repeat another's id or email
 * (one DOOR identity cannot be two PMS residents), are set aside with PMS_RECORD_INVALID.
 */
export function parseFeed(raw: unknown): { records: PmsRecord[]; issues: RecordIssue[] } {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { residents?: unknown }).residents)) {
    throw new GatewayError('PMS_FEED_INVALID', 'the feed must be a JSON object with a "residents" array');
  }
  const list = (raw as { residents: unknown[] }).residents;
  if (list.length > MAX_FEED_RECORDS) throw new GatewayError('PMS_FEED_INVALID', `the feed has ${list.length} records; at most ${MAX_FEED_RECORDS} are accepted`);
  const issues: RecordIssue[] = [];
  const parsed: { rec: PmsRecord; index: number }[] = [];
  list.forEach((raw, index) => {
    try {
      parsed.push({ rec: parseRecord(raw), index });
    } catch (e) {
      if (!isGatewayError(e)) throw e;
      const id = (raw as { id?: unknown } | null)?.id;
      issues.push({ ref: typeof id === 'string' || typeof id === 'number' ? String(id) : `#${index}`, code: e.code, message: `record #${index}: ${e.message}` });
    }
  });
  const count = (key: (r: PmsRecord) => string) => {
    const m = new Map<string, number>();
    for (const p of parsed) m.set(key(p.rec), (m.get(key(p.rec)) ?? 0) + 1);
    return m;
  };
  const ids = count((r) => r.externalRef);
  const emails = count((r) => r.emailNorm);
  const records: PmsRecord[] = [];
  for (const { rec, index } of parsed) {
    if (ids.get(rec.externalRef)! > 1) {
      issues.push({ ref: rec.externalRef, code: 'PMS_RECORD_INVALID', message: `record #${index}: id ${rec.externalRef} appears ${ids.get(rec.externalRef)} times in the feed` });
    } else if (emails.get(rec.emailNorm)! > 1) {
      issues.push({ ref: rec.externalRef, code: 'PMS_RECORD_INVALID', message: `record #${index}: email ${rec.email} belongs to ${emails.get(rec.emailNorm)} records of the feed; DOOR needs one email per person` });
    } else records.push(rec);
  }
  return { records, issues };
}

function parseJson(body: string, where: string): unknown {
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new GatewayError('PMS_FEED_INVALID', `${where} is not JSON: ${(e as Error).message}`);
  }
}

/** A feed the PMS (or an export job) writes to a file the gateway can read. */
export class FileFeedAdapter implements PmsAdapter {
  readonly description: string;
  constructor(private readonly path: string) {
    this.description = `file ${path}`;
  }

  async fetchFeed(signal: AbortSignal): Promise<unknown> {
    let body: string;
    try {
      body = await readFile(this.path, { encoding: 'utf8', signal });
    } catch (e) {
      if (signal.aborted) throw new GatewayError('PMS_TIMEOUT', `reading ${this.path} did not finish in time`);
      throw new GatewayError('PMS_FETCH_FAILED', `cannot read the feed file ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return parseJson(body, `the feed file ${this.path}`);
  }
}

/** A resident list is a few MB at most; a body past this is not a feed, and must not exhaust memory. */
export const MAX_FEED_BYTES = 64 * 1024 * 1024;

async function readCapped(res: Response, max: number, url: string): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new GatewayError('PMS_FEED_INVALID', `GET ${url} sent more than ${max} bytes; not a resident feed`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A feed served over HTTP(S): one GET, JSON body. */
export class HttpFeedAdapter implements PmsAdapter {
  readonly description: string;
  private readonly maxBytes: number;
  constructor(
    private readonly url: string,
    opts: { maxBytes?: number } = {},
  ) {
    this.description = `http ${url}`;
    this.maxBytes = opts.maxBytes ?? MAX_FEED_BYTES;
  }

  async fetchFeed(signal: AbortSignal): Promise<unknown> {
    let body: string;
    try {
      // GET only, and redirects refused: the integration reads one configured address, nothing else.
      const res = await fetch(this.url, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'error', signal });
      if (!res.ok) {
        await res.body?.cancel();
        throw new GatewayError('PMS_FETCH_FAILED', `GET ${this.url} answered HTTP ${res.status}`);
      }
      body = await readCapped(res, this.maxBytes, this.url);
    } catch (e) {
      if (isGatewayError(e)) throw e;
      if (signal.aborted) throw new GatewayError('PMS_TIMEOUT', `GET ${this.url} did not answer in time`);
      const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
      throw new GatewayError('PMS_FETCH_FAILED', `GET ${this.url} failed: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    return parseJson(body, `the body of GET ${this.url}`);
  }
}

/**
 * Runs a fetch under a deadline. The signal tells adapters that can stop to stop; the race makes
 * the deadline hold even for one that ignores it.
 */
export async function fetchWithTimeout(adapter: PmsAdapter, timeoutMs: number): Promise<unknown> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new GatewayError('PMS_TIMEOUT', `${adapter.description} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([adapter.fetchFeed(controller.signal), deadline]);
  } catch (e) {
    if (controller.signal.aborted && isGatewayError(e) && e.code !== 'PMS_TIMEOUT') {
      throw new GatewayError('PMS_TIMEOUT', `${adapter.description} did not answer within ${timeoutMs} ms`);
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
