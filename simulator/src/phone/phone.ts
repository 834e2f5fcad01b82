/**
 * A resident's phone running the access app: a noble central with the resident's phone key and
 * the signed set messages the backend handed it for relay.
 *
 * A visit to a door is what the app does when the resident taps "unlock" near it: find the lock
 * by id, connect, read its info, relay a newer set or delta if the lock is behind (passive
 * sync; the phone cannot read or alter the sealed set), unlock with the phone key, and bring back
 * the lock's receipt and new event records for the backend.
 */
import type { Peripheral } from '@abandonware/noble';
import type { CryptoProvider, DenyReasonName, EventRecord, LockInfo, SigningKey, TicketedUnlockResult, UnlockResult } from '@latchkit/protocol';
import { Claim, decodeCbor, DEFAULT_MAX_MESSAGE_BYTES, DenyReason, equalBytes, getCryptoProvider, parseSign1, peekSetMessage, phoneTicketMacKey, ProtocolError, toHex } from '@latchkit/protocol';
import { badArgument } from '../errors.js';
import type { CentralOptions, Noble, ProfileInput } from '../radio/index.js';
import { deliverSet, LockClient, type PushResult, type SetBundle } from './client.js';
import { KnownLocks } from './known.js';
import { connectLock, findLock } from './discover.js';

/** The part of a radio the phone needs (a virtual `Air`, or `openRadio()`'s result). */
export interface CentralFactory {
  addCentral(options?: CentralOptions): Promise<{ readonly noble: Noble; readonly address: string; close(): Promise<void>; now?: () => number }>;
}

export interface PhoneOptions {
  radio: CentralFactory;
  /** The phone's Ed25519 key; its public key is what the backend put in the set. */
  key: SigningKey;
  /** `ios` (default) or `android`, or overrides on top of one. */
  profile?: ProfileInput;
  name?: string;
  crypto?: CryptoProvider;
  /** Wall-clock ms for finding a lock and for each control-point answer (default 10,000). */
  timeoutMs?: number;
  /**
   * Answer tickets with the ticket MAC (`unlockTicketMac`, §9.8) when the phone knows the lock's
   * X25519 key (default true); false is a phone from before it (Ed25519 `unlockTicket` only).
   */
  ticketMac?: boolean;
}

/** What the backend gives a phone to relay to one door. */
export interface RelayBundle extends SetBundle {
  lockId: Uint8Array;
  /**
   * Signed trust-anchor updates (issuer key rotation), oldest first, pushed before the set: a
   * set signed by a new issuer key opens only at a lock that learned the key. The lock logs
   * each one it applies (`anchorsRotated`), and that signed-head-covered record is how the
   * backend learns it was applied.
   */
  anchorUpdates?: Uint8Array[];
  /** First event index the backend does not have yet (default 0). */
  eventsFrom?: number;
  /**
   * A signed time for this lock, made when the bundle was: pushed when the lock's clock is more
   * than a minute behind it (a lock whose RTC lost power reports an old clock in its info), or
   * when `timeSyncDue`.
   */
  timeSync?: Uint8Array;
  /**
   * The backend knows this lock lacks the local-time news in `timeSync` (its UTC offset now, or
   * the zone's next change, PROTOCOL.md §7.4): push it whatever the lock's clock says. This is
   * how an offline door learns a coming daylight-saving change from residents' phones.
   */
  timeSyncDue?: boolean;
  /**
   * The same signed time without the `transition` claim, for a lock not known to take the claim:
   * firmware from before it refuses the whole message as MALFORMED (PROTOCOL.md §3.4), and a
   * phone cannot ask the backend again at the door, so it carries both and falls back.
   */
  timeSyncPlain?: Uint8Array;
  /**
   * The same sequence as `full`, as a full set named by SHA-256 of its body (PROTOCOL.md §4.6),
   * for a lock not known to take the entry digest (§4.7): firmware from before it refuses the
   * entry-form `delta` or `full` as MALFORMED, and the phone then pushes this on the same link.
   * The visit still reports the refusal (`entryDigestRefused`).
   */
  fullPlain?: Uint8Array;
}

export interface VisitOptions {
  /** Unlock with the phone key (default true). */
  unlock?: boolean;
  /** Relay the carried set if the lock is behind (default true). */
  relay?: boolean;
  /** Bring back event records from `eventsFrom` (default true). */
  readEvents?: boolean;
  maxEvents?: number;
  /** `fast` (default): remembered address, cached handles, tickets, unlock first; `classic`: the exchange before §9.8. */
  path?: 'fast' | 'classic';
}

export interface RelayReport {
  sent: 'delta' | 'full';
  /** The delta was refused as not applicable and the full set went instead. */
  fellBack: boolean;
  seq: number;
  /** Bytes actually sent over the bulk channel. */
  bytes: number;
  resumedFrom: number;
}

/** A carried message the phone did not send: addressed to another lock, or its audience unreadable. */
export interface WithheldMessage {
  message: 'anchorUpdate' | 'timeSync' | 'delta' | 'full';
  /** Position in `anchorUpdates` (anchor updates only). */
  index?: number;
  /** Its audience claim (the lock id it is for) in hex; null when the claims could not be read. */
  aud: string | null;
  /** `WRONG_AUDIENCE`, or the ProtocolError code of a message whose claims could not be read. */
  reason: string;
}

export interface VisitReport {
  lockId: string;
  info: LockInfo;
  /**
   * The lock's firmware string from its info read on this visit (`info.firmware`), for the
   * backend's record of what the lock takes: a refusal of a claim learned under another firmware
   * string is forgotten (the lock was updated), and the next bundle asks again.
   */
  firmware: string | null;
  relay: RelayReport | null;
  /**
   * Set when the lock refused what was relayed (and no fallback helped): its error code. Also
   * `WRONG_LOCK` when the phone withheld a message addressed to another lock (see `withheld`),
   * the code the lock would have answered, without spending the air time.
   */
  relayError: string | null;
  /** Carried messages not sent to this lock (PROTOCOL.md §12.3: the phone checks `aud`). */
  withheld: WithheldMessage[];
  /** Anchor updates the lock applied on this visit (already applied ones are skipped). */
  anchorsApplied: number;
  /** The carried signed time was pushed (the lock's clock was behind it, or it was due). */
  timeSynced: boolean;
  /**
   * What the lock accepted of the carried time, for the backend's record of what the lock knows
   * of local time: the message's signed time (`iat`), whether the accepted message carried the
   * `transition` claim, whether the lock refused one that did (and took `timeSyncPlain`), and the
   * lock's firmware string (what the refusal is remembered under).
   */
  timeSyncTold: { iat: number; transition: boolean; transitionRefused: boolean; firmware: string | null } | null;
  /**
   * The lock refused the carried set as MALFORMED while it was named by its entry digest
   * (PROTOCOL.md §4.7): firmware from before the entry digest, which knows the body digest only.
   * With the lock's firmware string, for the backend's record of what the lock takes (it compiles
   * the door's next sets in the body form). When the bundle carried `fullPlain`, the phone pushed
   * it after the refusal (`relay` then reports it, `fellBack` true).
   */
  entryDigestRefused: { firmware: string | null } | null;
  unlock: { granted: boolean; reason: DenyReasonName; holder: number; eventIndex: number } | null;
  /** The lock's signed receipt after the visit (what it enforces, and its event head). */
  receipt: Uint8Array;
  events: EventRecord[];
  /** `fast` (PROTOCOL.md §9.8, the default) or `classic`. */
  path: 'fast' | 'classic';
  /**
   * The proof of the ticket answer sent first on this visit (fast path, cached handles, a ticket
   * held): `mac` (`unlockTicketMac`), `signature` (`unlockTicket`, also after the lock refused
   * the MAC opcode as unknown), or null when no ticket was answered.
   */
  ticketProof?: 'mac' | 'signature' | null;
  /**
   * Modelled on-air ms on the virtual radio, wall ms on a real adapter. `scanned`: the phone
   * had to find the lock (first visit); `cached`: it reused handles, no discovery. `doorOpenMs`:
   * from starting to connect to the unlock result (null without an unlock); `relayCommittedMs`:
   * from starting to connect to the relayed set's receipt (null without a relayed set).
   */
  timing: { modelled: boolean; scanned: boolean; cached: boolean; scanMs: number; connectMs: number; exchangeMs: number; totalMs: number; doorOpenMs: number | null; relayCommittedMs?: number | null };
}

const REASON_BY_CODE = new Map<number, DenyReasonName>(Object.entries(DenyReason).map(([k, v]) => [v, k as DenyReasonName]));

function unlockReport(r: UnlockResult): NonNullable<VisitReport['unlock']> {
  return { granted: r.result === 0, reason: r.result === 0 ? 'none' : (REASON_BY_CODE.get(r.result) ?? 'unknownCredential'), holder: r.holder, eventIndex: r.eventIndex };
}

/** What relaying a bundle produced: the report's relay fields, and the commit's receipt. */
interface RelayOutcome {
  report: Pick<VisitReport, 'relay' | 'relayError' | 'withheld' | 'anchorsApplied' | 'timeSynced' | 'timeSyncTold' | 'entryDigestRefused'>;
  receipt: Uint8Array | null;
}

function emptyRelay(): RelayOutcome {
  return { report: { relay: null, relayError: null, withheld: [], anchorsApplied: 0, timeSynced: false, timeSyncTold: null, entryDigestRefused: null }, receipt: null };
}

/** How a carried set message names its set (PROTOCOL.md §4.6, §4.7); null if its claims do not read. */
function digestFormOf(message: Uint8Array | undefined): 'entries' | 'body' | null {
  if (!message) return null;
  try {
    return peekSetMessage(message).digestForm;
  } catch {
    return null;
  }
}



/**
 * The audience claim (`aud`, the lock id) of a signed message, read without verifying or
 * decrypting: the claims are signed but not encrypted (only the set body is sealed), so a phone
 * can read them. Throws the ProtocolError of an envelope or claims map it cannot parse.
 */
/** The issue time (Unix seconds) a signed message claims, or null. Reads no key. */
export function issuedAtOf(message: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): number | null {
  const iat = claimOf(message, Claim.iat, maxBytes);
  return typeof iat === 'number' ? iat : null;
}

/** Whether a carried signed time announces the next offset change (the `transition` claim). */
export function carriesTransition(message: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): boolean {
  return claimOf(message, Claim.transition, maxBytes) !== undefined;
}

/** One claim of a signed message, read without verifying it (the phone cannot: the lock does). */
function claimOf(message: Uint8Array, key: number, maxBytes: number): unknown {
  const claims = decodeCbor(parseSign1(message, maxBytes).payload, 'claims', maxBytes);
  return claims instanceof Map ? (claims as Map<unknown, unknown>).get(key) : undefined;
}

/** A lock clock this far behind a carried signed time gets the time pushed (RTC lost or drifted). */
export const CLOCK_BEHIND_S = 60;

export function audienceOf(message: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): Uint8Array {
  const aud = claimOf(message, Claim.aud, maxBytes);
  if (!(aud instanceof Uint8Array)) throw new ProtocolError('MALFORMED', 'claims: no audience (aud) to check');
  return aud;
}

/** Why `message` must not go to `lockId`, or null if it is addressed to it. */
function withholdReason(message: Uint8Array, lockId: Uint8Array): { aud: string | null; reason: string } | null {
  try {
    const aud = audienceOf(message);
    return equalBytes(aud, lockId) ? null : { aud: toHex(aud), reason: 'WRONG_AUDIENCE' };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { aud: null, reason: err.code };
  }
}

export class Phone {
  private readonly bundles = new Map<string, RelayBundle>();
  /** Doors this phone has been to (address, handles) and the ticket each gave it (§9.8). */
  private readonly known: KnownLocks;
  private readonly tickets = new Map<string, Uint8Array>();
  /**
   * Per lock id: the lock's X25519 key as its info last showed it (unauthenticated: a forged
   * one only makes the MAC fail, and the phone falls back to the challenge) and the ticket MAC
   * key K derived from it.
   */
  private readonly macKeys = new Map<string, { lockPublic: Uint8Array; key: Uint8Array }>();
  /** Lock ids whose firmware answered `unlockTicketMac` with UNKNOWN_OPCODE (until rediscovered). */
  private readonly noTicketMac = new Set<string>();

  private constructor(
    private readonly central: Awaited<ReturnType<CentralFactory['addCentral']>>,
    private readonly options: PhoneOptions,
  ) {
    this.known = new KnownLocks(() => this.now());
  }

  static async create(options: PhoneOptions): Promise<Phone> {
    if (!options.key?.seed || !options.key.publicKey) throw badArgument('phone key', 'a SigningKey', options.key);
    const central = await options.radio.addCentral({ profile: options.profile ?? 'ios', ...(options.name ? { name: options.name } : {}) });
    return new Phone(central, options);
  }

  get address(): string {
    return this.central.address;
  }

  get noble(): Noble {
    return this.central.noble;
  }

  get key(): SigningKey {
    return this.options.key;
  }

  /** Take a bundle to relay to its door (replaces an older one for the same door). */
  carry(bundle: RelayBundle): void {
    this.bundles.set(toHex(bundle.lockId), bundle);
  }

  private now(): number {
    return this.central.now ? this.central.now() : performance.now();
  }

  /** Find, connect and open the latchkit service of a lock; the caller disconnects. */
  async connect(lockId: Uint8Array): Promise<LockClient> {
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    return connectLock(this.central.noble, lockId, { timeoutMs, findTimeoutMs: timeoutMs, crypto: this.crypto });
  }

  private get crypto(): CryptoProvider {
    return this.options.crypto ?? getCryptoProvider();
  }

  /**
   * One visit to a door (see the module comment). Disconnects at the end, also on failure.
   * The fast path (default, PROTOCOL.md §9.8) unlocks first and relays after; `path: 'classic'`
   * is the exchange of phones from before it (info, relay, challenge, unlock).
   */
  async visit(lockId: Uint8Array, o: VisitOptions = {}): Promise<VisitReport> {
    return (o.path ?? 'fast') === 'classic' ? this.visitClassic(lockId, o) : this.visitFast(lockId, o);
  }

  private clientOptions(): { timeoutMs: number; crypto: CryptoProvider } {
    return { timeoutMs: this.options.timeoutMs ?? 10_000, crypto: this.crypto };
  }

  private async visitClassic(lockId: Uint8Array, o: VisitOptions): Promise<VisitReport> {
    const t0 = this.now();
    const peripheral: Peripheral = await findLock(this.central.noble, lockId, this.options.timeoutMs ?? 10_000);
    const t1 = this.now();
    await peripheral.connectAsync();
    let client: LockClient | null = null;
    try {
      client = await LockClient.open(peripheral, this.clientOptions());
      const t2 = this.now();
      const info = await client.info();
      const bundle = this.bundles.get(toHex(lockId));
      const r = o.relay !== false && bundle ? await this.relay(client, lockId, info, bundle, false) : emptyRelay();
      let unlock: VisitReport['unlock'] = null;
      let tOpen = t2;
      if (o.unlock !== false) {
        unlock = unlockReport(await client.unlock(this.options.key, lockId));
        tOpen = this.now();
      }
      // The receipt is read after the unlock so its signed event head covers the unlock's record.
      const receipt = unlock !== null || r.receipt === null ? await client.receipt() : r.receipt;
      const events = o.readEvents === false ? [] : await client.readEvents(bundle?.eventsFrom ?? 0, o.maxEvents ?? 4096);
      const t3 = this.now();
      return {
        lockId: toHex(lockId),
        info,
        firmware: info.firmware ?? null,
        ...r.report,
        unlock,
        receipt,
        events,
        path: 'classic',
        timing: { modelled: this.central.now !== undefined, scanned: true, cached: false, scanMs: t1 - t0, connectMs: t2 - t1, exchangeMs: t3 - t2, totalMs: t3 - t0, doorOpenMs: unlock ? tOpen - t1 : null },
      };
    } finally {
      if (client) await client.disconnect().catch(() => undefined);
      else await peripheral.disconnectAsync().catch(() => undefined);
    }
  }

  /**
   * The fast path: connect straight to the remembered address (scan only on a first visit),
   * reuse cached handles when the layout hash still matches, answer the ticket without a
   * challenge round trip, then relay pipelined. Every fallback (no ticket, a layout that moved,
   * a lock without the fast path) ends in the classic exchange on the same link.
   */
  private async visitFast(lockId: Uint8Array, o: VisitOptions): Promise<VisitReport> {
    const hex = toHex(lockId);
    const t0 = this.now();
    const ticket0 = o.unlock !== false ? (this.tickets.get(hex) ?? null) : null;
    const macKey = this.options.ticketMac !== false && !this.noTicketMac.has(hex) ? (this.macKeys.get(hex)?.key ?? null) : null;
    let ticketProof: 'mac' | 'signature' | null = null;
    const answerTicket = async (c: LockClient, ticket: Uint8Array): Promise<TicketedUnlockResult> => {
      if (macKey) {
        ticketProof = 'mac';
        try {
          return await c.unlockTicketMac(this.options.key, lockId, ticket, macKey);
        } catch (err) {
          // Fast-path firmware from before the ticket MAC (the opcode's answer decides): remember
          // it for this lock and answer the same ticket with the signature, on the same link.
          if (!(err instanceof ProtocolError && err.code === 'UNKNOWN_OPCODE')) throw err;
          this.noTicketMac.add(hex);
        }
      }
      ticketProof = 'signature';
      return c.unlockTicket(this.options.key, lockId, ticket);
    };
    const link = await this.known.connect(this.central.noble, lockId, { ...this.clientOptions(), findTimeoutMs: this.options.timeoutMs ?? 10_000 }, ticket0 ? (c) => answerTicket(c, ticket0) : undefined);
    // Discovered again (first visit, or the layout moved: maybe new firmware): ask for the MAC anew next time.
    if (!link.cached) this.noTicketMac.delete(hex);
    if (!link.first) ticketProof = null;
    const client = link.client;
    const t1 = link.connectStartedAt;
    const t2 = this.now();
    try {
      let unlock: VisitReport['unlock'] = null;
      let ticket: Uint8Array | null = null;
      let tOpen: number | null = null;
      this.tickets.delete(hex);
      // staleNonce: the lock no longer holds the ticket (reboot, eviction, expiry); badProof: the
      // ticket the phone held is not the lock's (the answer carrying its successor was lost on the
      // air, or a lock impersonator planted it). Either way the challenge decides, one round trip
      // later: a key that is really refused is refused there again.
      if (link.first && link.first.result !== DenyReason.staleNonce && link.first.result !== DenyReason.badProof) {
        unlock = unlockReport(link.first);
        ticket = link.first.ticket;
        tOpen = this.now();
      }
      if (o.unlock !== false && unlock === null) {
        unlock = unlockReport(await client.unlock(this.options.key, lockId));
        tOpen = this.now();
      }
      const bundle = this.bundles.get(hex);
      let r = emptyRelay();
      let tRelay: number | null = null;
      let info: LockInfo | null = null;
      if (o.relay !== false && bundle) {
        // Signed time and anchor updates depend on what the lock holds: read its info for them.
        if (bundle.timeSync || (bundle.anchorUpdates?.length ?? 0) > 0) info = await client.info();
        r = await this.relay(client, lockId, info, bundle, true);
        if (r.report.relay) tRelay = this.now();
        // The resident's own key may have arrived with this set: the unlock is tried again.
        if (unlock && !unlock.granted && unlock.reason === 'unknownCredential' && r.report.relay) {
          unlock = unlockReport(await client.unlock(this.options.key, lockId));
          tOpen = this.now();
        }
      }
      // A lock without the fast path answers UNKNOWN_OPCODE: no ticket, the next visit challenges.
      if (unlock?.granted && ticket === null) ticket = await client.issueTicket().catch(() => null);
      if (ticket) this.tickets.set(hex, ticket);
      info ??= await client.info();
      this.learnLockKey(hex, lockId, info);
      if (r.report.entryDigestRefused) r.report.entryDigestRefused.firmware ??= info.firmware ?? null;
      const receipt = r.receipt ?? (await client.receipt());
      const events = o.readEvents === false ? [] : await client.readEvents(bundle?.eventsFrom ?? 0, o.maxEvents ?? 4096);
      const t3 = this.now();
      if (!link.cached) await this.known.remember(lockId, client);
      return {
        lockId: hex,
        info,
        firmware: info.firmware ?? null,
        ...r.report,
        unlock,
        receipt,
        events,
        path: 'fast',
        ticketProof,
        timing: {
          modelled: this.central.now !== undefined,
          scanned: link.scanned,
          cached: link.cached,
          scanMs: t1 - t0,
          connectMs: t2 - t1,
          exchangeMs: t3 - t2,
          totalMs: t3 - t0,
          doorOpenMs: tOpen === null ? null : tOpen - t1,
          relayCommittedMs: tRelay === null ? null : tRelay - t1,
        },
      };
    } finally {
      await client.disconnect().catch(() => undefined);
    }
  }

  /**
   * Remember the lock's X25519 key from its info (read on every fast visit, after the door
   * opened) and derive the ticket MAC key for it, once per key the lock shows.
   */
  private learnLockKey(hex: string, lockId: Uint8Array, info: LockInfo): void {
    if (this.options.ticketMac === false) return;
    const known = this.macKeys.get(hex);
    if (known && equalBytes(known.lockPublic, info.deviceEncryptionPublic)) return;
    try {
      this.macKeys.set(hex, { lockPublic: info.deviceEncryptionPublic.slice(), key: phoneTicketMacKey(this.options.key, lockId, info.deviceEncryptionPublic, this.crypto) });
    } catch {
      // Not an X25519 key we can agree with (low order): no MAC for this lock, the signature serves.
      this.macKeys.delete(hex);
    }
  }

  /**
   * Relay what the phone carries for this door: anchor updates, signed time (when `info` shows
   * the lock's clock behind), then the set. With `info` null (fast path) the delta is sent as
   * if the lock held its base; the lock's refusal (DELTA_BASE_MISMATCH) brings the full set.
   */
  private async relay(client: LockClient, lockId: Uint8Array, info: LockInfo | null, bundle: RelayBundle, pipelined: boolean): Promise<RelayOutcome> {
    const out = emptyRelay();
    const report = out.report;
    const push = (m: Uint8Array): Promise<PushResult> => (pipelined ? client.pushPipelined(m) : client.push(m));
    // Nothing addressed to another lock goes on the air (the lock would refuse it with
    // WRONG_LOCK after receiving every byte); the unlock still happens.
    const updates: Uint8Array[] = [];
    for (const [index, update] of (bundle.anchorUpdates ?? []).entries()) {
      const why = withholdReason(update, lockId);
      if (why) report.withheld.push({ message: 'anchorUpdate', index, ...why });
      else updates.push(update);
    }
    const set: SetBundle = {};
    for (const kind of ['delta', 'full'] as const) {
      const message = bundle[kind];
      if (!message) continue;
      const why = withholdReason(message, lockId);
      if (why) report.withheld.push({ message: kind, ...why });
      else set[kind] = message;
    }
    if (bundle.timeSync) {
      const why = withholdReason(bundle.timeSync, lockId);
      if (why) report.withheld.push({ message: 'timeSync', ...why });
      else {
        // Signed time only moves a lock clock forward; push it when the lock is behind (an
        // RTC that lost power boots at its persisted floor and asks for time this way).
        const iat = issuedAtOf(bundle.timeSync);
        if (info && iat !== null && (bundle.timeSyncDue === true || info.clock < iat - CLOCK_BEHIND_S)) {
          let transition = carriesTransition(bundle.timeSync);
          let transitionRefused = false;
          try {
            try {
              await push(bundle.timeSync);
            } catch (err) {
              // Firmware from before the transition claim refuses it whole: the plain one then.
              if (!(err instanceof ProtocolError && err.code === 'MALFORMED' && transition && bundle.timeSyncPlain)) throw err;
              transition = false;
              transitionRefused = true;
              await push(bundle.timeSyncPlain);
            }
            report.timeSynced = true;
            report.timeSyncTold = { iat, transition, transitionRefused, firmware: info.firmware ?? null };
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
            report.relayError = err.code;
          }
        }
      }
    }
    if (report.withheld.length > 0) report.relayError = report.withheld.some((w) => w.reason === 'WRONG_AUDIENCE') ? 'WRONG_LOCK' : report.withheld[0]!.reason;
    for (const update of updates) {
      try {
        await push(update);
        report.anchorsApplied++;
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        // STALE_SEQUENCE: applied on an earlier visit. Anything else is reported; the set
        // may still apply (it is signed by a key the lock already trusts, or it is refused).
        if (err.code !== 'STALE_SEQUENCE') report.relayError = err.code;
      }
    }
    if (set.delta || set.full) {
      // Without info, assume the lock holds the delta's base: the lock refuses anything else.
      const lockSeq = info ? info.seq : set.delta ? (peekSetMessage(set.delta).base ?? 0) : 0;
      try {
        const d = await deliverSet(client, lockSeq, set, undefined, pipelined);
        if (d) {
          report.relay = { sent: d.sent, fellBack: d.fellBack, seq: d.seq, bytes: d.bytes, resumedFrom: d.resumedFrom };
          out.receipt = d.receipt;
        }
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        const refused = err.code === 'MALFORMED' && digestFormOf(set.delta ?? set.full) === 'entries';
        if (refused) report.entryDigestRefused = { firmware: info?.firmware ?? null };
        // Firmware from before the entry digest: the same sequence named by its body digest, on the same link.
        const plain = refused && bundle.fullPlain && !withholdReason(bundle.fullPlain, lockId) ? bundle.fullPlain : null;
        if (plain) {
          try {
            const d = await deliverSet(client, lockSeq, { full: plain }, undefined, pipelined);
            if (d) {
              report.relay = { sent: d.sent, fellBack: true, seq: d.seq, bytes: d.bytes, resumedFrom: d.resumedFrom };
              out.receipt = d.receipt;
            }
          } catch (again) {
            if (!(again instanceof ProtocolError)) throw again;
            report.relayError = again.code;
          }
        } else if (!(info === null && err.code === 'STALE_SEQUENCE')) {
          // A lock that already holds this sequence (another phone relayed it) needs nothing.
          report.relayError = err.code;
        }
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.central.close();
  }
}

