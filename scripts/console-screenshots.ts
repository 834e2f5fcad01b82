/// <reference lib="dom" />
/**
 * `npx tsx --conditions=@latchkit/source scripts/console-screenshots.ts`: the README's console screenshots (docs/console-*.png),
 * made the way a person would see them: a 30-unit demo world with a few Door Syncs, phone
 * unlocks and a revoke not yet synced at an offline door, in headless Chromium.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as g from '../gateway/src/index.js';
import { launch, startConsoleServer, waitText } from '../test/console/browser.js';

const out = join(import.meta.dirname, '..', 'docs');
mkdirSync(out, { recursive: true });
const server = await startConsoleServer(30);
const browser = await launch();
try {
  const { demo, world } = server;
  const pid = demo.propertyId;
  const gw = world.gateways.get('gw-1')!;
  await gw.pushPending(pid);
  for (const d of demo.unitDoors) await g.doorSync(world, pid, d.id);
  const victim = demo.residents.find((r) => r.unitDoorId === demo.unitDoors[0]!.id)!;
  const roommate = demo.residents.find((r) => r !== victim && r.unitDoorId === victim.unitDoorId) ?? victim;
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  await page.goto(`${server.url}/?token=${server.token}#/doors`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-testid=doors] tbody tr');
  // Activity the chart and feeds show: unlocks at the entrances, a keypad denial, a revoke.
  for (let i = 0; i < 6; i++) await g.phoneUnlock(world, pid, demo.online[i % 2]!.id, demo.residents[i]!.personId);
  g.keypad(world, pid, demo.online[0]!.id, '000000');
  g.revokeAllKeys(server.db, victim.personId, world.ctx('manager'));
  const newcomer = g.invitePerson(server.db, pid, { email: 'new@maple.example', firstName: 'Nia', lastName: 'Ngata', accessType: 'app', isResident: true, mayShare: false, keyIds: [(server.db.prepare("SELECT id FROM keys WHERE name = 'Unit 2C'").get() as { id: number }).id] }, world.ctx('manager'));
  void newcomer;
  await gw.pushPending(pid);
  await g.phoneUnlock(world, pid, demo.unitDoors[1]!.id, demo.residents.find((r) => r.unitDoorId === demo.unitDoors[1]!.id)!.personId);
  void roommate;
  await new Promise((r) => setTimeout(r, 1500));
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-testid=doors] tbody tr');
  await new Promise((r) => setTimeout(r, 500));
  await page.screenshot({ path: join(out, 'console-doors.png') });
  await page.evaluate((d: number) => (location.hash = `#/doors/${d}`), victim.unitDoorId);
  await waitText(page, '[data-testid=credentials]', /on the lock until the next sync/);
  await page.type('form[data-testid=keypad] input[name=code]', g.personDoorcode(server.db, victim.personId)!);
  await page.click('form[data-testid=keypad] button[type=submit]');
  await waitText(page, '[data-testid=attempt-results]', /GRANTED/);
  await page.screenshot({ path: join(out, 'console-door.png'), fullPage: true });
  process.stdout.write(`wrote ${join(out, 'console-doors.png')} and console-door.png\n`);
} finally {
  await browser.close();
  await server.close();
}
