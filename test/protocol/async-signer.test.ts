/**
 * The async issuer signer: messages signed by an IssuerSigner (a KMS, an HSM, another thread)
 * open on a lock exactly as in-process ones do, and a signer that fails or lies is refused
 * with SIGNER_FAILED before anything is issued.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  issueAnchorRotationAsync,
  issueCommissionAsync,
  issueDeltaAsync,
  issueFullSet,
  issueFullSetAsync,
  issueTimeSyncAsync,
  keyId,
  localSigner,
  openAnchorRotation,
  openCommission,
  openSetMessage,
  openTimeSync,
  prepareFullSet,
  ProtocolError,
  signPrepared,
  type IssuerSigner,
} from '@latchkit/protocol';
import { startWorkerSigner, type WorkerSigner } from '../../bench/worker-signer.js';
import { contentKey, det, device, entriesFor, issuer, issuer2, lockId, NOW_S, secrets, specsForResident } from './fixtures.js';

const residents = [1, 2, 3].flatMap((h) => specsForResident(h, `54321${h}`));
const lockState = (anchors: Uint8Array[], over: Partial<Parameters<typeof openSetMessage>[1]> = {}) => ({ lockId, anchors, contentKey, seq: 0, current: null, ...over });

async function signerCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof ProtocolError ? e.code : `not a ProtocolError: ${String(e)}`;
  }
}

const workers: WorkerSigner[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
});

describe('async issuer signer', () => {
  it('the in-process key as a signer gives byte for byte the synchronous message', async () => {
    const args = { lockId, contentKey, secrets, issuedAt: NOW_S, seq: 1, entries: entriesFor(residents), nonce: det('nonce', 24) };
    const sync = issueFullSet({ ...args, issuer });
    const async = await issueFullSetAsync({ ...args, issuer: localSigner(issuer) });
    expect(async.bytes).toEqual(sync.bytes);
    // prepare + sign elsewhere + complete is the same path, spelled out.
    const prepared = prepareFullSet({ ...args, issuer: { publicKey: issuer.publicKey, kid: issuer.kid } });
    expect((await signPrepared(prepared, localSigner(issuer))).bytes).toEqual(sync.bytes);
  });

  it('a key that never leaves its worker thread signs sets, deltas, commissioning, rotation and time a lock accepts', async () => {
    const signer = await startWorkerSigner();
    workers.push(signer);
    // Non-extractable: WebCrypto refuses to export it even to the code that holds it.
    expect(await signer.privateKeyExportable()).toBe(false);
    expect(signer.kid).toEqual(keyId(signer.publicKey));
    const anchors = [signer.publicKey];

    const commission = await issueCommissionAsync({
      issuer: signer, lockId, issuedAt: NOW_S, anchors, contentKey, lockEncryptionPublic: device.encryptionPublic, utcOffset: 0, generation: 1,
    });
    expect(openCommission(commission, { lockId, device, anchors: null, generation: 0 }).contentKey).toEqual(contentKey);

    const full = await issueFullSetAsync({ issuer: signer, lockId, contentKey, secrets, issuedAt: NOW_S, seq: 1, entries: entriesFor(residents) });
    const s1 = openSetMessage(full.bytes, lockState(anchors));
    expect(s1.issuerKid).toEqual(signer.kid);
    const next = residents.filter((s) => s.holder !== 2);
    const delta = await issueDeltaAsync({ issuer: signer, lockId, contentKey, secrets, issuedAt: NOW_S + 60, seq: 2, entries: entriesFor(next), base: { seq: 1, body: full.body } });
    const s2 = openSetMessage(delta.bytes, lockState(anchors, { seq: 1, current: s1.set }));
    expect(s2.kind).toBe('delta');
    expect(s2.set.size).toBe(8);

    const rotation = await issueAnchorRotationAsync({ issuer: signer, lockId, issuedAt: NOW_S, anchors: [signer.publicKey, issuer2.publicKey], seq: 1 });
    expect(openAnchorRotation(rotation, { lockId, anchors, rotationSeq: 0 }).anchors).toHaveLength(2);
    const time = await issueTimeSyncAsync({ issuer: signer, lockId, issuedAt: NOW_S + 120, utcOffset: -300 });
    expect(openTimeSync(time, { lockId, anchors })).toEqual({ time: NOW_S + 120, utcOffset: -300 });
    expect(signer.signed).toBe(5);
    // A lock trusting only another key refuses what the worker signed.
    expect(() => openSetMessage(full.bytes, lockState([issuer.publicKey]))).toThrowError(ProtocolError);
  });

  it('many concurrent requests overlap their latency', async () => {
    const signer = await startWorkerSigner({ seed: issuer.seed, latencyMs: 50 });
    workers.push(signer);
    const t0 = performance.now();
    const sets = await Promise.all(
      Array.from({ length: 20 }, (_, i) => issueFullSetAsync({ issuer: signer, lockId, contentKey, secrets, issuedAt: NOW_S, seq: i + 1, entries: entriesFor(residents) })),
    );
    const elapsed = performance.now() - t0;
    for (const s of sets) expect(openSetMessage(s.bytes, lockState([issuer.publicKey])).seq).toBe(s.seq);
    // Serial calls would take at least 20 x 50 ms.
    expect(elapsed).toBeLessThan(20 * 50);
  });

  it('refuses a signer that rejects, answers garbage, signs with another key, or names a wrong kid', async () => {
    const args = { lockId, contentKey, secrets, issuedAt: NOW_S, seq: 1, entries: entriesFor(residents) };
    const rejecting = await startWorkerSigner({ seed: issuer.seed, failWith: 'KMS throttled the request' });
    workers.push(rejecting);
    await expect(issueFullSetAsync({ ...args, issuer: rejecting })).rejects.toThrow(/KMS throttled the request/);
    expect(await signerCode(issueFullSetAsync({ ...args, issuer: rejecting }))).toBe('SIGNER_FAILED');

    const short: IssuerSigner = { ...localSigner(issuer), sign: async () => new Uint8Array(63) };
    expect(await signerCode(issueFullSetAsync({ ...args, issuer: short }))).toBe('SIGNER_FAILED');
    // A KMS key that is not the one the lock trusts: signs fine, verifies under the wrong key.
    const wrongKey: IssuerSigner = { publicKey: issuer.publicKey, kid: issuer.kid, sign: (m) => localSigner(issuer2).sign(m) };
    expect(await signerCode(issueFullSetAsync({ ...args, issuer: wrongKey }))).toBe('SIGNER_FAILED');
    const wrongKid: IssuerSigner = { ...localSigner(issuer), kid: issuer2.kid };
    expect(await signerCode(issueFullSetAsync({ ...args, issuer: wrongKid }))).toBe('SIGNER_FAILED');
    const throwsSync: IssuerSigner = {
      ...localSigner(issuer),
      sign: () => {
        throw new Error('HSM session closed');
      },
    };
    expect(await signerCode(issueFullSetAsync({ ...args, issuer: throwsSync }))).toBe('SIGNER_FAILED');
  });
});
