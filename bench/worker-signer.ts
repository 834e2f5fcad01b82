/**
 * An issuer signer in a worker thread, standing in for a KMS or an HSM: the private key is a
 * non-extractable WebCrypto Ed25519 key that exists only inside the worker (generated there, or
 * imported there from a seed and never exported again), and every signature costs a round trip
 * plus an optional added latency, as a network signer would.
 *
 * Used by the signer benchmark (bench/signer.ts: compile time with a 5 ms signer) and by the
 * tests of the async signing path. Requests are independent, so concurrent ones overlap their
 * latency exactly as concurrent KMS calls do.
 */
import { Worker } from 'node:worker_threads';
import { keyId, signingKeyFromSeed, type IssuerSigner } from '@latchkit/protocol';

export interface WorkerSigner extends IssuerSigner {
  /** Asks the worker to export its private key; true only if WebCrypto allowed it (it must not). */
  privateKeyExportable(): Promise<boolean>;
  /** Signature requests answered so far. */
  readonly signed: number;
  close(): Promise<void>;
}

export interface WorkerSignerOptions {
  /** Import this 32-byte seed (the gateway store's issuer key) instead of generating a key. */
  seed?: Uint8Array;
  /** Added delay before each signature, in ms (a KMS round trip). */
  latencyMs?: number;
  /** Test hook: the worker rejects every signature request with this message. */
  failWith?: string;
}

// Plain JavaScript, run with `eval`: the worker needs no loader, in the repository or installed.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { subtle } = globalThis.crypto;
// PKCS#8 prefix of a raw Ed25519 seed (RFC 8410).
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const ready = (async () => {
  if (workerData.seed) {
    const privateKey = await subtle.importKey('pkcs8', Buffer.concat([PKCS8, Buffer.from(workerData.seed)]), { name: 'Ed25519' }, false, ['sign']);
    return { privateKey, publicKey: null };
  }
  const pair = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(await subtle.exportKey('raw', pair.publicKey)) };
})();
parentPort.on('message', async ({ id, op, message }) => {
  try {
    const key = await ready;
    if (op === 'publicKey') return parentPort.postMessage({ id, value: key.publicKey });
    if (op === 'export') {
      try { await subtle.exportKey('pkcs8', key.privateKey); return parentPort.postMessage({ id, value: true }); }
      catch { return parentPort.postMessage({ id, value: false }); }
    }
    if (workerData.latencyMs > 0) await new Promise((r) => setTimeout(r, workerData.latencyMs));
    if (workerData.failWith) throw new Error(workerData.failWith);
    const signature = new Uint8Array(await subtle.sign({ name: 'Ed25519' }, key.privateKey, message));
    parentPort.postMessage({ id, value: signature }, [signature.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
`;

export async function startWorkerSigner(options: WorkerSignerOptions = {}): Promise<WorkerSigner> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { seed: options.seed ? Array.from(options.seed) : null, latencyMs: options.latencyMs ?? 0, failWith: options.failWith ?? null },
  });
  // The worker must not keep a finished process alive; pending requests keep it referenced.
  worker.unref();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let signed = 0;
  worker.on('message', (m: { id: number; value?: unknown; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) worker.unref();
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.value);
  });
  worker.on('error', (err) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  });
  const call = (op: string, message?: Uint8Array): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, op, message });
    });

  // With a seed the caller already knows the public key; a generated key only the worker has.
  const publicKey = options.seed ? signingKeyFromSeed(options.seed).publicKey : ((await call('publicKey')) as Uint8Array);
  return {
    publicKey,
    kid: keyId(publicKey),
    sign: async (message) => {
      const signature = (await call('sign', message)) as Uint8Array;
      signed += 1;
      return signature;
    },
    privateKeyExportable: async () => (await call('export')) as boolean,
    get signed() {
      return signed;
    },
    close: async () => {
      await worker.terminate();
    },
  };
}
