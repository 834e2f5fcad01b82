/**
 * JSON Schemas of the HTTP API. Fastify validates requests and serializes responses with them, and
 * /openapi.json is assembled from the very same objects, so the document cannot drift from the code.
 */

type Schema = Record<string, unknown>;

const nullable = (s: Schema): Schema => ({ ...s, type: [s.type as string, 'null'] });

export const idSchema = { type: 'integer', minimum: 1, maximum: 9007199254740991 } as const;
/** idSchema, also with a description added: path and query ids are held to canonical decimal (INVALID_ID). */
export const isIdSchema = (s: Schema): boolean => s.type === idSchema.type && s.minimum === idSchema.minimum && s.maximum === idSchema.maximum;
const isoTime = { type: 'string', description: 'ISO 8601 UTC date-time' } as const;
const nullableIso = { type: ['string', 'null'], description: 'ISO 8601 UTC date-time, or null' } as const;
/** Input times: date, local date-time (the property's time zone, with its daylight-saving rules) or date-time with zone. */
export const timeInput = {
  type: ['string', 'null'],
  minLength: 10,
  maxLength: 40,
  description: "YYYY-MM-DD (local midnight), local YYYY-MM-DDTHH:MM[:SS] in the property's time zone, or with Z/±HH:MM; null = open",
} as const;
const name = { type: 'string', minLength: 1, maxLength: 200 } as const;
const email = { type: 'string', minLength: 3, maxLength: 254 } as const;
const idList = { type: 'array', items: idSchema, maxItems: 1000, uniqueItems: true } as const;

export function obj(properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema {
  return { type: 'object', additionalProperties: false, properties, required, ...extra };
}

export const errorSchema = obj(
  {
    error: obj(
      {
        code: { type: 'string', description: 'Stable code; see API.md "Error codes"' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
      ['code', 'message'],
    ),
  },
  ['error'],
);

export const noQuery = obj({});

/**
 * limit/offset on a list route that used to return everything: without `limit` it still does
 * (existing clients keep their whole array). `X-Total-Count` carries the total either way.
 */
export const pageProps = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'At most this many items (default: all)' },
  offset: { type: 'integer', minimum: 0, default: 0, description: 'Skip this many items first' },
};
export const pageQuery = obj(pageProps);
export interface PageQ {
  limit?: number;
  offset?: number;
}

/** Response header every list route sets: the number of matching items over all pages. */
export const TOTAL_HEADER = 'X-Total-Count';

/** Sets the total header; returns the items for chaining. */
export function withTotal<T>(reply: { header(name: string, value: string): unknown }, total: number, items: T): T {
  reply.header(TOTAL_HEADER, String(total));
  return items;
}

/** One page of an already complete list, with the total header. */
export function pageOf<T>(reply: { header(name: string, value: string): unknown }, items: readonly T[], q: PageQ): T[] {
  const from = q.offset ?? 0;
  return withTotal(reply, items.length, items.slice(from, q.limit === undefined ? undefined : from + q.limit));
}

export const params = {
  property: obj({ propertyId: idSchema }, ['propertyId']),
  token: obj({ tokenId: idSchema }, ['tokenId']),
  unit: obj({ propertyId: idSchema, unitId: idSchema }, ['propertyId', 'unitId']),
  door: obj({ propertyId: idSchema, doorId: idSchema }, ['propertyId', 'doorId']),
  key: obj({ propertyId: idSchema, keyId: idSchema }, ['propertyId', 'keyId']),
  person: obj({ propertyId: idSchema, personId: idSchema }, ['propertyId', 'personId']),
  grant: obj({ propertyId: idSchema, personId: idSchema, grantId: idSchema }, ['propertyId', 'personId', 'grantId']),
  guest: obj({ propertyId: idSchema, personId: idSchema, guestId: idSchema }, ['propertyId', 'personId', 'guestId']),
  keycard: obj({ propertyId: idSchema, personId: idSchema, keycardId: idSchema }, ['propertyId', 'personId', 'keycardId']),
  phoneKey: obj({ propertyId: idSchema, personId: idSchema, phoneKeyId: idSchema }, ['propertyId', 'personId', 'phoneKeyId']),
};

const affectedDoors = { type: 'array', items: idSchema, description: 'Doors whose credential sets this change altered' } as const;

const timeZone = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  description: 'IANA time zone (America/New_York; daylight saving follows its rules) or a fixed offset UTC±hh:mm',
} as const;
const offsetMin = { type: 'integer', minimum: -720, maximum: 840 } as const;

export const property = obj(
  {
    id: idSchema,
    name,
    timeZone,
    utcOffsetMin: { ...offsetMin, description: "The zone's offset now, minutes east of UTC (read-only)" },
    nextOffsetChange: {
      ...obj({ at: isoTime, utcOffsetMin: offsetMin }, ['at', 'utcOffsetMin']),
      type: ['object', 'null'],
      description: "The zone's next offset change (daylight saving) within about 13 months, or null",
    },
    doorcodeLength: { type: 'integer', minimum: 4, maximum: 10 },
    createdAt: isoTime,
  },
  ['id', 'name', 'timeZone', 'utcOffsetMin', 'nextOffsetChange', 'doorcodeLength', 'createdAt'],
);
export const propertyCreate = obj(
  {
    name,
    timeZone,
    utcOffsetMin: { ...offsetMin, description: 'A fixed offset (minutes east of UTC) instead of a time zone: stored as the zone UTC±hh:mm, with no daylight saving' },
    doorcodeLength: { type: 'integer', minimum: 4, maximum: 10, default: 6 },
  },
  ['name'],
);
export const propertyPatch = obj({ name, timeZone, utcOffsetMin: offsetMin, doorcodeLength: { type: 'integer', minimum: 4, maximum: 10 } }, [], { minProperties: 1 });
export const propertyChanged = obj({ ...((property as { properties: Record<string, Schema> }).properties), affectedDoors }, [
  'id',
  'name',
  'timeZone',
  'utcOffsetMin',
  'nextOffsetChange',
  'doorcodeLength',
  'createdAt',
  'affectedDoors',
]);

export const unit = obj({ id: idSchema, propertyId: idSchema, name, createdAt: isoTime }, ['id', 'propertyId', 'name', 'createdAt']);
export const unitCreate = obj({ name }, ['name']);

/** Checked by the model, not here, so every malformed lock id is INVALID_LOCK_ID (not VALIDATION_FAILED). */
const lockId = {
  type: 'string',
  description: '8 bytes as exactly 16 lower-case hex digits; anything else (upper case, separators, another length) is INVALID_LOCK_ID',
} as const;
const connectivity = { type: 'string', enum: ['online', 'offline'] } as const;
const radio = { type: ['string', 'null'], minLength: 1, maxLength: 100, description: 'Gateway radio reaching an online door' } as const;

export const door = obj(
  {
    id: idSchema,
    propertyId: idSchema,
    name,
    lockId: { type: 'string', pattern: '^[0-9a-f]{16}$' },
    connectivity,
    gatewayRadio: radio,
    unitId: nullable(idSchema),
    createdAt: isoTime,
  },
  ['id', 'propertyId', 'name', 'lockId', 'connectivity', 'gatewayRadio', 'unitId', 'createdAt'],
);
export const doorCreate = obj({ name, lockId, connectivity, gatewayRadio: radio, unitId: nullable(idSchema) }, ['name', 'lockId', 'connectivity']);
export const doorPatch = obj({ name, connectivity, gatewayRadio: radio, unitId: nullable(idSchema) }, [], { minProperties: 1 });
export const doorCreated = obj({ ...(door as { properties: Record<string, Schema> }).properties, affectedDoors }, [
  ...(door as { required: string[] }).required,
  'affectedDoors',
]);

/**
 * A weekly schedule as the API shows it. Input is checked by the model (INVALID_SCHEDULE), not
 * the schema, so a bad day name or time gets the stable code rather than VALIDATION_FAILED.
 */
const scheduleProps = {
  days: { type: 'array', items: { type: 'string' }, description: "Local weekdays: 'mon' … 'sun', at least one" },
  from: { type: 'string', description: "Local time HH:MM, inclusive" },
  to: { type: 'string', description: "Local time HH:MM, exclusive, after from ('24:00' = end of day); no span across midnight" },
};
export const schedule = {
  ...nullable(obj(scheduleProps, ['days', 'from', 'to'])),
  description: 'Weekly schedule (local time of the property); null = any time inside the window',
};
const keyKind = { type: 'string', enum: ['residential', 'communal'] } as const;
const keyProps = {
  id: idSchema,
  propertyId: idSchema,
  name,
  kind: keyKind,
  unitId: nullable(idSchema),
  mayShare: { type: 'boolean' },
  doorcodesDisabled: { type: 'boolean' },
  doorIds: { type: 'array', items: idSchema },
  schedule,
  createdAt: isoTime,
};
const keyRequired = Object.keys(keyProps);
export const key = obj(keyProps, keyRequired);
export const keyChanged = obj({ ...keyProps, affectedDoors }, [...keyRequired, 'affectedDoors']);
export const keyCreate = obj(
  {
    name,
    kind: keyKind,
    doorIds: { ...idList, minItems: 1 },
    mayShare: { type: 'boolean', default: false },
    doorcodesDisabled: { type: 'boolean', default: false },
    unitId: nullable(idSchema),
    schedule,
  },
  ['name', 'kind', 'doorIds'],
);
export const keyPatch = obj(
  { name, kind: keyKind, doorIds: { ...idList, minItems: 1 }, mayShare: { type: 'boolean' }, doorcodesDisabled: { type: 'boolean' }, unitId: nullable(idSchema), schedule },
  [],
  { minProperties: 1 },
);

const accessType = { type: 'string', enum: ['app', 'doorcode'], description: 'DOOR app user, or daily-doorcode only' } as const;
const personStatus = { type: 'string', enum: ['active', 'scheduled', 'expired', 'revoked', 'no_access'] } as const;
const personProps = {
  id: idSchema,
  propertyId: idSchema,
  holderRef: { type: 'integer', minimum: 1, maximum: 4294967295, description: 'u32 recorded by locks in their audit log' },
  email: { type: 'string' },
  firstName: { type: 'string' },
  lastName: { type: 'string' },
  phone: { type: ['string', 'null'] },
  isResident: { type: 'boolean' },
  mayShare: { type: 'boolean' },
  accessType,
  hasDoorcode: { type: 'boolean' },
  dailyDoorcode: { type: 'boolean' },
  unitId: nullable(idSchema),
  externalRef: { type: ['string', 'null'] },
  status: personStatus,
  createdAt: isoTime,
  revokedAt: nullableIso,
};
const personRequired = Object.keys(personProps);
export const person = obj(personProps, personRequired);
export const personChanged = obj({ ...personProps, affectedDoors }, [...personRequired, 'affectedDoors']);

const grantProps = {
  id: idSchema,
  personId: idSchema,
  keyId: idSchema,
  keyName: { type: 'string' },
  sharedBy: { ...nullable(idSchema), description: 'Host who shared the key with this guest; null for a direct grant' },
  startsAt: nullableIso,
  expiresAt: nullableIso,
  schedule: { ...schedule, description: "This grant's own weekly schedule, overriding the key's; null = the key's applies" },
  source: { type: 'string', enum: ['manual', 'csv', 'automated', 'guest'] },
  createdAt: isoTime,
  updatedAt: isoTime,
};
export const grant = obj(grantProps, Object.keys(grantProps));
export const grantChanged = obj({ ...grantProps, affectedDoors }, [...Object.keys(grantProps), 'affectedDoors']);
export const grantsAdd = obj({ keyIds: { ...idList, minItems: 1 }, startsAt: timeInput, expiresAt: timeInput }, ['keyIds']);
export const grantPatch = obj({ startsAt: timeInput, expiresAt: timeInput, schedule }, [], { minProperties: 1 });
export const grantsAdded = obj({ grants: { type: 'array', items: grant }, affectedDoors }, ['grants', 'affectedDoors']);

export const invite = obj(
  {
    email,
    firstName: name,
    lastName: name,
    phone: { type: ['string', 'null'], maxLength: 40 },
    accessType,
    isResident: { type: 'boolean', default: true },
    mayShare: { type: 'boolean', default: false, description: 'May share keys with guests' },
    doorcode: { type: 'boolean', description: 'Issue a static doorcode (default: app users yes)' },
    dailyDoorcode: { type: 'boolean', description: 'Daily doorcode (default: doorcode-only people yes)' },
    unitId: nullable(idSchema),
    externalRef: { type: ['string', 'null'], maxLength: 200 },
    keyIds: { ...idList, minItems: 1 },
    startsAt: timeInput,
    expiresAt: timeInput,
  },
  ['email', 'firstName', 'lastName', 'accessType', 'keyIds'],
);
export const inviteResult = obj(
  {
    person,
    created: { type: 'boolean', description: 'false: the email existed and the keys were added to that person' },
    grants: { type: 'array', items: grant },
    warnings: { type: 'array', items: obj({ code: { type: 'string' }, message: { type: 'string' } }, ['code', 'message']) },
    affectedDoors,
  },
  ['person', 'created', 'grants', 'warnings', 'affectedDoors'],
);
export const personPatch = obj(
  {
    email,
    firstName: name,
    lastName: name,
    phone: { type: ['string', 'null'], maxLength: 40 },
    isResident: { type: 'boolean' },
    mayShare: { type: 'boolean' },
    accessType,
    unitId: nullable(idSchema),
    externalRef: { type: ['string', 'null'], maxLength: 200 },
  },
  [],
  { minProperties: 1 },
);
export const personDetail = obj({ person, grants: { type: 'array', items: grant } }, ['person', 'grants']);
export const peopleQuery = obj({
  includeExpired: { type: 'boolean', default: false, description: '"Show Expired Users": also expired, revoked, keyless' },
  search: { type: 'string', minLength: 1, maxLength: 200 },
  residentsOnly: { type: 'boolean', default: false },
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  offset: { type: 'integer', minimum: 0, default: 0 },
});

export const guestInvite = obj(
  {
    email,
    firstName: name,
    lastName: name,
    phone: { type: ['string', 'null'], maxLength: 40 },
    accessType: { ...accessType, default: 'app' },
    keyIds: { ...idList, minItems: 1 },
    startsAt: timeInput,
    expiresAt: timeInput,
  },
  ['email', 'firstName', 'lastName', 'keyIds'],
);
export const guestInviteResult = obj(
  { guest: person, created: { type: 'boolean' }, grants: { type: 'array', items: grant }, affectedDoors },
  ['guest', 'created', 'grants', 'affectedDoors'],
);
export const guestList = { type: 'array', items: obj({ guest: person, grants: { type: 'array', items: grant } }, ['guest', 'grants']) };

const keycardProps = { id: idSchema, personId: idSchema, uid: { type: 'string' }, activatedAt: isoTime, deactivatedAt: nullableIso };
export const keycard = obj(keycardProps, Object.keys(keycardProps));
export const keycardChanged = obj({ ...keycardProps, affectedDoors }, [...Object.keys(keycardProps), 'affectedDoors']);
export const keycardCreate = obj({ uid: { type: 'string', minLength: 8, maxLength: 40, description: '4-10 bytes of hex' } }, ['uid']);

const phoneProps = { id: idSchema, personId: idSchema, publicKey: { type: 'string' }, label: { type: ['string', 'null'] }, addedAt: isoTime, revokedAt: nullableIso };
export const phoneKey = obj(phoneProps, Object.keys(phoneProps));
export const phoneKeyChanged = obj({ ...phoneProps, affectedDoors }, [...Object.keys(phoneProps), 'affectedDoors']);
export const phoneKeyCreate = obj(
  { publicKey: { type: 'string', minLength: 64, maxLength: 64, description: '32-byte Ed25519 public key, hex' }, label: { type: ['string', 'null'], maxLength: 100 } },
  ['publicKey'],
);

export const credentials = obj(
  {
    doorcode: { type: ['string', 'null'], description: 'The static code; shown to Key Management tokens only' },
    hasDoorcode: { type: 'boolean' },
    dailyDoorcode: { type: 'boolean' },
    keycards: { type: 'array', items: keycard },
    phoneKeys: { type: 'array', items: phoneKey },
  },
  ['doorcode', 'hasDoorcode', 'dailyDoorcode', 'keycards', 'phoneKeys'],
);
export const doorcodeReset = obj({ doorcode: { type: 'string', pattern: '^[0-9]{4,10}$' }, affectedDoors }, ['doorcode', 'affectedDoors']);
export const dailyDoorcodeSet = obj({ enabled: { type: 'boolean' } }, ['enabled']);
export const affected = obj({ affectedDoors }, ['affectedDoors']);

export const doorCredential = obj(
  {
    kind: { type: 'string', enum: ['doorcode', 'daily', 'keycard', 'phone'] },
    holderRef: { type: 'integer' },
    startsAt: nullableIso,
    expiresAt: nullableIso,
    hint: { type: ['string', 'null'], description: 'Doorcode last two digits, keycard UID, or phone key prefix' },
  },
  ['kind', 'holderRef', 'startsAt', 'expiresAt', 'hint'],
);

const change = obj({ id: idSchema, reason: { type: 'string' }, at: isoTime, compiledSeq: { type: ['integer', 'null'] } }, ['id', 'reason', 'at', 'compiledSeq']);
export const syncState = obj(
  {
    doorId: idSchema,
    compiledSeq: { type: 'integer' },
    compiledDigest: { type: ['string', 'null'] },
    compiledAt: nullableIso,
    enforcedSeq: { type: 'integer' },
    enforcedDigest: { type: ['string', 'null'] },
    lastReceiptAt: nullableIso,
    pendingChanges: { type: 'integer' },
    changes: { type: 'array', items: change },
    lockLocalTime: {
      ...obj(
        {
          utcOffsetMin: { type: 'integer' },
          nextOffsetChange: { ...obj({ at: isoTime, utcOffsetMin: { type: 'integer' } }, ['at', 'utcOffsetMin']), type: ['object', 'null'] },
          toldAt: isoTime,
        },
        ['utcOffsetMin', 'nextOffsetChange', 'toldAt'],
      ),
      type: ['object', 'null'],
      description: "What the gateway last told the door's lock about local time (commissioning or time sync); null if never",
    },
    needsTimeSync: { type: 'boolean', description: "The lock does not know the zone's offset now or its next change: the next sync pushes a time sync" },
  },
  ['doorId', 'compiledSeq', 'compiledDigest', 'compiledAt', 'enforcedSeq', 'enforcedDigest', 'lastReceiptAt', 'pendingChanges', 'changes', 'lockLocalTime', 'needsTimeSync'],
);
export const syncTask = obj(
  {
    doorId: idSchema,
    doorName: { type: 'string' },
    lockId: { type: 'string' },
    connectivity,
    compiledSeq: { type: 'integer' },
    enforcedSeq: { type: 'integer' },
    lastReceiptAt: nullableIso,
    changes: { type: 'array', items: change },
    needsTimeSync: { type: 'boolean', description: "The lock does not know the zone's offset now or its next change (daylight saving): a sync pushes a time sync" },
  },
  ['doorId', 'doorName', 'lockId', 'connectivity', 'compiledSeq', 'enforcedSeq', 'lastReceiptAt', 'changes', 'needsTimeSync'],
);

export const activity = obj(
  {
    id: idSchema,
    propertyId: idSchema,
    at: isoTime,
    kind: { type: 'string', enum: ['unlock', 'access'] },
    doorId: nullable(idSchema),
    doorName: { type: ['string', 'null'] },
    holderRef: { type: ['integer', 'null'] },
    holderName: { type: ['string', 'null'] },
    credentialKind: { type: ['string', 'null'] },
    result: { type: ['string', 'null'] },
    action: { type: ['string', 'null'] },
    actor: { type: ['string', 'null'] },
    message: { type: 'string' },
  },
  ['id', 'propertyId', 'at', 'kind', 'doorId', 'doorName', 'holderRef', 'holderName', 'credentialKind', 'result', 'action', 'actor', 'message'],
);
export const activityQuery = obj({
  personId: { ...idSchema, description: 'Only this person (by their holder reference, so it also works after deletion via holderRef)' },
  holderRef: { type: 'integer', minimum: 1, maximum: 4294967295 },
  doorId: idSchema,
  kind: { type: 'string', enum: ['unlock', 'access'] },
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  before: { type: 'string', pattern: '^[0-9]+\\.[0-9]+$', description: 'Paging cursor from the previous page (nextBefore)' },
});
export const activityPage = obj(
  { entries: { type: 'array', items: activity }, nextBefore: { type: ['string', 'null'] } },
  ['entries', 'nextBefore'],
);

const role = { type: 'string', enum: ['portfolio_manager', 'property_manager', 'read_only'] } as const;
const tokenProps = {
  id: idSchema,
  name: { type: 'string' },
  role,
  keyManagement: { type: 'boolean' },
  propertyId: nullable(idSchema),
  createdAt: isoTime,
  revokedAt: nullableIso,
};
export const token = obj(tokenProps, Object.keys(tokenProps));
export const tokenCreate = obj({ name, role, propertyId: nullable(idSchema), keyManagement: { type: 'boolean' } }, ['name', 'role']);
export const tokenCreated = obj({ token, secret: { type: 'string', description: 'Shown once; only its hash is stored' } }, ['token', 'secret']);

export const health = obj({ ok: { type: 'boolean' }, schemaVersion: { type: 'integer' } }, ['ok', 'schemaVersion']);

export const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
