/**
 * A demo backend for `latchkit lock run --demo`: commissions a fresh lock and installs a few
 * credentials a hardware engineer can try at once (a resident, a daily code, a keycard, a guest
 * whose window opens a few minutes from now). The keys are derived from a fixed seed: this is a
 * bench tool, never a property's real backend.
 */
import type { CredentialSpec } from '@latchkit/protocol';
import { dailyCode, deriveIndexKey, entriesFromSpecs, hkdfSha256, issueCommission, issueFullSet, localDay, signingKeyFromSeed, utf8 } from '@latchkit/protocol';
import type { LockDevice } from '../lock/device.js';

const SEED = utf8('latchkit demo backend, not for real locks');

export const DEMO = {
  issuer: () => signingKeyFromSeed(hkdfSha256(SEED, new Uint8Array(0), 'issuer', 32)),
  secrets: () => ({ daily: hkdfSha256(SEED, new Uint8Array(0), 'daily', 32), cardMaster: hkdfSha256(SEED, new Uint8Array(0), 'card', 32) }),
  contentKey: (lockId: Uint8Array) => hkdfSha256(SEED, lockId, 'content-key', 32),
  cardUid: '04a1b2c3d4e5f6',
};

/** Commission (if fresh) and install the demo set; returns lines describing what to try. */
export function installDemo(device: LockDevice, nowSeconds: number): string[] {
  const fw = device.firmware;
  const issuer = DEMO.issuer();
  const secrets = DEMO.secrets();
  const contentKey = DEMO.contentKey(fw.lockId);
  if (!fw.commissioned) {
    fw.commission(
      issueCommission({ issuer, lockId: fw.lockId, issuedAt: nowSeconds, anchors: [issuer.publicKey], lockEncryptionPublic: fw.device.encryptionPublic, contentKey, utcOffset: 0, generation: 1, provider: device.crypto }),
    );
  }
  const nowMin = Math.floor(nowSeconds / 60);
  const open = { start: null, end: null, schedule: null };
  const guest = { start: nowMin + 2, end: nowMin + 12, schedule: null };
  const specs: CredentialSpec[] = [
    { ...open, holder: 1001, kind: 'doorcode', code: '123456' },
    { ...open, holder: 1001, kind: 'keycard', uid: Uint8Array.from(Buffer.from(DEMO.cardUid, 'hex')) },
    { ...open, holder: 1002, kind: 'doorcode', code: '654321' },
    { ...open, holder: 1002, kind: 'daily' },
    { ...guest, holder: 2001, kind: 'doorcode', code: '777777' },
  ];
  const seq = fw.seq + 1;
  fw.applySetMessage(
    issueFullSet({ issuer, lockId: fw.lockId, contentKey, seq, entries: entriesFromSpecs(specs, deriveIndexKey(contentKey, fw.lockId), device.crypto), secrets, issuedAt: nowSeconds, provider: device.crypto }).bytes,
  );
  const daily = dailyCode(secrets.daily, 1002, localDay(Math.floor(fw.now() / 60), fw.utcOffset), device.crypto);
  return [
    `demo set installed (seq ${seq}):`,
    `  123456            resident 1001 doorcode`,
    `  card ${DEMO.cardUid} resident 1001 keycard (add "clone" for a copy with the wrong key)`,
    `  654321            resident 1002 doorcode`,
    `  ${daily}            resident 1002 daily code for today`,
    `  777777            guest 2001, valid from ${new Date((nowMin + 2) * 60_000).toISOString()} for 10 minutes`,
  ];
}
