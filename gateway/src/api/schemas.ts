/**
 * JSON Schemas of the HTTP API, written with TypeBox. Fastify validates requests and serializes
 * responses with them, /openapi.json is assembled from the very same objects, and the handlers'
 * request and reply types are inferred from them (routes/define.ts), so neither the document nor
 * a handler can drift from what the server enforces. TypeBox's own marks ('~kind', '~optional') are
 * non-enumerable: what Ajv and the document see is plain JSON Schema.
 */
import { Type, type Static, type TObject, type TObjectOptions, type TOptional, type TProperties, type TSchema, type TUnsafe } from 'typebox';

/** `type: [T, 'null']` (not TypeBox's anyOf), so the published document keeps its shape; an enum also takes null. */
export function nullable<S extends TSchema>(s: S, extra: Record<string, unknown> = {}): TUnsafe<Static<S> | null> {
  const { type, enum: values, ...rest } = s as { type?: unknown; enum?: unknown[] };
  return Type.Unsafe<Static<S> | null>({ ...rest, type: [type, 'null'], ...(values ? { enum: [...values, null] } : {}), ...extra });
}

/** A string enum as `{ type: 'string', enum }` (TypeBox's Enum leaves out `type`), typed as its values. */
export function strEnum<const V extends readonly string[]>(values: V, extra: Record<string, unknown> = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: values, ...extra });
}

/**
 * An optional property with a default: a client may leave it out, and Ajv (useDefaults) fills it
 * in before the handler runs, so the handler's type has it (see `Validated`).
 */
export function withDefault<S extends TSchema>(s: S, value: Static<S>): TOptional<S & { default: Static<S> }> {
  return Type.Optional(Object.assign(s, { default: value })) as TOptional<S & { default: Static<S> }>;
}

type DefaultedKeys<S> = S extends TObject<infer P> ? { [K in keyof P]: P[K] extends { default: unknown } ? K : never }[keyof P] : never;

/** What a handler receives for a schema: its static type, with the defaulted properties present. */
export type Validated<S extends TSchema> = [DefaultedKeys<S>] extends [never]
  ? Static<S>
  : Omit<Static<S>, DefaultedKeys<S>> & Required<Pick<Static<S>, DefaultedKeys<S> & keyof Static<S>>>;

/** Ids: positive and exact in a double (JSON numbers beyond 2^53 - 1 are not read exactly). */
const ID_RANGE = { minimum: 1, maximum: 9007199254740991 } as const;
export const idSchema = Type.Integer(ID_RANGE);
type Schema = Record<string, unknown>;
/** idSchema, also with a description added: path and query ids are held to canonical decimal (INVALID_ID). */
export const isIdSchema = (s: Schema): boolean => s.type === 'integer' && s.minimum === ID_RANGE.minimum && s.maximum === ID_RANGE.maximum;
/** An id with a description of its own (a new object: the shared idSchema stays as it is). */
export const idWith = (description: string) => Type.Integer({ ...ID_RANGE, description });
export const isoTime = Type.String({ description: 'ISO 8601 UTC date-time' });
export const nullableIso = nullable(Type.String({ description: 'ISO 8601 UTC date-time, or null' }));
/** Input times: date, local date-time (the property's time zone, with its daylight-saving rules) or date-time with zone. */
export const timeInput = Type.Optional(
  nullable(Type.String({ minLength: 10, maxLength: 40 }), {
    description: "YYYY-MM-DD (local midnight), local YYYY-MM-DDTHH:MM[:SS] in the property's time zone, or with Z/±HH:MM; null = open",
  }),
);
const name = Type.String({ minLength: 1, maxLength: 200 });
const email = Type.String({ minLength: 3, maxLength: 254 });
const idList = (extra: Record<string, unknown> = {}) => Type.Array(idSchema, { maxItems: 1000, uniqueItems: true, ...extra });
export const affectedDoors = Type.Array(idSchema, { description: 'Doors whose credential sets this change altered' });

/** Request and response objects reject unknown fields; which are required follows from Type.Optional. */
export function obj<P extends TProperties>(properties: P, extra: TObjectOptions = {}): TObject<P> {
  return Type.Object(properties, { additionalProperties: false, ...extra });
}

/** An object of any members (details, free-form reports), as `{ type: 'object', additionalProperties: true }`. */
export const looseObject = (extra: Record<string, unknown> = {}) => Type.Unsafe<object>({ type: 'object', additionalProperties: true, ...extra });

export const errorSchema = obj({
  error: obj({
    code: Type.String({ description: 'Stable code; see API.md "Error codes"' }),
    message: Type.String(),
    details: Type.Optional(looseObject()),
  }),
});

export const noQuery = obj({});

/**
 * limit/offset on a list route that used to return everything: without `limit` it still does
 * (existing clients keep their whole array). `X-Total-Count` carries the total either way.
 */
export const pageProps = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many items (default: all)' })),
  offset: withDefault(Type.Integer({ minimum: 0, description: 'Skip this many items first' }), 0),
};
export const pageQuery = obj(pageProps);
export type PageQ = Validated<typeof pageQuery>;

/** Response header every list route sets: the number of matching items over all pages. */
export const TOTAL_HEADER = 'X-Total-Count';

/** Sets the total header; returns the items for chaining. */
export function withTotal<T>(reply: { header(name: string, value: string): unknown }, total: number, items: T): T {
  reply.header(TOTAL_HEADER, String(total));
  return items;
}

/** One page of an already complete list, with the total header. */
export function pageOf<T>(reply: { header(name: string, value: string): unknown }, items: readonly T[], q: PageQ): T[] {
  const from = q.offset;
  return withTotal(reply, items.length, items.slice(from, q.limit === undefined ? undefined : from + q.limit));
}

export const params = {
  property: obj({ propertyId: idSchema }),
  token: obj({ tokenId: idSchema }),
  unit: obj({ propertyId: idSchema, unitId: idSchema }),
  door: obj({ propertyId: idSchema, doorId: idSchema }),
  key: obj({ propertyId: idSchema, keyId: idSchema }),
  person: obj({ propertyId: idSchema, personId: idSchema }),
  grant: obj({ propertyId: idSchema, personId: idSchema, grantId: idSchema }),
  guest: obj({ propertyId: idSchema, personId: idSchema, guestId: idSchema }),
  keycard: obj({ propertyId: idSchema, personId: idSchema, keycardId: idSchema }),
  phoneKey: obj({ propertyId: idSchema, personId: idSchema, phoneKeyId: idSchema }),
};

const timeZone = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'IANA time zone (America/New_York; daylight saving follows its rules) or a fixed offset UTC±hh:mm',
});
const offsetMin = (description?: string) => Type.Integer({ minimum: -720, maximum: 840, ...(description === undefined ? {} : { description }) });
const doorcodeLength = () => Type.Integer({ minimum: 4, maximum: 10 });

const propertyProps = {
  id: idSchema,
  name,
  timeZone,
  utcOffsetMin: offsetMin("The zone's offset now, minutes east of UTC (read-only)"),
  nextOffsetChange: nullable(obj({ at: isoTime, utcOffsetMin: offsetMin() }), {
    description: "The zone's next offset change (daylight saving) within about 13 months, or null",
  }),
  doorcodeLength: doorcodeLength(),
  createdAt: isoTime,
};
export const property = obj(propertyProps);
export const propertyCreate = obj({
  name,
  timeZone: Type.Optional(timeZone),
  utcOffsetMin: Type.Optional(offsetMin('A fixed offset (minutes east of UTC) instead of a time zone: stored as the zone UTC±hh:mm, with no daylight saving')),
  doorcodeLength: withDefault(doorcodeLength(), 6),
});
export const propertyPatch = obj(
  { name: Type.Optional(name), timeZone: Type.Optional(timeZone), utcOffsetMin: Type.Optional(offsetMin()), doorcodeLength: Type.Optional(doorcodeLength()) },
  { minProperties: 1 },
);
export const propertyChanged = obj({ ...propertyProps, affectedDoors });

export const unit = obj({ id: idSchema, propertyId: idSchema, name, createdAt: isoTime });
export const unitCreate = obj({ name });

/** Checked by the model, not here, so every malformed lock id is INVALID_LOCK_ID (not VALIDATION_FAILED). */
const lockId = Type.String({
  description: '8 bytes as exactly 16 lower-case hex digits; anything else (upper case, separators, another length) is INVALID_LOCK_ID',
});
export const connectivity = strEnum(['online', 'offline']);
const radio = nullable(Type.String({ minLength: 1, maxLength: 100, description: 'Gateway radio reaching an online door' }));

const doorProps = {
  id: idSchema,
  propertyId: idSchema,
  name,
  lockId: Type.String({ pattern: '^[0-9a-f]{16}$' }),
  connectivity,
  gatewayRadio: radio,
  unitId: nullable(idSchema),
  createdAt: isoTime,
};
export const door = obj(doorProps);
export const doorCreate = obj({ name, lockId, connectivity, gatewayRadio: Type.Optional(radio), unitId: Type.Optional(nullable(idSchema)) });
export const doorPatch = obj(
  { name: Type.Optional(name), connectivity: Type.Optional(connectivity), gatewayRadio: Type.Optional(radio), unitId: Type.Optional(nullable(idSchema)) },
  { minProperties: 1 },
);
export const doorCreated = obj({ ...doorProps, affectedDoors });

/**
 * A weekly schedule as the API shows it. Input is checked by the model (INVALID_SCHEDULE), not
 * the schema, so a bad day name or time gets the stable code rather than VALIDATION_FAILED.
 */
const scheduleOf = (description: string) =>
  nullable(
    obj({
      days: Type.Array(Type.String(), { description: "Local weekdays: 'mon' … 'sun', at least one" }),
      from: Type.String({ description: 'Local time HH:MM, inclusive' }),
      to: Type.String({ description: "Local time HH:MM, exclusive, after from ('24:00' = end of day); no span across midnight" }),
    }),
    { description },
  );
export const schedule = scheduleOf('Weekly schedule (local time of the property); null = any time inside the window');
const keyKind = strEnum(['residential', 'communal']);
const keyProps = {
  id: idSchema,
  propertyId: idSchema,
  name,
  kind: keyKind,
  unitId: nullable(idSchema),
  mayShare: Type.Boolean(),
  doorcodesDisabled: Type.Boolean(),
  doorIds: Type.Array(idSchema),
  schedule,
  createdAt: isoTime,
};
export const key = obj(keyProps);
export const keyChanged = obj({ ...keyProps, affectedDoors });
export const keyCreate = obj({
  name,
  kind: keyKind,
  doorIds: idList({ minItems: 1 }),
  mayShare: withDefault(Type.Boolean(), false),
  doorcodesDisabled: withDefault(Type.Boolean(), false),
  unitId: Type.Optional(nullable(idSchema)),
  schedule: Type.Optional(schedule),
});
export const keyPatch = obj(
  {
    name: Type.Optional(name),
    kind: Type.Optional(keyKind),
    doorIds: Type.Optional(idList({ minItems: 1 })),
    mayShare: Type.Optional(Type.Boolean()),
    doorcodesDisabled: Type.Optional(Type.Boolean()),
    unitId: Type.Optional(nullable(idSchema)),
    schedule: Type.Optional(schedule),
  },
  { minProperties: 1 },
);

const accessType = () => strEnum(['app', 'doorcode'], { description: 'DOOR app user, or daily-doorcode only' });
const personStatus = strEnum(['active', 'scheduled', 'expired', 'revoked', 'no_access']);
const personProps = {
  id: idSchema,
  propertyId: idSchema,
  holderRef: Type.Integer({ minimum: 1, maximum: 4294967295, description: 'u32 recorded by locks in their audit log' }),
  email: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  phone: nullable(Type.String()),
  isResident: Type.Boolean(),
  mayShare: Type.Boolean(),
  accessType: accessType(),
  hasDoorcode: Type.Boolean(),
  dailyDoorcode: Type.Boolean(),
  unitId: nullable(idSchema),
  externalRef: nullable(Type.String()),
  status: personStatus,
  createdAt: isoTime,
  revokedAt: nullableIso,
};
export const person = obj(personProps);
export const personChanged = obj({ ...personProps, affectedDoors });

const grantProps = {
  id: idSchema,
  personId: idSchema,
  keyId: idSchema,
  keyName: Type.String(),
  sharedBy: nullable(idSchema, { description: 'Host who shared the key with this guest; null for a direct grant' }),
  startsAt: nullableIso,
  expiresAt: nullableIso,
  schedule: scheduleOf("This grant's own weekly schedule, overriding the key's; null = the key's applies"),
  source: strEnum(['manual', 'csv', 'automated', 'guest']),
  createdAt: isoTime,
  updatedAt: isoTime,
};
export const grant = obj(grantProps);
export const grantChanged = obj({ ...grantProps, affectedDoors });
export const grantsAdd = obj({ keyIds: idList({ minItems: 1 }), startsAt: timeInput, expiresAt: timeInput });
export const grantPatch = obj({ startsAt: timeInput, expiresAt: timeInput, schedule: Type.Optional(schedule) }, { minProperties: 1 });
export const grantsAdded = obj({ grants: Type.Array(grant), affectedDoors });

const phoneInput = () => Type.Optional(nullable(Type.String({ maxLength: 40 })));
export const invite = obj({
  email,
  firstName: name,
  lastName: name,
  phone: phoneInput(),
  accessType: accessType(),
  isResident: withDefault(Type.Boolean(), true),
  mayShare: withDefault(Type.Boolean({ description: 'May share keys with guests' }), false),
  doorcode: Type.Optional(Type.Boolean({ description: 'Issue a static doorcode (default: app users yes)' })),
  dailyDoorcode: Type.Optional(Type.Boolean({ description: 'Daily doorcode (default: doorcode-only people yes)' })),
  unitId: Type.Optional(nullable(idSchema)),
  externalRef: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
  keyIds: idList({ minItems: 1 }),
  startsAt: timeInput,
  expiresAt: timeInput,
});
export const inviteResult = obj({
  person,
  created: Type.Boolean({ description: 'false: the email existed and the keys were added to that person' }),
  grants: Type.Array(grant),
  warnings: Type.Array(obj({ code: Type.String(), message: Type.String() })),
  affectedDoors,
});
export const personPatch = obj(
  {
    email: Type.Optional(email),
    firstName: Type.Optional(name),
    lastName: Type.Optional(name),
    phone: phoneInput(),
    isResident: Type.Optional(Type.Boolean()),
    mayShare: Type.Optional(Type.Boolean()),
    accessType: Type.Optional(accessType()),
    unitId: Type.Optional(nullable(idSchema)),
    externalRef: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
  },
  { minProperties: 1 },
);
export const personDetail = obj({ person, grants: Type.Array(grant) });
export const peopleQuery = obj({
  includeExpired: withDefault(Type.Boolean({ description: '"Show Expired Users": also expired, revoked, keyless' }), false),
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  residentsOnly: withDefault(Type.Boolean(), false),
  limit: withDefault(Type.Integer({ minimum: 1, maximum: 1000 }), 100),
  offset: withDefault(Type.Integer({ minimum: 0 }), 0),
});

export const guestInvite = obj({
  email,
  firstName: name,
  lastName: name,
  phone: phoneInput(),
  accessType: withDefault(accessType(), 'app'),
  keyIds: idList({ minItems: 1 }),
  startsAt: timeInput,
  expiresAt: timeInput,
});
export const guestInviteResult = obj({ guest: person, created: Type.Boolean(), grants: Type.Array(grant), affectedDoors });
export const guestList = Type.Array(obj({ guest: person, grants: Type.Array(grant) }));

const keycardProps = { id: idSchema, personId: idSchema, uid: Type.String(), activatedAt: isoTime, deactivatedAt: nullableIso };
export const keycard = obj(keycardProps);
export const keycardChanged = obj({ ...keycardProps, affectedDoors });
export const keycardCreate = obj({ uid: Type.String({ minLength: 8, maxLength: 40, description: '4-10 bytes of hex' }) });

const phoneProps = { id: idSchema, personId: idSchema, publicKey: Type.String(), label: nullable(Type.String()), addedAt: isoTime, revokedAt: nullableIso };
export const phoneKey = obj(phoneProps);
export const phoneKeyChanged = obj({ ...phoneProps, affectedDoors });
export const phoneKeyCreate = obj({
  publicKey: Type.String({ minLength: 64, maxLength: 64, description: '32-byte Ed25519 public key, hex' }),
  label: Type.Optional(nullable(Type.String({ maxLength: 100 }))),
});

export const credentials = obj({
  doorcode: nullable(Type.String({ description: 'The static code; shown to Key Management tokens only' })),
  hasDoorcode: Type.Boolean(),
  dailyDoorcode: Type.Boolean(),
  keycards: Type.Array(keycard),
  phoneKeys: Type.Array(phoneKey),
});
export const doorcodeReset = obj({ doorcode: Type.String({ pattern: '^[0-9]{4,10}$' }), affectedDoors });
export const dailyDoorcodeSet = obj({ enabled: Type.Boolean() });
export const affected = obj({ affectedDoors });

export const doorCredential = obj({
  kind: strEnum(['doorcode', 'daily', 'keycard', 'phone']),
  holderRef: Type.Integer(),
  startsAt: nullableIso,
  expiresAt: nullableIso,
  hint: nullable(Type.String({ description: 'Doorcode last two digits, keycard UID, or phone key prefix' })),
});

const change = obj({ id: idSchema, reason: Type.String(), at: isoTime, compiledSeq: nullable(Type.Integer()) });
export const syncState = obj({
  doorId: idSchema,
  compiledSeq: Type.Integer(),
  compiledDigest: nullable(Type.String()),
  compiledAt: nullableIso,
  enforcedSeq: Type.Integer(),
  enforcedDigest: nullable(Type.String()),
  lastReceiptAt: nullableIso,
  pendingChanges: Type.Integer(),
  compiledDigestForm: nullable(strEnum(['entries', 'body']), {
    description: 'How the newest compiled set names itself: by its entry digest (PROTOCOL.md §4.7) or by SHA-256 of its body (§4.6); null when none is compiled',
  }),
  enforcedDigestForm: nullable(strEnum(['entries', 'body']), {
    description: "How the lock's receipt names the set it enforces (body also for an entry-form set whose lock took the relay bundle's fullPlain); null when it enforces no set the gateway keeps",
  }),
  entryDigestSupport: nullable(Type.Boolean(), {
    description: "Whether the door's lock takes sets named by their entry digest: false once it refused one (firmware from before it), null while not known",
  }),
  changes: Type.Array(change),
  lockLocalTime: nullable(
    obj({
      utcOffsetMin: Type.Integer(),
      nextOffsetChange: nullable(obj({ at: isoTime, utcOffsetMin: Type.Integer() })),
      toldAt: isoTime,
    }),
    { description: "What the gateway last told the door's lock about local time (commissioning or time sync); null if never" },
  ),
  needsTimeSync: Type.Boolean({ description: "The lock does not know the zone's offset now or its next change: the next sync pushes a time sync" }),
});
export const syncTask = obj({
  doorId: idSchema,
  doorName: Type.String(),
  lockId: Type.String(),
  connectivity,
  compiledSeq: Type.Integer(),
  enforcedSeq: Type.Integer(),
  lastReceiptAt: nullableIso,
  changes: Type.Array(change),
  needsTimeSync: Type.Boolean({ description: "The lock does not know the zone's offset now or its next change (daylight saving): a sync pushes a time sync" }),
});

const activityKind = () => strEnum(['unlock', 'access']);
export const activity = obj({
  id: idSchema,
  propertyId: idSchema,
  at: isoTime,
  kind: activityKind(),
  doorId: nullable(idSchema),
  doorName: nullable(Type.String()),
  holderRef: nullable(Type.Integer()),
  holderName: nullable(Type.String()),
  credentialKind: nullable(Type.String()),
  result: nullable(Type.String()),
  action: nullable(Type.String()),
  actor: nullable(Type.String()),
  message: Type.String(),
});
export const activityQuery = obj({
  personId: Type.Optional(idWith('Only this person (by their holder reference, so it also works after deletion via holderRef)')),
  holderRef: Type.Optional(Type.Integer({ minimum: 1, maximum: 4294967295 })),
  doorId: Type.Optional(idSchema),
  kind: Type.Optional(activityKind()),
  limit: withDefault(Type.Integer({ minimum: 1, maximum: 1000 }), 100),
  before: Type.Optional(Type.String({ pattern: '^[0-9]+\\.[0-9]+$', description: 'Paging cursor from the previous page (nextBefore)' })),
});
export const activityPage = obj({ entries: Type.Array(activity), nextBefore: nullable(Type.String()) });

const role = strEnum(['portfolio_manager', 'property_manager', 'read_only']);
export const token = obj({
  id: idSchema,
  name: Type.String(),
  role,
  keyManagement: Type.Boolean(),
  propertyId: nullable(idSchema),
  createdAt: isoTime,
  revokedAt: nullableIso,
});
export const tokenCreate = obj({ name, role, propertyId: Type.Optional(nullable(idSchema)), keyManagement: Type.Optional(Type.Boolean()) });
export const tokenCreated = obj({ token, secret: Type.String({ description: 'Shown once; only its hash is stored' }) });

export const health = obj({ ok: Type.Boolean(), schemaVersion: Type.Integer() });

export const arrayOf = <S extends TSchema>(items: S) => Type.Array(items);
