import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, type GatewayErrorCode } from '../../errors.js';
import type { Permission } from '../../model/tokens.js';
import { parseTimeToMinute } from '../../time.js';
import { noQuery } from '../schemas.js';

type Schema = Record<string, unknown>;

export interface RouteSpec<B, P, Q> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  operationId: string;
  summary: string;
  tags: string[];
  permission: Permission;
  params?: Schema;
  querystring?: Schema;
  body?: Schema;
  noBody?: boolean;
  /** The token may come as `?token=` (event streams: a browser's EventSource sends no headers). */
  queryToken?: boolean;
  /** Success responses by status; the error responses are added for every route. */
  response: Record<number, Schema>;
  handler: (req: FastifyRequest<{ Body: B; Params: P; Querystring: Q }>, reply: FastifyReply) => unknown;
}

/** Registers a route with its schemas and permission in the one shape the app checks. */
export function define<B = undefined, P = Record<string, never>, Q = Record<string, never>>(app: FastifyInstance, spec: RouteSpec<B, P, Q>): void {
  app.route<{ Body: B; Params: P; Querystring: Q }>({
    method: spec.method,
    url: spec.url,
    config: { permission: spec.permission, noBody: spec.noBody ?? false, queryToken: spec.queryToken ?? false },
    schema: {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: spec.tags,
      ...(spec.params ? { params: spec.params } : {}),
      querystring: spec.querystring ?? noQuery,
      ...(spec.body ? { body: spec.body } : {}),
      response: { ...spec.response },
    } as Schema,
    handler: async (req, reply) => spec.handler(req, reply),
  });
}

/** 404 unless the thing belongs to the property in the path. */
export function inProperty<T extends { propertyId: number }>(entity: T, propertyId: number, code: GatewayErrorCode, what: string): T {
  if (entity.propertyId !== propertyId) throw new GatewayError(code, `${what} does not exist in property ${propertyId}`);
  return entity;
}

/** Request times → Unix minutes; starts round up and expirations down (never widen access). */
export function startMinute(v: string | null | undefined, timeZone: string): number | null | undefined {
  return v == null ? v : parseTimeToMinute(v, timeZone, 'up');
}

export function endMinute(v: string | null | undefined, timeZone: string): number | null | undefined {
  return v == null ? v : parseTimeToMinute(v, timeZone, 'down');
}
