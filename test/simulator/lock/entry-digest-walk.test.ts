/**
 * A seeded random walk of full sets and deltas in both digest forms (remove and re-add, changed
 * windows, replaced secrets, the empty set), applied to a lock with change-journal records and
 * power cycles: after every step the accumulator the lock keeps equals one computed from scratch.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialSpec, DigestForm, IssuedSet, SetSecrets } from '@latchkit/protocol';
import { CredentialSet, entriesFromSpecs, EntryAccumulator, entryDigestKey, issueDelta, issueFullSet, toHex } from '@latchkit/protocol';
import { contentKey, crypto, det, issuer, resident, T0, testLock } from './fixtures.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe('entry accumulator over a random walk of sets', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: kept accumulator == from-scratch after every step, across reboots`, () => {
      const r = rng(seed);
      const t = testLock({ n: 40 + seed });
      const lockId = t.device.lockId;
      const ik = t.backend.indexKey;
      const dk = entryDigestKey(contentKey, lockId);
      const S: SetSecrets[] = [
        { daily: det('d1'), cardMaster: det('c1') },
        { daily: det('d2'), cardMaster: det('c2') },
      ];
      const specsOf = (): CredentialSpec[] => {
        const out: CredentialSpec[] = [];
        for (let h = 1; h <= 8; h++) {
          if (r() < 0.4) continue;
          const w = r() < 0.3 ? { start: (T0 / 60 | 0) - 100 - Math.floor(r() * 3), end: (T0 / 60 | 0) + 10_000 } : {};
          out.push(...resident(h, String(100000 + h), w).filter(() => r() < 0.8));
        }
        return r() < 0.1 ? [] : out;
      };
      let prev: IssuedSet | null = null;
      let seq = 0;
      for (let step = 0; step < 40; step++) {
        seq++;
        const form: DigestForm = r() < 0.6 ? 'entries' : 'body';
        const secrets = S[r() < 0.8 ? 0 : 1]!;
        const entries = entriesFromSpecs(specsOf(), ik, crypto);
        const common = { issuer, lockId, contentKey, seq, entries, secrets, issuedAt: T0 + step, provider: crypto, digestForm: form };
        const msg: IssuedSet = prev && r() < 0.85 ? issueDelta({ ...common, base: { seq: prev.seq, body: prev.body } }) : issueFullSet(common);
        t.device.firmware.applySetMessage(msg.bytes);
        prev = msg;
        if (r() < 0.2) t.device.powerCycle();
        const fw = t.device.firmware;
        const kept = fw.persisted.set!.entryAcc ?? null;
        expect(toHex(fw.set!.body)).toBe(toHex(msg.body));
        if (kept) {
          const fresh = EntryAccumulator.of(dk, CredentialSet.parse(fw.set!.body).entries(), crypto).bytes();
          expect(toHex(kept), `step ${step}`).toBe(toHex(fresh));
        }
      }
    });
  }
});
