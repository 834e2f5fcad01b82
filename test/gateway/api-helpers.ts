import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../gateway/src/api/app.js';
import * as g from '../../gateway/src/index.js';
import { afterEach } from 'vitest';
import { fixture } from './helpers.js';

/** The model fixture plus an app and one token per role (two property managers: with/without KM). */
export async function apiFixture() {
  const f = fixture();
  const other = g.createProperty(f.db, { name: 'Other Place', utcOffsetMin: 60 }, f.ctx);
  const tok = (input: g.TokenInput) => g.createToken(f.db, input, f.ctx).secret;
  const tokens = {
    portfolio: tok({ name: 'portfolio', role: 'portfolio_manager' }),
    km: tok({ name: 'pm with KM', role: 'property_manager', propertyId: f.prop.id, keyManagement: true }),
    pm: tok({ name: 'pm without KM', role: 'property_manager', propertyId: f.prop.id, keyManagement: false }),
    readOnly: tok({ name: 'auditor', role: 'read_only' }),
    otherPm: tok({ name: 'pm elsewhere', role: 'property_manager', propertyId: other.id, keyManagement: true }),
  };
  const app: FastifyInstance = await buildApp({ db: f.db, now: () => f.clock.t });
  const call = async (as: keyof typeof tokens | null, method: InjectOptions['method'], url: string, payload?: unknown) => {
    const res = await app.inject({
      method,
      url,
      headers: as === null ? {} : { authorization: `Bearer ${tokens[as]}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    const body = res.body === '' ? undefined : JSON.parse(res.body);
    return { status: res.statusCode, body, code: body?.error?.code as string | undefined };
  };
  return { ...f, other, tokens, app, call, base: `/properties/${f.prop.id}` };
}

/**
 * An `apiFixture` maker for a test file whose fixtures are closed after each test (app, then
 * store). Call it at module scope: it registers the afterEach.
 */
export function apiFixturesClosedAfterEach(): () => ReturnType<typeof apiFixture> {
  const open: Awaited<ReturnType<typeof apiFixture>>[] = [];
  afterEach(async () => {
    for (let a = open.pop(); a; a = open.pop()) {
      await a.app.close();
      a.db.close();
    }
  });
  return async () => {
    const a = await apiFixture();
    open.push(a);
    return a;
  };
}
