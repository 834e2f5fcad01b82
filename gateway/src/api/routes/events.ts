/**
 * `GET /properties/{id}/events`: the live event stream as Server-Sent Events (text/event-stream).
 *
 * Each message has `id:` (increasing), `event:` (attempt, sync, door, access, activity, clock,
 * gap) and `data:` (one line of JSON). A client that reconnects with `Last-Event-ID` (or
 * `?lastEventId=`) first gets the events it missed that the server still holds (the newest
 * 1,000), after a `gap` event if some were dropped. Browsers' EventSource cannot send headers,
 * so the token may also come as `?token=`.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import { define } from './define.js';
import { GatewayError } from '../../errors.js';
import type { StreamEvent } from '../../world/events.js';

const KEEPALIVE_MS = 15_000;

function frame(e: StreamEvent): string {
  return `id: ${e.id}\nevent: ${e.kind}\ndata: ${JSON.stringify({ ...e.data, id: e.id, kind: e.kind, at: new Date(e.at).toISOString(), propertyId: e.propertyId })}\n\n`;
}

export function registerEventRoutes(app: FastifyInstance, c: AppContext): void {
  // An open stream never ends by itself, and server.close() waits for every connection: end the
  // streams when the app closes, or shutting down hangs while any console is connected.
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end(() => res.destroy());
  });
  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/events',
    operationId: 'streamEvents',
    summary: 'Live event stream (Server-Sent Events): attempts, syncs, door state, access changes, activity, clock; resumes with Last-Event-ID',
    tags: ['events'],
    permission: 'read',
    queryToken: true,
    params: S.params.property,
    querystring: S.obj({
      token: Type.Optional(Type.String({ maxLength: 200, description: 'The bearer token, for clients that cannot send headers (EventSource)' })),
      lastEventId: Type.Optional(Type.Integer({ minimum: 0, description: 'Resume after this event id (the Last-Event-ID header wins)' })),
    }),
    response: { 200: Type.String({ description: 'text/event-stream' }) },
    handler: (req, reply) => {
      const hub = c.hub;
      if (!hub) throw new GatewayError('WORLD_NOT_RUNNING', 'this server keeps no event stream');
      const header = req.headers['last-event-id'];
      const fromHeader = typeof header === 'string' && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
      const last = fromHeader ?? req.query.lastEventId;
      const propertyId = req.params.propertyId;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      // Tell the client how long to wait before reconnecting, and start from where it was.
      res.write(`retry: 1000\n: latchkit event stream of property ${propertyId}; last id ${hub.lastId}\n\n`);
      if (last !== undefined) for (const e of hub.since(last, propertyId)) res.write(frame(e));
      // Where the replay ends and live events begin (no id: it does not move Last-Event-ID).
      res.write(`event: ready\ndata: ${JSON.stringify({ lastId: hub.lastId, replayed: last !== undefined })}\n\n`);
      const off = hub.subscribe((e) => {
        if (e.propertyId === null || e.propertyId === propertyId) res.write(frame(e));
      });
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      open.add(res);
      const done = (): void => {
        clearInterval(keepalive);
        off();
        open.delete(res);
      };
      req.raw.on('close', done);
      res.on('close', done);
      return reply;
    },
  });
}
