/**
 * Sync routes: what a resident's phone carries to offline doors (passive sync), what it brings
 * back (the lock's signed receipt and event records), and issuer key rotation.
 *
 * Bundles hold only signed, lock-encrypted set messages: a phone (or whoever reads this route)
 * learns no credential material from them, so any authenticated token may fetch them. A visit
 * upload is verified against the lock's device key and event chain before anything is stored.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { decodeEvents, fromHex, ProtocolError } from '@latchkit/protocol';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import { define, inProperty } from './define.js';
import { GatewayError } from '../../errors.js';
import { getPerson } from '../../model/people.js';
import { acceptVisit, relayBundlesFor } from '../../sync/engine.js';
import { beginIssuerRotation, completeIssuerRotation, doorsBehindOnAnchors } from '../../compiler/rotation.js';
import { one } from '../../model/base.js';
import { getProperty } from '../../model/properties.js';
import { normalizePublicKey, requireCanonicalLockId } from '../../model/validate.js';

const base64 = (extra: { description?: string; minLength?: number } = {}) => Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 8_000_000, ...extra });
const lockIdHex = Type.String({ pattern: '^[0-9a-f]{16}$' });
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

const bundleSchema = S.obj(
  {
    doorId: S.idSchema,
    lockId: lockIdHex,
    seq: Type.Integer({ minimum: 1, description: 'Sequence the door will enforce after the relay' }),
    delta: Type.Optional(base64({ description: 'Signed delta from the sequence the door enforces (base64), when one was compiled' })),
    full: Type.Optional(base64({ description: 'The signed full set (base64): sent when there is no delta or the lock refuses it. Absent when the door only misses anchor updates' })),
    anchorUpdates: Type.Optional(
      Type.Array(base64(), {
        description: 'Signed trust-anchor updates (issuer key rotation, base64), oldest first: push them before the set. The lock logs each one it applies, and the visit upload reports it',
      }),
    ),
    timeSync: Type.Optional(base64({ description: 'A signed time for the lock, issued now (base64): push it when the lock reports a clock more than a minute behind it (the lock moves its clock only forward), or when timeSyncDue' })),
    timeSyncDue: Type.Optional(Type.Boolean({ description: "True when the lock does not know its zone's UTC offset now or next change: push timeSync whatever the lock's clock says, and report it in the visit upload (timeSyncTold)" })),
    timeSyncPlain: Type.Optional(base64({ description: "The same signed time without the transition claim (base64), for a lock not known to take the claim: push it if the lock refuses timeSync as MALFORMED" })),
    fullPlain: Type.Optional(
      base64({
        description:
          'The same sequence as full, named by SHA-256 of its body (base64), for a lock not known to take the entry digest: push it if the lock refuses delta or full as MALFORMED (firmware from before the entry digest), and report the refusal in the visit upload (entryDigestRefused)',
      }),
    ),
    eventsFrom: Type.Integer({ minimum: 0, description: 'First event index the gateway does not have yet' }),
  },
);

const rotationSchema = S.obj({ kid: Type.String(), doors: Type.Integer({ minimum: 0 }) });

export function registerSyncRoutes(app: FastifyInstance, { db, ctxFor: ctx, signerFor }: AppContext): void {
  // Every call below that may sign goes through the property's signer when one is configured.
  const signing = (req: Parameters<typeof ctx>[0]) => ({ ctx: ctx(req), ...(signerFor ? { signerFor } : {}) });
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/people/:personId/relay-bundles',
    operationId: 'getRelayBundles',
    summary: "What this person's phone should carry: signed sets for the offline doors they open that are behind (passive sync)",
    tags: ['sync'],
    permission: 'read',
    params: S.params.person,
    response: { 200: Type.Array(bundleSchema) },
    handler: async (req) => {
      inProperty(getPerson(db, req.params.personId), req.params.propertyId, 'PERSON_NOT_FOUND', `person ${req.params.personId}`);
      return (await relayBundlesFor(db, req.params.personId, { ...signing(req), onlyOffline: true })).map((b) => ({
        doorId: b.doorId,
        lockId: Buffer.from(b.lockId).toString('hex'),
        seq: b.seq,
        ...(b.delta ? { delta: b64(b.delta) } : {}),
        ...(b.full ? { full: b64(b.full) } : {}),
        ...(b.fullPlain ? { fullPlain: b64(b.fullPlain) } : {}),
        ...(b.anchorUpdates ? { anchorUpdates: b.anchorUpdates.map(b64) } : {}),
        ...(b.timeSync ? { timeSync: b64(b.timeSync) } : {}),
        ...(b.timeSyncDue ? { timeSyncDue: true } : {}),
        ...(b.timeSyncPlain ? { timeSyncPlain: b64(b.timeSyncPlain) } : {}),
        eventsFrom: b.eventsFrom ?? 0,
      }));
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/visits',
    operationId: 'uploadVisit',
    summary: 'A phone reports a visit to a door: the lock receipt (what it enforces) and its new event records',
    tags: ['sync'],
    permission: 'read',
    params: S.params.property,
    body: S.obj(
      {
        lockId: Type.String({ description: '16 lower-case hex digits (INVALID_LOCK_ID otherwise)' }),
        receipt: base64({ minLength: 4 }),
        events: Type.Optional(base64({ description: 'Concatenated 32-byte event records (base64)' })),
        firmware: Type.Optional(
          S.nullable(
            Type.String({
              maxLength: 64,
              description:
                "The lock's firmware string from its info read on this visit: a refusal of the entry digest or the transition claim recorded under another firmware string is forgotten (the lock was updated), and the next bundle asks again. Recorded only with a receipt that verifies",
            }),
          ),
        ),
        timeSyncTold: Type.Optional(
          S.obj(
            {
              iat: Type.Integer({ minimum: 0, description: 'Signed time (Unix s) of the timeSync the lock accepted' }),
              transition: Type.Boolean({ description: 'The accepted message carried the transition claim' }),
              transitionRefused: Type.Boolean({ description: 'The lock refused timeSync as MALFORMED and took timeSyncPlain' }),
              firmware: S.nullable(Type.String({ maxLength: 64, description: "The lock's firmware string from its info" })),
            },
            { description: "What the phone told the lock of local time (from the bundle's timeSync); recorded only with a receipt that verifies" },
          ),
        ),
        entryDigestRefused: Type.Optional(
          S.obj(
            { firmware: S.nullable(Type.String({ maxLength: 64, description: "The lock's firmware string from its info" })) },
            {
              description:
                "The lock refused the carried set as MALFORMED while it was named by its entry digest (firmware from before the entry digest): the door's next sets are signed with the body digest. Recorded only with a receipt that verifies",
            },
          ),
        ),
      },
    ),
    response: {
      200: S.obj(
        {
          doorId: S.idSchema,
          enforcedSeq: Type.Integer({ minimum: 0 }),
          advanced: Type.Boolean(),
          eventsUploaded: Type.Integer({ minimum: 0 }),
          eventsRefused: S.nullable(Type.String({ description: 'Why the event records were refused (they did not verify against the signed head); null when accepted' })),
        },
      ),
    },
    handler: (req) => {
      const lockId = requireCanonicalLockId(req.body.lockId);
      const door = one<{ propertyId: number }>(db, 'SELECT property_id AS propertyId FROM doors WHERE lock_id = ?', lockId);
      if (!door || door.propertyId !== req.params.propertyId) throw new GatewayError('DOOR_NOT_FOUND', `no door of property ${req.params.propertyId} has lock ${lockId}`);
      try {
        const events = req.body.events ? decodeEvents(fromB64(req.body.events)) : [];
        return acceptVisit(
          db,
          {
            lockId,
            receipt: fromB64(req.body.receipt),
            events,
            ...(req.body.firmware ? { firmware: req.body.firmware } : {}),
            ...(req.body.timeSyncTold ? { timeSyncTold: req.body.timeSyncTold } : {}),
            ...(req.body.entryDigestRefused ? { entryDigestRefused: req.body.entryDigestRefused } : {}),
          },
          { ctx: ctx(req) },
        );
      } catch (e) {
        // Bytes a lock would never have produced, or a forgery: say which check failed.
        if (e instanceof ProtocolError) throw new GatewayError('LOCK_MESSAGE_INVALID', `${e.code}: ${e.message}`);
        throw e;
      }
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/issuer-rotation',
    operationId: 'beginIssuerRotation',
    summary: 'Start rotating the issuer key: locks learn the new key next to the current one on their next sync',
    tags: ['sync'],
    permission: 'configure',
    params: S.params.property,
    // No body (or {}): the gateway makes the next key and seals it in the store. With
    // nextPublicKey: the key an external signer (a KMS, an HSM) already holds, so its secret never
    // enters the store; a property whose key is signer-held must name one (SIGNER_REQUIRED).
    body: Type.Union([
      Type.Null(),
      S.obj({
        nextPublicKey: Type.Optional(Type.String({ minLength: 64, maxLength: 64, description: "32-byte Ed25519 public key of the next issuer key, hex, held by the property's signer" })),
      }),
    ]),
    response: { 200: rotationSchema },
    handler: (req) => {
      const next = req.body?.nextPublicKey;
      return beginIssuerRotation(db, req.params.propertyId, { ...signing(req), ...(next === undefined ? {} : { next: { publicKey: fromHex(normalizePublicKey(next)) } }) });
    },
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/issuer-rotation',
    operationId: 'getIssuerRotation',
    summary: 'Doors whose locks have not applied a pending trust-anchor update yet',
    tags: ['sync'],
    permission: 'read',
    params: S.params.property,
    response: { 200: S.obj({ doorsBehind: Type.Array(S.idSchema) }) },
    handler: (req) => {
      getProperty(db, req.params.propertyId); // 404 PROPERTY_NOT_FOUND for an unknown property
      return { doorsBehind: doorsBehindOnAnchors(db, req.params.propertyId) };
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/issuer-rotation/complete',
    operationId: 'completeIssuerRotation',
    summary: 'Switch signing to the new key once every lock trusts it; locks then drop the old key on their next sync',
    tags: ['sync'],
    permission: 'configure',
    params: S.params.property,
    noBody: true,
    response: { 200: rotationSchema },
    handler: (req) => completeIssuerRotation(db, req.params.propertyId, signing(req)),
  });
}
