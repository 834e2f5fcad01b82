/**
 * JSON shapes of the flows for the HTTP API and `latchkit --json`, like src/views.ts: times of
 * record as ISO 8601 UTC, validity times (Unix minutes) as ISO 8601 too.
 */
import { minuteToIso, msToIso } from '../time.js';
import type { ImportRow, ImportSummary } from './csv-import.js';
import type { Notification } from './notifications.js';
import type { PmsIntegration } from './pms/integration.js';
import type { SyncRun } from './pms/sync.js';
import type { ResidentStatusView, Suggestion } from './pms/automated-access.js';
import type { Alert } from './pms/alerts.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export const importView = (i: ImportSummary) => ({
  id: i.id,
  propertyId: i.propertyId,
  fileName: i.fileName,
  status: i.status,
  createdAt: iso(i.createdAt),
  createdBy: i.createdBy,
  appliedAt: msToIso(i.appliedAt),
  appliedBy: i.appliedBy,
  communalKeyIds: i.communalKeyIds,
  startsAt: minuteToIso(i.start),
  expiresAt: minuteToIso(i.end),
  counts: { ...i.counts },
});

export const importRowView = (r: ImportRow) => ({
  line: r.line,
  status: r.status,
  action: r.action,
  firstName: r.cells.firstName ?? null,
  lastName: r.cells.lastName ?? null,
  email: r.cells.email ?? null,
  phone: r.cells.phone ?? null,
  unit: r.cells.unit ?? null,
  keys: r.cells.keys ?? null,
  keyIds: r.keyIds,
  unitId: r.unitId,
  errorCode: r.errorCode,
  errorMessage: r.errorMessage,
  personId: r.personId,
});

export const notificationView = (n: Notification) => ({ ...n, createdAt: iso(n.createdAt), sentAt: msToIso(n.sentAt) });

export const integrationView = (i: PmsIntegration, extra: { pendingSuggestions: number; openAlerts: number }) => ({
  propertyId: i.propertyId,
  feedKind: i.feedKind,
  feedSource: i.feedSource,
  timeoutMs: i.timeoutMs,
  intervalMin: i.intervalMin,
  userSync: i.userSync,
  automatedAccess: i.automatedAccess,
  mode: i.mode,
  excludedStatuses: i.excludedStatuses,
  lastSyncAt: msToIso(i.lastSyncAt),
  lastAttemptAt: msToIso(i.lastAttemptAt),
  lastErrorCode: i.lastErrorCode,
  lastError: i.lastError,
  pendingSuggestions: extra.pendingSuggestions,
  openAlerts: extra.openAlerts,
  createdAt: iso(i.createdAt),
  updatedAt: iso(i.updatedAt),
});

export const syncRunView = (r: SyncRun) => ({ ...r, startedAt: iso(r.startedAt), finishedAt: iso(r.finishedAt) });

export const suggestionView = ({ start, ...s }: Suggestion) => ({
  ...s,
  startsAt: minuteToIso(start),
  createdAt: iso(s.createdAt),
  resolvedAt: msToIso(s.resolvedAt),
});

export const alertView = (a: Alert) => ({
  ...a,
  record: { ...a.record, statusChangedAt: msToIso(a.record.statusChangedAt) },
  createdAt: iso(a.createdAt),
  resolvedAt: msToIso(a.resolvedAt),
});

export const residentStatusView = (r: ResidentStatusView) => ({
  ...r,
  changedAt: msToIso(r.changedAt),
  pms: r.pms === null ? null : { ...r.pms, statusChangedAt: iso(r.pms.statusChangedAt), lastSeenAt: iso(r.pms.lastSeenAt) },
});
