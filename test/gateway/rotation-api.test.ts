/**
 * POST …/issuer-rotation over HTTP: with no body the gateway makes and seals the next key; with
 * `nextPublicKey` it registers the key an external signer holds, public half only, so a
 * signer-held property can rotate through the API too (README "Plugging a KMS signer").
 */
import { describe, expect, it } from 'vitest';
import { keyId, signingKeyFromSeed, toHex } from '@latchkit/protocol';
import * as g from '../../gateway/src/index.js';
import { apiFixturesClosedAfterEach } from './api-helpers.js';

const api = apiFixturesClosedAfterEach();
const issuerRow = (db: g.Db, kid: string) =>
  db.prepare('SELECT status, secret_sealed IS NOT NULL AS sealed FROM issuer_keys WHERE kid = ?').get(kid) as { status: string; sealed: number } | undefined;

describe('issuer rotation through the API', () => {
  it('registers the public key a signer holds (no secret enters the store)', async () => {
    const a = await api();
    g.activeIssuer(a.db, a.prop.id, { ctx: a.ctx }); // the property's first key, made on first use
    const next = signingKeyFromSeed(new Uint8Array(32).fill(7));
    const r = await a.call('portfolio', 'POST', `${a.base}/issuer-rotation`, { nextPublicKey: toHex(next.publicKey) });
    expect(r).toMatchObject({ status: 200, body: { kid: toHex(keyId(next.publicKey)) } });
    expect(issuerRow(a.db, r.body.kid)).toEqual({ status: 'pending', sealed: 0 });
  });

  it('makes and seals the next key itself with no body, or an empty one', async () => {
    for (const payload of [undefined, {}]) {
      const a = await api();
      g.activeIssuer(a.db, a.prop.id, { ctx: a.ctx }); // the property's first key, made on first use
      const r = await a.call('portfolio', 'POST', `${a.base}/issuer-rotation`, payload);
      expect(r.status).toBe(200);
      expect(issuerRow(a.db, r.body.kid)).toEqual({ status: 'pending', sealed: 1 });
    }
  });

  it('refuses a next key that is not 32 bytes of hex, and stores nothing', async () => {
    const a = await api();
    g.activeIssuer(a.db, a.prop.id, { ctx: a.ctx }); // the property's first key, made on first use
    const count = () => (a.db.prepare('SELECT count(*) AS n FROM issuer_keys').get() as { n: number }).n;
    const before = count();
    expect(await a.call('portfolio', 'POST', `${a.base}/issuer-rotation`, { nextPublicKey: 'zz'.repeat(32) })).toMatchObject({ status: 400, code: 'INVALID_PUBLIC_KEY' });
    expect(await a.call('portfolio', 'POST', `${a.base}/issuer-rotation`, { nextPublicKey: 'ab' })).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await a.call('portfolio', 'POST', `${a.base}/issuer-rotation`, { nextKey: 'ab'.repeat(32) })).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(count()).toBe(before);
  });
});
