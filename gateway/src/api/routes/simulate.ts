/**
 * Simulate routes: drive the running world (`latchkit serve --radio virtual`). Each action is
 * what a person does at a door (a manager's Door Sync, a resident's phone unlock, a code on the
 * keypad, a card at the reader) or a fault (power, battery, radio range, lock clock), plus the
 * world clock. Actions change who can get in or what a lock holds, so they need Key Management;
 * reading door state needs any token. Without a world every route answers WORLD_NOT_RUNNING.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import { define } from './define.js';
import { GatewayError } from '../../errors.js';
import { getProperty } from '../../model/properties.js';
import type { World } from '../../world/world.js';
import * as act from '../../world/actions.js';
import { doorCredentials, doorState, listWorldDoors } from '../../world/door-views.js';

const loose = (description: string) => S.looseObject({ description });

export const doorStateSchema = S.obj(
  {
    doorId: S.idSchema,
    name: Type.String(),
    lockId: Type.String(),
    connectivity: S.strEnum(['online', 'offline']),
    gateway: S.nullable(Type.String({ description: 'Gateway radio that reaches the door (online doors)' })),
    inRange: Type.Boolean({ description: 'False while the door is put out of every radio\'s range' }),
    compiledSeq: Type.Integer({ description: 'Newest set the gateway compiled for the door' }),
    enforcedSeq: Type.Integer({ description: 'Set the door last confirmed (signed receipt)' }),
    pendingChanges: Type.Integer({ description: 'Access changes not compiled into a set yet' }),
    inSync: Type.Boolean({ description: 'The door enforces the newest set and nothing is pending' }),
    lastVisitAt: S.nullable(Type.String({ description: 'When the door last confirmed a set (a sync or a visit), ISO 8601' })),
    lockSeq: S.nullable(Type.Integer({ description: 'Set the simulated lock runs now (null while it has no power)' })),
    commissioned: S.nullable(Type.Boolean()),
    battery: Type.Integer({ description: 'Percent' }),
    lockedOutUntil: S.nullable(Type.String({ description: 'End of a keypad lockout in force (ISO 8601)' })),
    lockClock: S.nullable(Type.String({ description: "The lock's RTC (ISO 8601)" })),
    powered: Type.Boolean(),
    busy: Type.Boolean({ description: 'A simulated action is using the door' }),
  },
);

const attemptSchema = S.obj(
  {
    doorId: S.idSchema,
    outcome: S.strEnum(['granted', 'denied']),
    reason: S.nullable(Type.String({ description: 'Why the lock denied (unknownCredential, expired, lockedOut, badProof...)' })),
    credentialKind: S.nullable(Type.String()),
    holder: S.nullable(Type.Integer()),
    personId: S.nullable(Type.Integer()),
    lockEventIndex: Type.Integer(),
  },
);

const clockSchema = S.obj({ now: Type.String(), aheadMs: Type.Integer({ description: 'How far the world is ahead of wall time' }) });

export function registerSimulateRoutes(app: FastifyInstance, c: AppContext): void {
  const world = (): World => {
    if (!c.world) throw new GatewayError('WORLD_NOT_RUNNING', 'this server runs no simulated world; start it with `latchkit serve --radio virtual` (or `--demo`)');
    return c.world;
  };
  const base = '/properties/:propertyId/simulate';

  define(app, {
    method: 'GET',
    url: `${base}/doors`,
    operationId: 'listSimulatedDoors',
    summary: "Doors' state in the world, those behind (Door Sync tasks) first: compiled vs enforced sequence, what the lock runs, battery, lockout, range. X-Total-Count: doors matching; X-Behind-Count: of those, behind",
    tags: ['simulate'],
    permission: 'read',
    params: S.params.property,
    querystring: S.obj({
      search: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Part of the door name' })),
      offset: S.withDefault(Type.Integer({ minimum: 0 }), 0),
      limit: S.withDefault(Type.Integer({ minimum: 1, maximum: 10_000 }), 1000),
    }),
    response: { 200: Type.Array(doorStateSchema) },
    handler: (req, reply) => {
      const { total, behind, doors } = listWorldDoors(world(), req.params.propertyId, { ...(req.query.search ? { search: req.query.search } : {}), offset: req.query.offset, limit: req.query.limit });
      void reply.header('x-total-count', String(total)).header('x-behind-count', String(behind));
      return doors;
    },
  });

  const heldSchema = S.obj(
    {
      kind: S.strEnum(['doorcode', 'daily', 'keycard', 'phone']),
      holderRef: Type.Integer(),
      name: S.nullable(Type.String({ description: "The holder's name (kept after deletion)" })),
      personId: S.nullable(Type.Integer({ description: 'The living person, if any' })),
      startsAt: S.nullable(Type.String()),
      expiresAt: S.nullable(Type.String()),
    },
  );
  define(app, {
    method: 'GET',
    url: `${base}/doors/:doorId/credentials`,
    operationId: 'getSimulatedDoorCredentials',
    summary: 'The door\'s credentials as its lock holds them and as the gateway compiles them now (who is added, who stays until the next sync); no secrets',
    tags: ['simulate'],
    permission: 'read',
    params: S.params.door,
    response: { 200: S.obj({ lock: Type.Array(heldSchema), compiled: Type.Array(heldSchema) }) },
    handler: (req) => doorCredentials(world(), world().door(req.params.doorId, req.params.propertyId).doorId),
  });

  define(app, {
    method: 'GET',
    url: `${base}/doors/:doorId`,
    operationId: 'getSimulatedDoor',
    summary: "One door's state in the world",
    tags: ['simulate'],
    permission: 'read',
    params: S.params.door,
    response: { 200: doorStateSchema },
    handler: (req) => doorState(world(), world().door(req.params.doorId, req.params.propertyId).doorId),
  });

  define(app, {
    method: 'POST',
    url: `${base}/doors/:doorId/door-sync`,
    operationId: 'simulateDoorSync',
    summary: "Door Sync by the manager's phone in range: commission if needed, delta or full set, receipt and events. Fails with RADIO_UNAVAILABLE (task kept) when the door cannot be heard",
    tags: ['simulate'],
    permission: 'key_management',
    noBody: true,
    params: S.params.door,
    response: {
      200: S.obj(
        {
          doorId: S.idSchema,
          seqBefore: Type.Integer(),
          seqAfter: Type.Integer(),
          taskPending: Type.Boolean({ description: 'The door still has a Door Sync task (only if a change arrived meanwhile)' }),
          result: loose('The sync: action, commissioned, sent (delta/full), bytes, eventsUploaded, attempts, elapsedMs (modelled)'),
          door: doorStateSchema,
        },
      ),
    },
    handler: (req) => act.doorSync(world(), req.params.propertyId, req.params.doorId),
  });

  define(app, {
    method: 'POST',
    url: `${base}/doors/:doorId/phone-unlock`,
    operationId: 'simulatePhoneUnlock',
    summary: "A person's phone at the door: relays a newer set if the door is behind (passive sync), unlocks, uploads the visit",
    tags: ['simulate'],
    permission: 'key_management',
    params: S.params.door,
    body: S.obj({ personId: S.idSchema, profile: Type.Optional(S.strEnum(['ios', 'android'], { description: 'Radio profile of the phone (default ios)' })) }),
    response: {
      200: S.obj(
        {
          doorId: S.idSchema,
          personId: S.idSchema,
          outcome: S.strEnum(['granted', 'denied']),
          reason: S.nullable(Type.String()),
          relay: S.nullable(loose('What was relayed: sent (delta/full), seq, bytes, fellBack')),
          relayError: S.nullable(Type.String()),
          seqBefore: Type.Integer(),
          seqAfter: Type.Integer(),
          eventsUploaded: Type.Integer(),
          modelledMs: S.obj({ scan: Type.Number(), connect: Type.Number(), exchange: Type.Number(), total: Type.Number() }),
          door: doorStateSchema,
        },
      ),
    },
    handler: (req) => act.phoneUnlock(world(), req.params.propertyId, req.params.doorId, req.body.personId, req.body.profile ?? 'ios'),
  });

  define(app, {
    method: 'POST',
    url: `${base}/doors/:doorId/keypad`,
    operationId: 'simulateKeypad',
    summary: "A code typed on the door's keypad: the lock judges it against the set it holds",
    tags: ['simulate'],
    permission: 'key_management',
    params: S.params.door,
    body: S.obj({ code: Type.String({ minLength: 1, maxLength: 32, description: 'Digits: the property doorcode length, or 6 for a daily code' }) }),
    response: { 200: attemptSchema },
    handler: (req) => act.keypad(world(), req.params.propertyId, req.params.doorId, req.body.code),
  });

  define(app, {
    method: 'POST',
    url: `${base}/doors/:doorId/keycard`,
    operationId: 'simulateKeycard',
    summary: 'A keycard the property issued held to the reader (cloned: right UID, no key)',
    tags: ['simulate'],
    permission: 'key_management',
    params: S.params.door,
    body: S.obj({ uid: Type.String({ pattern: '^([0-9a-f]{2}){4,10}$' }), cloned: Type.Optional(Type.Boolean()) }),
    response: { 200: attemptSchema },
    handler: (req) => act.tapCard(world(), req.params.propertyId, req.params.doorId, req.body.uid, req.body.cloned ?? false),
  });

  define(app, {
    method: 'POST',
    url: `${base}/doors/:doorId/power-cut`,
    operationId: 'simulatePowerCut',
    summary: 'Cut the lock power now (battery pulled and put back), or at the Nth flash write (0-based) of the next set it applies',
    tags: ['simulate'],
    permission: 'key_management',
    params: S.params.door,
    body: S.obj({ atWrite: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })) }),
    response: {
      200: S.obj(
        { doorId: S.idSchema, mode: S.strEnum(['now', 'armed']), atWrite: S.nullable(Type.Integer()), applyWrites: S.nullable(Type.Integer()), door: doorStateSchema },
      ),
    },
    handler: (req) => act.powerCut(world(), req.params.propertyId, req.params.doorId, req.body.atWrite),
  });

  define(app, {
    method: 'POST',
    url: `${base}/doors/:doorId/battery`,
    operationId: 'simulateBattery',
    summary: "Set the lock battery's charge",
    tags: ['simulate'],
    permission: 'key_management',
    params: S.params.door,
    body: S.obj({ percent: Type.Integer({ minimum: 0, maximum: 100 }) }),
    response: { 200: doorStateSchema },
    handler: (req) => act.setBattery(world(), req.params.propertyId, req.params.doorId, req.body.percent),
  });

  define(app, {
    method: 'POST',
    url: `${base}/doors/:doorId/range`,
    operationId: 'simulateRange',
    summary: 'Take the door out of every radio range (gateway, phones) or bring it back',
    tags: ['simulate'],
    permission: 'key_management',
    params: S.params.door,
    body: S.obj({ inRange: Type.Boolean() }),
    response: { 200: doorStateSchema },
    handler: (req) => act.setInRange(world(), req.params.propertyId, req.params.doorId, req.body.inRange),
  });

  define(app, {
    method: 'POST',
    url: `${base}/doors/:doorId/lock-clock`,
    operationId: 'simulateLockClockSkew',
    summary: "Move the lock's RTC by a number of seconds, either way (drift, reset); signed time corrects it forward only",
    tags: ['simulate'],
    permission: 'key_management',
    params: S.params.door,
    body: S.obj({ skewSeconds: Type.Integer({ minimum: -315_360_000, maximum: 315_360_000 }) }),
    response: { 200: doorStateSchema },
    handler: (req) => act.skewLockClock(world(), req.params.propertyId, req.params.doorId, req.body.skewSeconds),
  });

  define(app, {
    method: 'POST',
    url: `${base}/people/:personId/install-phone`,
    operationId: 'simulateInstallPhone',
    summary: "Give the person a simulated phone: its key (held by the world) is added as the person's phone key",
    tags: ['simulate'],
    permission: 'key_management',
    noBody: true,
    params: S.params.person,
    response: { 200: S.obj({ personId: S.idSchema, publicKey: Type.String(), added: Type.Boolean({ description: 'False when the key was already registered' }) }) },
    handler: (req) => act.installPhone(world(), req.params.propertyId, req.params.personId),
  });

  define(app, {
    method: 'GET',
    url: `${base}/clock`,
    operationId: 'getWorldClock',
    summary: "The world's time",
    tags: ['simulate'],
    permission: 'read',
    params: S.params.property,
    response: { 200: clockSchema },
    handler: () => ({ now: new Date(world().clock.now()).toISOString(), aheadMs: world().clock.aheadMs }),
  });

  define(app, {
    method: 'POST',
    url: `${base}/clock/advance`,
    operationId: 'advanceWorldClock',
    summary: 'Advance the world clock by N minutes (it never goes back): starts and expirations come due, locks\' clocks run on',
    tags: ['simulate'],
    permission: 'key_management',
    params: S.params.property,
    body: S.obj({ minutes: Type.Number({ description: 'Minutes to move forward (> 0)' }) }),
    response: { 200: clockSchema },
    handler: (req) => {
      getProperty(c.db, req.params.propertyId);
      if (!(req.body.minutes > 0)) throw new GatewayError('CLOCK_BACKWARDS', `the world clock only moves forward: expected minutes > 0, got ${req.body.minutes}`);
      return act.advanceClock(world(), req.body.minutes * 60_000);
    },
  });
}
