/**
 * A route's request and reply types come from the schemas that validate them (routes/define.ts),
 * never from a type written beside them. Most of this file is checked by the compiler
 * (`npm run typecheck` covers test/): each `@ts-expect-error` below marks a handler that
 * disagrees with its schema, so the typecheck fails if such a disagreement ever compiles (or if
 * define() stopped inferring, which would make these lines error-free). The test at the end checks
 * at run time the one promise the types add to the schema: defaulted properties are present.
 */
import Fastify, { type FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { define } from '../../gateway/src/api/routes/define.js';
import * as S from '../../gateway/src/api/schemas.js';

const app = Fastify();
afterAll(() => app.close());

const base = { operationId: 'typesOnly', summary: 'type checks', tags: ['test'], permission: 'read' as const };

// Body: the handler sees the schema's property types, and only its properties.
define(app, {
  ...base,
  method: 'POST',
  url: '/body/:propertyId',
  params: S.params.property,
  body: S.unitCreate,
  response: { 201: S.unit },
  handler: (req) => {
    const name: string = req.body.name;
    const id: number = req.params.propertyId;
    // @ts-expect-error the schema says name is a string
    const wrong: number = req.body.name;
    // @ts-expect-error the schema has no such field (and rejects it: additionalProperties false)
    void req.body.nmae;
    // @ts-expect-error path ids are numbers once validated
    const text: string = req.params.propertyId;
    // @ts-expect-error the route has no querystring schema, so no query fields
    void req.query.limit;
    void [name, id, wrong, text];
    return { id: 1, propertyId: id, name, createdAt: '2026-01-01T00:00:00.000Z' };
  },
});

// A handler annotated with a hand-written request type that disagrees with the schema.
define(app, {
  ...base,
  method: 'POST',
  url: '/annotated',
  body: S.unitCreate,
  response: { 200: S.affected },
  // @ts-expect-error the annotation says name is a number; the schema validates a string
  handler: (req: FastifyRequest<{ Body: { name: number } }>) => ({ affectedDoors: [req.body.name] }),
});

// Replies: a body that does not match any success response schema.
define(app, {
  ...base,
  method: 'GET',
  url: '/reply',
  response: { 200: S.affected },
  // @ts-expect-error affectedDoors is an array of ids, not a string
  handler: () => ({ affectedDoors: 'none' }),
});

// Query defaults: a property with a default is present for the handler; one without may be absent.
define(app, {
  ...base,
  method: 'GET',
  url: '/query',
  querystring: S.pageQuery,
  response: { 200: Type.Object({ offset: Type.Integer(), limit: S.nullable(Type.Integer()) }) },
  handler: (req) => {
    const offset: number = req.query.offset;
    // @ts-expect-error limit has no default: it may be missing
    const limit: number = req.query.limit;
    void limit;
    return { offset, limit: req.query.limit ?? null };
  },
});

describe('route types inferred from schemas', () => {
  it('a defaulted query property is there when the client leaves it out (useDefaults), as Validated<> says', async () => {
    const res = await app.inject({ method: 'GET', url: '/query' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ offset: 0, limit: null });
  });
});
