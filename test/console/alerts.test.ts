/// <reference lib="dom" />
/**
 * The console's Alerts page in a real Chromium: Automated Access suggestions from a PMS pull
 * (the simulated PMS, a boundary we do not own) show with the count on the tab; approving them
 * applies them, and the count drops to what is left.
 */
import { describe, expect, it } from 'vitest';
import * as g from '../../gateway/src/index.js';
import * as f from '../../gateway/src/flows/index.js';
import { consolePerFile, screenshot, waitText } from './browser.js';

const env = consolePerFile(10);

describe('console alerts', () => {
  it('shows pending Automated Access suggestions with their count, and approving applies them', async () => {
    const { db, world, demo } = env.server;
    const pid = demo.propertyId;
    const ctx = world.ctx('test');
    f.configureIntegration(db, pid, { feedKind: 'http', feedSource: 'http://127.0.0.1:1/feed', automatedAccess: true }, ctx);
    const pms = new f.SimulatedPms({ now: world.clock.now });
    pms.add({ id: 't-1', firstName: 'Pat', lastName: 'Moss', email: 'pat@maple.example', phone: null, unit: '1B', leaseStatus: 'current' });
    await f.runPmsSync(db, pid, { adapter: pms, ctx });
    const pending = f.listSuggestions(db, pid, { state: 'pending' });
    expect(pending.length).toBeGreaterThan(0);
    const counted = pending.filter((s) => s.color !== 'grey').length;

    const page = await env.browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${env.server.url}/?token=${env.server.token}#/alerts`, { waitUntil: 'domcontentloaded' });
    await waitText(page, '[data-testid=alert-count]', new RegExp(`^${counted}$`));
    await waitText(page, 'ul.suggestions', /Pat Moss: grant/);
    await screenshot(page, 'alerts-pending');
    for (const box of await page.$$('ul.suggestions input[type=checkbox]')) await box.click();
    const approve = await page.waitForSelector('xpath/.//button[contains(., "Update Access")]');
    await approve!.click();
    await waitText(page, 'main', /No pending suggestions/);
    await waitText(page, '[data-testid=alert-count]', /^0$/);
    const pat = f.personByExternalRef(db, pid, 't-1')!;
    expect(g.listGrants(db, pat.id).length).toBe(pending.filter((s) => s.action === 'grant').length);
    await page.close();
  }, 90_000);
});
