/**
 * Delta bodies (PROTOCOL.md §4.5): what changed from sequence N to M.
 *
 * A delta lists removed keys and carries the added or changed entries as a small set body of
 * their own (same layout, so one parser serves both). The lock applies it to the logical
 * entries of exactly set N, re-packs canonically and compares the digest the backend signed;
 * anything else ends in DELTA_BASE_MISMATCH or DIGEST_MISMATCH, which tell the sender to
 * fall back to the full set. Nothing is applied partially: the result is a new body or an error.
 */
import { ByteReader, ByteWriter, compareBytes, equalBytes, toHex } from './bytes.js';
import { fail } from './errors.js';
import type { Entry, SetSecrets } from './set.js';
import { CredentialSet, entryId, KEY_BYTES, KIND_ORDER, packSet, sameValidity } from './set.js';
import type { CredentialKindName } from './types.js';

export const DELTA_BODY_VERSION = 1;

export interface RemovedKey {
  kind: CredentialKindName;
  key: Uint8Array;
}

export interface DeltaChanges {
  removed: RemovedKey[];
  /** Added or changed entries. */
  upserts: Entry[];
  /** Replacement secrets, or null to keep the base set's. */
  secrets: SetSecrets | null;
}

function sameSecrets(a: SetSecrets | null, b: SetSecrets | null): boolean {
  if (a === null || b === null) return a === b;
  return equalBytes(a.daily, b.daily) && equalBytes(a.cardMaster, b.cardMaster);
}

/** What turns `base` into `next`: each next entry is looked up in the base by binary search. */
export function diffEntries(base: CredentialSet, next: readonly Entry[], nextSecrets: SetSecrets | null): DeltaChanges {
  const kept = new Map<CredentialKindName, Set<number>>(KIND_ORDER.map((k) => [k, new Set<number>()]));
  const holderViews = new Map<number, ReturnType<CredentialSet['holderAt']>>();
  const upserts: Entry[] = [];
  for (const e of next) {
    const row = base.rowIndex(e.kind, e.key);
    if (row < 0) {
      upserts.push(e);
      continue;
    }
    kept.get(e.kind)!.add(row);
    const hi = base.holderRowOf(e.kind, row);
    let prev = holderViews.get(hi);
    if (!prev) holderViews.set(hi, (prev = base.holderAt(hi)));
    if (prev.holder !== e.holder || !sameValidity(prev, e)) upserts.push(e);
  }
  const removed: RemovedKey[] = [];
  for (const kind of KIND_ORDER) {
    const keep = kept.get(kind)!;
    for (let i = 0; i < base.counts[kind]; i++) if (!keep.has(i)) removed.push({ kind, key: base.keyAt(kind, i) });
  }
  return { removed, upserts, secrets: sameSecrets(base.secrets, nextSecrets) ? null : nextSecrets };
}

export function packDelta(changes: DeltaChanges): Uint8Array {
  const byKind = new Map<CredentialKindName, Uint8Array[]>(KIND_ORDER.map((k) => [k, []]));
  for (const r of changes.removed) {
    if (!(r.key instanceof Uint8Array) || r.key.length !== KEY_BYTES[r.kind]) fail('INVALID_ARGUMENT', `removed ${r.kind} key must be ${KEY_BYTES[r.kind]} bytes`);
    byKind.get(r.kind)!.push(r.key);
  }
  const upsertIds = new Set(changes.upserts.map((e) => entryId(e.kind, e.key)));
  const w = new ByteWriter().u8(DELTA_BODY_VERSION).u8(0);
  for (const kind of KIND_ORDER) {
    const keys = byKind.get(kind)!.sort(compareBytes);
    for (let i = 1; i < keys.length; i++) {
      if (compareBytes(keys[i - 1]!, keys[i]!) === 0) fail('DUPLICATE_CREDENTIAL', `${kind} key ${toHex(keys[i]!)} removed twice`);
    }
    for (const k of keys) if (upsertIds.has(entryId(kind, k))) fail('INVALID_ARGUMENT', `${kind} key ${toHex(k)} is both removed and upserted`);
    if (keys.length > 0xffff) fail('CAPACITY_EXCEEDED', `${keys.length} removed ${kind} keys; at most 65535 per delta`);
    w.u16(keys.length);
  }
  for (const kind of KIND_ORDER) for (const k of byKind.get(kind)!) w.bytes(k);
  w.bytes(packSet(changes.upserts, changes.secrets));
  return w.finish();
}

export function parseDelta(body: Uint8Array): DeltaChanges {
  const r = new ByteReader(body, 'delta body');
  const version = r.u8();
  if (version !== DELTA_BODY_VERSION) fail('UNSUPPORTED_VERSION', `delta body version ${version}, this implementation reads ${DELTA_BODY_VERSION}`);
  if (r.u8() !== 0) fail('MALFORMED', 'delta body: reserved byte must be 0');
  const counts = KIND_ORDER.map(() => r.u16());
  const removed: RemovedKey[] = [];
  KIND_ORDER.forEach((kind, i) => {
    let prev: Uint8Array | null = null;
    for (let j = 0; j < counts[i]!; j++) {
      const key = r.take(KEY_BYTES[kind]).slice();
      if (prev && compareBytes(prev, key) >= 0) fail('MALFORMED', `delta body: removed ${kind} keys not strictly ascending`);
      prev = key;
      removed.push({ kind, key });
    }
  });
  const upsertSet = CredentialSet.parse(r.rest());
  const upserts = [...upsertSet.entries()];
  const upsertIds = new Set(upserts.map((e) => entryId(e.kind, e.key)));
  for (const x of removed) if (upsertIds.has(entryId(x.kind, x.key))) fail('MALFORMED', `delta body: ${x.kind} key both removed and upserted`);
  return { removed, upserts, secrets: upsertSet.secrets };
}

/** Apply changes to exactly `base`; returns the new canonical body (digest not checked here). */
export function applyChanges(base: CredentialSet, changes: DeltaChanges): Uint8Array {
  // Changes are few and the base is large: locate each changed row by binary search and
  // stream the rest of the base through, instead of indexing every base entry.
  const skip = new Map<CredentialKindName, Set<number>>(KIND_ORDER.map((k) => [k, new Set<number>()]));
  for (const r of changes.removed) {
    const row = base.rowIndex(r.kind, r.key);
    if (row < 0) fail('DELTA_BASE_MISMATCH', `delta removes a ${r.kind} credential the lock does not hold; send the full set`);
    skip.get(r.kind)!.add(row);
  }
  for (const e of changes.upserts) {
    const row = base.rowIndex(e.kind, e.key);
    if (row >= 0) skip.get(e.kind)!.add(row);
  }
  const entries = [...base.entries(skip), ...changes.upserts];
  return packSet(entries, changes.secrets ?? base.secrets);
}
