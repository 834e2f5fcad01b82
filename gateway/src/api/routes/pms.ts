import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import * as F from './flow-schemas.js';
import { define, inProperty } from './define.js';
import { getPerson } from '../../model/people.js';
import { one } from '../../model/base.js';
import { configureIntegration, getIntegration } from '../../flows/pms/integration.js';
import { listSyncRuns, runPmsSync } from '../../flows/pms/sync.js';
import {
  approveSuggestions,
  discardSuggestion,
  countSuggestions,
  listSuggestions,
  pendingSuggestionCount,
  residentStatus,
  setResidentStatus,
} from '../../flows/pms/automated-access.js';
import { MS_PER_MINUTE, parseTimeToMinute } from '../../time.js';
import { countAlerts, listAlerts, openAlertCount, resolveAlert } from '../../flows/pms/alerts.js';
import { countNotifications, listNotifications, getNotification, markNotificationSent, queueDailyMessages, withoutCode } from '../../flows/notifications.js';
import type { Notification } from '../../flows/notifications.js';
import { alertView, integrationView, notificationView, residentStatusView, suggestionView, syncRunView } from '../../flows/views.js';


/** The PMS integration (seeds 002 and 003), alerts, access suggestions, resident status, the welcome outbox. */
export function registerPmsRoutes(app: FastifyInstance, { db, ctxFor }: AppContext): void {
  const integrationOf = (propertyId: number) =>
    integrationView(getIntegration(db, propertyId), { pendingSuggestions: pendingSuggestionCount(db, propertyId), openAlerts: openAlertCount(db, propertyId) });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/pms',
    operationId: 'getPmsIntegration',
    summary: 'PMS integration settings, the last sync time, pending suggestions and open alerts',
    tags: ['pms'],
    permission: 'read',
    params: S.params.property,
    response: { 200: F.integration },
    handler: (req) => integrationOf(req.params.propertyId),
  });

  define(app, {
    method: 'PUT',
    url: '/properties/:propertyId/pms',
    operationId: 'configurePmsIntegration',
    summary: 'Configure the PMS feed, User Sync, Automated Access and its mode (Approval Required by default)',
    tags: ['pms'],
    permission: 'key_management',
    params: S.params.property,
    body: F.integrationPut,
    response: { 200: F.integration },
    handler: (req) => {
      configureIntegration(db, req.params.propertyId, req.body, ctxFor(req));
      return integrationOf(req.params.propertyId);
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/pms/sync',
    operationId: 'syncPmsNow',
    summary: 'Sync Now: pull the PMS feed at once; answers when the sync completed (502/504 when the PMS failed)',
    tags: ['pms'],
    permission: 'configure',
    params: S.params.property,
    body: F.noInput,
    response: { 200: F.syncRun },
    handler: async (req) => syncRunView(await runPmsSync(db, req.params.propertyId, { trigger: 'manual', ctx: ctxFor(req) })),
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/pms/runs',
    operationId: 'listPmsSyncRuns',
    summary: 'Recent PMS pulls, newest first, with per-record issues',
    tags: ['pms'],
    permission: 'read',
    params: S.params.property,
    querystring: F.runsQuery,
    response: { 200: S.arrayOf(F.syncRun) },
    handler: (req, reply) => {
      const total = one<{ n: number }>(db, 'SELECT count(*) AS n FROM pms_sync_runs WHERE property_id = ?', req.params.propertyId)!.n;
      return S.withTotal(reply, total, listSyncRuns(db, req.params.propertyId, { limit: req.query.limit }).map(syncRunView));
    },
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/access-suggestions',
    operationId: 'listAccessSuggestions',
    summary: 'Automated Access suggestions (default: pending): green grant, red revoke, grey no change',
    tags: ['pms'],
    permission: 'read',
    params: S.params.property,
    querystring: F.suggestionsQuery,
    response: { 200: S.arrayOf(F.suggestion) },
    handler: (req, reply) => {
      const q = req.query;
      const total = countSuggestions(db, req.params.propertyId, q);
      return S.withTotal(reply, total, listSuggestions(db, req.params.propertyId, q).map(suggestionView));
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/access-suggestions/approve',
    operationId: 'approveAccessSuggestions',
    summary: 'Update Access: apply up to 50 pending suggestions',
    tags: ['pms'],
    permission: 'key_management',
    params: S.params.property,
    body: F.approveBody,
    response: { 200: F.approveResult },
    handler: (req) => {
      const results = approveSuggestions(db, req.params.propertyId, req.body.ids, ctxFor(req));
      return { results, affectedDoors: [...new Set(results.flatMap((r) => r.affectedDoors))].sort((a, b) => a - b) };
    },
  });

  define(app, {
    method: 'DELETE',
    url: '/properties/:propertyId/access-suggestions/:suggestionId',
    operationId: 'discardAccessSuggestion',
    summary: 'Discard a pending suggestion (the X button)',
    tags: ['pms'],
    permission: 'key_management',
    params: F.params.suggestion,
    response: { 200: F.suggestion },
    handler: (req) => suggestionView(discardSuggestion(db, req.params.propertyId, req.params.suggestionId, ctxFor(req))),
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/alerts',
    operationId: 'listPmsAlerts',
    summary: 'User Sync alerts (default: open): partial matches and Email Mismatch',
    tags: ['pms'],
    permission: 'read',
    params: S.params.property,
    querystring: F.alertsQuery,
    response: { 200: S.arrayOf(F.alert) },
    handler: (req, reply) => {
      const q = req.query;
      const total = countAlerts(db, req.params.propertyId, q);
      return S.withTotal(reply, total, listAlerts(db, req.params.propertyId, q).map(alertView));
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/alerts/:alertId/resolve',
    operationId: 'resolvePmsAlert',
    summary: 'Resolve an alert: link / create (partial match), accept_pms_email (Email Mismatch), dismiss',
    tags: ['pms'],
    permission: 'key_management',
    params: F.params.alert,
    body: F.alertResolve,
    response: { 200: F.alert },
    handler: (req) => alertView(resolveAlert(db, req.params.propertyId, req.params.alertId, req.body, ctxFor(req))),
  });

  const personIn = (p: Static<typeof S.params.person>) => inProperty(getPerson(db, p.personId), p.propertyId, 'PERSON_NOT_FOUND', `person ${p.personId}`);
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/people/:personId/resident-status',
    operationId: 'getResidentStatus',
    summary: 'DOOR OS resident status (future/current/past), its source, the PMS record and lease dates',
    tags: ['pms'],
    permission: 'read',
    params: S.params.person,
    response: { 200: F.residentStatus },
    handler: (req) => {
      personIn(req.params);
      return residentStatusView(residentStatus(db, req.params.personId));
    },
  });
  define(app, {
    method: 'PUT',
    url: '/properties/:propertyId/people/:personId/resident-status',
    operationId: 'setResidentStatus',
    summary: 'Manual status override: to current assigns the PMS unit keys; current → past/future revokes all keys',
    tags: ['pms'],
    permission: 'key_management',
    params: S.params.person,
    body: F.residentStatusPut,
    response: { 200: F.residentStatusChanged },
    handler: (req) => {
      personIn(req.params);
      const r = setResidentStatus(db, req.params.personId, req.body.status, ctxFor(req));
      return { ...residentStatusView(r), affectedDoors: r.affectedDoors };
    },
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/notifications',
    operationId: 'listNotifications',
    summary: 'The message outbox (welcome and daily-code messages), each rendered; daily codes only for Key Management tokens',
    tags: ['notifications'],
    permission: 'read',
    params: S.params.property,
    querystring: F.notificationsQuery,
    response: { 200: S.arrayOf(F.notification) },
    handler: (req, reply) => {
      const q = req.query;
      const total = countNotifications(db, req.params.propertyId, q);
      // A daily message holds a doorcode: only tokens that may read codes see its body.
      const shown = req.principal!.keyManagement ? (n: Notification) => n : withoutCode;
      return S.withTotal(reply, total, listNotifications(db, req.params.propertyId, q).map((n) => notificationView(shown(n))));
    },
  });
  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/notifications/daily',
    operationId: 'queueDailyMessages',
    summary: "Queue a local day's daily-code messages in the outbox (once per person per day; a repeat queues nothing)",
    tags: ['notifications'],
    permission: 'key_management',
    params: S.params.property,
    body: F.queueDaily,
    response: { 200: F.queuedDaily },
    handler: (req) => queueDailyMessages(db, req.params.propertyId, req.body?.date, ctxFor(req)),
  });
  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/notifications/:notificationId/sent',
    operationId: 'markNotificationSent',
    summary: 'Mark a message as handed to the mail transport (body optional: sentAt)',
    tags: ['notifications'],
    permission: 'configure',
    params: F.params.notification,
    body: F.markSent,
    response: { 200: F.notification },
    handler: (req) => {
      inProperty(getNotification(db, req.params.notificationId), req.params.propertyId, 'NOTIFICATION_NOT_FOUND', `notification ${req.params.notificationId}`);
      const sentAt = req.body?.sentAt;
      const at = sentAt === undefined ? undefined : parseTimeToMinute(sentAt, 'UTC', 'down') * MS_PER_MINUTE;
      const ctx = ctxFor(req);
      const marked = markNotificationSent(db, req.params.notificationId, at === undefined ? ctx : { ...ctx, now: () => at });
      return notificationView(req.principal!.keyManagement ? marked : withoutCode(marked));
    },
  });
}
