/// <reference lib="dom" />
/**
 * `npx tsx --conditions=@latchkit/source scripts/console-load.ts [units]`: how long the console's doors page takes to show its
 * first page in headless Chromium for a demo property of that many units (default 10,000), and
 * a page change and a search after it. Prints JSON.
 */
import os from 'node:os';
import { launch, startConsoleServer } from '../test/console/browser.js';

const units = Number(process.argv[2] ?? 10_000);
const t0 = performance.now();
const server = await startConsoleServer(units);
const buildMs = performance.now() - t0;
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const timed = async (fn: () => Promise<unknown>): Promise<number> => {
    const t = performance.now();
    await fn();
    return Math.round(performance.now() - t);
  };
  const firstPage = await timed(async () => {
    await page.goto(`${server.url}/?token=${server.token}#/doors`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('[data-testid=doors] tbody tr');
  });
  const paint = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('paint').map((p) => [p.name, Math.round(p.startTime)])));
  const firstRow = await page.$eval('[data-testid=doors] tbody tr td', (td) => td.textContent);
  const nextPage = await timed(async () => {
    await page.click('nav.pager button:last-child');
    await page.waitForFunction((before: string | null) => document.querySelector('[data-testid=doors] tbody tr td')?.textContent !== before, {}, firstRow);
  });
  const search = await timed(async () => {
    await page.type('label.search input', '500T');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=doors] tbody tr').length === 1);
  });
  process.stdout.write(
    `${JSON.stringify({ units, doors: server.world.doors.size, worldBuildS: Number((buildMs / 1000).toFixed(1)), doorsFirstPageMs: firstPage, paint, nextPageMs: nextPage, searchMs: search, machine: `${os.cpus().length} x ${os.cpus()[0]?.model}` }, null, 2)}\n`,
  );
} finally {
  await browser.close();
  await server.close();
}
