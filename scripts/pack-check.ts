/**
 * `npm run pack-check`: install the packages as a stranger would, and use them.
 *
 * npm pack every workspace (prepack builds dist/), make an empty project in a temporary
 * directory outside the repository, npm install the tarballs there (dependencies from the
 * registry), and then, with nothing from the repository on the path:
 *
 *  1. ESM: import @latchkit/protocol, round-trip a set (issue, open, delta, open) with the
 *     portable provider and with @latchkit/protocol/node, and once through an async signer;
 *  2. CommonJS: the same through require() (Node >= 20.19 loads ES modules through require);
 *  3. TypeScript: type-check a file using the package under moduleResolution node16 and bundler,
 *     with a @ts-expect-error that fails if the types were `any`;
 *  4. browser: bundle the round trip with esbuild (platform browser) and run it in a fresh
 *     node:vm context holding only what a browser has (crypto.getRandomValues, TextEncoder):
 *     no process, Buffer, require or module;
 *  5. the CLI: npx latchkit --help and npx latchkit demo --units 10 from the installed gateway,
 *     whose node_modules must hold no tsx; latchkit serve --demo, which bundles the web console
 *     from the installed files, serves /console/app.js;
 *  6. publint and @arethetypeswrong/cli (profile esm-only: the packages are ES modules only) on
 *     each tarball, with no errors.
 *
 * A tarball missing a file a consumer needs fails one of these. Options: --repo <dir> packs
 * another checkout (how the commit that added this showed it failing on the old packages),
 * --keep leaves the temporary directory for a look.
 */
import { execFileSync, spawn, type ExecFileSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const argv = process.argv.slice(2);
const repo = resolve(argv.includes('--repo') ? argv[argv.indexOf('--repo') + 1]! : join(import.meta.dirname, '..'));
const keep = argv.includes('--keep');
const tools = join(import.meta.dirname, '..'); // publint and attw are this repository's devDependencies
const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'latchkit-pack-check-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');

const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const step = (what: string): void => void process.stdout.write(`[pack-check ${elapsed()}] ${what}\n`);

function sh(cmd: string, args: string[], o: ExecFileSyncOptions & { quiet?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...o }) as string;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; status?: number };
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${err.status}):\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

/**
 * The round trip every consumer runs, as source text: the same lines go into the ES module,
 * the CommonJS script and the browser bundle. `lk` is the package, `provider` a CryptoProvider.
 */
const ROUND_TRIP = `
async function roundTrip(lk, provider, label) {
  const bytes = (n, fill) => new Uint8Array(n).fill(fill);
  const issuer = lk.signingKeyFromSeed(bytes(32, 1), provider);
  const lockId = Uint8Array.from([0x4c, 0x4b, 0, 0, 0, 0, 0, 7]);
  const contentKey = bytes(32, 2);
  const secrets = { daily: bytes(32, 3), cardMaster: bytes(32, 4) };
  const indexKey = lk.deriveIndexKey(contentKey, lockId);
  const spec = (holder, code) => ({ kind: 'doorcode', code, holder, start: null, end: null, schedule: null });
  const entries1 = lk.entriesFromSpecs([spec(1, '123456'), spec(2, '654321')], indexKey, provider);
  const common = { issuer, lockId, contentKey, secrets, issuedAt: 1795435200, provider };
  const full = lk.issueFullSet({ ...common, seq: 1, entries: entries1 });
  const lock = { lockId, anchors: [issuer.publicKey], contentKey, seq: 0, current: null, provider };
  const s1 = lk.openSetMessage(full.bytes, lock);
  if (s1.seq !== 1 || s1.set.find('doorcode', lk.doorcodeKey(indexKey, '654321')) < 0) throw new Error(label + ': full set did not open with both codes');
  const entries2 = lk.entriesFromSpecs([spec(1, '123456')], indexKey, provider);
  const delta = lk.issueDelta({ ...common, seq: 2, entries: entries2, base: { seq: 1, body: full.body } });
  const s2 = lk.openSetMessage(delta.bytes, { ...lock, seq: 1, current: s1.set });
  if (s2.kind !== 'delta' || s2.set.find('doorcode', lk.doorcodeKey(indexKey, '654321')) >= 0) throw new Error(label + ': delta did not remove the code');
  const viaSigner = await lk.issueFullSetAsync({ ...common, issuer: lk.localSigner(issuer, provider), seq: 3, entries: entries2 });
  if (lk.openSetMessage(viaSigner.bytes, { ...lock, seq: 2, current: s2.set }).seq !== 3) throw new Error(label + ': async-signed set did not open');
  return label + ': full ' + full.bytes.length + ' B, delta ' + delta.bytes.length + ' B, async-signed set ok';
}
`;

/** Checks, in order; each throws with what went wrong. */
const checks: [string, () => void | Promise<void>][] = [
  [
    'ESM import and round trip (portable and node providers)',
    () => {
      writeFileSync(
        join(app, 'esm.mjs'),
        `import * as lk from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
${ROUND_TRIP}
console.log(await roundTrip(lk, lk.nobleProvider, 'esm/portable'));
console.log(await roundTrip(lk, nodeCryptoProvider, 'esm/node'));
`,
      );
      step(sh(process.execPath, ['esm.mjs'], { cwd: app }).trim().replace(/\n/g, '; '));
    },
  ],
  [
    'CommonJS require()',
    () => {
      writeFileSync(
        join(app, 'cjs.cjs'),
        `const lk = require('@latchkit/protocol');
const { nodeCryptoProvider } = require('@latchkit/protocol/node');
${ROUND_TRIP}
(async () => {
  console.log(await roundTrip(lk, lk.nobleProvider, 'cjs/portable'));
  console.log(await roundTrip(lk, nodeCryptoProvider, 'cjs/node'));
})().catch((e) => { console.error(e); process.exitCode = 1; });
`,
      );
      // Node 20 warns that require(esm) is experimental; the warning is not the check.
      step(sh(process.execPath, ['--no-warnings', 'cjs.cjs'], { cwd: app }).trim().replace(/\n/g, '; '));
    },
  ],
  [
    'TypeScript, moduleResolution node16 and bundler',
    () => {
      writeFileSync(
        join(app, 'check.mts'),
        `import { issueFullSetAsync, localSigner, signingKeyFromSeed, type CryptoProvider, type IssuedSet, type IssuerSigner } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';

const provider: CryptoProvider = nodeCryptoProvider;
const signer: IssuerSigner = localSigner(signingKeyFromSeed(new Uint8Array(32), provider), provider);
export const pending: Promise<IssuedSet> = issueFullSetAsync({
  issuer: signer, lockId: new Uint8Array(8), contentKey: new Uint8Array(32), seq: 1, issuedAt: 0, entries: [],
  secrets: { daily: new Uint8Array(32), cardMaster: new Uint8Array(32) },
});
// Real types, not any: a sequence is a number, so this line must not type-check.
// @ts-expect-error
export const wrong: string = (await pending).seq;
`,
      );
      const base = { strict: true, noEmit: true, target: 'ES2022', lib: ['ES2022'], types: [], skipLibCheck: false };
      for (const [name, options] of [
        ['node16', { module: 'node16', moduleResolution: 'node16' }],
        ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
      ] as const) {
        writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: { ...base, ...options }, files: ['check.mts'] }, null, 2));
        sh(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `tsconfig.${name}.json`], { cwd: app });
        step(`tsc (${name}): ok`);
      }
      // The Node packages' declarations too: their public types name better-sqlite3's Database,
      // noble's and Node's, so a type package the gateway does not declare fails here (as
      // TS7016), not in a backend's strict build. A Node consumer brings @types/node itself.
      writeFileSync(
        join(app, 'check-node.mts'),
        `import { openStore, type Db } from '@latchkit/gateway';
import { LockDevice, createAir } from '@latchkit/simulator';
export const store: (path: string) => Db = (path) => openStore({ file: path });
export const device: typeof LockDevice = LockDevice;
export const air: typeof createAir = createAir;
`,
      );
      writeFileSync(
        join(app, 'tsconfig.node-packages.json'),
        JSON.stringify({ compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16', types: ['node'] }, files: ['check-node.mts'] }, null, 2),
      );
      sh(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.node-packages.json'], { cwd: app });
      step('tsc (node16, @latchkit/gateway and @latchkit/simulator declarations, skipLibCheck off): ok');
    },
  ],
  [
    'browser bundle (esbuild, platform browser) run without Node globals',
    () => {
      writeFileSync(join(app, 'browser-entry.mjs'), `import * as lk from '@latchkit/protocol';\n${ROUND_TRIP}\nglobalThis.result = roundTrip(lk, lk.nobleProvider, 'browser/portable');\n`);
      writeFileSync(
        join(app, 'browser-run.mjs'),
        `import { build } from 'esbuild';
import { createContext, runInContext } from 'node:vm';
import { webcrypto } from 'node:crypto';
const out = await build({ entryPoints: ['browser-entry.mjs'], bundle: true, platform: 'browser', format: 'iife', target: 'es2022', write: false, logLevel: 'error' });
const code = out.outputFiles[0].text;
// What a browser page has and Node-only code would need are told apart: only the former is here.
const context = createContext({ crypto: { getRandomValues: (a) => webcrypto.getRandomValues(a) }, TextEncoder, TextDecoder });
const missing = runInContext('[typeof process, typeof Buffer, typeof require, typeof module, typeof global].join()', context);
if (missing !== 'undefined,undefined,undefined,undefined,undefined') throw new Error('the sandbox leaks Node globals: ' + missing);
runInContext(code, context);
console.log((await context.result) + ' (bundle ' + Math.round(code.length / 1024) + ' KB)');
`,
      );
      step(sh(process.execPath, ['browser-run.mjs'], { cwd: app }).trim());
    },
  ],
  [
    'latchkit CLI from the installed gateway, without tsx',
    () => {
      if (existsSync(join(app, 'node_modules', 'tsx'))) throw new Error('tsx is installed in the stranger project: the check would not prove the CLI runs without it');
      const help = sh('npx', ['--no-install', 'latchkit', '--help'], { cwd: app });
      for (const command of ['demo', 'bench', 'serve', 'person']) if (!new RegExp(`^\\s+${command}\\b`, 'm').test(help)) throw new Error(`latchkit --help lists no "${command}" command:\n${help}`);
      step(`latchkit --help: ok; latchkit --version: ${sh('npx', ['--no-install', 'latchkit', '--version'], { cwd: app }).trim()}`);
      const demo = sh('npx', ['--no-install', 'latchkit', '--state-dir', join(work, 'demo'), 'demo', '--units', '10'], { cwd: app });
      const rule = demo.split('\n').find((l) => l.includes('sync-until rule'));
      if (!rule || !rule.includes('before its sync: true; after: false')) throw new Error(`latchkit demo did not show the sync-until rule:\n${demo}`);
      step(`latchkit demo --units 10: ${rule.trim()}`);
    },
  ],
  [
    'latchkit serve --demo from the installed gateway: the API and the console bundle',
    async () => {
      const stateDir = join(work, 'serve');
      const bin = join(app, 'node_modules', '@latchkit', 'gateway', 'bin', 'latchkit.js');
      const server = spawn(process.execPath, [bin, '--state-dir', stateDir, 'serve', '--demo', '10', '--port', '0'], { cwd: app, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      server.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      try {
        const serverFile = join(stateDir, 'server.json');
        const deadline = Date.now() + 60_000;
        while (!existsSync(serverFile)) {
          if (server.exitCode !== null || Date.now() > deadline) throw new Error(`latchkit serve did not start (exit ${server.exitCode}):\n${stderr}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        const { url } = JSON.parse(readFileSync(serverFile, 'utf8')) as { url: string };
        const res = await fetch(new URL('/console/app.js', url));
        const js = await res.text();
        if (res.status !== 200 || js.length < 10_000) throw new Error(`GET /console/app.js: ${res.status}, ${js.length} bytes`);
        step(`latchkit serve --demo 10: ${url}, console bundle ${Math.round(js.length / 1024)} KB`);
      } finally {
        if (server.exitCode === null && server.signalCode === null) {
          const exited = new Promise((r) => server.once('exit', r));
          server.kill('SIGTERM');
          await exited;
        }
      }
    },
  ],
  [
    'publint and @arethetypeswrong/cli on each tarball',
    () => {
      for (const t of readdirSync(tarballs)) {
        sh('npx', ['--no-install', 'publint', 'run', join(tarballs, t), '--level', 'warning'], { cwd: tools });
        // esm-only: the packages are ES modules only; CommonJS callers use require(esm) (check 2).
        sh('npx', ['--no-install', 'attw', join(tarballs, t), '--profile', 'esm-only', '--format', 'ascii'], { cwd: tools });
        step(`${t}: publint and attw ok`);
      }
    },
  ],
];

let failed = 0;
try {
  step(`packing the workspaces of ${repo} (prepack builds dist/)`);
  mkdirSync(tarballs);
  sh('npm', ['pack', '--workspaces', '--pack-destination', tarballs, '--silent'], { cwd: repo });
  const packed = readdirSync(tarballs);
  step(`packed ${packed.join(', ')}`);

  step(`installing them into an empty project in ${app} (npm registry for their dependencies)`);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'latchkit-stranger', version: '1.0.0', private: true }, null, 2));
  // TypeScript for check 3, at the version this repository builds with.
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel', 'error', ...packed.map((t) => join(tarballs, t)), 'typescript@~5.9.3', '@types/node@^20.19.0'], { cwd: app });
  step('installed');

  for (const [name, run] of checks) {
    try {
      step(`${name}`);
      await run();
    } catch (e) {
      failed += 1;
      process.stdout.write(`[pack-check] FAILED ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
} catch (e) {
  failed += 1;
  process.stdout.write(`[pack-check] FAILED: ${e instanceof Error ? e.message : String(e)}\n`);
} finally {
  if (keep) step(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
step(failed === 0 ? `all checks passed in ${elapsed()}` : `${failed} check(s) failed after ${elapsed()}`);
process.exitCode = failed === 0 ? 0 : 1;
