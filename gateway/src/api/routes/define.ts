import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Static, TSchema } from 'typebox';
import { GatewayError, type GatewayErrorCode } from '../../errors.js';
import type { Permission } from '../../model/tokens.js';
import { parseTimeToMinute } from '../../time.js';
import { noQuery, type Validated } from '../schemas.js';

/** What a handler receives for a request part: the schema's type, or `None` if the route has no such schema. */
type Part<S extends TSchema | undefined, None> = S extends TSchema ? Validated<S> : None;

/** The request a handler sees: body, params and query typed from the schemas that validate them. */
export type RouteRequest<B extends TSchema | undefined, P extends TSchema | undefined, Q extends TSchema | undefined> = FastifyRequest<{
  Body: Part<B, undefined>;
  // No schema: no path parameters (app.ts insists on one if there are), and the query is noQuery.
  Params: Part<P, object>;
  Querystring: Part<Q, Validated<typeof noQuery>>;
}>;

/**
 * What a handler may return: a body of one of its success response schemas, or the reply itself
 * when it sent (reply.send) or took over (reply.hijack) the response on its own.
 */
export type RouteResult<R extends Record<number, TSchema>> = { [K in keyof R]: R[K] extends TSchema ? Static<R[K]> : never }[keyof R] | FastifyReply;

export interface RouteSpec<B extends TSchema | undefined, P extends TSchema | undefined, Q extends TSchema | undefined, R extends Record<number, TSchema>> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  operationId: string;
  summary: string;
  tags: string[];
  permission: Permission;
  params?: P;
  querystring?: Q;
  body?: B;
  noBody?: boolean;
  /** Bytes a body may have, if not Fastify's default (1 MiB). */
  bodyLimit?: number;
  /** The token may come as `?token=` (event streams: a browser's EventSource sends no headers). */
  queryToken?: boolean;
  /** Success responses by status; the error responses are added for every route. */
  response: R;
  handler: (req: RouteRequest<B, P, Q>, reply: FastifyReply) => RouteResult<R> | Promise<RouteResult<R>>;
}

/**
 * Registers a route with its schemas and permission in the one shape the app checks. The type
 * parameters are inferred from the schemas, never written at the call: the handler's request
 * types are the TypeBox static types of the very schemas Ajv validates the request against, and
 * what it returns must match a response schema the reply is serialized with.
 */
export function define<B extends TSchema | undefined = undefined, P extends TSchema | undefined = undefined, Q extends TSchema | undefined = undefined, R extends Record<number, TSchema> = Record<number, TSchema>>(
  app: FastifyInstance,
  spec: RouteSpec<B, P, Q, R>,
): void {
  app.route({
    method: spec.method,
    url: spec.url,
    ...(spec.bodyLimit === undefined ? {} : { bodyLimit: spec.bodyLimit }),
    config: { permission: spec.permission, noBody: spec.noBody ?? false, queryToken: spec.queryToken ?? false },
    schema: {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: spec.tags,
      ...(spec.params ? { params: spec.params } : {}),
      querystring: spec.querystring ?? noQuery,
      ...(spec.body ? { body: spec.body } : {}),
      response: { ...spec.response },
    } as FastifySchema,
    // Fastify types an untyped route's request loosely; the validator (set up in app.ts from
    // these same schemas) is what makes the narrower type true at run time.
    handler: async (req, reply) => spec.handler(req as RouteRequest<B, P, Q>, reply),
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
