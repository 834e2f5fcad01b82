import { Ajv } from 'ajv';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import type { Db } from '../store/db.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { authenticate, authorize, authorizeProperty, type Permission, type Principal } from '../model/tokens.js';
import { getProperty } from '../model/properties.js';
import type { Ctx } from '../model/base.js';
import { systemClock, type Clock } from '../time.js';
import { buildOpenApi, type RouteRecord } from './openapi.js';
import { errorSchema, noQuery } from './schemas.js';
import { registerRoutes } from './routes/index.js';
import { canonicalIntegers, registerStrictJsonParser, type ValidatorFn } from './strict-input.js';
import type { World } from '../world/world.js';
import type { EventHub } from '../world/events.js';
import type { SignerResolver } from '../compiler/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which kind of action the route is; absent only on public routes. */
    permission?: Permission;
    public?: boolean;
    /** POST routes that take no body (actions such as revoke-all). */
    noBody?: boolean;
    /** The bearer token may come as `?token=` (the event stream, for EventSource). */
    queryToken?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface BuildAppOptions {
  db: Db;
  now?: Clock;
  /** Fastify logger options; off by default so tests stay quiet. */
  logger?: boolean | { level: string };
  /** The simulated world the simulate routes drive (`serve --radio virtual`); its clock is `now`. */
  world?: World;
  /** The live event stream (default: the world's). */
  hub?: EventHub;
  /** Serve the web console at `/` (gateway/console; bundled when the app is built). */
  console?: boolean;
  /** The issuer signer of a property's key for routes that sign (relay bundles, rotation); default: the world's, else the key in the store. */
  signerFor?: SignerResolver;
}

/** Everything a route handler needs besides the request. */
export interface AppContext {
  db: Db;
  world?: World;
  hub?: EventHub;
  /** Given to every compiler call a route makes that may sign (compiler SignerResolver). */
  signerFor?: SignerResolver;
  ctxFor(req: FastifyRequest): Ctx;
}

/**
 * Builds the gateway's HTTP API without listening, so tests drive it with `inject()` and
 * `latchkit serve` adds the socket.
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { db } = options;
  const now = options.now ?? options.world?.clock.now ?? systemClock;
  const hub = options.hub ?? options.world?.hub;
  const signerFor = options.signerFor ?? options.world?.signerFor;
  const app = Fastify({
    logger: options.logger ?? false,
    exposeHeadRoutes: false,
  });
  // Bodies are JSON and validated as they are: `"percent": null` or `"minutes": "5"` is a 400,
  // never silently turned into 0 or 5 (Ajv's type coercion, on by default in Fastify, would).
  // Path and query parameters are text by nature and keep the coercion ("7" → 7).
  // Unknown fields are an error, not silently dropped: a typo in "expiresAt" must not grant forever.
  // Their integers must still be written canonically ("7", not "07", "7.0", "0x7" or " 7"): the
  // raw text is checked before it is converted (strict-input.ts; ids: INVALID_ID).
  const strictBodies = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'body') return strictBodies.compile(schema);
    const validate = coercing.compile(schema);
    if (httpPart === 'params' || httpPart === 'querystring') return canonicalIntegers(schema as Record<string, unknown>, validate as ValidatorFn, httpPart === 'params' ? 'path' : 'query');
    return validate;
  });
  app.decorateRequest('principal', null);
  // JSON only: a text/plain body would otherwise reach the schema as a string and read as a 400.
  app.removeContentTypeParser('text/plain');
  // Strict UTF-8, numbers within ±(2^53 - 1), no lone surrogates (strict-input.ts).
  registerStrictJsonParser(app);

  const routes: RouteRecord[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    checkRouteSchemas(route);
    routes.push({ method: route.method, url: route.url, schema: route.schema as RouteRecord['schema'], config: route.config ?? {} });
  });

  app.addHook('onRequest', async (req) => {
    const config = req.routeOptions.config;
    if (config.public || config.permission === undefined) return;
    let header = req.headers.authorization;
    const queryToken = (req.query as { token?: unknown } | undefined)?.token;
    if (!header && config.queryToken && typeof queryToken === 'string') header = `Bearer ${queryToken}`;
    if (!header) throw new GatewayError('UNAUTHENTICATED', 'send Authorization: Bearer <token>');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const principal = m ? authenticate(db, m[1]!) : undefined;
    if (!principal) throw new GatewayError('INVALID_TOKEN', 'the bearer token is unknown or revoked');
    req.principal = principal;
    authorize(principal, config.permission);
  });

  // After validation, so the property id is a number: scope first (403), then existence (404).
  app.addHook('preHandler', async (req) => {
    const p = (req.params as { propertyId?: number } | undefined)?.propertyId;
    if (p === undefined || req.principal === null) return;
    authorizeProperty(req.principal, p);
    getProperty(db, p);
  });

  app.setErrorHandler((err: FastifyError | GatewayError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toErrorBody(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } }),
  );

  const appCtx: AppContext = {
    db,
    ...(options.world ? { world: options.world } : {}),
    ...(hub ? { hub } : {}),
    ...(signerFor ? { signerFor } : {}),
    ctxFor: (req) => ({ now, actor: req.principal ? `token:${req.principal.name}` : 'anonymous' }),
  };
  registerRoutes(app, appCtx);
  if (options.console) {
    const { registerConsole } = await import('../../console/serve.js');
    await registerConsole(app);
  }

  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: { operationId: 'openapi', summary: 'This OpenAPI 3.1 document', tags: ['meta'], querystring: noQuery, response: { 200: { type: 'object', additionalProperties: true } } },
    },
    async () => buildOpenApi(routes),
  );
  await app.ready();
  return app;
}

function toErrorBody(err: FastifyError | GatewayError | Error): { status: number; body: unknown } {
  const body = (code: string, message: string, details?: Record<string, unknown>) => ({
    error: details === undefined ? { code, message } : { code, message, details },
  });
  if (isGatewayError(err)) return { status: err.httpStatus, body: body(err.code, err.message, err.details) };
  const fe = err as FastifyError & { validationContext?: string };
  if (fe.validation) {
    const first = fe.validation[0];
    const unknown = first?.keyword === 'additionalProperties' ? (first.params as { additionalProperty?: string }).additionalProperty : undefined;
    // Ajv says "must NOT have additional properties"; naming the field is what finds the typo.
    const message = unknown === undefined ? fe.message : `${fe.validationContext ?? 'request'}${first!.instancePath} has unknown field "${unknown}"`;
    return {
      status: 400,
      body: body('VALIDATION_FAILED', message, {
        issues: fe.validation.map((v) => ({ path: `${fe.validationContext ?? ''}${v.instancePath}`, message: v.message ?? 'invalid' })),
      }),
    };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: body('MALFORMED_JSON', fe.message) };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: body('PAYLOAD_TOO_LARGE', fe.message) };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: body('UNSUPPORTED_MEDIA_TYPE', fe.message) };
  }
  if (err instanceof SyntaxError && fe.statusCode === 400) return { status: 400, body: body('MALFORMED_JSON', err.message) };
  // Two writers (CLI and server) can still race past a pre-check; the store's constraint is the backstop.
  if ((fe.code ?? '').startsWith('SQLITE_CONSTRAINT')) return { status: 409, body: body('CONFLICT', err.message) };
  return { status: 500, body: body('INTERNAL', 'internal error; see the gateway log') };
}

/** Every route declares its schemas; a route without them fails at startup, not in production. */
function checkRouteSchemas(route: RouteOptions): void {
  const where = `${String(route.method)} ${route.url}`;
  const config = route.config ?? {};
  const schema = (route.schema ?? {}) as Record<string, unknown>;
  if (!config.public && !config.permission) throw new Error(`route ${where} declares no permission`);
  if (!schema.response) throw new Error(`route ${where} has no response schema`);
  if (route.url.includes(':') && !schema.params) throw new Error(`route ${where} has path parameters but no params schema`);
  if (!schema.querystring) throw new Error(`route ${where} has no querystring schema`);
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.some((m) => ['POST', 'PUT', 'PATCH'].includes(m)) && !schema.body && !config.noBody) {
    throw new Error(`route ${where} has no body schema`);
  }
  const response = schema.response as Record<string, unknown>;
  if (!response['4xx']) response['4xx'] = errorSchema;
  if (!response['5xx']) response['5xx'] = errorSchema;
}
