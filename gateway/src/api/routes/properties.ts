import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import { define, inProperty } from './define.js';
import { createProperty, getProperty, listProperties, updateProperty } from '../../model/properties.js';
import { createUnit, deleteUnit, getUnit, listUnits, renameUnit } from '../../model/units.js';
import { createDoor, deleteDoor, getDoor, listDoors, updateDoor } from '../../model/doors.js';
import { createKey, deleteKey, getKey, listKeys, updateKey } from '../../model/keys.js';
import { credentialsForDoor } from '../../model/compile-input.js';
import { requireCanonicalLockId } from '../../model/validate.js';
import { doorChanges } from '../../model/journal.js';
import { doorDigestForms, doorSyncState, doorSyncTasks } from '../../model/sync-state.js';
import { doorsWithStaleTime, doorTimeState } from '../../model/door-time.js';
import { nowOf } from '../../model/base.js';
import { changeView, doorCredentialView, doorView, keyView, propertyView, syncStateView, syncTaskView, unitView } from '../../views.js';


export function registerPropertyRoutes(app: FastifyInstance, { db, ctxFor }: AppContext): void {
  // ---- properties
  define(app, {
    method: 'GET',
    url: '/properties',
    operationId: 'listProperties',
    summary: 'List the properties this token may see',
    tags: ['properties'],
    permission: 'read',
    querystring: S.pageQuery,
    response: { 200: S.arrayOf(S.property) },
    handler: (req, reply) => {
      const scope = req.principal!.propertyId;
      const seen = listProperties(db, ctxFor(req)).filter((p) => scope === null || p.id === scope);
      return S.pageOf(reply, seen, req.query).map(propertyView);
    },
  });
  define(app, {
    method: 'POST',
    url: '/properties',
    operationId: 'createProperty',
    summary: 'Create a property',
    tags: ['properties'],
    permission: 'portfolio',
    body: S.propertyCreate,
    response: { 201: S.property },
    handler: (req, reply) => {
      reply.code(201);
      return propertyView(createProperty(db, req.body, ctxFor(req)));
    },
  });
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId',
    operationId: 'getProperty',
    summary: 'Get a property',
    tags: ['properties'],
    permission: 'read',
    params: S.params.property,
    response: { 200: S.property },
    handler: (req) => propertyView(getProperty(db, req.params.propertyId, ctxFor(req))),
  });
  define(app, {
    method: 'PATCH',
    url: '/properties/:propertyId',
    operationId: 'updateProperty',
    summary: 'Rename a property or change its time zone / doorcode length',
    tags: ['properties'],
    permission: 'configure',
    params: S.params.property,
    body: S.propertyPatch,
    response: { 200: S.propertyChanged },
    handler: (req) => {
      const r = updateProperty(db, req.params.propertyId, req.body, ctxFor(req));
      return { ...propertyView(r), affectedDoors: r.affectedDoors };
    },
  });

  // ---- units
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/units',
    operationId: 'listUnits',
    summary: 'List units',
    tags: ['units'],
    permission: 'read',
    params: S.params.property,
    querystring: S.pageQuery,
    response: { 200: S.arrayOf(S.unit) },
    handler: (req, reply) => S.pageOf(reply, listUnits(db, req.params.propertyId), req.query).map(unitView),
  });
  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/units',
    operationId: 'createUnit',
    summary: 'Create a unit',
    tags: ['units'],
    permission: 'configure',
    params: S.params.property,
    body: S.unitCreate,
    response: { 201: S.unit },
    handler: (req, reply) => {
      reply.code(201);
      return unitView(createUnit(db, req.params.propertyId, req.body, ctxFor(req)));
    },
  });
  const unitIn = (p: Static<typeof S.params.unit>) => inProperty(getUnit(db, p.unitId), p.propertyId, 'UNIT_NOT_FOUND', `unit ${p.unitId}`);
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/units/:unitId',
    operationId: 'getUnit',
    summary: 'Get a unit',
    tags: ['units'],
    permission: 'read',
    params: S.params.unit,
    response: { 200: S.unit },
    handler: (req) => unitView(unitIn(req.params)),
  });
  define(app, {
    method: 'PATCH',
    url: '/properties/:propertyId/units/:unitId',
    operationId: 'renameUnit',
    summary: 'Rename a unit',
    tags: ['units'],
    permission: 'configure',
    params: S.params.unit,
    body: S.unitCreate,
    response: { 200: S.unit },
    handler: (req) => {
      unitIn(req.params);
      return unitView(renameUnit(db, req.params.unitId, req.body.name));
    },
  });
  define(app, {
    method: 'DELETE',
    url: '/properties/:propertyId/units/:unitId',
    operationId: 'deleteUnit',
    summary: 'Delete a unit (its doors, keys and people stay, unlinked)',
    tags: ['units'],
    permission: 'configure',
    params: S.params.unit,
    response: { 204: Type.Null() },
    handler: (req, reply) => {
      unitIn(req.params);
      deleteUnit(db, req.params.unitId);
      reply.code(204);
      return null;
    },
  });

  // ---- doors
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/doors',
    operationId: 'listDoors',
    summary: 'List doors',
    tags: ['doors'],
    permission: 'read',
    params: S.params.property,
    querystring: S.obj({ connectivity: Type.Optional(S.strEnum(['online', 'offline'])), unitId: Type.Optional(S.idSchema), ...S.pageProps }),
    response: { 200: S.arrayOf(S.door) },
    handler: (req, reply) => {
      const { limit, offset, ...filter } = req.query;
      return S.pageOf(reply, listDoors(db, req.params.propertyId, filter), { limit, offset }).map(doorView);
    },
  });
  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/doors',
    operationId: 'createDoor',
    summary: 'Add a door (its lock id must be unique); the door starts with a pending first sync',
    tags: ['doors'],
    permission: 'configure',
    params: S.params.property,
    body: S.doorCreate,
    response: { 201: S.doorCreated },
    handler: (req, reply) => {
      const d = createDoor(db, req.params.propertyId, { ...req.body, lockId: requireCanonicalLockId(req.body.lockId) }, ctxFor(req));
      reply.code(201);
      return { ...doorView(d), affectedDoors: d.affectedDoors };
    },
  });
  const doorIn = (p: Static<typeof S.params.door>) => inProperty(getDoor(db, p.doorId), p.propertyId, 'DOOR_NOT_FOUND', `door ${p.doorId}`);
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/doors/:doorId',
    operationId: 'getDoor',
    summary: 'Get a door',
    tags: ['doors'],
    permission: 'read',
    params: S.params.door,
    response: { 200: S.door },
    handler: (req) => doorView(doorIn(req.params)),
  });
  define(app, {
    method: 'PATCH',
    url: '/properties/:propertyId/doors/:doorId',
    operationId: 'updateDoor',
    summary: 'Rename a door, move it to a unit, or change how it is reached (online/offline)',
    tags: ['doors'],
    permission: 'configure',
    params: S.params.door,
    body: S.doorPatch,
    response: { 200: S.door },
    handler: (req) => {
      doorIn(req.params);
      return doorView(updateDoor(db, req.params.doorId, req.body));
    },
  });
  define(app, {
    method: 'DELETE',
    url: '/properties/:propertyId/doors/:doorId',
    operationId: 'deleteDoor',
    summary: 'Decommission a door (refused while a key holds it)',
    tags: ['doors'],
    permission: 'configure',
    params: S.params.door,
    response: { 204: Type.Null() },
    handler: (req, reply) => {
      doorIn(req.params);
      deleteDoor(db, req.params.doorId);
      reply.code(204);
      return null;
    },
  });
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/doors/:doorId/credentials',
    operationId: 'listDoorCredentials',
    summary: 'Who the next compiled set for this door admits, and until when (secrets withheld)',
    tags: ['doors'],
    permission: 'read',
    params: S.params.door,
    response: { 200: S.arrayOf(S.doorCredential) },
    handler: (req, reply) => {
      doorIn(req.params);
      const creds = credentialsForDoor(db, req.params.doorId, ctxFor(req));
      return S.withTotal(reply, creds.length, creds.map(doorCredentialView));
    },
  });
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/doors/:doorId/sync-state',
    operationId: 'getDoorSyncState',
    summary: 'Compiled vs enforced sequence of a door, and its recent access changes',
    tags: ['sync'],
    permission: 'read',
    params: S.params.door,
    response: { 200: S.syncState },
    handler: (req) => {
      doorIn(req.params);
      const told = doorTimeState(db, req.params.doorId);
      return {
        ...syncStateView(doorSyncState(db, req.params.doorId), doorDigestForms(db, req.params.doorId)),
        changes: doorChanges(db, req.params.doorId, { limit: 50 }).map(changeView),
        lockLocalTime: told && {
          utcOffsetMin: told.offset,
          nextOffsetChange: told.transition && { at: new Date(told.transition.at * 1000).toISOString(), utcOffsetMin: told.transition.offset },
          toldAt: new Date(told.toldAt).toISOString(),
        },
        needsTimeSync: doorsWithStaleTime(db, nowOf(ctxFor(req)), undefined, req.params.doorId).length > 0,
      };
    },
  });
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/sync-tasks',
    operationId: 'listSyncTasks',
    summary: 'Door Sync tasks: doors running older credentials than the gateway holds, with what changed',
    tags: ['sync'],
    permission: 'read',
    params: S.params.property,
    querystring: S.obj({ connectivity: Type.Optional(S.strEnum(['online', 'offline'])) }),
    response: { 200: S.arrayOf(S.syncTask) },
    handler: (req, reply) => {
      const tasks = doorSyncTasks(db, req.params.propertyId, { ...req.query, ctx: ctxFor(req) });
      return S.withTotal(reply, tasks.length, tasks.map(syncTaskView));
    },
  });

  // ---- keys
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/keys',
    operationId: 'listKeys',
    summary: 'List keys',
    tags: ['keys'],
    permission: 'read',
    params: S.params.property,
    querystring: S.pageQuery,
    response: { 200: S.arrayOf(S.key) },
    handler: (req, reply) => S.pageOf(reply, listKeys(db, req.params.propertyId), req.query).map(keyView),
  });
  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/keys',
    operationId: 'createKey',
    summary: 'Create a key holding one or more doors',
    tags: ['keys'],
    permission: 'key_management',
    params: S.params.property,
    body: S.keyCreate,
    response: { 201: S.key },
    handler: (req, reply) => {
      reply.code(201);
      return keyView(createKey(db, req.params.propertyId, req.body, ctxFor(req)));
    },
  });
  const keyIn = (p: Static<typeof S.params.key>) => inProperty(getKey(db, p.keyId), p.propertyId, 'KEY_NOT_FOUND', `key ${p.keyId}`);
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/keys/:keyId',
    operationId: 'getKey',
    summary: 'Get a key',
    tags: ['keys'],
    permission: 'read',
    params: S.params.key,
    response: { 200: S.key },
    handler: (req) => keyView(keyIn(req.params)),
  });
  define(app, {
    method: 'PATCH',
    url: '/properties/:propertyId/keys/:keyId',
    operationId: 'updateKey',
    summary: 'Change a key: doors, may-share (off withdraws guest shares), doorcodes-disabled',
    tags: ['keys'],
    permission: 'key_management',
    params: S.params.key,
    body: S.keyPatch,
    response: { 200: S.keyChanged },
    handler: (req) => {
      keyIn(req.params);
      const k = updateKey(db, req.params.keyId, req.body, ctxFor(req));
      return { ...keyView(k), affectedDoors: k.affectedDoors };
    },
  });
  define(app, {
    method: 'DELETE',
    url: '/properties/:propertyId/keys/:keyId',
    operationId: 'deleteKey',
    summary: 'Delete a key and every grant of it',
    tags: ['keys'],
    permission: 'key_management',
    params: S.params.key,
    response: { 200: S.affected },
    handler: (req) => {
      keyIn(req.params);
      return deleteKey(db, req.params.keyId, ctxFor(req));
    },
  });
}
