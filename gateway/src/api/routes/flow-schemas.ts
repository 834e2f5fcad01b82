/**
 * JSON Schemas of the property management flow routes (CSV import, notifications, PMS
 * integration), in TypeBox. Same conventions as ../schemas.ts: requests reject unknown fields,
 * responses are serialized through these objects, /openapi.json is built from them and the
 * handlers' request types are inferred from them.
 */
import { Type } from 'typebox';
import { affectedDoors, idSchema, idWith, isoTime, nullable, nullableIso, obj, strEnum, timeInput, withDefault } from '../schemas.js';

const nullableId = nullable(Type.Integer({ minimum: 1 }));
const nullableText = nullable(Type.String());
const count = Type.Integer({ minimum: 0 });
const limit = (byDefault = 100) => withDefault(Type.Integer({ minimum: 1, maximum: 1000 }), byDefault);
const offset = () => withDefault(Type.Integer({ minimum: 0 }), 0);

export const params = {
  importRef: obj({ propertyId: idSchema, importId: idSchema }),
  notification: obj({ propertyId: idSchema, notificationId: idSchema }),
  suggestion: obj({ propertyId: idSchema, suggestionId: idSchema }),
  alert: obj({ propertyId: idSchema, alertId: idSchema }),
};

/** A text/csv body. */
export const csvText = Type.String({ description: 'text/csv (UTF-8, CRLF)' });

// ---- CSV import
const rowStatus = () => strEnum(['ready', 'error', 'already_imported', 'imported', 'failed']);

export const importSummary = obj({
  id: idSchema,
  propertyId: idSchema,
  fileName: nullableText,
  status: strEnum(['previewed', 'applied']),
  createdAt: isoTime,
  createdBy: Type.String(),
  appliedAt: nullableIso,
  appliedBy: nullableText,
  communalKeyIds: nullable(Type.Array(idSchema)),
  startsAt: nullableIso,
  expiresAt: nullableIso,
  counts: obj({
    total: count,
    ready: count,
    error: count,
    alreadyImported: count,
    imported: count,
    failed: count,
    newPeople: count,
    existingPeople: count,
  }),
});

const text = (description: string) => nullable(Type.String({ description }));
export const importRow = obj({
  line: Type.Integer({ minimum: 1, description: 'Line of the file the row starts on' }),
  status: rowStatus(),
  action: nullable(strEnum(['invite', 'add_keys']), { description: 'invite: a new person; add_keys: the email exists, keys are added' }),
  firstName: nullableText,
  lastName: nullableText,
  email: nullableText,
  phone: nullableText,
  unit: nullableText,
  keys: text('The Keys cell as uploaded'),
  start: text('The Start cell as uploaded (YYYY-MM-DD or YYYY-MM-DDTHH:MM, property time)'),
  expiration: text('The Expiration cell as uploaded (YYYY-MM-DD or YYYY-MM-DDTHH:MM, property time)'),
  keyIds: Type.Array(idSchema),
  unitId: nullableId,
  errorCode: text('An error code of API.md'),
  errorMessage: nullableText,
  personId: nullableId,
});

export const importUpload = obj({
  csv: Type.String({ minLength: 1, maxLength: 32 * 1024 * 1024, description: 'The file content (UTF-8; a BOM is fine)' }),
  fileName: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
});
const importWarning = obj({
  code: strEnum(['CSV_UNKNOWN_COLUMNS']),
  message: Type.String(),
  columns: Type.Array(Type.String(), { description: 'Header cells not in the template, as written; their cells were ignored' }),
});
export const importPreview = obj({
  import: importSummary,
  warnings: Type.Array(importWarning, { description: 'File-level warnings: the import goes ahead' }),
  rows: Type.Array(importRow, { description: 'The first rows of the file, in order (page with GET …/rows)' }),
  errors: Type.Array(importRow, { description: 'Rows with errors (up to 1000; the error report has all)' }),
});
export const importApply = obj({
  communalKeyIds: Type.Optional(Type.Array(idSchema, { maxItems: 100, uniqueItems: true, description: 'Communal keys every imported resident gets' })),
  startsAt: timeInput,
  expiresAt: timeInput,
});
export const importApplied = obj({ import: importSummary, failed: Type.Array(importRow), affectedDoors });
export const importRowsQuery = obj({ status: Type.Optional(rowStatus()), limit: limit(), offset: offset() });
export const importsQuery = obj({ limit: limit(50), offset: offset() });

// ---- notifications
const notificationKind = () => strEnum(['welcome', 'daily']);
export const notification = obj({
  id: idSchema,
  propertyId: idSchema,
  personId: nullableId,
  kind: notificationKind(),
  localDay: text('The local day (YYYY-MM-DD, property time zone) of a daily-code message; null for a welcome'),
  email: Type.String(),
  createdAt: isoTime,
  sentAt: nullableIso,
  subject: Type.String(),
  body: Type.String(),
});
export const notificationsQuery = obj({
  personId: Type.Optional(idSchema),
  kind: Type.Optional(notificationKind()),
  unsentOnly: withDefault(Type.Boolean(), false),
  limit: limit(),
  offset: offset(),
});
export const queueDaily = nullable(
  obj({ date: Type.Optional(Type.String({ minLength: 10, maxLength: 10, description: 'The local day YYYY-MM-DD (default today in the property time zone)' })) }),
);
export const queuedDaily = obj({ date: Type.String(), queued: count, already: count });

// ---- PMS integration
const mode = () => strEnum(['approval_required', 'automatic'], { description: 'Automated Access: suggestions wait for approval, or apply at once' });
const feedKind = () => strEnum(['file', 'http']);
export const integration = obj({
  propertyId: idSchema,
  feedKind: feedKind(),
  feedSource: Type.String(),
  timeoutMs: Type.Integer(),
  intervalMin: Type.Integer(),
  userSync: Type.Boolean(),
  automatedAccess: Type.Boolean(),
  mode: mode(),
  excludedStatuses: Type.Array(Type.String()),
  lastSyncAt: nullable(Type.String({ description: 'When the last successful sync completed' })),
  lastAttemptAt: nullableIso,
  lastErrorCode: nullableText,
  lastError: nullableText,
  pendingSuggestions: count,
  openAlerts: count,
  createdAt: isoTime,
  updatedAt: isoTime,
});
export const integrationPut = obj(
  {
    feedKind: Type.Optional(feedKind()),
    feedSource: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'Absolute file path (file) or http(s) URL (http)' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120000 })),
    intervalMin: Type.Optional(Type.Integer({ minimum: 1, maximum: 60, description: 'Minutes between pulls (User Sync runs at least hourly)' })),
    userSync: Type.Optional(Type.Boolean()),
    automatedAccess: Type.Optional(Type.Boolean()),
    mode: Type.Optional(mode()),
    excludedStatuses: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50 })),
  },
  { minProperties: 1 },
);

const issue = obj({ ref: Type.String(), code: Type.String(), message: Type.String() });
const userSyncCounts = obj({
  created: count,
  linked: count,
  updated: count,
  unchanged: count,
  partial_match: count,
  email_mismatch: count,
  not_candidate: count,
});
const aaCounts = obj({ changes: count, suggestions: count, applied: count, failed: count });
const report = nullable(
  obj({
    source: Type.String(),
    received: count,
    excluded: count,
    userSync: nullable(userSyncCounts),
    automatedAccess: nullable(aaCounts),
    affectedDoors,
    issues: Type.Array(issue),
  }),
);
export const syncRun = obj({
  id: idSchema,
  propertyId: idSchema,
  trigger: strEnum(['schedule', 'manual']),
  startedAt: isoTime,
  finishedAt: isoTime,
  status: strEnum(['ok', 'failed']),
  errorCode: nullableText,
  errorMessage: nullableText,
  report,
});
/**
 * For actions that need no input (Sync Now): no body, or `{}`. A null-able object because Fastify
 * validates a missing body as null.
 */
export const noInput = nullable(obj({}), { description: 'No body is needed; {} is accepted' });
export const markSent = nullable(
  obj({ sentAt: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: 'When the transport sent it (ISO 8601 with zone); default now' })) }),
);
export const runsQuery = obj({ limit: limit(20) });

const suggestionState = () => strEnum(['pending', 'applied', 'discarded', 'superseded', 'failed']);
export const suggestion = obj({
  id: idSchema,
  propertyId: idSchema,
  personId: idSchema,
  personName: Type.String(),
  keyId: nullableId,
  keyName: nullableText,
  action: strEnum(['grant', 'revoke', 'none']),
  color: strEnum(['green', 'red', 'grey']),
  reason: strEnum(['future', 'current', 'unit_change', 'past']),
  detail: Type.String(),
  startsAt: nullable(Type.String({ description: 'For grants: 15 minutes after the lease status change' })),
  state: suggestionState(),
  createdAt: isoTime,
  resolvedAt: nullableIso,
  resolvedBy: nullableText,
  result: nullableText,
});
export const suggestionsQuery = obj({ state: withDefault(suggestionState(), 'pending'), personId: Type.Optional(idSchema), limit: limit(), offset: offset() });
export const approveBody = obj({
  ids: Type.Array(idSchema, { minItems: 1, maxItems: 1000, description: 'At most 50 (APPROVAL_BATCH_TOO_LARGE)' }),
});
export const approveResult = obj({
  results: Type.Array(
    obj({
      id: idSchema,
      outcome: strEnum(['applied', 'failed', 'skipped']),
      result: Type.String(),
      code: Type.Optional(Type.String()),
      affectedDoors,
    }),
  ),
  affectedDoors,
});

const canonicalOrNull = () => nullable(strEnum(['future', 'current', 'past']));
const pmsRecord = obj({
  externalRef: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  email: Type.String(),
  emailNorm: Type.String(),
  phone: nullableText,
  unit: nullableText,
  leaseStatus: Type.String(),
  canonical: canonicalOrNull(),
  leaseStart: nullableText,
  leaseEnd: nullableText,
  moveIn: nullableText,
  moveOut: nullableText,
  statusChangedAt: nullableIso,
});
const alertState = () => strEnum(['open', 'resolved', 'dismissed']);
export const alert = obj({
  id: idSchema,
  propertyId: idSchema,
  kind: strEnum(['partial_match', 'email_mismatch']),
  externalRef: Type.String(),
  personId: nullableId,
  record: pmsRecord,
  message: Type.String(),
  state: alertState(),
  resolution: nullableText,
  createdAt: isoTime,
  resolvedAt: nullableIso,
});
export const alertsQuery = obj({ state: withDefault(alertState(), 'open'), limit: limit(), offset: offset() });
export const alertResolve = obj({
  action: strEnum(['link', 'create', 'accept_pms_email', 'dismiss']),
  personId: Type.Optional(idWith('link: the contact to link to (default: the one matched)')),
});

const residentStatusProps = {
  personId: idSchema,
  status: canonicalOrNull(),
  source: nullable(strEnum(['pms', 'manual'])),
  changedAt: nullableIso,
  externalRef: nullableText,
  pms: nullable(obj({ leaseStatus: Type.String(), unit: nullableText, statusChangedAt: isoTime, lastSeenAt: isoTime })),
  lease: nullable(obj({ leaseStart: nullableText, leaseEnd: nullableText, moveIn: nullableText, moveOut: nullableText })),
};
export const residentStatus = obj(residentStatusProps);
export const residentStatusChanged = obj({ ...residentStatusProps, affectedDoors });
export const residentStatusPut = obj({ status: strEnum(['future', 'current', 'past']) });
