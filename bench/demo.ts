/**
 * `npm start` (until the gateway's main job lands): the credential protocol end to end for one
 * lobby door, showing the rule the product docs state: a revoked resident's doorcode keeps
 * opening a door until that door syncs, and stops right after.
 */
import type { CredentialSet } from '@latchkit/protocol';
import {
  checkValidity,
  deriveIndexKey,
  deviceKeysFromSeed,
  doorcodeKey,
  entriesFromSpecs,
  generateSigningKey,
  issueCommission,
  issueDelta,
  issueFullSet,
  issueReceipt,
  openCommission,
  openReceipt,
  openSetMessage,
  ProtocolError,
  setCryptoProvider,
  toHex,
} from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { randomBytes } from 'node:crypto';
import { lobbyHolders } from './lobby.js';

setCryptoProvider(nodeCryptoProvider);
const say = (s = '') => process.stdout.write(`${s}\n`);
const ms = (t: number) => `${(performance.now() - t).toFixed(1)} ms`;

const issuer = generateSigningKey();
const device = deviceKeysFromSeed(new Uint8Array(randomBytes(32)));
const lockId = new Uint8Array(randomBytes(8));
const contentKey = new Uint8Array(randomBytes(32));
const secrets = { daily: new Uint8Array(randomBytes(32)), cardMaster: new Uint8Array(randomBytes(32)) };
const now = Math.floor(Date.now() / 1000);

say('latchkit protocol demo: one lobby door, offline, synced by signed sets');
say(`lock ${toHex(lockId)}, issuer key ${toHex(issuer.kid)}`);

// 1. Commission the lock: trust anchor, content key wrapped to its device key, time.
const commission = issueCommission({ issuer, lockId, anchors: [issuer.publicKey], lockEncryptionPublic: device.encryptionPublic, contentKey, issuedAt: now, utcOffset: 0, generation: 1 });
const lock = openCommission(commission, { lockId, device, anchors: null, generation: 0 });
say(`commissioned: ${commission.length}-byte message, ${lock.anchors.length} anchor`);

// 2. Compile and sign the full set for ~2,000 residents.
const holders = lobbyHolders({ credentials: 5000, seed: 7, nowMinutes: Math.floor(now / 60) });
const specs = holders.flatMap((h) => h.specs);
const indexKey = deriveIndexKey(contentKey, lockId);
let t = performance.now();
const full = issueFullSet({ issuer, lockId, contentKey, secrets, seq: 1, issuedAt: now, entries: entriesFromSpecs(specs, indexKey) });
say(`full set: ${specs.length} credentials, ${full.bytes.length} bytes (${(full.bytes.length / specs.length).toFixed(2)} B/credential), compiled+signed in ${ms(t)}`);
t = performance.now();
let enforced: { seq: number; set: CredentialSet } = openSetMessage(full.bytes, { lockId, anchors: lock.anchors, contentKey: lock.contentKey, seq: 0, current: null });
say(`lock verified, decrypted and installed seq ${enforced.seq} in ${ms(t)}`);

// 3. A resident's doorcode opens the door.
const resident = holders.find((h) => h.role === 'resident' && h.specs.some((s) => s.kind === 'doorcode' && s.start === null))!;
const code = (resident.specs.find((s) => s.kind === 'doorcode') as { code: string }).code;
const tryCode = (label: string) => {
  const row = enforced.set.find('doorcode', doorcodeKey(indexKey, code));
  const verdict = row < 0 ? 'unknown credential' : checkValidity(enforced.set.holderAt(row), Math.floor(now / 60), 0);
  say(`  ${label}: resident ${resident.holder} enters ${code} -> ${verdict === 'ok' ? 'GRANTED' : `DENIED (${verdict})`}`);
};
tryCode('before the revoke');

// 4. The manager revokes the resident. The backend signs a delta; the door has not synced yet.
const remaining = specs.filter((s) => s.holder !== resident.holder);
t = performance.now();
const delta = issueDelta({ issuer, lockId, contentKey, secrets, seq: 2, issuedAt: now + 60, entries: entriesFromSpecs(remaining, indexKey), base: { seq: 1, body: full.body } });
say(`revoked resident ${resident.holder}: delta of ${delta.bytes.length} bytes signed in ${ms(t)} (a full set would be ${full.bytes.length})`);
tryCode('door not yet synced');

// 5. The door syncs (a gateway or a resident's phone relays the delta) and returns a receipt.
t = performance.now();
enforced = openSetMessage(delta.bytes, { lockId, anchors: lock.anchors, contentKey: lock.contentKey, seq: enforced.seq, current: enforced.set });
const receipt = issueReceipt(device.signing, { lockId, seq: enforced.seq, digest: enforced.set.digest(), time: now + 61, eventIndex: 0, eventHash: new Uint8Array(12) });
const r = openReceipt(receipt, { lockId, devicePublicKey: device.signing.publicKey });
say(`door synced to seq ${enforced.seq} in ${ms(t)}; receipt (${receipt.length} bytes) says the lock enforces ${toHex(r.digest).slice(0, 16)}…`);
tryCode('after the sync');

// 6. A replayed old set is refused: no rollback to the set that still had the resident.
try {
  openSetMessage(full.bytes, { lockId, anchors: lock.anchors, contentKey: lock.contentKey, seq: enforced.seq, current: enforced.set });
} catch (e) {
  say(`replaying seq 1 -> refused with ${(e as ProtocolError).code}`);
}
say();
say('Next: `npm test` runs the suites; `npm run bench -- protocol` measures sizes and speeds.');
