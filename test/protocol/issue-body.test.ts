/** The *Body issuers (one pack per sequence) emit exactly the bytes of issueFullSet / issueDelta. */
import { describe, expect, it } from 'vitest';
import type { Entry } from '@latchkit/protocol';
import { CredentialSet, issueDelta, issueDeltaBody, issueFullSet, issueFullSetBody, packSet, patchSet, u32be } from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { contentKey, issuer, lockId, secrets } from './fixtures.js';

const e = (kind: Entry['kind'], holder: number, k: number, end: number | null = null): Entry => ({
  kind,
  holder,
  key: kind === 'daily' ? u32be(holder) : new Uint8Array({ doorcode: 5, keycard: 6, phone: 8 }[kind]).fill(k),
  start: null,
  end,
  schedule: null,
});
const baseEntries = [e('doorcode', 1, 1), e('daily', 1, 0), e('phone', 1, 2), e('phone', 2, 3), e('keycard', 3, 4), e('doorcode', 4, 5)];
const nextEntries = [e('doorcode', 1, 1, 50_000_000), e('phone', 2, 3), e('keycard', 3, 4), e('doorcode', 4, 5), e('phone', 5, 9)];
const nonce = new Uint8Array(24).fill(3);

describe('issuing a body packed once', () => {
  for (const provider of [undefined, nodeCryptoProvider]) {
    it(`full set and delta are byte-identical (${provider?.name ?? 'default'} provider)`, () => {
      const common = { issuer, lockId, contentKey, secrets, seq: 8, issuedAt: 1_700_000_000, nonce, ...(provider ? { provider } : {}) };
      const full = issueFullSet({ ...common, entries: nextEntries });
      expect(issueFullSetBody({ ...common, body: packSet(nextEntries, secrets) }).bytes).toEqual(full.bytes);
      const baseBody = packSet(baseEntries, secrets);
      const delta = issueDelta({ ...common, entries: nextEntries, base: { seq: 5, body: baseBody } });
      const baseSet = CredentialSet.fromTrustedBody(baseBody);
      // Changes found by diffing the two bodies, and changes handed over by patchSet.
      expect(issueDeltaBody({ ...common, body: full.body, base: { seq: 5, set: baseSet } }).bytes).toEqual(delta.bytes);
      const patched = patchSet(baseSet, new Set([1, 5]), [e('doorcode', 1, 1, 50_000_000), e('phone', 5, 9)], secrets);
      expect(patched.body).toEqual(full.body);
      expect(issueDeltaBody({ ...common, body: patched.body, base: { seq: 5, set: baseSet }, changes: patched.changes }).bytes).toEqual(delta.bytes);
    });
  }

  it('a full set body without secrets is refused', () => {
    expect(() => issueFullSetBody({ issuer, lockId, contentKey, seq: 1, issuedAt: 1, body: packSet([], null) })).toThrow(/secrets/);
  });
});
