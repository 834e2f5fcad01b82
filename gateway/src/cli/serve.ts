/**
 * `latchkit serve`: the HTTP API over the store, and with `--radio virtual` the running world of
 * every door in it (locks, gateway radios, phones; gateway/src/world). Writes
 * `<state-dir>/server.json` (its URL and pid) while it listens, so the `sim` and `events`
 * commands find it; `--demo` also writes a manager token to `<state-dir>/demo-token` (mode 0600).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SignerResolver } from '../compiler/index.js';
import type { Db } from '../store/db.js';
import { storeKek } from '../store/key-encryption.js';
import { GatewayError } from '../errors.js';
import { one } from '../model/base.js';
import { createToken, listTokens, revokeToken } from '../model/tokens.js';
import type { CliIo } from './main.js';
import { untilSignal } from './args.js';

export const SERVER_FILE = 'server.json';
export const DEMO_TOKEN_FILE = 'demo-token';

export interface ServeOptions {
  io: CliIo;
  json: boolean;
  stateDir: string;
  port: number;
  host: string;
  log: boolean;
  radio: 'virtual' | 'hci' | null;
  /** Seed the demo property of this many units into a store that has no property. */
  demoUnits: number | null;
  gatewayName: string;
  syncIntervalMs: number;
  collectIntervalMs: number;
  pms: boolean;
  /** Queue each day's daily-code messages (DailyMessageScheduler); default on. */
  dailyMessages?: boolean;
  /** `--signer <module>`: the issuer signer of properties whose key an external signer holds (loadSigner). */
  signerModule?: string;
}

export interface SignerModule {
  signerFor: SignerResolver;
  close?: () => Promise<void> | void;
}

/**
 * Loads `serve --signer <module>`: an ES module exporting `signerFor(issuer)`, which answers the
 * IssuerSigner of a property's key (a KMS client, a signing process) or undefined for a key the
 * store holds, and optionally `close()`, called when the server stops. The module sets itself up
 * (top-level await); the server gives `signerFor` to its gateways, its world and its API.
 */
export async function loadSigner(file: string): Promise<SignerModule> {
  let mod: { signerFor?: unknown; close?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as typeof mod;
  } catch (e) {
    throw new GatewayError('INVALID_ARGUMENT', `--signer ${file} could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof mod.signerFor !== 'function') throw new GatewayError('INVALID_ARGUMENT', `--signer ${file} must export a function signerFor(issuer) that returns an IssuerSigner or undefined`);
  if (mod.close !== undefined && typeof mod.close !== 'function') throw new GatewayError('INVALID_ARGUMENT', `--signer ${file}: its export close must be a function`);
  return { signerFor: mod.signerFor as SignerResolver, ...(mod.close ? { close: mod.close as () => Promise<void> | void } : {}) };
}

export async function serve(d: Db, o: ServeOptions): Promise<void> {
  const { io } = o;
  const { buildApp } = await import('../api/app.js');
  const { SyncEngine } = await import('../sync/engine.js');
  const { PmsScheduler } = await import('../flows/pms/scheduler.js');
  // Everything started is torn down in reverse order, also when a later step fails (a port in
  // use must not leave radios, locks, timers and the store open).
  const teardown: (() => Promise<void> | void)[] = [
    () => {
      d.close();
    },
  ];
  try {
    const signer = o.signerModule ? await loadSigner(o.signerModule) : null;
    if (signer?.close) teardown.push(signer.close);
    const signing = signer ? { signerFor: signer.signerFor } : {};
    let world: import('../world/world.js').World | null = null;
    let demoToken: string | null = null;
    if (o.radio === 'virtual') {
      const { World } = await import('../world/world.js');
      world = await World.open({
        db: d,
        stateDir: o.stateDir,
        gatewayName: o.gatewayName,
        syncIntervalMs: o.syncIntervalMs,
        collectIntervalMs: o.collectIntervalMs,
        ...signing,
        log: (line) => (line.includes('failed') ? io.err(line) : io.out(line)),
      });
      const w = world;
      teardown.push(() => w.close());
      if (o.demoUnits !== null) demoToken = await prepareDemo(d, w, o);
    }
    const engine =
      o.radio === 'hci'
        ? await (async () => {
            const sim = await import('@latchkit/simulator');
            const radio = await sim.openRadio({ radio: 'hci' });
            teardown.push(() => radio.close());
            return SyncEngine.create({
              db: d,
              radio,
              name: o.gatewayName,
              ...signing,
              onProgress: (e) => {
                if (e.kind === 'done' && e.result.action === 'synced') io.out(`${o.gatewayName} synced door ${e.result.doorId}: ${e.result.sent ?? 'commissioned'} seq ${e.result.seq}, ${e.result.bytes} B`);
                else if (e.kind === 'failed') io.err(`${o.gatewayName}: sync of door ${e.doorId} failed: ${e.code}: ${e.message}`);
              },
            });
          })()
        : null;
    if (engine) {
      teardown.push(() => engine.close());
      engine.start(o.syncIntervalMs);
    }
    const app = await buildApp({ db: d, logger: o.log ? { level: 'info' } : false, console: true, ...(world ? { world } : {}), ...signing });
    teardown.push(() => app.close());
    const address = await app.listen({ port: o.port, host: o.host });
    const serverFile = join(o.stateDir, SERVER_FILE);
    writeFileSync(serverFile, `${JSON.stringify({ url: address, pid: process.pid }, null, 2)}\n`);
    teardown.push(() => {
      // Only our own: a second server on the same state directory may have replaced it.
      if (existsSync(serverFile) && (JSON.parse(readFileSync(serverFile, 'utf8')) as { pid: number }).pid === process.pid) rmSync(serverFile, { force: true });
    });
    const pms = o.pms
      ? new PmsScheduler({
          db: d,
          onResult: (r) => {
            if (r.error) io.err(`PMS pull for property ${r.propertyId} failed: ${(r.error as GatewayError).code ?? 'INTERNAL'}: ${r.error.message}`);
          },
        })
      : null;
    if (pms) {
      teardown.push(() => pms.stop());
      pms.start();
    }
    if (o.dailyMessages !== false) {
      const { DailyMessageScheduler } = await import('../flows/notifications.js');
      // On the world's clock when there is one, so "advance a day" queues the next day's messages.
      const daily = new DailyMessageScheduler({
        db: d,
        ...(world ? { ctx: world.ctx('serve') } : {}),
        onResult: (r) => {
          if (r.error) io.err(`daily messages for property ${r.propertyId} failed: ${(r.error as GatewayError).code ?? 'INTERNAL'}: ${r.error.message}`);
        },
      });
      teardown.push(() => daily.stop());
      daily.start();
    }
    const doors = world?.doors.size ?? 0;
    const extra = world
      ? `, the simulated world on the virtual radio: ${doors} locks, gateway radios ${[...world.gateways.keys()].join(', ') || '(none yet)'}, the manager's phone`
      : engine
        ? `, sync engine ${o.gatewayName} on the hci radio`
        : '';
    if (o.json) io.out(JSON.stringify({ listening: address, stateDir: o.stateDir, radio: o.radio, locks: doors, ...(demoToken ? { console: `${address}/?token=${demoToken}`, token: demoToken } : {}) }));
    else {
      io.out(`latchkit gateway listening on ${address} (state: ${o.stateDir})${extra}`);
      if (demoToken) {
        io.out(`demo manager token (Key Management): ${demoToken} (also in ${join(o.stateDir, DEMO_TOKEN_FILE)})`);
        io.out(`console: ${address}/?token=${demoToken}`);
        // The store opened before serve started created the key file if none was configured.
        const kek = storeKek(d);
        if (kek?.file) io.out(`issuer keys encrypted with the key-encryption key in ${kek.file}${kek.source === 'created' ? ' (created now, mode 0600)' : ''}: back it up with the store`);
      } else io.out(`console: ${address}/ (log in with an API token)`);
    }
    // The gateway loops start once the server has said where it listens (its log lines follow).
    world?.start();
    await (io.untilStopped ?? untilSignal)();
  } finally {
    for (const stop of teardown.reverse()) await stop();
  }
}

/** The demo property (only into a store without one) and a manager token for it. */
async function prepareDemo(d: Db, world: import('../world/world.js').World, o: ServeOptions): Promise<string> {
  const { seedDemoProperty } = await import('../world/demo-property.js');
  const existing = one<{ id: number }>(d, 'SELECT id FROM properties ORDER BY id LIMIT 1');
  let propertyId: number;
  if (existing) propertyId = existing.id;
  else {
    propertyId = seedDemoProperty(d, world, { units: o.demoUnits!, seed: 1 }).propertyId;
    await world.refresh();
    o.io.out(`demo property ${propertyId}: ${o.demoUnits} units, ${world.doors.size} doors (locks are factory-new: the gateway commissions the online doors, a Door Sync each unit door)`);
  }
  // One demo token at a time: the one a restart replaces stops working.
  for (const t of listTokens(d)) if (t.name === 'demo-manager' && t.revokedAt === null) revokeToken(d, t.tokenId, world.ctx('serve --demo'));
  const { secret } = createToken(d, { name: 'demo-manager', role: 'property_manager', propertyId, keyManagement: true }, world.ctx('serve --demo'));
  writeFileSync(join(o.stateDir, DEMO_TOKEN_FILE), `${secret}\n`, { mode: 0o600 });
  return secret;
}
