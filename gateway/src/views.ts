/**
 * The JSON shapes the HTTP API returns and `latchkit --json` prints: times as ISO 8601 UTC strings,
 * byte strings as lower-case hex. One mapping for both, so scripts can switch between them.
 */
import type { CredentialSpec } from '@latchkit/protocol';
import type { ActivityEntry, Door, Grant, Key, Keycard, Person, PhoneKey, Property, Unit } from './model/types.js';
import type { ApiToken } from './model/tokens.js';
import type { DoorChange } from './model/journal.js';
import type { DoorDigestForms, DoorSyncState, SyncTask } from './model/sync-state.js';
import { minuteToIso, msToIso } from './time.js';

const iso = (ms: number): string => new Date(ms).toISOString();
const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

export const propertyView = (p: Property) => ({
  ...p,
  nextOffsetChange: p.nextOffsetChange ? { at: iso(p.nextOffsetChange.at), utcOffsetMin: p.nextOffsetChange.utcOffsetMin } : null,
  createdAt: iso(p.createdAt),
});
export const unitView = (u: Unit) => ({ ...u, createdAt: iso(u.createdAt) });
export const doorView = (d: Door) => ({ ...d, createdAt: iso(d.createdAt) });
export const keyView = (k: Key) => ({ ...k, createdAt: iso(k.createdAt) });
export const personView = (p: Person) => ({ ...p, createdAt: iso(p.createdAt), revokedAt: msToIso(p.revokedAt) });

export const grantView = (g: Grant) => ({
  id: g.id,
  personId: g.personId,
  keyId: g.keyId,
  keyName: g.keyName,
  sharedBy: g.sharedBy,
  startsAt: minuteToIso(g.start),
  expiresAt: minuteToIso(g.end),
  schedule: g.schedule,
  source: g.source,
  createdAt: iso(g.createdAt),
  updatedAt: iso(g.updatedAt),
});

export const keycardView = (k: Keycard) => ({ ...k, activatedAt: iso(k.activatedAt), deactivatedAt: msToIso(k.deactivatedAt) });
export const phoneKeyView = (k: PhoneKey) => ({ ...k, addedAt: iso(k.addedAt), revokedAt: msToIso(k.revokedAt) });
export const activityView = (a: ActivityEntry) => ({ ...a, at: iso(a.at) });
export const tokenView = (t: ApiToken) => ({
  id: t.tokenId,
  name: t.name,
  role: t.role,
  keyManagement: t.keyManagement,
  propertyId: t.propertyId,
  createdAt: iso(t.createdAt),
  revokedAt: msToIso(t.revokedAt),
});
export const changeView = (c: DoorChange) => ({ id: c.id, reason: c.reason, at: iso(c.at), compiledSeq: c.compiledSeq });
export const syncTaskView = (t: SyncTask) => ({ ...t, lastReceiptAt: msToIso(t.lastReceiptAt), changes: t.changes.map(changeView) });
export const syncStateView = (s: DoorSyncState, forms: DoorDigestForms) => ({
  ...s,
  ...forms,
  compiledDigest: hex(s.compiledDigest),
  compiledAt: msToIso(s.compiledAt),
  enforcedDigest: hex(s.enforcedDigest),
  lastReceiptAt: msToIso(s.lastReceiptAt),
});

/**
 * A door's credential list for people, with secrets withheld: managers can see who opens a door
 * and until when, not other residents' codes.
 */
export const doorCredentialView = (c: CredentialSpec) => ({
  kind: c.kind,
  holderRef: c.holder,
  startsAt: minuteToIso(c.start),
  expiresAt: minuteToIso(c.end),
  hint:
    c.kind === 'doorcode'
      ? `${'•'.repeat(c.code.length - 2)}${c.code.slice(-2)}`
      : c.kind === 'keycard'
        ? hex(c.uid)
        : c.kind === 'phone'
          ? `${hex(c.publicKey)!.slice(0, 16)}…`
          : null,
});
