/**
 * 50,000 credentials: the lock applies the set and a keypad entry, a card tap and a phone unlock
 * stay fast (binary search in the packed body, not a scan). The benchmark (bench/lock.ts) has the
 * precise numbers; this guards against a change that makes lookups linear.
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '@latchkit/protocol';
import { issueFullSet, unlockSigningInput } from '@latchkit/protocol';
import { SimulatedCard } from '../../../simulator/src/lock/index.js';
import { cardUid, contentKey, crypto, det, issuer, phoneKeyOf, resident, secrets, T0, testLock } from './fixtures.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('at 50,000 credentials', () => {
  it('applies the set and checks doorcodes, keycards and phones without scanning', () => {
    const t = testLock({ profile: 'standard', specs: [] });
    const fw = t.device.firmware;
    const real = t.backend.entries([...resident(7, '700007'), ...resident(8, '800008')]);
    const filler: Entry[] = [];
    const seed = det('filler', 32);
    for (let i = 0; filler.length < 50_000 - real.length; i++) {
      const kind = (['doorcode', 'keycard', 'phone'] as const)[i % 3]!;
      const width = kind === 'doorcode' ? 5 : kind === 'keycard' ? 6 : 8;
      const key = new Uint8Array(width);
      const v = new DataView(key.buffer);
      v.setUint32(0, (i * 2654435761) >>> 0);
      key[4] = seed[i % 32]! ^ (i >>> 16);
      filler.push({ kind, key, holder: 100_000 + Math.floor(i / 3), start: null, end: null, schedule: null });
    }
    const msg = issueFullSet({ issuer, lockId: fw.lockId, contentKey, seq: 2, entries: [...filler, ...real], secrets, issuedAt: T0, provider: crypto });
    fw.applySetMessage(msg.bytes);
    expect(fw.set!.size).toBe(50_000);

    const time = (fn: () => boolean, n: number): number => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        expect(fn()).toBe(true);
        xs.push((performance.now() - t0) * 1000);
      }
      return median(xs);
    };
    const card = SimulatedCard.issue(secrets.cardMaster, cardUid(8), crypto);
    const phone = phoneKeyOf(7);
    const doorcodeUs = time(() => fw.enterCode('700007').granted, 500);
    const keycardUs = time(() => fw.tapCard(card).granted, 500);
    const phoneUs = time(() => {
      const ch = fw.createChallenge();
      return fw.unlockPhone(ch, phone.publicKey, crypto.ed25519Sign(phone.seed, unlockSigningInput(fw.lockId, ch.nonce))).granted;
    }, 100);
    // Generous bounds for a shared CI machine; a linear scan of 50,000 rows is milliseconds.
    expect(doorcodeUs).toBeLessThan(300);
    expect(keycardUs).toBeLessThan(300);
    expect(phoneUs).toBeLessThan(3000);
  });
});
