/**
 * The conformance runner's backend: the issuer that commissions the lock under test and signs
 * every set, delta and time sync the cases send.
 *
 * Everything is derived from one 32-byte seed, so a firmware team can give the runner the same
 * seed on every run and it stays the issuer its lock trusts (`--issuer-seed`). The credentials
 * are fixed people: a resident (phone, doorcode, keycard) the cases unlock with, and one guest
 * per set version, added cumulatively, so consecutive sets differ and a delta from any older
 * version to a newer one only adds rows (a delta on the wrong base then applies cleanly and only
 * the base check can refuse it).
 */
import type { CredentialSpec, CryptoProvider, DigestForm, IssuedSet, OffsetTransition, SetSecrets, SigningKey } from '@latchkit/protocol';
import {
  CredentialSet,
  deriveIndexKey,
  entriesFromSpecs,
  hkdfSha256,
  issueCommission,
  issueDeltaBody,
  issueFullSet,
  issueTimeSync,
  packSet,
  signingKeyFromSeed,
} from '@latchkit/protocol';

/** Holder reference of the resident the cases unlock as. */
export const RESIDENT_HOLDER = 7001;
/** Holder reference of the phone whose window starts in the future (time cases). */
export const LATE_HOLDER = 7002;
export const RESIDENT_DOORCODE = '246813';

export class TestIssuer {
  readonly issuer: SigningKey;
  /** A key no lock trusts (the unknown-issuer case). */
  readonly stranger: SigningKey;
  readonly residentPhone: SigningKey;
  /** A phone key that is in no set (the unknown-key case). */
  readonly unknownPhone: SigningKey;
  readonly latePhone: SigningKey;
  readonly residentCardUid: Uint8Array;
  readonly secrets: SetSecrets;
  /** The content key the runner commissions with (a fresh one per commissioning generation). */
  contentKey: Uint8Array;

  constructor(
    readonly seed: Uint8Array,
    readonly lockId: Uint8Array,
    readonly crypto: CryptoProvider,
  ) {
    const derive = (label: string, n = 32): Uint8Array => hkdfSha256(seed, lockId, `latchkit/conformance/${label}`, n);
    this.issuer = signingKeyFromSeed(derive('issuer-key'), crypto);
    this.stranger = signingKeyFromSeed(derive('stranger-key'), crypto);
    this.residentPhone = signingKeyFromSeed(derive('resident-phone'), crypto);
    this.unknownPhone = signingKeyFromSeed(derive('unknown-phone'), crypto);
    this.latePhone = signingKeyFromSeed(derive('late-phone'), crypto);
    this.residentCardUid = derive('resident-card', 7);
    this.secrets = { daily: derive('daily-secret'), cardMaster: derive('card-master') };
    this.contentKey = derive('content-key');
  }

  /** The issuer key is derived per lock id, so a seed reused for two locks still names two issuers. */
  get anchor(): Uint8Array {
    return this.issuer.publicKey;
  }

  /** A commissioning message for this lock (trust on first use, or re-commissioning by the anchor). */
  commission(lockEncryptionPublic: Uint8Array, issuedAt: number, generation: number, utcOffset = 0): Uint8Array {
    return issueCommission({
      issuer: this.issuer,
      lockId: this.lockId,
      issuedAt,
      anchors: [this.issuer.publicKey],
      lockEncryptionPublic,
      contentKey: this.contentKey,
      utcOffset,
      generation,
      provider: this.crypto,
    });
  }

  /** The credentials of set version `version`: the resident, guests 1..version, and any extras. */
  specs(version: number, extra: readonly CredentialSpec[] = []): CredentialSpec[] {
    const open = { start: null, end: null, schedule: null };
    const out: CredentialSpec[] = [
      { ...open, holder: RESIDENT_HOLDER, kind: 'phone', publicKey: this.residentPhone.publicKey },
      { ...open, holder: RESIDENT_HOLDER, kind: 'doorcode', code: RESIDENT_DOORCODE },
      { ...open, holder: RESIDENT_HOLDER, kind: 'keycard', uid: this.residentCardUid },
    ];
    for (let g = 1; g <= version; g++) out.push({ ...open, holder: 8000 + g, kind: 'doorcode', code: String(50_000_000 + g * 7919) });
    return [...out, ...extra];
  }

  /** The packed body of a set version for this lock (or for `lockId`, another lock). */
  body(specs: readonly CredentialSpec[], lockId = this.lockId, contentKey = this.contentKey): Uint8Array {
    return packSet(entriesFromSpecs(specs, deriveIndexKey(contentKey, lockId), this.crypto), this.secrets);
  }

  full(seq: number, specs: readonly CredentialSpec[], issuedAt: number, o: { lockId?: Uint8Array; contentKey?: Uint8Array; issuer?: SigningKey; digestForm?: DigestForm } = {}): IssuedSet {
    const lockId = o.lockId ?? this.lockId;
    const contentKey = o.contentKey ?? this.contentKey;
    return issueFullSet({
      issuer: o.issuer ?? this.issuer,
      lockId,
      contentKey,
      seq,
      entries: entriesFromSpecs(specs, deriveIndexKey(this.contentKey, lockId), this.crypto),
      secrets: this.secrets,
      issuedAt,
      provider: this.crypto,
      ...(o.digestForm ? { digestForm: o.digestForm } : {}),
    });
  }

  /**
   * A delta from `base` (a body the runner sent earlier) to `specs`; `digest` overrides the signed
   * digest. Entry-digest form (§4.7) unless `digestForm` says `body` (§4.6).
   */
  delta(base: { seq: number; body: Uint8Array }, seq: number, specs: readonly CredentialSpec[], issuedAt: number, digest?: Uint8Array, digestForm?: DigestForm): IssuedSet {
    return issueDeltaBody({
      issuer: this.issuer,
      lockId: this.lockId,
      contentKey: this.contentKey,
      seq,
      body: this.body(specs),
      ...(digest ? { digest, digestForm: digestForm ?? 'entries' } : digestForm ? { digestForm } : {}),
      issuedAt,
      base: { seq: base.seq, set: CredentialSet.fromTrustedBody(base.body) },
      provider: this.crypto,
    });
  }

  /** A time sync at `issuedAt`: UTC unless `utcOffset` says otherwise, with `transition` if given. */
  timeSync(issuedAt: number, o: { issuer?: SigningKey; utcOffset?: number; transition?: OffsetTransition } = {}): Uint8Array {
    return issueTimeSync({
      issuer: o.issuer ?? this.issuer,
      lockId: this.lockId,
      issuedAt,
      utcOffset: o.utcOffset ?? 0,
      ...(o.transition ? { transition: o.transition } : {}),
      provider: this.crypto,
    });
  }
}
