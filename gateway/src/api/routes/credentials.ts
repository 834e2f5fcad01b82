import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import { define, inProperty } from './define.js';
import { getPerson } from '../../model/people.js';
import {
  activateKeycard,
  addPhoneKey,
  clearDoorcode,
  deactivateKeycard,
  getKeycard,
  getPhoneKey,
  listKeycards,
  listPhoneKeys,
  personDailyDoorcode,
  personDoorcode,
  resetDoorcode,
  revokePhoneKey,
  setDailyDoorcode,
} from '../../model/credentials.js';
import { GatewayError } from '../../errors.js';
import { keycardView, phoneKeyView } from '../../views.js';


export function registerCredentialRoutes(app: FastifyInstance, { db, ctxFor }: AppContext): void {
  const personIn = (p: Static<typeof S.params.person>) => inProperty(getPerson(db, p.personId), p.propertyId, 'PERSON_NOT_FOUND', `person ${p.personId}`);
  const base = '/properties/:propertyId/people/:personId';

  define(app, {
    method: 'GET',
    url: `${base}/credentials`,
    operationId: 'getCredentials',
    summary: "A person's doorcode, daily-code flag, active keycards and phone keys",
    tags: ['credentials'],
    permission: 'read',
    params: S.params.person,
    response: { 200: S.credentials },
    handler: (req) => {
      const p = personIn(req.params);
      // Codes are secrets of the resident: only tokens that could reset them may read them.
      const showCode = req.principal!.keyManagement;
      return {
        doorcode: showCode ? personDoorcode(db, p.id) : null,
        hasDoorcode: p.hasDoorcode,
        dailyDoorcode: p.dailyDoorcode,
        keycards: listKeycards(db, p.id).map(keycardView),
        phoneKeys: listPhoneKeys(db, p.id).map(phoneKeyView),
      };
    },
  });

  define(app, {
    method: 'POST',
    url: `${base}/keycards`,
    operationId: 'activateKeycard',
    summary: 'Activate a keycard for the person',
    tags: ['credentials'],
    permission: 'key_management',
    params: S.params.person,
    body: S.keycardCreate,
    response: { 201: S.keycardChanged },
    handler: (req, reply) => {
      personIn(req.params);
      const k = activateKeycard(db, req.params.personId, req.body.uid, ctxFor(req));
      reply.code(201);
      return { ...keycardView(k), affectedDoors: k.affectedDoors };
    },
  });
  define(app, {
    method: 'DELETE',
    url: `${base}/keycards/:keycardId`,
    operationId: 'deactivateKeycard',
    summary: 'Deactivate a keycard',
    tags: ['credentials'],
    permission: 'key_management',
    params: S.params.keycard,
    response: { 200: S.affected },
    handler: (req) => {
      personIn(req.params);
      const card = getKeycard(db, req.params.keycardId);
      if (card.personId !== req.params.personId) throw new GatewayError('KEYCARD_NOT_FOUND', `person ${req.params.personId} has no keycard ${req.params.keycardId}`);
      return deactivateKeycard(db, card.id, ctxFor(req));
    },
  });

  define(app, {
    method: 'POST',
    url: `${base}/phone-keys`,
    operationId: 'addPhoneKey',
    summary: "Register a DOOR-app phone's Ed25519 public key",
    tags: ['credentials'],
    permission: 'key_management',
    params: S.params.person,
    body: S.phoneKeyCreate,
    response: { 201: S.phoneKeyChanged },
    handler: (req, reply) => {
      personIn(req.params);
      const k = addPhoneKey(db, req.params.personId, req.body, ctxFor(req));
      reply.code(201);
      return { ...phoneKeyView(k), affectedDoors: k.affectedDoors };
    },
  });
  define(app, {
    method: 'DELETE',
    url: `${base}/phone-keys/:phoneKeyId`,
    operationId: 'revokePhoneKey',
    summary: 'Revoke a phone key (lost or replaced phone)',
    tags: ['credentials'],
    permission: 'key_management',
    params: S.params.phoneKey,
    response: { 200: S.affected },
    handler: (req) => {
      personIn(req.params);
      const k = getPhoneKey(db, req.params.phoneKeyId);
      if (k.personId !== req.params.personId) throw new GatewayError('PHONE_KEY_NOT_FOUND', `person ${req.params.personId} has no phone key ${req.params.phoneKeyId}`);
      return revokePhoneKey(db, k.id, ctxFor(req));
    },
  });

  define(app, {
    method: 'POST',
    url: `${base}/doorcode/reset`,
    operationId: 'resetDoorcode',
    summary: 'Doorcode reset: issue a new unique static doorcode',
    tags: ['credentials'],
    permission: 'key_management',
    params: S.params.person,
    noBody: true,
    response: { 200: S.doorcodeReset },
    handler: (req) => {
      personIn(req.params);
      const r = resetDoorcode(db, req.params.personId, ctxFor(req));
      return { doorcode: r.code, affectedDoors: r.affectedDoors };
    },
  });
  define(app, {
    method: 'DELETE',
    url: `${base}/doorcode`,
    operationId: 'clearDoorcode',
    summary: 'Withdraw the static doorcode',
    tags: ['credentials'],
    permission: 'key_management',
    params: S.params.person,
    response: { 200: S.affected },
    handler: (req) => {
      personIn(req.params);
      return clearDoorcode(db, req.params.personId, ctxFor(req));
    },
  });
  define(app, {
    method: 'PUT',
    url: `${base}/daily-doorcode`,
    operationId: 'setDailyDoorcode',
    summary: 'Turn the daily doorcode on or off',
    tags: ['credentials'],
    permission: 'key_management',
    params: S.params.person,
    body: S.dailyDoorcodeSet,
    response: { 200: S.affected },
    handler: (req) => {
      personIn(req.params);
      return setDailyDoorcode(db, req.params.personId, req.body.enabled, ctxFor(req));
    },
  });
  define(app, {
    method: 'GET',
    url: `${base}/daily-doorcode`,
    operationId: 'getDailyDoorcode',
    summary: "The person's daily doorcode for a local day (`?date=YYYY-MM-DD`, default today in the property's time) and the doors it opens",
    tags: ['credentials'],
    // The code opens doors: only tokens that could change it may read it.
    permission: 'key_management',
    params: S.params.person,
    querystring: S.obj({ date: Type.Optional(Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'Local date; default today' })) }),
    response: {
      200: S.obj({
        personId: S.idSchema,
        date: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }),
        code: Type.String({ pattern: '^[0-9]{6}$' }),
        doorIds: Type.Array(S.idSchema),
      }),
    },
    handler: (req) => {
      personIn(req.params);
      return personDailyDoorcode(db, req.params.personId, req.query.date, ctxFor(req));
    },
  });
}
