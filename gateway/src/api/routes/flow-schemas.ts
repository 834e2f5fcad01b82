/**
 * JSON Schemas of the property management flow routes (CSV import, notifications, PMS
 * integration). Same conventions as ../schemas.ts: requests reject unknown fields, responses are
 * serialized through these objects, and /openapi.json is built from them.
 */
import { idSchema, obj, timeInput } from '../schemas.js';

type Schema = Record<string, unknown>;

const isoTime = { type: 'string', description: 'ISO 8601 UTC date-time' } as const;
const nullableIso = { type: ['string', 'null'], description: 'ISO 8601 UTC date-time, or null' } as const;
const nullableId = { type: ['integer', 'null'], minimum: 1 } as const;
const nullableText = { type: ['string', 'null'] } as const;
const count = { type: 'integer', minimum: 0 } as const;
const affectedDoors = { type: 'array', items: idSchema, description: 'Doors whose credential sets this change altered' } as const;
const limit = { type: 'integer', minimum: 1, maximum: 1000, default: 100 } as const;
const offset = { type: 'integer', minimum: 0, default: 0 } as const;

export const params = {
  importRef: obj({ propertyId: idSchema, importId: idSchema }, ['propertyId', 'importId']),
  notification: obj({ propertyId: idSchema, notificationId: idSchema }, ['propertyId', 'notificationId']),
  suggestion: obj({ propertyId: idSchema, suggestionId: idSchema }, ['propertyId', 'suggestionId']),
  alert: obj({ propertyId: idSchema, alertId: idSchema }, ['propertyId', 'alertId']),
};

/** A text/csv body. */
export const csvText = { type: 'string', description: 'text/csv (UTF-8, CRLF)' } as const;

// ---- CSV import
const rowStatus = { type: 'string', enum: ['ready', 'error', 'already_imported', 'imported', 'failed'] } as const;

export const importSummary = obj(
  {
    id: idSchema,
    propertyId: idSchema,
    fileName: nullableText,
    status: { type: 'string', enum: ['previewed', 'applied'] },
    createdAt: isoTime,
    createdBy: { type: 'string' },
    appliedAt: nullableIso,
    appliedBy: nullableText,
    communalKeyIds: { type: ['array', 'null'], items: idSchema },
    startsAt: nullableIso,
    expiresAt: nullableIso,
    counts: obj(
      { total: count, ready: count, error: count, alreadyImported: count, imported: count, failed: count, newPeople: count, existingPeople: count },
      ['total', 'ready', 'error', 'alreadyImported', 'imported', 'failed', 'newPeople', 'existingPeople'],
    ),
  },
  ['id', 'propertyId', 'fileName', 'status', 'createdAt', 'createdBy', 'appliedAt', 'appliedBy', 'communalKeyIds', 'startsAt', 'expiresAt', 'counts'],
);

const importRowProps = {
  line: { type: 'integer', minimum: 1, description: 'Line of the file the row starts on' },
  status: rowStatus,
  action: { type: ['string', 'null'], enum: ['invite', 'add_keys', null], description: 'invite: a new person; add_keys: the email exists, keys are added' },
  firstName: nullableText,
  lastName: nullableText,
  email: nullableText,
  phone: nullableText,
  unit: nullableText,
  keys: { ...nullableText, description: 'The Keys cell as uploaded' },
  start: { ...nullableText, description: 'The Start cell as uploaded (YYYY-MM-DD or YYYY-MM-DDTHH:MM, property time)' },
  expiration: { ...nullableText, description: 'The Expiration cell as uploaded (YYYY-MM-DD or YYYY-MM-DDTHH:MM, property time)' },
  keyIds: { type: 'array', items: idSchema },
  unitId: nullableId,
  errorCode: { ...nullableText, description: 'An error code of API.md' },
  errorMessage: nullableText,
  personId: nullableId,
};
export const importRow = obj(importRowProps, Object.keys(importRowProps));

export const importUpload = obj(
  {
    csv: { type: 'string', minLength: 1, maxLength: 32 * 1024 * 1024, description: 'The file content (UTF-8; a BOM is fine)' },
    fileName: { type: ['string', 'null'], maxLength: 200 },
  },
  ['csv'],
);
const importWarning = obj(
  {
    code: { type: 'string', enum: ['CSV_UNKNOWN_COLUMNS'] },
    message: { type: 'string' },
    columns: { type: 'array', items: { type: 'string' }, description: 'Header cells not in the template, as written; their cells were ignored' },
  },
  ['code', 'message', 'columns'],
);
export const importPreview = obj(
  {
    import: importSummary,
    warnings: { type: 'array', items: importWarning, description: 'File-level warnings: the import goes ahead' },
    rows: { type: 'array', items: importRow, description: 'The first rows of the file, in order (page with GET …/rows)' },
    errors: { type: 'array', items: importRow, description: 'Rows with errors (up to 1000; the error report has all)' },
  },
  ['import', 'warnings', 'rows', 'errors'],
);
export const importApply = obj({
  communalKeyIds: { type: 'array', items: idSchema, maxItems: 100, uniqueItems: true, description: 'Communal keys every imported resident gets' },
  startsAt: timeInput,
  expiresAt: timeInput,
});
export const importApplied = obj({ import: importSummary, failed: { type: 'array', items: importRow }, affectedDoors }, ['import', 'failed', 'affectedDoors']);
export const importRowsQuery = obj({ status: rowStatus, limit, offset });
export const importsQuery = obj({ limit: { ...limit, default: 50 }, offset });

// ---- notifications
export const notification = obj(
  {
    id: idSchema,
    propertyId: idSchema,
    personId: nullableId,
    kind: { type: 'string', enum: ['welcome', 'daily'] },
    localDay: { type: ['string', 'null'], description: 'The local day (YYYY-MM-DD, property time zone) of a daily-code message; null for a welcome' },
    email: { type: 'string' },
    createdAt: isoTime,
    sentAt: nullableIso,
    subject: { type: 'string' },
    body: { type: 'string' },
  },
  ['id', 'propertyId', 'personId', 'kind', 'localDay', 'email', 'createdAt', 'sentAt', 'subject', 'body'],
);
export const notificationsQuery = obj({ personId: idSchema, kind: { type: 'string', enum: ['welcome', 'daily'] }, unsentOnly: { type: 'boolean', default: false }, limit, offset });
export const queueDaily = {
  ...obj({ date: { type: 'string', minLength: 10, maxLength: 10, description: 'The local day YYYY-MM-DD (default today in the property time zone)' } }),
  type: ['object', 'null'],
};
export const queuedDaily = obj({ date: { type: 'string' }, queued: count, already: count }, ['date', 'queued', 'already']);

// ---- PMS integration
const mode = { type: 'string', enum: ['approval_required', 'automatic'], description: 'Automated Access: suggestions wait for approval, or apply at once' } as const;
const feedKind = { type: 'string', enum: ['file', 'http'] } as const;
export const integration = obj(
  {
    propertyId: idSchema,
    feedKind,
    feedSource: { type: 'string' },
    timeoutMs: { type: 'integer' },
    intervalMin: { type: 'integer' },
    userSync: { type: 'boolean' },
    automatedAccess: { type: 'boolean' },
    mode,
    excludedStatuses: { type: 'array', items: { type: 'string' } },
    lastSyncAt: { ...nullableIso, description: 'When the last successful sync completed' },
    lastAttemptAt: nullableIso,
    lastErrorCode: nullableText,
    lastError: nullableText,
    pendingSuggestions: count,
    openAlerts: count,
    createdAt: isoTime,
    updatedAt: isoTime,
  },
  [
    'propertyId',
    'feedKind',
    'feedSource',
    'timeoutMs',
    'intervalMin',
    'userSync',
    'automatedAccess',
    'mode',
    'excludedStatuses',
    'lastSyncAt',
    'lastAttemptAt',
    'lastErrorCode',
    'lastError',
    'pendingSuggestions',
    'openAlerts',
    'createdAt',
    'updatedAt',
  ],
);
export const integrationPut = obj(
  {
    feedKind,
    feedSource: { type: 'string', minLength: 1, maxLength: 2000, description: 'Absolute file path (file) or http(s) URL (http)' },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 120000 },
    intervalMin: { type: 'integer', minimum: 1, maximum: 60, description: 'Minutes between pulls (User Sync runs at least hourly)' },
    userSync: { type: 'boolean' },
    automatedAccess: { type: 'boolean' },
    mode,
    excludedStatuses: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 100 }, maxItems: 50 },
  },
  [],
  { minProperties: 1 },
);

const issue = obj({ ref: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } }, ['ref', 'code', 'message']);
const userSyncCounts = obj(
  { created: count, linked: count, updated: count, unchanged: count, partial_match: count, email_mismatch: count, not_candidate: count },
  ['created', 'linked', 'updated', 'unchanged', 'partial_match', 'email_mismatch', 'not_candidate'],
);
const aaCounts = obj({ changes: count, suggestions: count, applied: count, failed: count }, ['changes', 'suggestions', 'applied', 'failed']);
const report = {
  ...obj(
    {
      source: { type: 'string' },
      received: count,
      excluded: count,
      userSync: { ...userSyncCounts, type: ['object', 'null'] },
      automatedAccess: { ...aaCounts, type: ['object', 'null'] },
      affectedDoors,
      issues: { type: 'array', items: issue },
    },
    ['source', 'received', 'excluded', 'userSync', 'automatedAccess', 'affectedDoors', 'issues'],
  ),
  type: ['object', 'null'],
};
export const syncRun = obj(
  {
    id: idSchema,
    propertyId: idSchema,
    trigger: { type: 'string', enum: ['schedule', 'manual'] },
    startedAt: isoTime,
    finishedAt: isoTime,
    status: { type: 'string', enum: ['ok', 'failed'] },
    errorCode: nullableText,
    errorMessage: nullableText,
    report,
  },
  ['id', 'propertyId', 'trigger', 'startedAt', 'finishedAt', 'status', 'errorCode', 'errorMessage', 'report'],
);
/**
 * For actions that need no input (Sync Now): no body, or `{}`. A null-able object because Fastify
 * validates a missing body as null.
 */
export const noInput = { type: ['object', 'null'], additionalProperties: false, properties: {}, description: 'No body is needed; {} is accepted' } as const;
export const markSent = {
  ...obj({ sentAt: { type: 'string', minLength: 10, maxLength: 40, description: 'When the transport sent it (ISO 8601 with zone); default now' } }),
  type: ['object', 'null'],
};
export const runsQuery = obj({ limit: { ...limit, default: 20 } });

const suggestionState = { type: 'string', enum: ['pending', 'applied', 'discarded', 'superseded', 'failed'] } as const;
export const suggestion = obj(
  {
    id: idSchema,
    propertyId: idSchema,
    personId: idSchema,
    personName: { type: 'string' },
    keyId: nullableId,
    keyName: nullableText,
    action: { type: 'string', enum: ['grant', 'revoke', 'none'] },
    color: { type: 'string', enum: ['green', 'red', 'grey'] },
    reason: { type: 'string', enum: ['future', 'current', 'unit_change', 'past'] },
    detail: { type: 'string' },
    startsAt: { ...nullableIso, description: 'For grants: 15 minutes after the lease status change' },
    state: suggestionState,
    createdAt: isoTime,
    resolvedAt: nullableIso,
    resolvedBy: nullableText,
    result: nullableText,
  },
  ['id', 'propertyId', 'personId', 'personName', 'keyId', 'keyName', 'action', 'color', 'reason', 'detail', 'startsAt', 'state', 'createdAt', 'resolvedAt', 'resolvedBy', 'result'],
);
export const suggestionsQuery = obj({ state: { ...suggestionState, default: 'pending' }, personId: idSchema, limit, offset });
export const approveBody = obj({ ids: { type: 'array', items: idSchema, minItems: 1, maxItems: 1000, description: 'At most 50 (APPROVAL_BATCH_TOO_LARGE)' } }, ['ids']);
export const approveResult = obj(
  {
    results: {
      type: 'array',
      items: obj(
        { id: idSchema, outcome: { type: 'string', enum: ['applied', 'failed', 'skipped'] }, result: { type: 'string' }, code: { type: 'string' }, affectedDoors },
        ['id', 'outcome', 'result', 'affectedDoors'],
      ),
    },
    affectedDoors,
  },
  ['results', 'affectedDoors'],
);

const pmsRecordProps = {
  externalRef: { type: 'string' },
  firstName: { type: 'string' },
  lastName: { type: 'string' },
  email: { type: 'string' },
  emailNorm: { type: 'string' },
  phone: nullableText,
  unit: nullableText,
  leaseStatus: { type: 'string' },
  canonical: { type: ['string', 'null'], enum: ['future', 'current', 'past', null] },
  leaseStart: nullableText,
  leaseEnd: nullableText,
  moveIn: nullableText,
  moveOut: nullableText,
  statusChangedAt: nullableIso,
};
const alertState = { type: 'string', enum: ['open', 'resolved', 'dismissed'] } as const;
export const alert = obj(
  {
    id: idSchema,
    propertyId: idSchema,
    kind: { type: 'string', enum: ['partial_match', 'email_mismatch'] },
    externalRef: { type: 'string' },
    personId: nullableId,
    record: obj(pmsRecordProps, Object.keys(pmsRecordProps)),
    message: { type: 'string' },
    state: alertState,
    resolution: nullableText,
    createdAt: isoTime,
    resolvedAt: nullableIso,
  },
  ['id', 'propertyId', 'kind', 'externalRef', 'personId', 'record', 'message', 'state', 'resolution', 'createdAt', 'resolvedAt'],
);
export const alertsQuery = obj({ state: { ...alertState, default: 'open' }, limit, offset });
export const alertResolve = obj(
  {
    action: { type: 'string', enum: ['link', 'create', 'accept_pms_email', 'dismiss'] },
    personId: { ...idSchema, description: 'link: the contact to link to (default: the one matched)' },
  },
  ['action'],
);

const canonical = { type: 'string', enum: ['future', 'current', 'past'] } as const;
export const residentStatus = obj(
  {
    personId: idSchema,
    status: { type: ['string', 'null'], enum: ['future', 'current', 'past', null] },
    source: { type: ['string', 'null'], enum: ['pms', 'manual', null] },
    changedAt: nullableIso,
    externalRef: nullableText,
    pms: {
      ...obj({ leaseStatus: { type: 'string' }, unit: nullableText, statusChangedAt: isoTime, lastSeenAt: isoTime }, ['leaseStatus', 'unit', 'statusChangedAt', 'lastSeenAt']),
      type: ['object', 'null'],
    },
    lease: {
      ...obj({ leaseStart: nullableText, leaseEnd: nullableText, moveIn: nullableText, moveOut: nullableText }, ['leaseStart', 'leaseEnd', 'moveIn', 'moveOut']),
      type: ['object', 'null'],
    },
  },
  ['personId', 'status', 'source', 'changedAt', 'externalRef', 'pms', 'lease'],
);
export const residentStatusChanged = obj(
  { ...(residentStatus as { properties: Record<string, Schema> }).properties, affectedDoors },
  [...(residentStatus as { required: string[] }).required, 'affectedDoors'],
);
export const residentStatusPut = obj({ status: canonical }, ['status']);
