/// <reference lib="dom" />
/**
 * What the console's browser tests share: a real headless Chromium (Debian's `chromium`, or the
 * binary named by LATCHKIT_CHROMIUM), a listening server with the world and the console, and
 * small waits on what the page shows.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll } from 'vitest';
import * as g from '../../gateway/src/index.js';
import { openDemoWorld } from '../e2e/demo-world.js';

export const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'out');

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The browser binary, or an error that says how to get one (never a silent skip). */
export function chromiumPath(): string {
  const fromEnv = process.env['LATCHKIT_CHROMIUM'];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`LATCHKIT_CHROMIUM=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      'The console tests need a Chromium: install Debian\'s package (`sudo apt-get install chromium`; .ci/run does this on CI) ' +
        `or point LATCHKIT_CHROMIUM at a Chrome/Chromium binary. Looked in: ${CANDIDATES.join(', ')}`,
    );
  }
  return found;
}

export async function launch(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--headless=new'],
  });
}

export interface ConsoleServer {
  url: string;
  db: g.Db;
  world: g.World;
  app: Awaited<ReturnType<typeof g.buildApp>>;
  demo: g.DemoProperty;
  token: string;
  tokenFor(input: g.TokenInput): string;
  close(): Promise<void>;
}

/** A demo property of `units` units in a running world, the API and the console on a real port. */
export async function startConsoleServer(units: number): Promise<ConsoleServer> {
  const w = await openDemoWorld({ units, seed: 2 });
  const { db, world, demo } = w;
  const app = await g.buildApp({ db, world, console: true });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const tokenFor = (input: g.TokenInput): string => g.createToken(db, input, world.ctx('test')).secret;
  const token = tokenFor({ name: 'console manager', role: 'property_manager', propertyId: demo.propertyId, keyManagement: true });
  return {
    url,
    db,
    world,
    app,
    demo,
    token,
    tokenFor,
    close: async () => {
      await app.close();
      await w.close();
    },
  };
}

/** Wait until the element's text matches. */
export async function waitText(page: Page, selector: string, pattern: RegExp, timeout = 15_000): Promise<string> {
  const handle = await page.waitForFunction(
    (sel: string, source: string, flags: string) => {
      const el = document.querySelector(sel);
      return el && new RegExp(source, flags).test(el.textContent ?? '') ? el.textContent : null;
    },
    { timeout },
    selector,
    pattern.source,
    pattern.flags,
  );
  return (await handle.jsonValue()) as string;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUT_DIR, { recursive: true });
  const path = join(OUT_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

export async function go(page: Page, url: string, hash: string): Promise<void> {
  await page.evaluate((h: string) => (location.hash = h), hash);
  void url;
}

/**
 * One Chromium and one console server for a test file: call at module scope (it registers the
 * beforeAll and afterAll); `env.browser` and `env.server` are set once the beforeAll ran.
 */
export function consolePerFile(units: number): { browser: Browser; server: ConsoleServer } {
  const env = {} as { browser: Browser; server: ConsoleServer };
  beforeAll(async () => {
    env.browser = await launch();
    env.server = await startConsoleServer(units);
  }, 120_000);
  afterAll(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}
