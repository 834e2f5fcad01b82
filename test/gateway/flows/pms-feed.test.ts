/**
 * The PMS boundary: the file and HTTP feed adapters against real files and a real HTTP server on
 * 127.0.0.1, timeouts, garbage, and overlapping pulls. "Nothing half-applied": a failed pull
 * changes no person, no mirror row, no suggestion and not the last sync time.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as g from '../../../gateway/src/index.js';
import { codeOf, tempDir } from '../helpers.js';
import { f, jane, pmsFixture, type PmsFixture } from './flow-helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function dir(): string {
  const d = tempDir();
  cleanups.push(d.cleanup);
  return d.dir;
}

async function served(t: PmsFixture) {
  const s = await t.pms.listen();
  cleanups.push(() => s.close());
  f.configureIntegration(t.db, t.prop.id, { feedKind: 'http', feedSource: s.url, timeoutMs: 300 }, t.ctx);
  return s;
}

const state = (t: PmsFixture) => ({
  people: t.db.prepare('SELECT * FROM people ORDER BY id').all(),
  mirror: t.db.prepare('SELECT * FROM pms_residents ORDER BY external_ref').all(),
  suggestions: t.db.prepare('SELECT * FROM access_suggestions ORDER BY id').all(),
  lastSyncAt: f.getIntegration(t.db, t.prop.id).lastSyncAt,
});

describe('PMS feed adapters', () => {
  it('file feed: reads the JSON file the PMS export writes; a missing file or non-JSON is a failed pull', async () => {
    const t = pmsFixture();
    const file = join(dir(), 'feed.json');
    writeFileSync(file, JSON.stringify({ residents: [{ ...jane, leaseStatus: 'current' }] }));
    f.configureIntegration(t.db, t.prop.id, { feedKind: 'file', feedSource: file }, t.ctx);
    const run = await f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx });
    expect(run.report).toMatchObject({ source: `file ${file}`, received: 1, userSync: { created: 1 } });
    writeFileSync(file, '{"residents": [');
    await expect(f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_FEED_INVALID' });
    f.configureIntegration(t.db, t.prop.id, { feedSource: join(dir(), 'missing.json') }, t.ctx);
    await expect(f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_FETCH_FAILED' });
    expect(codeOf(() => f.configureIntegration(t.db, t.prop.id, { feedKind: 'file', feedSource: 'relative/feed.json' }, t.ctx))).toBe('INVALID_ARGUMENT');
  });

  it('HTTP feed: one GET to the configured URL on 127.0.0.1; the records sync', async () => {
    const t = pmsFixture();
    const s = await served(t);
    t.pms.add({ ...jane, leaseStatus: 'current' });
    const run = await f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx });
    expect(run.report).toMatchObject({ source: `http ${s.url}`, received: 1, automatedAccess: { suggestions: 3 } });
    expect(t.pms.requests).toEqual([{ method: 'GET', url: '/feed' }]);
    expect(codeOf(() => f.configureIntegration(t.db, t.prop.id, { feedKind: 'http', feedSource: 'ftp://pms.example/feed' }, t.ctx))).toBe('INVALID_ARGUMENT');
  });

  it('a PMS that never answers times out: PMS_TIMEOUT, nothing applied, the last sync time kept', async () => {
    const t = pmsFixture();
    await served(t);
    t.pms.add({ ...jane, leaseStatus: 'current' });
    await f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx });
    t.pms.moveOut(jane.id);
    t.pms.update(jane.id, { phone: '+1 555 0999' });
    const before = state(t);
    t.pms.fail({ kind: 'hang' });
    const t0 = Date.now();
    await expect(f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(state(t)).toEqual(before);
    expect(f.listSyncRuns(t.db, t.prop.id)[0]).toMatchObject({ status: 'failed', errorCode: 'PMS_TIMEOUT' });
    // The in-process adapter is held to the same deadline even if it ignored the signal.
    const stuck: f.PmsAdapter = { description: 'stuck', fetchFeed: () => new Promise(() => undefined) };
    await expect(f.runPmsSync(t.db, t.prop.id, { adapter: stuck, ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_TIMEOUT' });
  });

  it('garbage and HTTP errors from the PMS: PMS_FEED_INVALID / PMS_FETCH_FAILED, nothing applied', async () => {
    const t = pmsFixture();
    const s = await served(t);
    t.pms.add({ ...jane, leaseStatus: 'current' });
    const before = state(t);
    t.pms.fail({ kind: 'garbage', body: '<html><body>Scheduled maintenance</body></html>' });
    await expect(f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_FEED_INVALID' });
    t.pms.fail({ kind: 'garbage', body: '{"data": []}' });
    await expect(f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_FEED_INVALID' });
    t.pms.fail({ kind: 'http_error', status: 500 });
    await expect(f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_FETCH_FAILED', message: expect.stringContaining('HTTP 500') });
    expect(state(t)).toEqual(before);
    // Connection refused: the server is gone.
    await s.close();
    await expect(f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_FETCH_FAILED' });
    // A redirect is not followed: the integration reads the one configured address.
    const redirect = createServer((_req, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end());
    await new Promise<void>((r) => redirect.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => redirect.close(() => r())));
    f.configureIntegration(t.db, t.prop.id, { feedSource: `http://127.0.0.1:${(redirect.address() as AddressInfo).port}/feed` }, t.ctx);
    await expect(f.runPmsSync(t.db, t.prop.id, { ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_FETCH_FAILED' });
    expect(state(t)).toEqual(before);
  });

  it('a body too large to be a resident feed is cut off (PMS_FEED_INVALID) instead of read into memory', async () => {
    const t = pmsFixture();
    const s = await served(t);
    for (let i = 0; i < 50; i++) t.pms.add({ id: `r-${i}`, firstName: `R${i}`, lastName: 'Doe', email: `r${i}@example.com`, leaseStatus: 'current' });
    const small = new f.HttpFeedAdapter(s.url, { maxBytes: 1024 });
    await expect(f.runPmsSync(t.db, t.prop.id, { adapter: small, ctx: t.ctx })).rejects.toMatchObject({ code: 'PMS_FEED_INVALID', message: expect.stringContaining('more than 1024 bytes') });
    expect(g.listPeople(t.db, t.prop.id, { includeExpired: true })).toEqual([]);
    await expect(f.runPmsSync(t.db, t.prop.id, { adapter: new f.HttpFeedAdapter(s.url), ctx: t.ctx })).resolves.toMatchObject({ status: 'ok' });
  });

  it('a second pull of the same property while one runs is refused (SYNC_IN_PROGRESS); the first completes', async () => {
    const t = pmsFixture();
    t.pms.add({ ...jane, leaseStatus: 'current' });
    t.pms.fail({ kind: 'delay', ms: 50 });
    const first = t.sync();
    await expect(t.sync()).rejects.toMatchObject({ code: 'SYNC_IN_PROGRESS' });
    expect((await first).status).toBe('ok');
    expect(f.listSyncRuns(t.db, t.prop.id)).toHaveLength(1);
    await expect(t.sync()).resolves.toMatchObject({ status: 'ok' });
  });

  it('an integration that is not configured, or switched off, cannot sync', async () => {
    const t = pmsFixture({ automatedAccess: false });
    const other = g.createProperty(t.db, { name: 'Other', utcOffsetMin: 0 }, t.ctx);
    await expect(f.runPmsSync(t.db, other.id, { adapter: t.pms, ctx: t.ctx })).rejects.toMatchObject({ code: 'INTEGRATION_NOT_FOUND' });
    f.configureIntegration(t.db, t.prop.id, { userSync: false }, t.ctx);
    await expect(t.sync()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(new f.PmsScheduler({ db: t.db, now: () => t.clock.t }).due()).toEqual([]);
    expect(codeOf(() => f.configureIntegration(t.db, other.id, { mode: 'automatic' }, t.ctx))).toBe('INVALID_ARGUMENT');
  });
});

