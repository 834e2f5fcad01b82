import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import { define, inProperty } from './define.js';
import { countActivity, listActivity } from '../../model/activity.js';
import { getPerson } from '../../model/people.js';
import { activityView } from '../../views.js';

export function registerActivityRoutes(app: FastifyInstance, { db }: AppContext): void {
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/activity',
    operationId: 'listActivity',
    summary: 'The Activity tab: unlocks uploaded by locks and access changes, newest first',
    tags: ['activity'],
    permission: 'read',
    params: S.params.property,
    querystring: S.activityQuery,
    response: { 200: S.activityPage },
    handler: (req, reply) => {
      const q = req.query;
      // A living person is named by id; a deleted one only by the holder reference they had.
      const holderRef =
        q.personId !== undefined
          ? inProperty(getPerson(db, q.personId), req.params.propertyId, 'PERSON_NOT_FOUND', `person ${q.personId}`).holderRef
          : q.holderRef;
      const [at, id] = q.before ? q.before.split('.').map(Number) : [];
      const filter = {
        ...(holderRef === undefined ? {} : { holderRef }),
        ...(q.doorId === undefined ? {} : { doorId: q.doorId }),
        ...(q.kind === undefined ? {} : { kind: q.kind }),
      };
      // X-Total-Count: every entry matching the filters, whatever page the cursor is at.
      reply.header(S.TOTAL_HEADER, String(countActivity(db, req.params.propertyId, filter)));
      const entries = listActivity(db, req.params.propertyId, {
        ...filter,
        ...(at === undefined || id === undefined ? {} : { before: { at, id } }),
        limit: q.limit,
      });
      const last = entries[entries.length - 1];
      return { entries: entries.map(activityView), nextBefore: entries.length === q.limit && last ? `${last.at}.${last.id}` : null };
    },
  });
}
