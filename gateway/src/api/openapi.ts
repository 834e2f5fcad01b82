import { ERROR_CATALOGUE } from '../errors.js';

type Schema = Record<string, unknown>;

export interface RouteRecord {
  method: string | string[];
  url: string;
  schema: (Schema & { params?: Schema; querystring?: Schema; body?: Schema; response?: Record<string, Schema> }) | undefined;
  config: { public?: boolean; permission?: string };
}

const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '204': 'Done; no body',
  '4xx': 'Error; `error.code` is one of the codes in API.md',
  '5xx': 'Gateway failure',
};

function parametersOf(schema: Schema | undefined, location: 'path' | 'query'): Schema[] {
  if (!schema) return [];
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

/**
 * Assembles an OpenAPI 3.1 document from the routes as Fastify registered them (collected by an
 * onRoute hook), so every route, parameter and schema in it is the one the server enforces.
 */
export function buildOpenApi(routes: readonly RouteRecord[]): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const r of routes) {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const s = r.schema ?? {};
    for (const method of methods) {
      const responses: Record<string, Schema> = {};
      for (const [status, schema] of Object.entries(s.response ?? {})) {
        responses[status.toUpperCase()] =
          status === '204'
            ? { description: STATUS_TEXT[status] }
            : { description: STATUS_TEXT[status] ?? 'Response', content: { 'application/json': { schema } } };
      }
      const op: Schema = {
        operationId: s.operationId,
        summary: s.summary,
        tags: s.tags,
        parameters: [...parametersOf(s.params, 'path'), ...parametersOf(s.querystring, 'query')],
        responses,
        security: r.config.public ? [] : [{ bearerAuth: [] }],
        'x-permission': r.config.permission ?? 'public',
      };
      if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: s.body } } };
      (paths[path] ??= {})[method.toLowerCase()] = op;
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'latchkit gateway API',
      version: '0.1.0',
      description: 'Property access management for latchkit locks. Error codes and roles: gateway/API.md.',
    },
    // Relative: resolved against where the document was fetched, so it is right on any host and
    // port `latchkit serve --port` listens on (a fixed http://127.0.0.1:8080 was wrong elsewhere).
    servers: [{ url: '/', description: 'the gateway that served this document' }],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'API token from `latchkit token create`' } },
      'x-error-codes': Object.fromEntries(Object.entries(ERROR_CATALOGUE).map(([code, e]) => [code, { status: e.status, summary: e.summary }])),
    },
    paths,
  };
}
