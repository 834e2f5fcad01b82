import { LatchkitError } from '@latchkit/protocol';

/**
 * The gateway's error catalogue. Every failure a caller can see (HTTP, CLI, library) carries one
 * of these codes; the codes are a public contract, so they are never renamed, only added.
 * gateway/API.md documents each one (a test keeps the two in step).
 */
export const ERROR_CATALOGUE = {
  // 400: the request itself is malformed.
  VALIDATION_FAILED: { status: 400, summary: 'The request did not match the route schema (body, params, query), or CLI arguments were invalid.' },
  MALFORMED_JSON: { status: 400, summary: 'The request body is not valid JSON, or is empty where JSON was declared.' },
  INVALID_ID: { status: 400, summary: 'An id in the path or query is not a canonical decimal id: digits 1-9 then 0-9, no sign, leading zero, exponent, point or spaces, at most 2^53 - 1.' },
  UNSAFE_INTEGER: { status: 400, summary: 'A number in the request body is beyond ±(2^53 - 1), where JSON numbers silently lose precision.' },
  INVALID_TEXT: { status: 400, summary: 'The request body is not valid UTF-8, a string in it holds a lone surrogate, or a name holds a control character.' },
  INVALID_TIME: { status: 400, summary: 'A time is not an ISO 8601 date or date-time.' },
  INVALID_WINDOW: { status: 400, summary: 'A validity window starts at or after its expiration.' },
  INVALID_EMAIL: { status: 400, summary: 'An email address is not of the form local@domain.tld.' },
  INVALID_LOCK_ID: { status: 400, summary: 'A lock id is not 8 bytes written as 16 hex digits.' },
  INVALID_KEYCARD_UID: { status: 400, summary: 'A keycard UID is not 4 to 10 bytes of hex.' },
  INVALID_PUBLIC_KEY: { status: 400, summary: 'A phone key is not a 32-byte Ed25519 public key in hex.' },
  INVALID_SCHEDULE: {
    status: 400,
    summary: 'A weekly schedule has no days, an unknown or repeated day name, a time that is not HH:MM (00:00 to 24:00), or from at or after to (a schedule cannot span midnight).',
  },
  INVALID_TIME_ZONE: {
    status: 400,
    summary: 'A time zone is neither an IANA name the runtime knows (America/New_York) nor a fixed offset UTC±hh:mm in UTC-12:00..UTC+14:00.',
  },
  INVALID_ARGUMENT: { status: 400, summary: 'A value is out of range or inconsistent with another value.' },

  // 401/403: who is asking, and may they.
  UNAUTHENTICATED: { status: 401, summary: 'No `Authorization: Bearer <token>` header was sent.' },
  INVALID_TOKEN: { status: 401, summary: 'The bearer token is unknown or has been revoked.' },
  READ_ONLY_TOKEN: { status: 403, summary: 'The token is read-only and the route changes data.' },
  KEY_MANAGEMENT_REQUIRED: {
    status: 403,
    summary: 'The route changes who can open which door; the token lacks Key Management permission.',
  },
  PORTFOLIO_MANAGER_REQUIRED: { status: 403, summary: 'Only a portfolio manager token may do this.' },
  PROPERTY_OUT_OF_SCOPE: { status: 403, summary: 'The token is limited to another property.' },

  // 404: a named thing does not exist (or not in this property).
  ROUTE_NOT_FOUND: { status: 404, summary: 'No route matches the method and path.' },
  PROPERTY_NOT_FOUND: { status: 404, summary: 'The property does not exist.' },
  DOOR_NOT_FOUND: { status: 404, summary: 'The door does not exist in this property.' },
  UNIT_NOT_FOUND: { status: 404, summary: 'The unit does not exist in this property.' },
  KEY_NOT_FOUND: { status: 404, summary: 'The key does not exist in this property.' },
  PERSON_NOT_FOUND: { status: 404, summary: 'The person does not exist in this property (or was deleted).' },
  GRANT_NOT_FOUND: { status: 404, summary: 'The person holds no such grant.' },
  GUEST_NOT_FOUND: { status: 404, summary: 'The person is not a guest of this host.' },
  KEYCARD_NOT_FOUND: { status: 404, summary: 'The person has no such active keycard.' },
  PHONE_KEY_NOT_FOUND: { status: 404, summary: 'The person has no such active phone key.' },
  TOKEN_NOT_FOUND: { status: 404, summary: 'The API token does not exist.' },
  ISSUER_KEY_NOT_FOUND: { status: 404, summary: 'The issuer signing key does not exist.' },

  // 409: the request conflicts with what is stored.
  EMAIL_TAKEN: { status: 409, summary: 'Another person in this property already has this email.' },
  LOCK_ID_TAKEN: { status: 409, summary: 'Another door already has this lock id.' },
  UNIT_NAME_TAKEN: { status: 409, summary: 'Another unit in this property already has this name.' },
  KEY_NAME_TAKEN: { status: 409, summary: 'Another key in this property already has this name.' },
  KEYCARD_IN_USE: { status: 409, summary: 'An active keycard with this UID already exists in this property.' },
  PHONE_KEY_IN_USE: { status: 409, summary: 'An active phone key with this public key already exists in this property.' },
  DOOR_IN_USE: { status: 409, summary: 'The door is still held by a key; remove it from its keys first.' },
  DOORCODE_SPACE_EXHAUSTED: { status: 409, summary: 'No unused doorcode of the property length is left.' },
  HOLDER_REFS_EXHAUSTED: { status: 409, summary: 'The property has used every 32-bit holder reference.' },
  SEQUENCE_NOT_NEWER: { status: 409, summary: 'A compiled set must have a higher sequence than the last one.' },
  RECEIPT_MISMATCH: { status: 409, summary: 'A lock receipt names a sequence or digest the gateway never compiled.' },
  LOCK_NOT_COMMISSIONED: { status: 409, summary: 'The door has no commissioned lock yet; commission it before syncing.' },
  LOCK_REJECTED: { status: 502, summary: 'The lock refused what the gateway sent; the message names its protocol error code.' },
  RADIO_UNAVAILABLE: { status: 503, summary: 'The lock could not be reached or the link kept failing after every retry.' },
  ROTATION_IN_PROGRESS: { status: 409, summary: 'An issuer key rotation is already in progress for this property; complete it first.' },
  ROTATION_INCOMPLETE: { status: 409, summary: 'Some locks have not applied the new trust anchor yet; sync those doors before completing the rotation.' },
  NO_ROTATION: { status: 409, summary: 'No issuer key rotation is in progress for this property.' },
  LOCK_IDENTITY_CHANGED: { status: 409, summary: 'A lock answering for the door claims to be factory-fresh or has other device keys than the one commissioned; forget the old identity if the hardware was replaced.' },
  LOCK_MESSAGE_INVALID: { status: 422, summary: 'A receipt or event batch from a lock failed verification (bad signature, wrong lock, broken chain); the message names the check.' },
  CONFLICT: { status: 409, summary: 'A uniqueness or reference rule of the store was violated.' },

  // 422: well-formed, but a rule of the access model refuses it.
  KEY_NEEDS_DOOR: { status: 422, summary: 'A key must hold at least one door.' },
  EXPIRATION_IN_PAST: { status: 422, summary: 'A new grant would already be expired.' },
  HOST_NOT_RESIDENT: { status: 422, summary: 'Only residents may invite guests.' },
  SHARING_NOT_ALLOWED: { status: 422, summary: 'The host is not allowed to share keys with guests.' },
  KEY_NOT_SHAREABLE: { status: 422, summary: 'The key is not marked may-share.' },
  HOST_LACKS_KEY: { status: 422, summary: 'The host does not hold an unexpired grant of the key.' },
  GUEST_IS_HOST: { status: 422, summary: 'A person cannot be their own guest.' },
  NOT_APP_USER: { status: 422, summary: 'Phone keys belong to DOOR-app users; the person is doorcode-only.' },
  NO_DAILY_DOORCODE: { status: 422, summary: 'The person has no daily doorcode (it is turned off), so there is no daily code to show or send.' },

  // 5xx: the gateway itself failed.
  STORE_TOO_NEW: { status: 500, summary: 'The state file was written by a newer gateway (unknown migrations).' },
  MIGRATION_FAILED: { status: 500, summary: 'A schema migration failed and was rolled back.' },
  KEK_REQUIRED: { status: 500, summary: 'The store\'s issuer keys are encrypted and no key-encryption key was found (LATCHKIT_KEK, LATCHKIT_KEK_FILE or <state-dir>/kek); nothing was changed.' },
  KEK_MISMATCH: { status: 500, summary: 'The key-encryption key given is not the one the store\'s issuer keys are encrypted with (or a sealed key was altered); nothing was changed.' },
  KEK_INVALID: { status: 500, summary: 'A key-encryption key (LATCHKIT_KEK, or the file named) is not 64 hex digits.' },
  PAYLOAD_TOO_LARGE: { status: 413, summary: 'The request body exceeds the size limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'The request body is not `application/json`.' },
  INTERNAL: { status: 500, summary: 'An unexpected error; the gateway log has the details.' },
  BENCH_UNAVAILABLE: { status: 501, summary: '`latchkit bench` runs the benchmarks of a latchkit repository checkout (bench/); an installed package does not ship them.' },
  SIGNER_REQUIRED: { status: 503, summary: 'The property\'s issuer key is not in the store (an external signer holds it) and no signer for it is configured, or a path that signs only with the stored key was asked to sign for a key a signer holds; nothing was signed or written.' },
  SIGNER_FAILED: { status: 502, summary: 'The issuer signer (a KMS, an HSM, a signing process) failed, timed out or answered with a bad signature; the door\'s changes stay pending and compile on the next pass.' },
  BENCH_FAILED: { status: 500, summary: 'A benchmark suite run by `latchkit bench` failed, or one of its --check budgets did not hold; its output above says which.' },

  // Property management flows: CSV import (seed 000), User Sync (003), Automated Access (002).
  // Codes marked "row"/"record" describe one CSV row or PMS record in a report; the rest go on.
  CSV_MALFORMED: { status: 400, summary: 'The CSV file is empty, has no header row, or has more rows than an import may hold.' },
  CSV_BAD_HEADER: { status: 400, summary: 'The CSV header lacks Email, First Name or Last Name, or names an unknown or repeated column.' },
  CSV_ROW_MALFORMED: { status: 400, summary: 'Row: the CSV row cannot be read (broken quoting, or a different number of fields than the header).' },
  DUPLICATE_EMAIL_IN_FILE: { status: 409, summary: 'Row: another row of the same file has this email (any case) with different names, phone, unit or window; rows that agree are merged into one person.' },
  COMMUNAL_KEY_IN_CSV: { status: 422, summary: 'Row: the Keys column names a communal key; communal keys are chosen for the whole import.' },
  IMPORT_NOT_FOUND: { status: 404, summary: 'The CSV import does not exist in this property.' },
  IMPORT_ALREADY_APPLIED: { status: 409, summary: 'The CSV import was already applied; upload the corrected file as a new import.' },
  NOTIFICATION_NOT_FOUND: { status: 404, summary: 'The notification does not exist in this property.' },
  INTEGRATION_NOT_FOUND: { status: 404, summary: 'The property has no PMS integration configured.' },
  USER_SYNC_REQUIRED: { status: 422, summary: 'Automated Access requires User Sync to be enabled on the property.' },
  SYNC_IN_PROGRESS: { status: 409, summary: 'A PMS sync of this property is already running.' },
  PMS_FETCH_FAILED: { status: 502, summary: 'The PMS feed could not be read (connection refused, HTTP error status, missing file).' },
  PMS_FEED_INVALID: { status: 502, summary: 'The PMS feed is not JSON of the form {"residents": [...]}; nothing was applied.' },
  PMS_TIMEOUT: { status: 504, summary: 'The PMS feed did not answer within the configured timeout; nothing was applied.' },
  PMS_RECORD_INVALID: { status: 422, summary: 'Record: a PMS record lacks a field, has a wrong type, or repeats another record\'s id or email.' },
  SUGGESTION_NOT_FOUND: { status: 404, summary: 'The access suggestion does not exist in this property.' },
  SUGGESTION_NOT_PENDING: { status: 409, summary: 'The access suggestion was already applied, discarded or superseded.' },
  APPROVAL_BATCH_TOO_LARGE: { status: 400, summary: 'At most 50 access suggestions can be approved at a time.' },
  ALERT_NOT_FOUND: { status: 404, summary: 'The alert does not exist in this property.' },
  ALERT_NOT_OPEN: { status: 409, summary: 'The alert was already resolved or dismissed.' },
  NO_PMS_UNIT: { status: 422, summary: 'The person has no PMS unit known in DOOR, so resident keys cannot be assigned from it.' },

  // The running world (`serve --radio virtual`): simulate routes and the world clock.
  WORLD_NOT_RUNNING: { status: 409, summary: 'Simulate routes need the simulated world: start the server with `latchkit serve --radio virtual` (or `--demo`).' },
  DOOR_BUSY: { status: 409, summary: 'Another simulated action is using this door (a Door Sync or phone visit in progress); try again when it finishes.' },
  INVALID_CODE: { status: 400, summary: 'A keypad code is not digits of the property\'s doorcode length or of a daily code (6).' },
  NO_PHONE_KEY: { status: 422, summary: 'The person has no active phone key, so there is no phone to unlock with; install the simulated phone first.' },
  PHONE_NOT_SIMULATED: { status: 409, summary: 'The person\'s phone keys were registered from outside the world, which holds none of their private keys.' },
  LOCK_UNPOWERED: { status: 409, summary: 'The door\'s simulated lock has no power at this moment (a power cut is being recovered).' },
  NOTHING_TO_APPLY: { status: 409, summary: 'A power cut during the next apply needs a set to apply: the lock already runs the newest compiled set (or is not commissioned).' },
  POWER_CUT_NOT_REACHED: { status: 422, summary: 'The pending apply takes fewer flash writes than the write number given; the details say how many it takes.' },
  SERVER_UNREACHABLE: { status: 503, summary: 'CLI: no running `latchkit serve` was found for the state directory, or it did not answer.' },
  CLOCK_BACKWARDS: { status: 400, summary: 'The world clock only moves forward: advance by a positive amount.' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type GatewayErrorCode = keyof typeof ERROR_CATALOGUE;

/** The gateway's errors: a LatchkitError whose code is in ERROR_CATALOGUE, with its HTTP status. */
export class GatewayError extends LatchkitError<GatewayErrorCode> {
  readonly httpStatus: number;

  constructor(code: GatewayErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details === undefined ? undefined : { details });
    this.httpStatus = ERROR_CATALOGUE[code].status;
  }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}
