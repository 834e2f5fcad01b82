/**
 * `npm run bench -- signer [--quick] [--check]` (also `latchkit bench signer`)
 *
 * Compile and sign every door of a 1,000-unit property (the scale generator's; 200 units with
 * --quick) four ways, each on its own copy of the same commissioned store:
 *
 * - `in_process`: compileDirty, the issuer key in this process (the default);
 * - `async_in_process`: compileDirtyAsync with that same key as an IssuerSigner (the cost of
 *   the async path itself);
 * - `worker_5ms`: compileDirtyAsync with the key in a worker thread (a non-extractable
 *   WebCrypto key, bench/worker-signer.ts) that adds 5 ms before every signature, as a KMS
 *   round trip would; signatures requested 64 doors at a time;
 * - `worker_5ms_one_at_a_time` (not with --quick): the same signer with batches of one door,
 *   i.e. what the compile would cost without batching.
 *
 * A warm-up compile on another copy runs first (reported as warmup_wall_ms only). Wall-clock ms are reported, never judged; --check judges that every door was compiled and
 * signed in every mode and that no signature failed.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setCryptoProvider } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import * as g from '../gateway/src/index.js';
import { KEK_FILE_NAME } from '../gateway/src/store/key-encryption.js';
import type { BenchOptions } from './run.js';
import { buildProperty, commissionAll, FIXED_NOW_MS } from './scale/generator.js';
import { startWorkerSigner } from './worker-signer.js';

const LATENCY_MS = 5;

export async function run(o: BenchOptions): Promise<object> {
  setCryptoProvider(nodeCryptoProvider);
  const units = o.quick ? 200 : 1_000;
  const root = mkdtempSync(join(os.tmpdir(), 'latchkit-bench-signer-'));
  const ctx: g.Ctx = { actor: 'bench', now: () => FIXED_NOW_MS };
  try {
    o.log(`building and commissioning a ${units}-unit property`);
    const template = join(root, 'template');
    const db0 = g.openStore({ stateDir: template });
    const p = buildProperty(db0, { units });
    await commissionAll(db0, p);
    const propertyId = p.propertyId;
    const issuer = g.issuerFor(db0, propertyId);
    const doors = g.listDoors(db0, propertyId).length;
    db0.close();

    /** A fresh copy of the commissioned store, every door still to compile. */
    let copies = 0;
    const copy = (): g.Db => {
      const dir = join(root, `copy-${copies++}`);
      mkdirSync(dir);
      copyFileSync(join(template, g.DB_FILE_NAME), join(dir, g.DB_FILE_NAME));
      copyFileSync(join(template, KEK_FILE_NAME), join(dir, KEK_FILE_NAME));
      return g.openStore({ stateDir: dir });
    };
    const timed = async (name: string, f: (db: g.Db) => Promise<{ compiled: number; failed: number; signed: number }>) => {
      const db = copy();
      try {
        const t0 = performance.now();
        const r = await f(db);
        const wall_ms = Math.round(performance.now() - t0);
        o.log(`  ${name}: ${r.compiled} doors in ${wall_ms} ms`);
        return { wall_ms, doors_compiled: r.compiled, signatures: r.signed, failed: r.failed };
      } finally {
        db.close();
      }
    };

    // The first compile in a process runs cold (JIT, page cache): done once and reported apart,
    // so the order of the modes below does not favour the later ones.
    const warmup = await timed('warm-up (compileDirty, not compared)', async (db) => {
      const n = g.compileDirty(db, { ctx, propertyId }).length;
      return { compiled: n, failed: 0, signed: n };
    });
    const in_process = await timed('in-process key (compileDirty)', async (db) => {
      const n = g.compileDirty(db, { ctx, propertyId }).length;
      return { compiled: n, failed: 0, signed: n };
    });
    const async_in_process = await timed('in-process key as an async signer', async (db) => {
      const r = await g.compileDirtyAsync(db, { ctx, propertyId });
      return { compiled: r.compiled.length, failed: r.failed.length, signed: r.compiled.length };
    });
    const worker = async (batch: number) => {
      const signer = await startWorkerSigner({ seed: issuer.seed, latencyMs: LATENCY_MS });
      try {
        return await timed(`worker-thread signer, ${LATENCY_MS} ms added latency, batches of ${batch}`, async (db) => {
          const r = await g.compileDirtyAsync(db, { ctx, propertyId, signerFor: () => signer, batch });
          return { compiled: r.compiled.length, failed: r.failed.length, signed: signer.signed };
        });
      } finally {
        await signer.close();
      }
    };
    const worker_5ms = await worker(64);
    const worker_5ms_one_at_a_time = o.quick ? null : await worker(1);

    const result = {
      scenario: 'signer',
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
      units,
      doors,
      signer_latency_ms: LATENCY_MS,
      batch: 64,
      warmup_wall_ms: warmup.wall_ms,
      in_process,
      async_in_process,
      worker_5ms,
      worker_5ms_one_at_a_time,
      provider: 'node',
    };
    if (o.check) {
      for (const [name, r] of Object.entries({ in_process, async_in_process, worker_5ms, ...(worker_5ms_one_at_a_time ? { worker_5ms_one_at_a_time } : {}) })) {
        if (r.doors_compiled !== doors || r.signatures !== doors || r.failed !== 0) {
          throw new Error(`signer check: ${name} compiled ${r.doors_compiled} of ${doors} doors with ${r.signatures} signatures and ${r.failed} failures`);
        }
      }
    }
    return result;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
