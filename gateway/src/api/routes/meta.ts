import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import { define } from './define.js';
import { createToken, listTokens, revokeToken } from '../../model/tokens.js';
import { tokenView } from '../../views.js';
import { schemaVersion } from '../../store/migrations.js';

export function registerMetaRoutes(app: FastifyInstance, { db, ctxFor }: AppContext): void {
  app.get(
    '/health',
    { config: { public: true }, schema: { operationId: 'health', summary: 'Liveness and schema version', tags: ['meta'], querystring: S.noQuery, response: { 200: S.health } } },
    async () => ({ ok: true, schemaVersion: schemaVersion(db) }),
  );

  define(app, {
    method: 'GET',
    url: '/me',
    operationId: 'whoAmI',
    summary: 'The calling token: its name, role, Key Management permission and property scope (what a console shows or hides)',
    tags: ['tokens'],
    permission: 'read',
    response: { 200: S.obj({ tokenId: S.idSchema, name: Type.String(), role: Type.String(), keyManagement: Type.Boolean(), propertyId: S.nullable(Type.Integer()) }) },
    handler: (req) => {
      const p = req.principal!;
      // A portfolio manager may change access everywhere; a read-only token nowhere.
      return { tokenId: p.tokenId, name: p.name, role: p.role, keyManagement: p.role === 'read_only' ? false : p.role === 'portfolio_manager' ? true : p.keyManagement, propertyId: p.propertyId };
    },
  });

  define(app, {
    method: 'GET',
    url: '/tokens',
    operationId: 'listTokens',
    summary: 'List API tokens (never their secrets)',
    tags: ['tokens'],
    permission: 'portfolio',
    querystring: S.pageQuery,
    response: { 200: S.arrayOf(S.token) },
    // Few tokens per store: paged in memory, like units and keys.
    handler: (req, reply) => S.pageOf(reply, listTokens(db).map(tokenView), req.query),
  });

  define(app, {
    method: 'POST',
    url: '/tokens',
    operationId: 'createToken',
    summary: 'Create an API token; the secret is returned once',
    tags: ['tokens'],
    permission: 'portfolio',
    body: S.tokenCreate,
    response: { 201: S.tokenCreated },
    handler: (req, reply) => {
      const { token, secret } = createToken(db, req.body, ctxFor(req));
      reply.code(201);
      return { token: tokenView(token), secret };
    },
  });

  define(app, {
    method: 'DELETE',
    url: '/tokens/:tokenId',
    operationId: 'revokeToken',
    summary: 'Revoke an API token',
    tags: ['tokens'],
    permission: 'portfolio',
    params: S.params.token,
    response: { 200: S.token },
    handler: (req) => tokenView(revokeToken(db, req.params.tokenId, ctxFor(req))),
  });
}
