import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import { define, endMinute, inProperty, startMinute } from './define.js';
import { getProperty } from '../../model/properties.js';
import {
  deletePerson,
  getPerson,
  invitePerson,
  countPeople,
  listPeople,
  revokeAllKeys,
  updatePerson,
} from '../../model/people.js';
import { addGrants, getGrant, listGrants, removeGrant, updateGrant } from '../../model/grants.js';
import { inviteGuest, listGuests, revokeGuest } from '../../model/guests.js';
import { GatewayError } from '../../errors.js';
import { grantView, personView } from '../../views.js';


/** The access window of a request body, as ISO times (the schemas' timeInput). */
type WindowBody = Pick<Static<typeof S.grantsAdd>, 'startsAt' | 'expiresAt'>;

export function registerPeopleRoutes(app: FastifyInstance, { db, ctxFor }: AppContext): void {
  const offsetOf = (propertyId: number) => getProperty(db, propertyId).timeZone;
  const window = (propertyId: number, b: WindowBody) => {
    const off = offsetOf(propertyId);
    return { start: startMinute(b.startsAt, off), end: endMinute(b.expiresAt, off) };
  };
  const personIn = (req: { params: Static<typeof S.params.person> }, ctx = {}) =>
    inProperty(getPerson(db, req.params.personId, ctx), req.params.propertyId, 'PERSON_NOT_FOUND', `person ${req.params.personId}`);

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/people',
    operationId: 'listPeople',
    summary: 'The People tab: people with current or upcoming access (includeExpired for all)',
    tags: ['people'],
    permission: 'read',
    params: S.params.property,
    querystring: S.peopleQuery,
    response: { 200: S.arrayOf(S.person) },
    handler: (req, reply) => {
      const ctx = ctxFor(req);
      const { limit, offset, ...filter } = req.query;
      const total = countPeople(db, req.params.propertyId, filter, ctx);
      return S.withTotal(reply, total, listPeople(db, req.params.propertyId, { ...filter, limit, offset }, ctx).map(personView));
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/people',
    operationId: 'invitePerson',
    summary: 'Invite a person (DOOR app or doorcode) with keys; an existing email gets the keys added',
    tags: ['people'],
    permission: 'key_management',
    params: S.params.property,
    body: S.invite,
    response: { 200: S.inviteResult, 201: S.inviteResult },
    handler: (req, reply) => {
      const { startsAt, expiresAt, ...rest } = req.body;
      const w = window(req.params.propertyId, { startsAt, expiresAt });
      const r = invitePerson(db, req.params.propertyId, { ...rest, start: w.start ?? null, end: w.end ?? null }, ctxFor(req));
      reply.code(r.created ? 201 : 200);
      return { person: personView(r.person), created: r.created, grants: r.grants.map(grantView), warnings: r.warnings, affectedDoors: r.affectedDoors };
    },
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/people/:personId',
    operationId: 'getPerson',
    summary: 'A person and the keys they hold',
    tags: ['people'],
    permission: 'read',
    params: S.params.person,
    response: { 200: S.personDetail },
    handler: (req) => {
      const p = personIn(req, ctxFor(req));
      return { person: personView(p), grants: listGrants(db, p.id).map(grantView) };
    },
  });

  define(app, {
    method: 'PATCH',
    url: '/properties/:propertyId/people/:personId',
    operationId: 'updatePerson',
    summary: 'Edit contact details and flags (resident, may-share, app/doorcode, unit)',
    tags: ['people'],
    permission: 'key_management',
    params: S.params.person,
    body: S.personPatch,
    response: { 200: S.personChanged },
    handler: (req) => {
      personIn(req);
      const p = updatePerson(db, req.params.personId, req.body, ctxFor(req));
      return { ...personView(p), affectedDoors: p.affectedDoors };
    },
  });

  define(app, {
    method: 'DELETE',
    url: '/properties/:propertyId/people/:personId',
    operationId: 'deletePerson',
    summary: 'Delete Person: the record goes, their guests lose access, past activity stays',
    tags: ['people'],
    permission: 'key_management',
    params: S.params.person,
    response: { 200: S.affected },
    handler: (req) => {
      personIn(req);
      return deletePerson(db, req.params.personId, ctxFor(req));
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/people/:personId/revoke-all',
    operationId: 'revokeAllKeys',
    summary: 'Revoke All Keys: the person stays (re-grant later works), their guests lose access too',
    tags: ['people'],
    permission: 'key_management',
    params: S.params.person,
    noBody: true,
    response: { 200: S.personChanged },
    handler: (req) => {
      personIn(req);
      const p = revokeAllKeys(db, req.params.personId, ctxFor(req));
      return { ...personView(p), affectedDoors: p.affectedDoors };
    },
  });

  // ---- grants
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/people/:personId/grants',
    operationId: 'listGrants',
    summary: 'Keys the person holds (direct and shared with them as a guest)',
    tags: ['grants'],
    permission: 'read',
    params: S.params.person,
    querystring: S.pageQuery,
    response: { 200: S.arrayOf(S.grant) },
    handler: (req, reply) => S.pageOf(reply, listGrants(db, personIn(req).id), req.query).map(grantView),
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/people/:personId/grants',
    operationId: 'addGrants',
    summary: 'Edit → add keys (a key already held gets the new window)',
    tags: ['grants'],
    permission: 'key_management',
    params: S.params.person,
    body: S.grantsAdd,
    response: { 200: S.grantsAdded },
    handler: (req) => {
      personIn(req);
      const w = window(req.params.propertyId, req.body);
      const r = addGrants(db, req.params.personId, { keyIds: req.body.keyIds, start: w.start ?? null, end: w.end ?? null }, ctxFor(req));
      return { grants: r.grants.map(grantView), affectedDoors: r.affectedDoors };
    },
  });

  const grantOf = (p: Static<typeof S.params.grant>) => {
    const g = getGrant(db, p.grantId);
    if (g.personId !== p.personId) throw new GatewayError('GRANT_NOT_FOUND', `person ${p.personId} holds no grant ${p.grantId}`);
    return g;
  };
  define(app, {
    method: 'PATCH',
    url: '/properties/:propertyId/people/:personId/grants/:grantId',
    operationId: 'updateGrant',
    summary: "Edit → change the start, expiration or weekly schedule (overrides the key's) of one key",
    tags: ['grants'],
    permission: 'key_management',
    params: S.params.grant,
    body: S.grantPatch,
    response: { 200: S.grantChanged },
    handler: (req) => {
      personIn(req);
      grantOf(req.params);
      const w = window(req.params.propertyId, req.body);
      const g = updateGrant(db, req.params.grantId, { ...w, schedule: req.body.schedule }, ctxFor(req));
      return { ...grantView(g), affectedDoors: g.affectedDoors };
    },
  });
  define(app, {
    method: 'DELETE',
    url: '/properties/:propertyId/people/:personId/grants/:grantId',
    operationId: 'removeGrant',
    summary: 'Edit → remove a key (and from the guests the person shared it with)',
    tags: ['grants'],
    permission: 'key_management',
    params: S.params.grant,
    response: { 200: S.affected },
    handler: (req) => {
      personIn(req);
      grantOf(req.params);
      return removeGrant(db, req.params.grantId, ctxFor(req));
    },
  });

  // ---- guests
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/people/:personId/guests',
    operationId: 'listGuests',
    summary: 'Guests this resident shared keys with',
    tags: ['guests'],
    permission: 'read',
    params: S.params.person,
    querystring: S.pageQuery,
    response: { 200: S.guestList },
    handler: (req, reply) => {
      personIn(req);
      const guests = listGuests(db, req.params.personId, ctxFor(req));
      return S.pageOf(reply, guests, req.query).map((e) => ({ guest: personView(e.guest), grants: e.grants.map(grantView) }));
    },
  });
  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/people/:personId/guests',
    operationId: 'inviteGuest',
    summary: 'On behalf of a resident: share may-share keys they hold with a guest',
    tags: ['guests'],
    permission: 'key_management',
    params: S.params.person,
    body: S.guestInvite,
    response: { 200: S.guestInviteResult, 201: S.guestInviteResult },
    handler: (req, reply) => {
      personIn(req);
      const { startsAt, expiresAt, ...rest } = req.body;
      const w = window(req.params.propertyId, { startsAt, expiresAt });
      const r = inviteGuest(db, req.params.personId, { ...rest, start: w.start ?? null, end: w.end ?? null }, ctxFor(req));
      reply.code(r.created ? 201 : 200);
      return { guest: personView(r.guest), created: r.created, grants: r.grants.map(grantView), affectedDoors: r.affectedDoors };
    },
  });
  define(app, {
    method: 'DELETE',
    url: '/properties/:propertyId/people/:personId/guests/:guestId',
    operationId: 'revokeGuest',
    summary: 'Revoke everything this resident shared with the guest',
    tags: ['guests'],
    permission: 'key_management',
    params: S.params.guest,
    response: { 200: S.affected },
    handler: (req) => {
      personIn(req);
      return revokeGuest(db, req.params.personId, req.params.guestId, ctxFor(req));
    },
  });
}
