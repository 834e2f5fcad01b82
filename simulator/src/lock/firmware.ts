/**
 * The lock firmware: a synchronous state machine over injected ports.
 *
 * Nothing here knows about BLE, files or timers. Inputs are method calls (a keypad entry, a
 * card tap, a control-point message, `tick()` when time passed); outputs are return values,
 * the bolt and indicator ports, flash writes and event records. That lets the same code run
 * under the GATT service on a virtual or real radio, under the interactive CLI, and in tests
 * that cut power at every flash write.
 *
 * The rules it enforces, and where each lives:
 * - sets: verified before decryption and applied only through one atomic commit
 *   (`applySetMessage`, ./storage.ts; a delta is one change-journal record, ./change-journal.ts,
 *   compacted into a full image when the journal is full or, idle, half full); a too-large set
 *   is refused and the old one stays;
 * - credentials: checked against the last committed set on the lock's own clock, with windows
 *   and schedules (`enterCode`, `tapCard`, `unlockPhone`);
 * - clock: moved only forward and only by signed times (`advanceClock`); every accepted signed
 *   time is persisted at once (with the committed state, or a time sync in the guard journal),
 *   the clock itself every 10 minutes of running, and after an RTC loss credentials that may
 *   have ended meanwhile are refused (`validity`);
 * - keypad lockout: in the guard journal (./journal.ts), written before a wrong code is shown
 *   as wrong, so neither a battery pull nor a flood of log records lifts it;
 * - unauthenticated noise (rejected messages, unknown phone keys, bad proofs): coalesced into at
 *   most one counted record per kind per minute (`logNoise`), and never logged at the expense of
 *   access records (./event-log.ts `appendNoise`).
 */
import type { AcceptedSet, CredentialKindName, CryptoProvider, DenyReasonName, DeviceKeys, EventRecord, LockInfo, LockSetState, OffsetTransition } from '@latchkit/protocol';
import {
  BulkReceiver,
  CARD_CHALLENGE_BYTES,
  checkValidity,
  Claim,
  CredentialKind,
  CredentialSet,
  dailyCode,
  DAILY_CODE_DIGITS,
  deriveIndexKey,
  deviceKeysFromSeed,
  doorcodeKey,
  equalBytes,
  issueReceipt,
  keycardKey,
  localDay,
  openAnchorRotation,
  openCommission,
  openSetMessage,
  openTimeSync,
  parseSign1,
  peekSetMessage,
  phoneKey,
  ProtocolError,
  toHex,
  UNLOCK_NONCE_BYTES,
  unlockSigningInput,
  verifyCardResponse,
  MessageType,
  DEFAULT_MAX_MESSAGE_BYTES,
  offsetAt,
} from '@latchkit/protocol';
import { badArgument, SimulatorError, simFail } from '../errors.js';
import { EventLog, isNoiseRecord, type NewEvent } from './event-log.js';
import type { FlashDevice } from './flash.js';
import type { BatteryPort, CardTransponder, RtcPort } from './hardware.js';
import { EMPTY_GUARD, GuardJournal, type GuardState } from './journal.js';
import type { DeviceProfile } from './profiles.js';
import { DEVICE_PROFILES } from './profiles.js';
import type { BootReport, ChangeJournalStatus, PersistentState } from './storage.js';
import { StateStore } from './storage.js';
import { acceptingAnySignature, mutantSetState, openIgnoringDigest, openLoosened, parseIgnoringAlg, type MutantName } from './mutants.js';

export const FIRMWARE_VERSION = 'latchkit-sim/0.1.0';

/** What a person at the door sees and hears; the CLI prints these, tests assert on them. */
export type IndicatorSignal =
  | 'boot'
  | 'keypress'
  | 'granted'
  | 'denied'
  | 'lockedOut'
  | 'relocked'
  | 'syncApplied'
  | 'syncRejected'
  | 'lowBattery'
  | 'tamper';

export interface IndicatorEvent {
  signal: IndicatorSignal;
  led: 'green' | 'red' | 'amber' | 'blue' | 'off';
  buzzer: 'none' | 'chirp' | 'double' | 'long';
}

const INDICATION: Record<IndicatorSignal, Omit<IndicatorEvent, 'signal'>> = {
  boot: { led: 'blue', buzzer: 'chirp' },
  keypress: { led: 'off', buzzer: 'chirp' },
  granted: { led: 'green', buzzer: 'double' },
  denied: { led: 'red', buzzer: 'long' },
  lockedOut: { led: 'red', buzzer: 'long' },
  relocked: { led: 'off', buzzer: 'none' },
  syncApplied: { led: 'blue', buzzer: 'none' },
  syncRejected: { led: 'amber', buzzer: 'none' },
  lowBattery: { led: 'amber', buzzer: 'chirp' },
  tamper: { led: 'red', buzzer: 'long' },
};

export interface LockPorts {
  flash: FlashDevice;
  /** Monotonic host milliseconds: drives relock, challenge expiry and keypad idle timers. */
  monotonicMs: () => number;
  rtc: RtcPort;
  random: (length: number) => Uint8Array;
  crypto: CryptoProvider;
  battery: BatteryPort;
  bolt?: (locked: boolean) => void;
  indicator?: (e: IndicatorEvent) => void;
  /** Called as a signed message starts to apply (fault injection: a power cut at its Nth write). */
  beforeApply?: () => void;
  /** Whether a central is connected now (idle work such as a journal compaction waits for no link). Default: no link. */
  linkUp?: () => boolean;
  /** Runs work done with the radio idle, so no answer is charged for its MCU time (LockDevice meters it apart). */
  offAir?: <T>(work: () => T) => T;
}

/** Factory data: burnt in at manufacturing, never in the state slots. */
export interface LockIdentity {
  lockId: Uint8Array;
  /** 32-byte seed of the device signing key (receipts) and key-wrap key (commissioning). */
  deviceSeed: Uint8Array;
}

export interface LockOptions {
  profile?: DeviceProfile;
  firmware?: string;
  /** Record a `boot` event (default true; off only for read-only inspection). */
  logBoot?: boolean;
  /**
   * Break exactly one protocol rule (./mutants.ts), to prove the conformance runner catches it.
   * Never set outside conformance tests: undefined is the correct firmware.
   */
  mutant?: MutantName;
  /**
   * Emulate firmware from before the optional `transition` claim (PROTOCOL.md §3.4): its decoder
   * took each message's claims as an exact set, so it refuses a commissioning or time sync that
   * carries a transition as `MALFORMED`. Default false (this firmware knows the claim).
   */
  beforeTransitionClaim?: boolean;
  /**
   * Emulate firmware from before the entry digest (PROTOCOL.md §4.7): its decoder knew a set
   * message's `digest` claim only, so it refuses a full set or delta that carries `entryDigest`
   * as `MALFORMED`. Default false (this firmware takes both forms).
   */
  beforeEntryDigest?: boolean;
}

export interface AccessOutcome {
  granted: boolean;
  reason: DenyReasonName;
  kind: CredentialKindName | null;
  holder: number;
  event: EventRecord;
}

export interface PhoneChallenge {
  nonce: Uint8Array;
  /** Lock clock when issued, Unix seconds (sent to the phone). */
  lockTime: number;
  expiresAtMs: number;
}

function sameTransition(a: OffsetTransition | null, b: OffsetTransition | null): boolean {
  return a === b || (a !== null && b !== null && a.at === b.at && a.offset === b.offset);
}

export interface SyncOutcome {
  kind: 'full' | 'delta';
  seq: number;
  digest: Uint8Array;
  receipt: Uint8Array;
}

export interface LockStateSummary {
  lockId: string;
  firmware: string;
  profile: string;
  commissioned: boolean;
  generation: number;
  anchors: number;
  /** The offset in force now, and the next change the lock was told of (daylight saving), if any. */
  utcOffset: number;
  offsetTransition: OffsetTransition | null;
  seq: number;
  digest: string | null;
  setIssuedAt: number | null;
  counts: { doorcode: number; daily: number; keycard: number; phone: number; holders: number } | null;
  clock: number;
  battery: number;
  bolt: 'locked' | 'unlocked';
  lockedOutUntil: number | null;
  /** Wrong keypad codes counted towards the next lockout, and lockouts since the last success. */
  keypad: { failures: number; lockoutLevel: number };
  /**
   * After an RTC loss, until the lock clock passes this (Unix seconds) a credential whose window
   * ends at or before it is refused; null when the clock is trusted.
   */
  clockUncertainUntil: number | null;
  /** Persisted clock floor (Unix seconds): the clock never boots below it. */
  clockFloor: number;
  /** Unauthenticated failures that got no event record because the log had no room for noise. */
  droppedNoise: number;
  nextEventIndex: number;
  oldestEventIndex: number;
  /** Where the state in force now is committed. */
  flash: { slot: 0 | 1 | null; generation: number; slotBytes: number; imageBytes: number };
  /** What this boot found. */
  boot: BootReport;
}

export const KIND_BY_CODE: Record<number, CredentialKindName> = { 1: 'doorcode', 2: 'daily', 3: 'keycard', 4: 'phone' };
const RECENT_NONCES = 8;
const LOW_BATTERY_PERCENT = 15;
/** A signed time that moves the clock by less than this is not worth an event record. */
const CLOCK_EVENT_THRESHOLD_S = 60;
/** Events scanned at boot to rebuild the keypad lockout, only for a lock without a journal entry yet (upgrade). */
const LOCKOUT_SCAN_EVENTS = 512;
/**
 * Clock checkpoint interval K (lock seconds): the floor is written at least this often while the
 * lock runs, so after an RTC loss the clock restarts at most K behind the time the power went.
 */
export const CLOCK_CHECKPOINT_SECONDS = 600;
/** At most one record per kind of unauthenticated failure per this window (host ms). */
export const NOISE_WINDOW_MS = 60_000;
/** The count of a coalesced noise record lives in `detail` above the low byte. */
const NOISE_COUNT_MAX = 0xffffff;

/** One kind of unauthenticated failure being coalesced. */
interface NoiseWindow {
  /** Host ms when the window closes. */
  endsMs: number;
  /** Failures since the last record of this kind that no record counts yet. */
  pending: number;
  /** The newest of them (written as the record when the window closes). */
  last: Omit<NewEvent, 'time'>;
  /** The last record written for this kind (what a coalesced attempt reports). */
  record: EventRecord | null;
}

export class LockFirmware {
  readonly lockId: Uint8Array;
  readonly lockIdHex: string;
  readonly profile: DeviceProfile;
  readonly firmware: string;
  readonly device: DeviceKeys;
  readonly events: EventLog;
  readonly boot: BootReport;
  /** The one rule this firmware breaks on purpose (./mutants.ts); undefined for the real firmware. */
  readonly mutant: MutantName | undefined;

  private state: PersistentState;
  private readonly store: StateStore;
  private credentials: CredentialSet | null = null;
  private indexKey: Uint8Array | null = null;
  private daily: { day: number; digest: string; codes: Map<string, number[]> } | null = null;
  private readonly bulk: BulkReceiver;
  private halted: SimulatorError | null = null;

  private boltLocked = true;
  private relockAtMs: number | null = null;
  private keypadBuffer = '';
  private keypadLastMs = 0;
  private keypadFailures = 0;
  private lockoutLevel = 0;
  private lockoutUntil = 0;
  private readonly journal: GuardJournal;
  /** The journal's newest entry at boot (null: none, a new lock or one from before the journal). */
  private readonly journalAtBoot: GuardState | null;
  /** Clock floor last written to the journal. */
  private guardFloor = 0;
  /** After an RTC loss: see `LockStateSummary.clockUncertainUntil` (0 = none). */
  private uncertainUntil = 0;
  private droppedNoise = 0;
  private persistedDropped = 0;
  private lastGuardWriteMs = 0;
  private readonly noise = new Map<string, NoiseWindow>();
  private readonly recentNonces: Uint8Array[] = [];
  /** The one nonce the `reuses-nonce` mutant hands out. */
  private reusedNonce: Uint8Array | undefined;
  private lowBatteryWarned = false;
  /**
   * Newest signed time accepted (set, commissioning, rotation, time sync). After a reboot it
   * restarts from the committed times (clock floor, set and commissioning) and the guard
   * journal's `offsetIssuedAt`: a sync that only confirms the offset in force commits no state.
   */
  private newestSigned = 0;
  /**
   * `iat` of the message whose UTC offset the lock holds (commissioning or time sync). A sync
   * signed the same second with other content is not taken: the lock cannot tell which of the
   * two is newer, so it keeps the one it has (first delivered wins; PROTOCOL.md §7.4).
   */
  private offsetIssuedAt = 0;
  /** `offsetIssuedAt` as the guard journal last recorded it. */
  private persistedOffsetIssuedAt = 0;
  /** LockOptions.beforeTransitionClaim: refuse the claim as firmware from before it did. */
  private readonly beforeTransitionClaim: boolean;
  /** LockOptions.beforeEntryDigest: refuse the `entryDigest` claim as firmware from before it did. */
  private readonly beforeEntryDigest: boolean;
  private readonly eventListeners = new Set<(e: EventRecord) => void>();

  private constructor(
    identity: LockIdentity,
    private readonly ports: LockPorts,
    options: LockOptions,
  ) {
    if (!(identity.lockId instanceof Uint8Array) || identity.lockId.length !== 8) throw badArgument('lock id', 'Uint8Array of 8 bytes', identity.lockId);
    if (!(identity.deviceSeed instanceof Uint8Array) || identity.deviceSeed.length !== 32) throw badArgument('device seed', 'Uint8Array of 32 bytes', identity.deviceSeed);
    this.lockId = identity.lockId.slice();
    this.lockIdHex = toHex(this.lockId);
    this.profile = options.profile ?? DEVICE_PROFILES.standard;
    this.firmware = options.firmware ?? FIRMWARE_VERSION;
    this.device = deviceKeysFromSeed(identity.deviceSeed, ports.crypto);
    this.mutant = options.mutant;
    this.beforeTransitionClaim = options.beforeTransitionClaim === true;
    this.beforeEntryDigest = options.beforeEntryDigest === true;
    const opened = StateStore.open(ports.flash, this.profile, ports.crypto, { overwriteInForce: this.breaks('torn-commit') });
    this.store = opened.store;
    this.state = opened.state;
    this.boot = opened.boot;
    this.events = EventLog.open(ports.flash, this.profile, ports.crypto, this.lockId);
    const j = GuardJournal.open(ports.flash, this.profile, ports.crypto);
    this.journal = j.journal;
    this.journalAtBoot = j.state;
    // PROTOCOL.md §6.7: the slot size is the message limit, so a set that cannot fit is refused
    // at bulkBegin (OVERSIZE), before its bytes cross the air.
    this.bulk = new BulkReceiver(this.breaks('accepts-oversize') ? DEFAULT_MAX_MESSAGE_BYTES * 4 : this.profile.slotBytes, ports.crypto);
    this.loadCredentials();
  }

  /** Boot from flash: the committed state, the event log, the guard journal (clock floor, lockout). */
  static boot(identity: LockIdentity, ports: LockPorts, options: LockOptions = {}): LockFirmware {
    const lock = new LockFirmware(identity, ports, options);
    const g = lock.journalAtBoot;
    const committed = Math.max(lock.state.clockFloor, lock.state.set?.issuedAt ?? 0, lock.state.commission?.commissionedAt ?? 0);
    const floor = Math.max(committed, g?.clockFloor ?? 0);
    lock.guardFloor = g?.clockFloor ?? 0;
    lock.uncertainUntil = g?.clockUncertainUntil ?? 0;
    lock.droppedNoise = lock.persistedDropped = g?.droppedNoise ?? 0;
    // An RTC below the floor lost power (a running one never goes below a floor it passed). The
    // clock restarts at the floor, up to K behind the time the power went: until it passes
    // floor + K, a credential ending before that may have ended already (see `validity`).
    const rtcLost = floor > 0 && ports.rtc.read() < floor;
    if (rtcLost) {
      ports.rtc.write(floor);
      lock.uncertainUntil = Math.max(lock.uncertainUntil, floor + CLOCK_CHECKPOINT_SECONDS);
    }
    lock.persistedOffsetIssuedAt = g?.offsetIssuedAt ?? 0;
    lock.offsetIssuedAt = Math.max(lock.state.commission?.commissionedAt ?? 0, lock.persistedOffsetIssuedAt);
    lock.newestSigned = Math.max(committed, lock.persistedOffsetIssuedAt);
    lock.restoreLockout();
    lock.lastGuardWriteMs = ports.monotonicMs();
    // The first journal entry (a new lock, or one upgraded from the event-log lockout), and the
    // margin after an RTC loss, which a later reboot with a good RTC must not forget.
    if (options.logBoot !== false && (g === null || rtcLost)) lock.persistGuard();
    if (options.logBoot !== false) {
      lock.log({ type: 'boot', detail: lock.boot.generation });
      lock.indicate('boot');
    }
    return lock;
  }

  // ------------------------------------------------------------------ state and clock

  /** Whether this firmware is the mutant that breaks `rule` (always false for the real firmware). */
  breaks(rule: MutantName): boolean {
    return this.mutant === rule;
  }

  /** Lock time, whole Unix seconds. */
  now(): number {
    return Math.floor(this.ports.rtc.read());
  }

  get commissioned(): boolean {
    return this.state.commission !== null;
  }

  get seq(): number {
    return this.state.set?.seq ?? 0;
  }

  get set(): CredentialSet | null {
    return this.credentials;
  }

  /** The offset in force now: the stored one, or the announced transition's once its instant has passed. */
  get utcOffset(): number {
    const c = this.state.commission;
    return c ? offsetAt(c.utcOffset, this.breaks('ignores-transition') ? null : c.transition, this.now()) : 0;
  }

  /** The next offset change this lock knows of (from its newest time sync or commissioning), or null. */
  get offsetTransition(): OffsetTransition | null {
    return this.state.commission?.transition ?? null;
  }

  get locked(): boolean {
    return this.boltLocked;
  }

  get lockedOut(): boolean {
    return this.now() < this.lockoutUntil;
  }

  /** End of the keypad lockout in force (lock time, Unix seconds), or null. */
  get lockedOutUntil(): number | null {
    return this.lockedOut ? this.lockoutUntil : null;
  }

  /** The persisted state, for inspection (do not mutate). */
  get persisted(): Readonly<PersistentState> {
    return this.state;
  }

  get isHalted(): boolean {
    return this.halted !== null;
  }

  /** Subscribe to appended event records (GATT events characteristic, CLI watch). */
  onEvent(listener: (e: EventRecord) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  info(): LockInfo {
    this.alive();
    return {
      lockId: this.lockId,
      seq: this.seq,
      digest: this.state.set?.digest ?? new Uint8Array(32),
      clock: this.now(),
      batteryPercent: this.ports.battery.percent(),
      commissioned: this.commissioned,
      lockedOut: this.lockedOut,
      nextEventIndex: this.events.nextIndex,
      deviceSigningPublic: this.device.signing.publicKey,
      deviceEncryptionPublic: this.device.encryptionPublic,
      firmware: this.firmware,
    };
  }

  summary(): LockStateSummary {
    const set = this.credentials;
    return {
      lockId: this.lockIdHex,
      firmware: this.firmware,
      profile: this.profile.name,
      commissioned: this.commissioned,
      generation: this.state.commission?.generation ?? 0,
      anchors: this.state.commission?.anchors.length ?? 0,
      utcOffset: this.utcOffset,
      offsetTransition: this.offsetTransition,
      seq: this.seq,
      digest: this.state.set ? toHex(this.state.set.digest) : null,
      setIssuedAt: this.state.set?.issuedAt ?? null,
      counts: set ? { doorcode: set.counts.doorcode, daily: set.counts.daily, keycard: set.counts.keycard, phone: set.counts.phone, holders: set.counts.holders } : null,
      clock: this.now(),
      battery: this.ports.battery.percent(),
      bolt: this.boltLocked ? 'locked' : 'unlocked',
      lockedOutUntil: this.lockedOut ? this.lockoutUntil : null,
      keypad: { failures: this.keypadFailures, lockoutLevel: this.lockoutLevel },
      clockUncertainUntil: this.clockUncertain ? this.uncertainUntil : null,
      clockFloor: this.persistedFloor,
      droppedNoise: this.droppedNoise,
      nextEventIndex: this.events.nextIndex,
      oldestEventIndex: this.events.oldestIndex,
      flash: { ...this.store.committed, slotBytes: this.profile.slotBytes, imageBytes: this.store.imageSize(this.state) },
      boot: this.boot,
    };
  }

  /**
   * Move the clock to a signed time if that is later. Returns whether it moved. Never moves it
   * back: a relayed old set or time sync cannot revive an expired credential.
   */
  private advanceClock(signedSeconds: number): boolean {
    this.newestSigned = Math.max(this.newestSigned, signedSeconds);
    const current = this.ports.rtc.read();
    const moved = this.breaks('clock-backwards') ? signedSeconds !== Math.floor(current) : signedSeconds > current;
    if (moved) this.ports.rtc.write(signedSeconds);
    // A signed time newer than every persisted floor is written at once (replays of older ones
    // write nothing), so an RTC loss right after a time sync restarts from it. A set, delta,
    // commissioning or rotation committed its time with the state already: no journal write.
    if (signedSeconds > this.persistedFloor) this.persistGuard();
    if (moved && signedSeconds - current >= CLOCK_EVENT_THRESHOLD_S) this.log({ type: 'clockSet', detail: signedSeconds });
    return moved;
  }

  /**
   * Write the guard state (lockout, clock floor, dropped-noise counter, RTC-loss margin) as the
   * journal's newest entry. The floor is the lock's clock now, once a signed time set it.
   */
  private persistGuard(): void {
    const now = this.now();
    const floor = this.commissioned || this.guardFloor > 0 ? Math.max(this.persistedFloor, now) : 0;
    const next: GuardState = {
      ...EMPTY_GUARD,
      keypadFailures: this.keypadFailures,
      lockoutLevel: this.lockoutLevel,
      lockoutUntil: this.lockoutUntil > now ? this.lockoutUntil : 0,
      clockFloor: floor,
      clockUncertainUntil: this.uncertainUntil > now ? this.uncertainUntil : 0,
      droppedNoise: this.droppedNoise,
      offsetIssuedAt: this.offsetIssuedAt,
    };
    try {
      this.journal.write(next);
    } catch (err) {
      if (err instanceof SimulatorError && err.code === 'POWER_CUT') this.die(err);
      throw err;
    }
    this.guardFloor = floor;
    this.persistedDropped = next.droppedNoise;
    this.persistedOffsetIssuedAt = next.offsetIssuedAt;
    this.lastGuardWriteMs = this.ports.monotonicMs();
  }

  /** The highest clock floor in flash: the journal's, or the times committed with the state. */
  private get persistedFloor(): number {
    return Math.max(this.guardFloor, this.state.clockFloor, this.state.set?.issuedAt ?? 0, this.state.commission?.commissionedAt ?? 0);
  }

  /** The change journal (deltas appended since the last full image; storage.ts). */
  get changeJournal(): ChangeJournalStatus {
    return this.store.journal;
  }

  /**
   * Idle compaction: with no link up and the change journal more than half full, write the state
   * in force as a full image and erase the journal (storage.ts `commit`), so the next deltas find
   * room. Its MCU time is charged off the air (`LockPorts.offAir`): a real firmware does it with
   * the radio idle, in erase slices between radio events. Returns whether it compacted.
   */
  compactIfIdle(): boolean {
    this.alive();
    if (this.ports.linkUp?.() === true) return false;
    const j = this.store.journal;
    if (j.records === 0 || 2 * j.used <= j.size) return false;
    const work = (): void => this.commitState(this.state);
    if (this.ports.offAir) this.ports.offAir(work);
    else work();
    return true;
  }

  /** Journal writes since boot (wear accounting, tests). */
  get journalWrites(): number {
    return this.journal.writes;
  }

  // ------------------------------------------------------------------ lifecycle messages

  /** Dispatch any signed message by its type (what arrives over the bulk channel). */
  applyMessage(bytes: Uint8Array): { type: 'set' | 'commission' | 'rotateAnchors' | 'timeSync'; sync?: SyncOutcome } {
    this.alive();
    this.ports.beforeApply?.();
    let type: number;
    try {
      type = this.messageType(bytes);
    } catch (err) {
      this.rejected(err);
      throw err;
    }
    switch (type) {
      case MessageType.fullSet:
      case MessageType.delta:
        return { type: 'set', sync: this.applySetMessage(bytes) };
      case MessageType.commission:
        this.commission(bytes);
        return { type: 'commission' };
      case MessageType.rotateAnchors:
        this.rotateAnchors(bytes);
        return { type: 'rotateAnchors' };
      case MessageType.timeSync:
        this.timeSync(bytes);
        return { type: 'timeSync' };
      default: {
        const err = new ProtocolError('MALFORMED', `a lock does not accept ${type === MessageType.receipt ? 'receipts' : `message type ${type}`}`);
        this.rejected(err);
        throw err;
      }
    }
  }

  /** First commissioning (trust on first use) or re-commissioning signed by a current anchor. */
  commission(bytes: Uint8Array): void {
    this.alive();
    const prev = this.state.commission;
    let c;
    try {
      c = openCommission(bytes, { lockId: this.lockId, device: this.device, anchors: prev?.anchors ?? null, generation: prev?.generation ?? 0, provider: this.ports.crypto });
      this.refuseUnknownTransition(c.transition);
    } catch (err) {
      this.rejected(err);
      throw err;
    }
    const sameKey = prev !== null && equalBytes(prev.contentKey, c.contentKey);
    // A new content key orphans the set (its keys are HMACs under the old index key), but its
    // sequence stays as the anti-rollback floor: the set is replaced by an empty body at that seq.
    const set = this.state.set && !sameKey ? { ...this.state.set, digest: new Uint8Array(32), body: new Uint8Array(0) } : this.state.set;
    this.commitState({
      commission: {
        generation: c.generation,
        rotationSeq: prev?.rotationSeq ?? 0,
        commissionedAt: c.issuedAt,
        utcOffset: c.utcOffset,
        transition: c.transition ?? null,
        anchors: c.anchors,
        contentKey: c.contentKey,
      },
      set,
      clockFloor: Math.max(this.state.clockFloor, c.issuedAt),
    });
    this.offsetIssuedAt = c.issuedAt;
    this.advanceClock(c.issuedAt);
    this.log({ type: 'commissioned', detail: c.generation });
  }

  /** Firmware from before the claim: an extra claim key is `MALFORMED` (PROTOCOL.md §3.4). */
  private refuseUnknownTransition(transition: OffsetTransition | undefined): void {
    if (this.beforeTransitionClaim && transition) throw new ProtocolError('MALFORMED', 'claim -65546 is not one of this message type\'s claims');
  }

  rotateAnchors(bytes: Uint8Array): void {
    this.alive();
    const c = this.requireCommissioned();
    let r;
    try {
      r = openAnchorRotation(bytes, { lockId: this.lockId, anchors: c.anchors, rotationSeq: c.rotationSeq, provider: this.ports.crypto });
    } catch (err) {
      this.rejected(err);
      throw err;
    }
    this.commitState({ ...this.state, commission: { ...c, anchors: r.anchors, rotationSeq: r.seq }, clockFloor: Math.max(this.state.clockFloor, r.issuedAt) });
    this.advanceClock(r.issuedAt);
    this.log({ type: 'anchorsRotated', detail: r.seq });
  }

  /**
   * Signed time sync. The time only moves the clock forward; the UTC offset (daylight saving)
   * is taken only from a sync at least as new as every signed time accepted.
   */
  timeSync(bytes: Uint8Array): void {
    this.alive();
    const c = this.requireCommissioned();
    let t;
    try {
      t = openTimeSync(bytes, { lockId: this.lockId, anchors: c.anchors, provider: this.breaks('unsigned-time') ? acceptingAnySignature(this.ports.crypto) : this.ports.crypto });
      this.refuseUnknownTransition(t.transition);
    } catch (err) {
      this.rejected(err);
      throw err;
    }
    // PROTOCOL.md §7.4: the offset and the transition are taken only from a sync at least as new
    // as every signed time accepted, so a replayed sync cannot bring back last season's offset.
    // They are taken together: a newer sync without a transition means none is known, so the
    // lock forgets one it holds (the zone's rules changed, or the property moved to a fixed one).
    // Two syncs signed the same second with different content: the one already taken stays.
    const transition = t.transition ?? null;
    const differs = t.utcOffset !== c.utcOffset || !sameTransition(transition, c.transition);
    const takes = (t.time >= this.newestSigned && !(differs && t.time === this.offsetIssuedAt)) || this.breaks('replayed-offset');
    if (takes && differs) {
      this.commitState({ ...this.state, commission: { ...c, utcOffset: t.utcOffset, transition }, clockFloor: Math.max(this.state.clockFloor, t.time) });
    }
    if (takes) this.offsetIssuedAt = Math.max(this.offsetIssuedAt, t.time);
    this.advanceClock(t.time);
    // A sync that confirmed the offset in force committed nothing: its time goes to the journal
    // so a reboot still refuses older ones (advanceClock wrote it already if it set the floor).
    if (this.offsetIssuedAt > this.persistedOffsetIssuedAt) this.persistGuard();
  }

  /**
   * Verify, decrypt and atomically apply a full set or delta; returns the signed receipt.
   * Rejections are ProtocolErrors (with `needsFullSet` for a delta that does not apply) or
   * FLASH_CAPACITY; each is logged as `syncRejected` and the enforced set is unchanged.
   */
  applySetMessage(bytes: Uint8Array): SyncOutcome {
    this.alive();
    const c = this.requireCommissioned();
    let accepted: AcceptedSet;
    try {
      this.refuseUnknownEntryDigest(bytes);
      accepted = this.openSet(bytes, {
        lockId: this.lockId,
        anchors: c.anchors,
        contentKey: c.contentKey,
        seq: this.seq,
        current: this.credentials,
        maxBytes: this.profile.slotBytes,
        provider: this.ports.crypto,
        entryAcc: this.state.set?.entryAcc ?? null,
      });
      const next: PersistentState = {
        ...this.state,
        set: { seq: accepted.seq, issuedAt: accepted.issuedAt, digest: accepted.digest, body: accepted.set.body, entryAcc: accepted.entryAcc ?? null },
        clockFloor: Math.max(this.state.clockFloor, accepted.issuedAt),
      };
      // A delta goes to the change journal as one record (storage.ts); anything else is a full image.
      const base = this.state.set;
      if (accepted.kind === 'delta' && accepted.deltaPlain && base) this.commitState(next, { plain: accepted.deltaPlain, baseSeq: base.seq });
      else this.commitState(next);
    } catch (err) {
      this.rejected(err);
      throw err;
    }
    this.credentials = accepted.set;
    this.daily = null;
    this.ports.battery.drain((bytes.length / 1024) * this.profile.radioMahPerKiB);
    this.advanceClock(accepted.issuedAt);
    this.log({ type: 'syncApplied', detail: accepted.seq });
    this.indicate('syncApplied');
    return { kind: accepted.kind, seq: accepted.seq, digest: accepted.digest, receipt: this.receipt() };
  }

  /** Firmware from before the entry digest: its claims decoder knows no `entryDigest` (PROTOCOL.md §4.7). */
  private refuseUnknownEntryDigest(bytes: Uint8Array): void {
    if (this.beforeEntryDigest && peekSetMessage(bytes, DEFAULT_MAX_MESSAGE_BYTES).digestForm === 'entries') {
      throw new ProtocolError('MALFORMED', `claim ${Claim.entryDigest} is not one of this message type's claims`);
    }
  }

  /** The envelope checks (§6.1) and the message type; `ignores-alg` skips E8. */
  private messageType(bytes: Uint8Array): number {
    try {
      return parseSign1(bytes, DEFAULT_MAX_MESSAGE_BYTES).type;
    } catch (err) {
      if (this.breaks('ignores-alg') && err instanceof ProtocolError && err.code === 'UNSUPPORTED_ALGORITHM') return parseIgnoringAlg(bytes, DEFAULT_MAX_MESSAGE_BYTES).type;
      throw err;
    }
  }

  /** PROTOCOL.md §6.2 through the library; a mutant firmware gets one of its checks wrong. */
  private openSet(bytes: Uint8Array, state: LockSetState & { provider: CryptoProvider }): AcceptedSet {
    if (this.mutant === undefined) return openSetMessage(bytes, state);
    const opening = mutantSetState(this.mutant, bytes, state);
    try {
      return openSetMessage(bytes, opening);
    } catch (err) {
      if (this.breaks('ignores-digest')) return openIgnoringDigest(bytes, opening, err);
      return openLoosened(this.mutant, bytes, state, err);
    }
  }

  /** A receipt for what the lock enforces now, signed with its device key. */
  receipt(): Uint8Array {
    this.alive();
    const head = this.events.head ?? { index: 0, chain: this.events.chainBefore(0)! };
    return issueReceipt(
      this.device.signing,
      { lockId: this.lockId, seq: this.seq, digest: this.state.set?.digest ?? new Uint8Array(32), time: this.now(), eventIndex: head.index, eventHash: head.chain },
      this.ports.crypto,
    );
  }

  /** The lock's bulk receiver: one per lock, so a transfer resumes across connections. */
  get bulkReceiver(): BulkReceiver {
    this.alive();
    return this.bulk;
  }

  private rejected(err: unknown): void {
    if (err instanceof SimulatorError && err.code === 'POWER_CUT') return this.die(err);
    const wire = err instanceof ProtocolError ? err.wire : err instanceof SimulatorError ? (err.wire ?? 0xff) : 0xff;
    this.logNoise({ type: 'syncRejected', detail: wire & 0xff });
    this.indicate('syncRejected');
  }

  private requireCommissioned(): NonNullable<PersistentState['commission']> {
    if (!this.state.commission) {
      const err = new ProtocolError('NOT_COMMISSIONED', `lock ${this.lockIdHex} has no trust anchors yet; commission it first`);
      this.rejected(err);
      throw err;
    }
    return this.state.commission;
  }

  private commitState(next: PersistentState, delta?: { plain: Uint8Array; baseSeq: number }): void {
    try {
      if (delta) this.store.commitDelta(next, delta);
      else this.store.commit(next);
    } catch (err) {
      if (err instanceof SimulatorError && err.code === 'POWER_CUT') this.die(err);
      throw err;
    }
    const keyChanged = !this.state.commission || !next.commission || !equalBytes(this.state.commission.contentKey, next.commission.contentKey);
    this.state = next;
    if (keyChanged || next.set?.body !== this.credentials?.body) this.loadCredentials();
  }

  private loadCredentials(): void {
    const c = this.state.commission;
    this.indexKey = c ? deriveIndexKey(c.contentKey, this.lockId) : null;
    const body = this.state.set?.body;
    this.credentials = c && body && body.length > 0 ? CredentialSet.parse(body) : null;
    this.daily = null;
  }

  // ------------------------------------------------------------------ access

  /** One keypad key: digits, `#` (or Enter) submits, `*` clears. Returns the outcome on submit. */
  pressKey(key: string): AccessOutcome | null {
    this.alive();
    this.expireKeypad();
    this.keypadLastMs = this.ports.monotonicMs();
    if (key === '*') {
      this.keypadBuffer = '';
      return null;
    }
    if (key === '#' || key === '\n' || key === '\r') {
      const code = this.keypadBuffer;
      this.keypadBuffer = '';
      return this.enterCode(code);
    }
    if (!/^[0-9]$/.test(key)) throw badArgument('keypad key', 'a digit, "#" or "*"', key);
    // A real keypad keeps taking digits; anything past 16 can only be wrong.
    if (this.keypadBuffer.length < 16) this.keypadBuffer += key;
    this.indicate('keypress');
    return null;
  }

  private expireKeypad(): void {
    if (this.keypadBuffer && this.ports.monotonicMs() - this.keypadLastMs > this.profile.keypadIdleSeconds * 1000) this.keypadBuffer = '';
  }

  /** A complete keypad entry (static doorcode or today's daily code). */
  enterCode(code: string): AccessOutcome {
    this.alive();
    if (!this.profile.hasKeypad) simFail('BAD_ARGUMENT', `the ${this.profile.name} device profile has no keypad`);
    if (typeof code !== 'string') throw badArgument('code', 'a string of digits', code);
    if (this.lockedOut) return this.deny('doorcode', 0, 'lockedOut');
    const set = this.credentials;
    if (!set) return this.deny('doorcode', 0, 'noSet');
    if (!/^[0-9]{4,12}$/.test(code)) return this.keypadFailure();
    const now = this.nowMinutes();
    let firstVerdict: DenyReasonName | null = null;
    let firstHolder = 0;
    let firstKind: CredentialKindName = 'doorcode';
    const row = set.find('doorcode', doorcodeKey(this.indexKey!, code, this.ports.crypto));
    if (row >= 0) {
      const h = set.holderAt(row);
      const v = this.validity(h, now);
      if (v === 'ok') return this.grant('doorcode', h.holder);
      firstVerdict = verdictReason(v);
      firstHolder = h.holder;
    }
    if (code.length === DAILY_CODE_DIGITS && set.secrets) {
      for (const hr of this.dailyCodes(now).get(code) ?? []) {
        const h = set.holderAt(hr);
        const v = this.validity(h, now);
        if (v === 'ok') return this.grant('daily', h.holder);
        if (firstVerdict === null) {
          firstVerdict = verdictReason(v);
          firstHolder = h.holder;
          firstKind = 'daily';
        }
      }
    }
    if (firstVerdict !== null) return this.deny(firstKind, firstHolder, firstVerdict);
    return this.keypadFailure();
  }

  /** Today's daily codes (property local day), derived once per day and set. */
  private dailyCodes(nowMinutes: number): Map<string, number[]> {
    const set = this.credentials!;
    const day = localDay(nowMinutes, this.utcOffset);
    const digest = toHex(this.state.set!.digest);
    if (this.daily && this.daily.day === day && this.daily.digest === digest) return this.daily.codes;
    const codes = new Map<string, number[]>();
    for (const hr of set.dailyHolderRows()) {
      const code = dailyCode(set.secrets!.daily, set.holderAt(hr).holder, day, this.ports.crypto);
      const rows = codes.get(code);
      if (rows) rows.push(hr);
      else codes.set(code, [hr]);
    }
    this.daily = { day, digest, codes };
    return codes;
  }

  /** Precompute today's daily codes now (the firmware does this at midnight, off the keypad path). */
  warmDailyCodes(): void {
    if (this.credentials?.secrets) this.dailyCodes(this.nowMinutes());
  }

  /**
   * A credential's window and schedule on the lock's clock. After an RTC loss the clock may be
   * up to K behind the time the power went, so until it passes `uncertainUntil` (floor + K) a
   * window that ends at or before that is treated as ended: a grant that ended before the loss
   * never opens again, at the cost of refusing one that ends within K of the floor a little early.
   */
  private validity(h: Parameters<typeof checkValidity>[0], nowMinutes: number): ReturnType<typeof checkValidity> {
    const v = checkValidity(h, nowMinutes, this.utcOffset);
    if (v === 'ok' && h.end !== null && this.clockUncertain && Math.floor(this.uncertainUntil / 60) >= h.end) return 'expired';
    return v;
  }

  private get clockUncertain(): boolean {
    return this.uncertainUntil > 0 && this.now() < this.uncertainUntil;
  }

  /**
   * A wrong code. The new count (and the lockout it starts) is written to the journal before the
   * denial is logged or shown: a power cut during that write leaves the old count, but then
   * nothing told the person at the keypad that the code was wrong, so the guess gained nothing.
   */
  private keypadFailure(): AccessOutcome {
    const failures = this.keypadFailures + 1;
    const lockout = failures >= this.profile.lockoutThreshold;
    if (lockout) {
      this.lockoutUntil = this.now() + this.lockoutDuration(this.lockoutLevel);
      this.lockoutLevel++;
      this.keypadFailures = 0;
    } else {
      this.keypadFailures = failures;
    }
    this.persistGuard();
    const outcome = this.deny('doorcode', 0, 'unknownCredential');
    if (lockout) {
      this.log({ type: 'lockout', kind: CredentialKind.doorcode, detail: failures });
      this.indicate('lockedOut');
    }
    return outcome;
  }

  private lockoutDuration(level: number): number {
    return Math.min(this.profile.maxLockoutSeconds, this.profile.lockoutSeconds * 2 ** Math.min(level, 30));
  }

  /**
   * The lockout as the journal has it. A lock without a journal entry (new, or upgraded from
   * firmware that kept the lockout only in the event log) rebuilds it from the newest records of
   * the log once; boot then writes it as the first journal entry.
   */
  private restoreLockout(): void {
    const g = this.journalAtBoot;
    if (g) {
      this.keypadFailures = g.keypadFailures;
      this.lockoutLevel = g.lockoutLevel;
      this.lockoutUntil = g.lockoutUntil;
      return;
    }
    const tail = this.events.tail(LOCKOUT_SCAN_EVENTS);
    let failures = 0;
    let lockouts = 0;
    let lastLockout: EventRecord | null = null;
    for (let i = tail.length - 1; i >= 0; i--) {
      const e = tail[i]!;
      const keypadKind = e.kind === CredentialKind.doorcode || e.kind === CredentialKind.daily;
      if (e.type === 'granted' && keypadKind) break;
      if (e.type === 'lockout') {
        lockouts++;
        lastLockout ??= e;
      } else if (e.type === 'denied' && keypadKind && e.reason === 'unknownCredential' && lastLockout === null) {
        failures++;
      }
    }
    this.keypadFailures = failures;
    this.lockoutLevel = lockouts;
    this.lockoutUntil = lastLockout ? lastLockout.time + this.lockoutDuration(lockouts - 1) : 0;
  }

  /** A card held to the reader: look the UID up, then challenge the card for its key. */
  tapCard(card: CardTransponder): AccessOutcome {
    this.alive();
    if (!this.profile.hasCardReader) simFail('BAD_ARGUMENT', `the ${this.profile.name} device profile has no card reader`);
    const set = this.credentials;
    if (!set) return this.deny('keycard', 0, 'noSet');
    const uid = card.uid;
    if (!(uid instanceof Uint8Array) || uid.length < 4 || uid.length > 10) return this.deny('keycard', 0, 'unknownCredential');
    const row = set.find('keycard', keycardKey(this.indexKey!, uid, this.ports.crypto));
    if (row < 0) return this.deny('keycard', 0, 'unknownCredential');
    const h = set.holderAt(row);
    const challenge = this.ports.random(CARD_CHALLENGE_BYTES);
    const response = card.respond(this.lockId, challenge);
    if (!(response instanceof Uint8Array) || !verifyCardResponse(set.secrets!.cardMaster, uid, this.lockId, challenge, response, this.ports.crypto)) {
      return this.deny('keycard', h.holder, 'badProof');
    }
    const v = this.validity(h, this.nowMinutes());
    return v === 'ok' ? this.grant('keycard', h.holder) : this.deny('keycard', h.holder, verdictReason(v));
  }

  /** A fresh single-use nonce for a phone to sign. The caller (the connection) holds it. */
  createChallenge(): PhoneChallenge {
    this.alive();
    const nonce = this.breaks('reuses-nonce') ? (this.reusedNonce ??= this.ports.random(UNLOCK_NONCE_BYTES)) : this.ports.random(UNLOCK_NONCE_BYTES);
    return { nonce, lockTime: this.now(), expiresAtMs: this.ports.monotonicMs() + this.profile.challengeSeconds * 1000 };
  }

  /**
   * Check a phone's signed answer. `challenge` is the one the connection holds, which the
   * caller must already have cleared: whatever the result, a nonce is used once. A response
   * that verifies against a nonce already used is logged as a replay (staleNonce).
   */
  unlockPhone(challenge: PhoneChallenge | null, publicKey: Uint8Array, signature: Uint8Array, signingInput: (lockId: Uint8Array, nonce: Uint8Array) => Uint8Array = unlockSigningInput): AccessOutcome {
    const wellFormed = signature instanceof Uint8Array && signature.length === 64;
    return this.unlockPhoneWith(challenge, publicKey, wellFormed ? (nonce) => this.ports.crypto.ed25519Verify(signature, signingInput(this.lockId, nonce), publicKey) : null);
  }

  /**
   * The decision of `unlockPhone` for any proof over a nonce: `verifies(nonce)` says whether the
   * phone's answer proves that nonce (an Ed25519 signature, or the ticket MAC of §9.8); null
   * for an answer that is malformed (badProof once the set is known to exist).
   */
  unlockPhoneWith(challenge: PhoneChallenge | null, publicKey: Uint8Array, verifies: ((nonce: Uint8Array) => boolean) | null): AccessOutcome {
    this.alive();
    const set = this.credentials;
    if (!set) return this.deny('phone', 0, 'noSet');
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || verifies === null) {
      return this.deny('phone', 0, 'badProof');
    }
    const row = set.find('phone', phoneKey(this.indexKey!, publicKey, this.ports.crypto));
    if (row < 0) return this.deny('phone', 0, 'unknownCredential');
    const h = set.holderAt(row);
    const expired = challenge !== null && this.ports.monotonicMs() > challenge.expiresAtMs && !this.breaks('nonce-never-expires');
    if (challenge === null || expired) return this.replayOrStale(verifies, h.holder, 'staleNonce');
    const ok = this.breaks('skips-phone-proof') || verifies(challenge.nonce);
    const outcome = ok ? null : this.replayOrStale(verifies, h.holder, 'badProof');
    this.rememberNonce(challenge.nonce);
    if (outcome) return outcome;
    const v = this.validity(h, this.nowMinutes());
    return v === 'ok' ? this.grant('phone', h.holder) : this.deny('phone', h.holder, verdictReason(v));
  }

  /** The crypto provider the firmware computes with (metered on a device with an MCU profile). */
  get crypto(): CryptoProvider {
    return this.ports.crypto;
  }

  /** A proof that verifies against an already used nonce is a replay; otherwise `otherwise`. */
  private replayOrStale(verifies: (nonce: Uint8Array) => boolean, holder: number, otherwise: DenyReasonName): AccessOutcome {
    for (const nonce of this.recentNonces) {
      if (verifies(nonce)) return this.deny('phone', holder, 'staleNonce');
    }
    return this.deny('phone', holder, otherwise);
  }

  private rememberNonce(nonce: Uint8Array): void {
    this.recentNonces.push(nonce);
    if (this.recentNonces.length > RECENT_NONCES) this.recentNonces.shift();
  }

  /** Physical tamper sensor (forced bolt, opened case). */
  reportTamper(detail = 0): EventRecord {
    this.alive();
    const e = this.log({ type: 'tamper', detail });
    this.indicate('tamper');
    return e;
  }

  private nowMinutes(): number {
    return Math.floor(this.now() / 60);
  }

  private grant(kind: CredentialKindName, holder: number): AccessOutcome {
    if ((kind === 'doorcode' || kind === 'daily') && (this.keypadFailures > 0 || this.lockoutLevel > 0)) {
      this.keypadFailures = 0;
      this.lockoutLevel = 0;
      this.persistGuard();
    }
    const event = this.log({ type: 'granted', kind: CredentialKind[kind], holder });
    this.indicate('granted');
    this.boltLocked = false;
    this.ports.bolt?.(false);
    this.relockAtMs = this.ports.monotonicMs() + this.profile.autoRelockSeconds * 1000;
    this.ports.battery.drain(this.profile.actuationMah);
    if (this.ports.battery.percent() < LOW_BATTERY_PERCENT && !this.lowBatteryWarned) {
      this.lowBatteryWarned = true;
      this.indicate('lowBattery');
    }
    return { granted: true, reason: 'none', kind, holder, event };
  }

  private deny(kind: CredentialKindName, holder: number, reason: DenyReasonName): AccessOutcome {
    const e = { type: 'denied' as const, kind: CredentialKind[kind], holder, reason };
    const event = isNoiseRecord(e) ? this.logNoise(e) : this.log(e);
    this.indicate(reason === 'lockedOut' ? 'lockedOut' : 'denied');
    return { granted: false, reason, kind, holder, event };
  }

  // ------------------------------------------------------------------ time passing

  /**
   * Run due timers: auto-relock, keypad idle, and today's daily codes after local midnight; and,
   * with no link up, compact a change journal past half full (`compactIfIdle`).
   * Returns the next deadline (monotonic ms).
   */
  tick(): number {
    this.alive();
    const now = this.ports.monotonicMs();
    if (this.relockAtMs !== null && now >= this.relockAtMs) {
      this.relockAtMs = null;
      this.boltLocked = true;
      this.ports.bolt?.(true);
      this.indicate('relocked');
    }
    this.expireKeypad();
    this.warmDailyCodes();
    this.flushNoise();
    this.compactIfIdle();
    const lockNow = this.ports.rtc.read();
    // Clock checkpoint: the floor at most K behind the clock. The dropped-noise counter goes out
    // with it (on a lock without a clock yet, on its own at most every K).
    const checkpointDue = this.commissioned ? this.persistedFloor + CLOCK_CHECKPOINT_SECONDS : null;
    if (checkpointDue !== null ? lockNow >= checkpointDue : this.droppedNoise !== this.persistedDropped && now - this.lastGuardWriteMs >= CLOCK_CHECKPOINT_SECONDS * 1000) {
      this.persistGuard();
    }
    const nextMidnight = (localDay(Math.floor(lockNow / 60), this.utcOffset) + 1) * 86400 - this.utcOffset * 60;
    const deadlines = [now + Math.max(1, (nextMidnight - lockNow) * 1000)];
    // An offset change moves local midnight: wake at it to count the next midnight again.
    const transition = this.offsetTransition;
    if (transition && transition.at > lockNow) deadlines.push(now + Math.max(1, (transition.at - lockNow) * 1000));
    if (checkpointDue !== null) deadlines.push(now + Math.max(1, Math.ceil((checkpointDue - lockNow) * 1000)));
    else if (this.droppedNoise !== this.persistedDropped) deadlines.push(this.lastGuardWriteMs + CLOCK_CHECKPOINT_SECONDS * 1000);
    if (this.relockAtMs !== null) deadlines.push(this.relockAtMs);
    if (this.keypadBuffer) deadlines.push(this.keypadLastMs + this.profile.keypadIdleSeconds * 1000 + 1);
    // Each open noise window: its count (if any) goes out when it closes.
    for (const w of this.noise.values()) deadlines.push(w.endsMs);
    return Math.min(...deadlines);
  }

  // ------------------------------------------------------------------ events

  private log(e: Omit<NewEvent, 'time'>): EventRecord {
    let record: EventRecord;
    try {
      record = this.events.append({ ...e, time: this.now() });
    } catch (err) {
      if (err instanceof SimulatorError && err.code === 'POWER_CUT') this.die(err);
      throw err;
    }
    for (const l of this.eventListeners) l(record);
    return record;
  }

  /**
   * Log an unauthenticated failure (`isNoiseRecord`), coalesced: per kind (record type, reason
   * and, for a rejected message, its wire status) at most one record per NOISE_WINDOW_MS. The
   * first failure after a quiet window is written at once, as before; later ones in the window
   * are counted, and the count goes out in the next record of that kind (the first failure after
   * the window, or `tick()` when the window closes). A record's `detail` keeps its usual meaning
   * in the low byte (the wire status of a `syncRejected`, 0 for a denial) and above it the number
   * of further failures of that kind it stands for: it counts `1 + (detail >>> 8)` failures.
   * A record the log refuses (no room for noise, ./event-log.ts) adds its failures to the
   * persisted dropped-noise counter instead. Returns the record this failure is counted in, or
   * the last one of its kind while its count is pending.
   */
  private logNoise(e: Omit<NewEvent, 'time'>): EventRecord {
    const key = `${e.type}/${e.kind ?? 0}/${e.reason ?? 'none'}/${e.type === 'syncRejected' ? (e.detail ?? 0) : 0}`;
    const nowMs = this.ports.monotonicMs();
    const w = this.noise.get(key);
    if (w && nowMs < w.endsMs) {
      w.pending++;
      w.last = e;
      return w.record ?? this.notLogged(e);
    }
    const further = w?.pending ?? 0;
    const next: NoiseWindow = { endsMs: nowMs + NOISE_WINDOW_MS, pending: 0, last: e, record: w?.record ?? null };
    this.noise.set(key, next);
    next.record = this.appendNoise(e, further) ?? next.record;
    return next.record ?? this.notLogged(e);
  }

  /** Write the counts of windows that closed with failures no record counts yet. */
  private flushNoise(): void {
    const nowMs = this.ports.monotonicMs();
    for (const [key, w] of this.noise) {
      if (nowMs < w.endsMs) continue;
      if (w.pending === 0) {
        this.noise.delete(key);
        continue;
      }
      const pending = w.pending;
      w.pending = 0;
      w.endsMs = nowMs + NOISE_WINDOW_MS;
      w.record = this.appendNoise(w.last, pending - 1) ?? w.record;
    }
  }

  /** One noise record standing for `1 + further` failures, or null when the log refused it. */
  private appendNoise(e: Omit<NewEvent, 'time'>, further: number): EventRecord | null {
    const counted = Math.min(further, NOISE_COUNT_MAX);
    const detail = ((e.detail ?? 0) & 0xff) + counted * 256;
    let record: EventRecord | null;
    try {
      record = this.events.appendNoise({ ...e, detail, time: this.now() });
    } catch (err) {
      if (err instanceof SimulatorError && err.code === 'POWER_CUT') this.die(err);
      throw err;
    }
    if (record === null) {
      this.droppedNoise = Math.min(0xffffffff, this.droppedNoise + 1 + further);
      return null;
    }
    // A count too large for the record's 24 bits (16.7 million in one minute) is dropped noise.
    if (further > counted) this.droppedNoise = Math.min(0xffffffff, this.droppedNoise + further - counted);
    for (const l of this.eventListeners) l(record);
    return record;
  }

  /**
   * What a failure without a record of its own reports (the phone's `eventIndex`): a record that
   * is not in the log, at the index the next record will get.
   */
  private notLogged(e: Omit<NewEvent, 'time'>): EventRecord {
    return { index: this.events.nextIndex, time: this.now(), type: e.type, kind: e.kind ?? 0, reason: e.reason ?? 'none', holder: e.holder ?? 0, detail: e.detail ?? 0, chain: new Uint8Array(12) };
  }

  private indicate(signal: IndicatorSignal): void {
    this.ports.indicator?.({ signal, ...INDICATION[signal] });
  }

  private die(err: SimulatorError): never {
    this.halted = err;
    throw err;
  }

  private alive(): void {
    if (this.halted) simFail('LOCK_HALTED', `lock ${this.lockIdHex} lost power (${this.halted.message}); boot it again from flash`);
  }
}

function verdictReason(v: 'ok' | 'not_yet_valid' | 'expired' | 'outside_schedule'): DenyReasonName {
  switch (v) {
    case 'not_yet_valid':
      return 'notYetValid';
    case 'expired':
      return 'expired';
    case 'outside_schedule':
      return 'outsideSchedule';
    default:
      return 'none';
  }
}


