/**
 * compileDirtyAsync: sets signed by an issuer signer outside the process (here a worker thread
 * holding the key as a non-extractable WebCrypto key). A signer that fails, times out or holds
 * the wrong key fails its doors with SIGNER_FAILED and writes nothing; the doors stay pending
 * and the next run compiles them. A door whose lock is found to refuse the entry digest while
 * its signature is out is prepared again, in the body form, in the same run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { deviceKeysFromSeed, localSigner, openSetMessage, ProtocolError, signingKeyFromSeed, toHex, type IssuerSigner } from '@latchkit/protocol';
import { commissionDoor, compileDirty, compileDirtyAsync, compiledBody, fullSetPlain, issuerFor, lockIdentity, syncPayload, trustAnchors } from '../../../gateway/src/compiler/index.js';
import { addIssuerKey, doorSeqs } from '../../../gateway/src/model/sync-state.js';
import { recordEntryDigestSupport } from '../../../gateway/src/model/claim-support.js';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { startWorkerSigner, type WorkerSigner } from '../../../bench/worker-signer.js';
import { fixture, resident } from '../helpers.js';

const workers: WorkerSigner[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
});

/** A store with a resident and every door's lock commissioned: three doors to compile. */
async function commissioned() {
  const f = fixture();
  resident(f);
  for (const [i, d] of [f.lobby, f.gym, f.door4b].entries()) {
    const device = deviceKeysFromSeed(new Uint8Array(32).fill(i + 1));
    await commissionDoor(f.db, d.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx: f.ctx });
  }
  return { f, doors: [f.lobby.id, f.gym.id, f.door4b.id] };
}

/** What a lock commissioned by this store accepts: the set the door would be sent now. */
async function opens(f: ReturnType<typeof fixture>, doorId: number): Promise<number> {
  const identity = lockIdentity(f.db, doorId)!;
  const payload = (await syncPayload(f.db, doorId, 0))!;
  return openSetMessage(payload.bytes, { lockId: identity.lockId, anchors: trustAnchors(f.db, f.prop.id), contentKey: identity.contentKey, seq: 0, current: null }).seq;
}

describe('compileDirtyAsync', () => {
  it('signs every door through a 20 ms worker-thread signer, concurrently, with sets the locks accept', async () => {
    const { f, doors } = await commissioned();
    const key = issuerFor(f.db, f.prop.id);
    const signer = await startWorkerSigner({ seed: key.seed, latencyMs: 20 });
    workers.push(signer);
    const r = await compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: () => signer });
    expect(r.failed).toEqual([]);
    expect(r.compiled.map((c) => c.doorId).sort()).toEqual([...doors].sort());
    expect(signer.signed).toBe(3);
    for (const d of doors) expect(await opens(f, d)).toBe(1);
    // Nothing left pending.
    expect(compileDirty(f.db, { ctx: f.ctx })).toEqual([]);
  });

  it('the default signer is the in-process key and gives what compileDirty gives', async () => {
    const { f, doors } = await commissioned();
    const r = await compileDirtyAsync(f.db, { ctx: f.ctx, batch: 2 });
    expect(r.compiled).toHaveLength(3);
    for (const d of doors) expect(await opens(f, d)).toBe(1);
  });

  it('a rejecting signer fails its doors with SIGNER_FAILED, writes nothing, and the next run compiles them', async () => {
    const { f, doors } = await commissioned();
    const key = issuerFor(f.db, f.prop.id);
    const down = await startWorkerSigner({ seed: key.seed, failWith: 'KMS unavailable' });
    workers.push(down);
    const r = await compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: () => down });
    expect(r.compiled).toEqual([]);
    expect(r.failed.map((x) => x.doorId).sort()).toEqual([...doors].sort());
    for (const x of r.failed) {
      expect(x.error).toBeInstanceOf(ProtocolError);
      expect(x.error.code).toBe('SIGNER_FAILED');
      expect(x.error.message).toContain('KMS unavailable');
    }
    for (const d of doors) {
      expect(doorSeqs(f.db, d).compiledSeq).toBe(0);
      expect(await syncPayload(f.db, d, 0)).toBeNull();
    }
    const retry = await compileDirtyAsync(f.db, { ctx: f.ctx });
    expect(retry.compiled).toHaveLength(3);
    for (const d of doors) expect(await opens(f, d)).toBe(1);
  });

  it('a signer that never answers times out; one holding another key is refused before it is asked', async () => {
    const { f, doors } = await commissioned();
    const key = issuerFor(f.db, f.prop.id);
    const silent: IssuerSigner = { publicKey: key.publicKey, kid: key.kid, sign: () => new Promise<Uint8Array>(() => {}) };
    const t0 = performance.now();
    const r = await compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: () => silent, signTimeoutMs: 150 });
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(r.failed).toHaveLength(3);
    expect(r.failed[0]!.error.message).toMatch(/did not answer within 150 ms/);

    let asked = 0;
    const other = localSigner(signingKeyFromSeed(new Uint8Array(32).fill(9)));
    const wrong: IssuerSigner = { ...other, sign: (m) => ((asked += 1), other.sign(m)) };
    const w = await compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: () => wrong });
    expect(w.failed.map((x) => x.error.code)).toEqual(['SIGNER_FAILED', 'SIGNER_FAILED', 'SIGNER_FAILED']);
    expect(w.failed[0]!.error.message).toMatch(/not property \d+'s issuer key/);
    expect(asked).toBe(0);
    for (const d of doors) expect(doorSeqs(f.db, d).compiledSeq).toBe(0);
  });

  it('a key the store holds only the public half of, and no signer for it: SIGNER_REQUIRED, nothing written', async () => {
    const { f, doors } = await commissioned();
    const held = signingKeyFromSeed(new Uint8Array(32).fill(42));
    addIssuerKey(f.db, { propertyId: f.prop.id, kid: toHex(held.kid), publicKey: held.publicKey, activate: true }, f.ctx);
    const r = await compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: () => undefined });
    expect(r.compiled).toEqual([]);
    expect(r.failed.map((x) => [x.doorId, x.error.code]).sort()).toEqual([...doors].sort().map((d) => [d, 'SIGNER_REQUIRED']));
    expect(() => compileDirty(f.db, { ctx: f.ctx })).toThrowError(expect.objectContaining({ code: 'SIGNER_REQUIRED' }));
    for (const d of doors) expect(doorSeqs(f.db, d).compiledSeq).toBe(0);
    // The signer that holds it: every door compiles, and the sets open under that key alone.
    const ok = await compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: (issuer) => (toHex(issuer.kid) === toHex(held.kid) ? localSigner(held) : undefined) });
    expect(ok.failed).toEqual([]);
    for (const d of doors) expect(await opens(f, d)).toBe(1);
  });

  it('a door compiled by someone else while its signature was out is left as that compile wrote it', async () => {
    const { f, doors } = await commissioned();
    const key = issuerFor(f.db, f.prop.id);
    const local = localSigner(key);
    let raced = false;
    const racing: IssuerSigner = {
      ...local,
      sign: async (m) => {
        // Another writer (the sync engine's own compile) gets there first.
        if (!raced) {
          raced = true;
          expect(compileDirty(f.db, { ctx: f.ctx })).toHaveLength(3);
        }
        return local.sign(m);
      },
    };
    const r = await compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: () => racing });
    expect(r.failed).toEqual([]);
    expect(r.compiled).toEqual([]);
    for (const d of doors) {
      expect(doorSeqs(f.db, d).compiledSeq).toBe(1);
      expect(await opens(f, d)).toBe(1);
    }
  });

  it('a refusal of the entry digest learned while the signature is out: the set is signed again in the body form, in the same run', async () => {
    const f = fixture();
    resident(f);
    const device = deviceKeysFromSeed(new Uint8Array(32).fill(7));
    await commissionDoor(f.db, f.lobby.id, { signingPublic: device.signing.publicKey, encryptionPublic: device.encryptionPublic }, { ctx: f.ctx });
    const local = localSigner(issuerFor(f.db, f.prop.id));
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let asked = 0;
    const slow: IssuerSigner = { ...local, sign: async (m) => ((asked += 1), await gate, local.sign(m)) };
    const r = compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: () => slow, doorIds: [f.lobby.id] });
    await new Promise((res) => setTimeout(res, 10));
    // A phone's visit reports the lock refused an entry-form set (acceptVisit records it).
    recordEntryDigestSupport(f.db, f.lobby.id, false, 'old-fw');
    release();
    const done = await r;
    expect(done.failed).toEqual([]);
    expect(done.compiled.map((c) => [c.seq, c.digestForm])).toEqual([[1, 'body']]);
    expect(asked).toBe(2);
    const row = f.db.prepare('SELECT digest_form AS form FROM door_sets WHERE door_id = ? AND seq = 1').get(f.lobby.id) as { form: string };
    expect(row.form).toBe('body');
    expect(await opens(f, f.lobby.id)).toBe(1);
    expect(compileDirty(f.db, { ctx: f.ctx })).toEqual([]);
  });

  it("the body-form fallback of an entry-form set (a relay bundle's fullPlain) is signed through the signer and names the set by SHA-256 of its body", async () => {
    const { f } = await commissioned();
    const local = localSigner(issuerFor(f.db, f.prop.id));
    let asked = 0;
    const counting: IssuerSigner = { ...local, sign: async (m) => ((asked += 1), local.sign(m)) };
    expect((await compileDirtyAsync(f.db, { ctx: f.ctx, signerFor: () => counting, doorIds: [f.lobby.id] })).failed).toEqual([]);
    asked = 0;
    const plain = (await fullSetPlain(f.db, f.lobby.id, { ctx: f.ctx, signerFor: () => counting }))!;
    expect(asked).toBe(1);
    const identity = lockIdentity(f.db, f.lobby.id)!;
    const opened = openSetMessage(plain, { lockId: identity.lockId, anchors: trustAnchors(f.db, f.prop.id), contentKey: identity.contentKey, seq: 0, current: null });
    expect([opened.seq, opened.digestForm]).toEqual([1, 'body']);
    expect(opened.digest).toEqual(nodeCryptoProvider.sha256(compiledBody(f.db, f.lobby.id, 1)!));
  });
});
