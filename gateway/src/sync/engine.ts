/**
 * The sync engine: gets compiled sets onto locks and brings back what they enforce.
 *
 * Online doors (in range of a gateway radio) are pushed by the gateway's own noble central:
 * find the lock, read its info, commission it if it is factory-fresh, send the delta from the
 * sequence it reports (or the full set when the lock refuses the delta), and record its signed
 * receipt and event log. Link faults are retried with exponential backoff; a transfer cut by a
 * dropped link resumes at the offset the lock acknowledged (the lock keeps it across
 * connections). Offline doors are reached through phones: `relayBundlesFor` hands a person's
 * phone the bundles for the doors it can open that are behind, and `acceptVisit` takes back the
 * receipt and events it returns (passive sync).
 */
import type { CryptoProvider, DigestForm, EventRecord } from '@latchkit/protocol';
import { fromHex, ProtocolError, toHex } from '@latchkit/protocol';
import type { CentralFactory, LockClient, RelayBundle, VisitReport } from '@latchkit/simulator';
import { CLOCK_BEHIND_S, connectLock, deliverSet, KnownLocks, RadioError, SimulatorError } from '@latchkit/simulator';
import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, type Ctx } from '../model/base.js';
import { doorSeqs, doorSyncState } from '../model/sync-state.js';
import { acceptEvents, acceptReceipt, commissionDoor, compileDirty, compileDirtyAsync, compileDoorNow, compiledDigestForm, doorTimeSync, fullSetPlain, lockIdentity, receiptedDigestForm, recompileForDigestForm, sameDevice, syncPayload, type CompilerOptions, type SignerResolver } from '../compiler/index.js';
import { entryDigestSupport, forgetRefusalsUnderOtherFirmware, recordEntryDigestSupport } from '../model/claim-support.js';
import { doorsWithStaleTime, recordDoorTime, recordRelayedTime, recordTransitionSupport, transitionSupport, type LockLocalTime } from '../model/door-time.js';
import { journalDueWindows } from '../model/window-boundaries.js';
import { pendingAnchorUpdates } from '../compiler/rotation.js';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

export interface SyncEngineOptions {
  db: Db;
  /** The radio the gateway's central runs on (a virtual `Air` or `openRadio()`'s result). */
  radio: CentralFactory;
  /** Name of this gateway radio; it serves online doors whose `gatewayRadio` is this (or unset). */
  name?: string;
  /** Radio profile of the central (default `gateway` at a 15 ms interval; a manager's phone doing Door Syncs is `ios`). */
  profile?: 'gateway' | 'ios' | 'android';
  ctx?: Ctx;
  provider?: CryptoProvider;
  /**
   * The issuer signer (a KMS, an HSM, a signing process) of a property's key: everything the
   * engine has signed goes through it (compileDirtyAsync for sets; commissioning, time syncs
   * and full sets made on demand). A door whose signature fails is reported among the failures
   * (SIGNER_FAILED), nothing of it is written, and its changes stay pending for the next pass.
   * Unset, or answering undefined for a property: the key in the store.
   */
  signerFor?: SignerResolver;
  /** An external signature not back within this many ms is SIGNER_FAILED (default 30,000). */
  signTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Wall-clock ms for finding a lock and for each control-point answer (default 10,000). */
  timeoutMs?: number;
  onProgress?: (e: SyncProgress) => void;
  /** Waits between retries; injectable so tests do not sleep. */
  sleep?: (ms: number) => Promise<void>;
}

export type SyncProgress =
  | { kind: 'attempt'; doorId: number; attempt: number }
  | { kind: 'retry'; doorId: number; attempt: number; delayMs: number; error: string }
  | { kind: 'bytes'; doorId: number; sent: number; total: number }
  | { kind: 'done'; result: DoorSyncResult }
  | { kind: 'failed'; doorId: number; code: string; message: string };

export interface DoorSyncResult {
  doorId: number;
  lockId: string;
  /** What happened: nothing to do, or a set (and maybe commissioning) delivered. */
  action: 'up-to-date' | 'synced';
  commissioned: boolean;
  /**
   * Signed time was pushed: the lock's clock was more than a minute behind, or it did not know
   * the zone's offset now or its next change (daylight saving; model/door-time.ts).
   */
  timeSynced: boolean;
  sent: 'delta' | 'full' | null;
  fellBack: boolean;
  seq: number;
  bytes: number;
  resumedFrom: number;
  eventsUploaded: number;
  attempts: number;
  /** Modelled on-air ms for the whole exchange on the virtual radio (wall ms on real hardware). */
  elapsedMs: number;
  modelled: boolean;
}

/**
 * Only the link is retried: a dropped or lost connection, a lock not heard, a stalled transfer,
 * a radio timeout, or a lock that reports a newer sequence than we read (another sender got
 * there first: re-read its info). Everything else is a verdict no retry changes.
 */
function retryable(err: unknown): boolean {
  if (err instanceof ProtocolError) return err.code === 'STALE_SEQUENCE' || err.code === 'TRANSFER_UNKNOWN' || err.code === 'TRANSFER_INCOMPLETE' || err.code === 'BUSY';
  if (err instanceof SimulatorError) return ['NOT_CONNECTED', 'LOCK_NOT_FOUND', 'TRANSFER_STALLED', 'TIMEOUT'].includes(err.code);
  if (err instanceof RadioError) return err.code === 'RADIO_TIMEOUT' || err.code === 'RADIO_LINK_LOST';
  return false;
}

/**
 * Push a commissioning or time sync (made by `make`) to a lock, with the zone's next transition
 * unless the lock is known to refuse the claim (PROTOCOL.md §3.4, §7.4). Firmware from before the
 * claim refuses such a message as `MALFORMED`: that answer is recorded (with the lock-info
 * firmware string it came under) and the message goes again without the transition, so an older
 * lock keeps getting its offset, one sync per change. An accepted transition is recorded too.
 */
async function pushWithTransition<M extends { message: Uint8Array; told: LockLocalTime }>(
  db: Db,
  doorId: number,
  firmware: string,
  client: LockClient,
  make: (withTransition: boolean) => Promise<M>,
): Promise<M & Awaited<ReturnType<LockClient['push']>>> {
  const first = await make(transitionSupport(db, doorId, firmware) !== false);
  try {
    const r = await client.push(first.message);
    if (first.told.transition) recordTransitionSupport(db, doorId, true, firmware);
    return { ...first, ...r };
  } catch (err) {
    if (!(err instanceof ProtocolError && err.code === 'MALFORMED' && first.told.transition)) throw err;
    recordTransitionSupport(db, doorId, false, firmware);
    const again = await make(false);
    return { ...again, ...(await client.push(again.message)) };
  }
}

export class SyncEngine {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private queue: Promise<unknown> = Promise.resolve();
  private generation = 0;
  /** Set while stop() waits: no further door, attempt or backoff starts (serve stops promptly). */
  private stopping = false;
  private readonly retry: RetryPolicy;
  /** Doors synced before: their address and handles, so the next sync connects directly. */
  private readonly known: KnownLocks;

  private constructor(
    private readonly options: SyncEngineOptions,
    private readonly central: Awaited<ReturnType<CentralFactory['addCentral']>>,
  ) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.known = new KnownLocks(() => this.now());
  }

  static async create(options: SyncEngineOptions): Promise<SyncEngine> {
    // A gateway asks its controller for 15 ms links (Linux: Load Connection Parameters, or the
    // conn_min_interval setting) so a push to an online door is a few tens of ms of air time.
    const profile = options.profile ?? { base: 'gateway' as const, connectionIntervalMs: 15 };
    const central = await options.radio.addCentral({ profile, ...(options.name ? { name: options.name } : {}) });
    return new SyncEngine(options, central);
  }

  get address(): string {
    return this.central.address;
  }

  private get db(): Db {
    return this.options.db;
  }

  /** What every compiler call of the engine is given: its clock, crypto and signer. */
  private get opts(): CompilerOptions {
    const { ctx, provider, signerFor, signTimeoutMs } = this.options;
    return { ...(ctx ? { ctx } : {}), ...(provider ? { provider } : {}), ...(signerFor ? { signerFor } : {}), ...(signTimeoutMs === undefined ? {} : { signTimeoutMs }) };
  }

  private now(): number {
    return this.central.now ? this.central.now() : performance.now();
  }

  /** Serialise everything that uses the central: noble allows one pending connection per central. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Sync one door, retrying link faults with backoff. Throws GatewayError after the last attempt. */
  syncDoor(doorId: number): Promise<DoorSyncResult> {
    return this.exclusive(() => this.syncDoorNow(doorId));
  }

  private async syncDoorNow(doorId: number): Promise<DoorSyncResult> {
    const door = one<{ lockId: string }>(this.db, 'SELECT lock_id AS lockId FROM doors WHERE id = ?', doorId);
    if (!door) throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist`);
    // Modelled time counts from the first attempt, so retries show in what a door waited.
    const t0 = this.now();
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.retry.attempts; attempt++) {
      if (this.stopping && attempt > 1) break;
      this.options.onProgress?.({ kind: 'attempt', doorId, attempt });
      try {
        const result = await this.syncOnce(doorId, fromHex(door.lockId), attempt, t0);
        this.options.onProgress?.({ kind: 'done', result });
        return result;
      } catch (err) {
        lastError = err;
        if (!retryable(err)) {
          const e =
            err instanceof GatewayError
              ? err
              : err instanceof ProtocolError
                ? new GatewayError('LOCK_REJECTED', `lock ${door.lockId} refused the sync: ${err.code}: ${err.message}`, { protocolCode: err.code })
                : err;
          if (e instanceof GatewayError) this.options.onProgress?.({ kind: 'failed', doorId, code: e.code, message: e.message });
          throw e;
        }
        if (attempt === this.retry.attempts || this.stopping) break;
        const delayMs = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        this.options.onProgress?.({ kind: 'retry', doorId, attempt, delayMs, error: (err as Error).message });
        await (this.options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(delayMs);
      }
    }
    const tried = this.stopping ? 'before the engine stopped' : `after ${this.retry.attempts} attempts`;
    const failure = new GatewayError('RADIO_UNAVAILABLE', `door ${doorId} (lock ${door.lockId}) could not be synced ${tried}: ${(lastError as Error)?.message}`, {
      lastError: (lastError as { code?: string })?.code ?? null,
    });
    this.options.onProgress?.({ kind: 'failed', doorId, code: failure.code, message: failure.message });
    throw failure;
  }

  private async syncOnce(doorId: number, lockId: Uint8Array, attempt: number, t0: number): Promise<DoorSyncResult> {
    const opts = this.opts;
    // A door synced before is connected by address on cached handles (PROTOCOL.md §9.8), its
    // info asked in the first connection event; a new one is found by scanning and discovered.
    const link = await this.known.connect(this.central.noble, lockId, { timeoutMs: this.options.timeoutMs ?? 10_000, findTimeoutMs: this.options.timeoutMs ?? 10_000 }, (c) => c.controlInfo());
    const client: LockClient = link.client;
    try {
      let info = link.first ?? (await client.info());
      let commissioned = false;
      let timeSynced = false;
      const device = { signingPublic: info.deviceSigningPublic, encryptionPublic: info.deviceEncryptionPublic };
      const known = lockIdentity(this.db, doorId);
      if (known?.confirmedAt && (!info.commissioned || !sameDevice(known, device))) {
        // Lock info is unsigned: anything can advertise this lock id and claim to be fresh. A
        // door whose lock has confirmed its identity is never re-keyed from here (the impostor
        // would receive the content key and the property secrets); an operator forgets the old
        // identity first (`latchkit door forget-lock`).
        throw new GatewayError(
          'LOCK_IDENTITY_CHANGED',
          `lock ${toHex(lockId)} answered ${info.commissioned ? 'with other device keys' : 'as factory-fresh'}; if the hardware was replaced, forget its identity and sync again`,
        );
      }
      if (!info.commissioned || !known || !sameDevice(known, device)) {
        // First contact (installation) or a lock that never confirmed: commission it.
        const r = await pushWithTransition(this.db, doorId, info.firmware, client, (withTransition) => commissionDoor(this.db, doorId, device, opts, withTransition));
        acceptReceipt(this.db, doorId, r.receipt, opts);
        commissioned = true;
        info = await client.info();
      } else if (!known.confirmedAt) {
        acceptReceipt(this.db, doorId, await client.receipt(), opts);
      }
      // Trust anchors first: after a rotation completes, the next set is signed by a key the
      // lock learns only from these updates.
      // They count as applied only when the lock's own anchorsRotated record comes back in the
      // event upload below, verified up to the signed head (acceptEvents): neither a status
      // byte nor STALE_SEQUENCE proves anything (a lock whose counter is past this update for
      // another reason never learned its keys).
      for (const u of pendingAnchorUpdates(this.db, doorId)) {
        try {
          await client.push(u.message);
        } catch (err) {
          // Applied before (and logged then; the upload from eventsNextIndex carries the record).
          if (!(err instanceof ProtocolError && err.code === 'STALE_SEQUENCE')) throw err;
        }
      }
      // A lock clock more than a minute behind ours (an RTC that lost power boots at its flash
      // floor; a drifting crystal) gets signed time before anything else: it moves forward only.
      // So does a lock that does not know the zone's offset now or its next change: the sync
      // carries both, and the lock applies the change at its instant with no further contact.
      const nowMs = nowOf(this.options.ctx ?? {});
      const behind = info.clock < Math.floor(nowMs / 1000) - CLOCK_BEHIND_S;
      if (info.commissioned && (behind || doorsWithStaleTime(this.db, nowMs, undefined, doorId).length > 0)) {
        try {
          const { told } = await pushWithTransition(this.db, doorId, info.firmware, client, (withTransition) => doorTimeSync(this.db, doorId, opts, withTransition));
          recordDoorTime(this.db, doorId, told, nowMs);
          timeSynced = true;
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
        }
      }
      journalDueWindows(this.db, { ...opts, doorId });
      if (doorSyncState(this.db, doorId).pendingChanges > 0 || doorSyncState(this.db, doorId).compiledSeq === 0) {
        // The door's changes wait for the signer: a failure is this sync's, and the changes stay pending.
        await compileDoorNow(this.db, doorId, opts);
      }
      const delivered = await this.deliverNewest(client, doorId, info);
      // A fresh receipt signs the newest event, so the upload below is authenticated up to it.
      const { accepted, inserted } = await this.uploadEvents(client, doorId, delivered ? delivered.receipt : await client.receipt());
      if (!link.cached) await this.known.remember(lockId, client);
      return {
        doorId,
        lockId: toHex(lockId),
        action: delivered || commissioned ? 'synced' : 'up-to-date',
        commissioned,
        timeSynced,
        sent: delivered?.sent ?? null,
        fellBack: delivered?.fellBack ?? false,
        seq: accepted.receipt.seq,
        bytes: delivered?.bytes ?? 0,
        resumedFrom: delivered?.resumedFrom ?? 0,
        eventsUploaded: inserted,
        attempts: attempt,
        elapsedMs: this.now() - t0,
        modelled: this.central.now !== undefined,
      };
    } finally {
      await client.disconnect().catch(() => undefined);
    }
  }

  /**
   * Send the door's newest set (the delta from the lock's sequence, else the full set), named in
   * the form its lock takes (PROTOCOL.md §4.6, §4.7). Firmware from before the entry digest refuses
   * an `entryDigest` claim as MALFORMED: that answer is recorded with the lock-info firmware string
   * (model/claim-support.ts), the door is recompiled in the body form, and that set goes in the
   * same sync; an accepted entry-form set is recorded too. A refusal learned under another
   * firmware string is forgotten first: the lock was updated, and its next set asks again. One
   * learned under this firmware (from a phone's visit, or while a signer was signing the set)
   * recompiles a waiting entry-form set first: what the lock is known to refuse never goes.
   */
  private async deliverNewest(client: LockClient, doorId: number, info: { seq: number; firmware: string }): Promise<Awaited<ReturnType<typeof deliverSet>>> {
    const opts = this.opts;
    const support = entryDigestSupport(this.db, doorId, info.firmware);
    if (support === null && entryDigestSupport(this.db, doorId) === false) {
      // Updated firmware: the set waiting for the lock was compiled for the one that refused.
      recordEntryDigestSupport(this.db, doorId, null, null);
      await recompileForDigestForm(this.db, doorId, 'lock firmware updated: asked for the entry digest again', opts);
    } else if (support === false) {
      await recompileForDigestForm(this.db, doorId, 'lock refuses the entry digest: recompiled in the body form', opts);
    }
    let form: DigestForm | null = null;
    const send = async (): Promise<Awaited<ReturnType<typeof deliverSet>>> => {
      const newest = await syncPayload(this.db, doorId, info.seq, opts);
      if (!newest) return null;
      form = newest.digestForm;
      const full = (await syncPayload(this.db, doorId, -1, { ...opts, forceFull: true }))!;
      // Pipelined (one wait for the receipt) when a delta goes: a full set keeps the acknowledged
      // transfer's progress reports and resume points.
      const delivered = await deliverSet(
        client,
        info.seq,
        newest.kind === 'delta' ? { delta: newest.bytes, full: full.bytes } : { full: full.bytes },
        (p) => this.options.onProgress?.({ kind: 'bytes', doorId, sent: p.sent, total: p.total }),
        newest.kind === 'delta',
      );
      return delivered;
    };
    let delivered: Awaited<ReturnType<typeof send>>;
    try {
      delivered = await send();
    } catch (err) {
      if (!(err instanceof ProtocolError && err.code === 'MALFORMED' && form === 'entries')) throw err;
      recordEntryDigestSupport(this.db, doorId, false, info.firmware);
      await recompileForDigestForm(this.db, doorId, 'lock refuses the entry digest: recompiled in the body form', opts);
      return send();
    }
    if (delivered && form === 'entries' && entryDigestSupport(this.db, doorId, info.firmware) !== true) recordEntryDigestSupport(this.db, doorId, true, info.firmware);
    return delivered;
  }

  /**
   * Record the lock's receipt and upload its event records from the first one the gateway lacks.
   * The set is applied and receipted either way; a log that does not verify is reported, not
   * allowed to turn a successful sync into a failure.
   */
  private async uploadEvents(client: LockClient, doorId: number, receipt: Uint8Array): Promise<{ accepted: ReturnType<typeof acceptReceipt>; inserted: number }> {
    const opts = this.opts;
    const accepted = acceptReceipt(this.db, doorId, receipt, opts);
    const events = await client.readEvents(lockIdentity(this.db, doorId)!.eventsNextIndex);
    let inserted = 0;
    try {
      inserted = acceptEvents(this.db, doorId, events, { index: accepted.receipt.eventIndex, hash: accepted.receipt.eventHash }, opts).inserted;
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.options.onProgress?.({ kind: 'failed', doorId, code: 'LOCK_MESSAGE_INVALID', message: `event upload refused: ${err.code}: ${err.message}` });
    }
    return { accepted, inserted };
  }

  /**
   * Collect a commissioned door's new event records (its receipt first, which signs the newest
   * one): what a gateway does between syncs so a denial at an up-to-date door reaches Activity.
   * One attempt, no retry; a door not heard throws the radio's error.
   */
  collectEvents(doorId: number): Promise<{ doorId: number; eventsUploaded: number; elapsedMs: number }> {
    return this.exclusive(async () => {
      const door = one<{ lockId: string }>(this.db, 'SELECT lock_id AS lockId FROM doors WHERE id = ?', doorId);
      if (!door) throw new GatewayError('DOOR_NOT_FOUND', `door ${doorId} does not exist`);
      if (!lockIdentity(this.db, doorId)?.confirmedAt) return { doorId, eventsUploaded: 0, elapsedMs: 0 };
      const t0 = this.now();
      const timeoutMs = this.options.timeoutMs ?? 10_000;
      const client = await connectLock(this.central.noble, fromHex(door.lockId), { timeoutMs, findTimeoutMs: timeoutMs });
      try {
        const { inserted } = await this.uploadEvents(client, doorId, await client.receipt());
        return { doorId, eventsUploaded: inserted, elapsedMs: this.now() - t0 };
      } finally {
        await client.disconnect().catch(() => undefined);
      }
    });
  }

  /**
   * Online doors this radio serves that run an older sequence than compiled, have pending
   * changes, or do not know the zone's offset now or its next change.
   */
  doorsToPush(propertyId?: number): number[] {
    const staleTime = doorsWithStaleTime(this.db, nowOf(this.options.ctx ?? {}), propertyId);
    return all<{ id: number }>(
      this.db,
      `SELECT d.id FROM doors d JOIN door_sync_state s ON s.door_id = d.id
        WHERE d.connectivity = 'online' AND (? IS NULL OR d.property_id = ?)
          AND (d.gateway_radio IS NULL OR ? IS NULL OR d.gateway_radio = ?)
          AND (s.enforced_seq < s.compiled_seq OR s.compiled_seq = 0
               OR s.journal_head > s.compiled_through
               OR EXISTS (SELECT 1 FROM anchor_updates u WHERE u.door_id = d.id AND u.applied_at IS NULL)
               OR d.id IN (SELECT value FROM json_each(?)))
        ORDER BY d.id`,
      propertyId ?? null,
      propertyId ?? null,
      this.options.name ?? null,
      this.options.name ?? null,
      JSON.stringify(staleTime),
    ).map((r) => r.id);
  }

  /** Compile what changed, then push every online door that is behind. Failures are reported, not thrown. */
  pushPending(propertyId?: number): Promise<{ results: DoorSyncResult[]; failures: { doorId: number; code: string; message: string }[] }> {
    return this.exclusive(async () => {
      const compile = { ...this.opts, ...(propertyId === undefined ? {} : { propertyId }) };
      const results: DoorSyncResult[] = [];
      const failures: { doorId: number; code: string; message: string }[] = [];
      if (compile.signerFor) {
        const { failed } = await compileDirtyAsync(this.db, compile);
        for (const f of failed) failures.push({ doorId: f.doorId, code: f.error.code, message: f.error.message });
      } else {
        try {
          compileDirty(this.db, compile);
        } catch (err) {
          // A property whose key only a signer holds, and no signer here: the run stops at its
          // first door. Every door is compiled again on its own below (compileDoorNow), where
          // that property's doors fail with SIGNER_REQUIRED and every other door goes on.
          if (!(err instanceof GatewayError && err.code === 'SIGNER_REQUIRED')) throw err;
        }
      }
      for (const doorId of this.doorsToPush(propertyId)) {
        if (this.stopping) break;
        try {
          results.push(await this.syncDoorNow(doorId));
        } catch (err) {
          const e = err as { code?: string; message?: string };
          failures.push({ doorId, code: e.code ?? 'INTERNAL', message: e.message ?? String(err) });
        }
      }
      return { results, failures };
    });
  }

  /** Push online doors whenever something changes: checks every `intervalMs` (default 1,000). */
  start(intervalMs = 1_000, propertyId?: number): void {
    if (this.timer !== null || this.generation < 0) return;
    // A tick from an earlier start() must not reschedule after stop(): each loop has a generation.
    const generation = ++this.generation;
    const tick = (): void => {
      this.running = this.pushPending(propertyId)
        .catch(() => undefined)
        .finally(() => {
          if (this.timer !== null && this.generation === generation) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /**
   * Stop the loop. The pass under way finishes the attempt in flight (at most one connection
   * timeout) and starts no further door, retry or backoff; what it skipped stays pending.
   */
  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.generation++;
    this.stopping = true;
    try {
      await this.running;
      await this.queue;
    } finally {
      this.stopping = false;
    }
  }

  async close(): Promise<void> {
    await this.stop();
    await this.central.close();
  }
}

// ---------------------------------------------------------------- passive sync through phones

/** Doors a person can open now or later (through any grant not yet ended, guests included). */
function doorsOf(db: Db, personId: number, nowMinute: number): number[] {
  return all<{ id: number }>(
    db,
    `SELECT DISTINCT kd.door_id AS id FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id
      WHERE g.person_id = ? AND (g.end_min IS NULL OR g.end_min > ?) ORDER BY kd.door_id`,
    personId,
    nowMinute,
  ).map((r) => r.id);
}

/**
 * What a person's phone should carry: for each door they can open that enforces an older set
 * than compiled, the delta from the enforced sequence (if compiled) and the full set (and, for a
 * lock not known to take the entry digest, the full set in the body form: `fullPlain`); and for
 * each door whose lock has not applied an issuer-rotation anchor update, those updates (pushed
 * first; acceptEvents marks them applied from the lock's signed event log). Compiles pending
 * changes first, so the phone never carries a set that is already stale.
 */
export async function relayBundlesFor(db: Db, personId: number, o: CompilerOptions & { onlyOffline?: boolean } = {}): Promise<(RelayBundle & { doorId: number; seq: number })[]> {
  const doors = doorsOf(db, personId, Math.floor(nowOf(o.ctx ?? {}) / 60_000));
  const { onlyOffline, ...opts } = o;
  // A door whose window for someone just ended, with a later one to follow, is behind now too.
  journalDueWindows(db, opts);
  const out: (RelayBundle & { doorId: number; seq: number })[] = [];
  for (const doorId of doors) {
    const d = one<{ lockId: string; connectivity: string }>(db, 'SELECT lock_id AS lockId, connectivity FROM doors WHERE id = ?', doorId)!;
    if (onlyOffline && d.connectivity !== 'offline') continue;
    const identity = lockIdentity(db, doorId);
    if (!identity) continue;
    if (doorSyncState(db, doorId).pendingChanges > 0) await compileDoorNow(db, doorId, opts);
    // A phone cannot come back to ask: it carries the form the lock is known to take; while that
    // is not known, the entry form and, to fall back to, the same sequence in the body form
    // (`fullPlain`, like timeSyncPlain; a refusal comes back with the visit: acceptVisit). A set
    // compiled before a refusal was learned is compiled again in the body form.
    const support = entryDigestSupport(db, doorId);
    if (support === false) await recompileForDigestForm(db, doorId, 'lock refuses the entry digest: recompiled in the body form', opts);
    const state = doorSyncState(db, doorId);
    const anchorUpdates = pendingAnchorUpdates(db, doorId).map((u) => u.message);
    const behind = state.enforcedSeq < state.compiledSeq;
    // A lock that does not know its zone's offset now or next change (a coming daylight-saving
    // change, a changed zone) gets the signed time pushed by the phone, not only on a Door Sync.
    const timeDue = doorsWithStaleTime(db, nowOf(opts.ctx ?? {}), undefined, doorId).length > 0;
    if (!behind && anchorUpdates.length === 0 && !timeDue) continue;
    const delta = behind ? await syncPayload(db, doorId, state.enforcedSeq, opts) : null;
    const full = behind ? (await syncPayload(db, doorId, -1, { ...opts, forceFull: true }))! : null;
    const fullPlain = full && support === null && full.digestForm === 'entries' ? await fullSetPlain(db, doorId, opts) : null;
    out.push({
      doorId,
      seq: state.compiledSeq,
      lockId: fromHex(d.lockId),
      ...(full ? { full: full.bytes } : {}),
      ...(delta?.kind === 'delta' ? { delta: delta.bytes } : {}),
      ...(fullPlain ? { fullPlain } : {}),
      ...(anchorUpdates.length > 0 ? { anchorUpdates } : {}),
      ...(await relayTimeSync(db, doorId, opts)),
      ...(timeDue ? { timeSyncDue: true } : {}),
      eventsFrom: identity.eventsNextIndex,
    });
  }
  return out;
}

/**
 * The signed time a phone carries to a door: with the zone's next change for a lock that takes the
 * `transition` claim; for one not known either way, with it and, to fall back to, without it
 * (a relay cannot come back to ask, PROTOCOL.md §3.4); for one known to refuse it, without.
 */
async function relayTimeSync(db: Db, doorId: number, o: CompilerOptions): Promise<Pick<RelayBundle, 'timeSync' | 'timeSyncPlain'>> {
  const support = transitionSupport(db, doorId);
  const time = await doorTimeSync(db, doorId, o, support !== false);
  if (support !== null || !time.told.transition) return { timeSync: time.message };
  return { timeSync: time.message, timeSyncPlain: (await doorTimeSync(db, doorId, o, false)).message };
}

/**
 * Whether a visit upload's `entryDigestRefused` can be true of the receipt it comes with. Any
 * read-only token may upload a visit, and a lock's receipts can be read by anyone in range and
 * replayed: the claim alone must not pin a door to the body digest. It is recorded only when the
 * lock could have refused an entry-form set on that visit: the door's newest compiled set is in
 * the entry form and newer than the receipt, or the lock enforces the receipt's entry-form set
 * under its body digest (it took the relay bundle's `fullPlain` fallback). Never when the lock
 * evidently takes the entry digest (the receipt names its set by it, or this firmware string is
 * recorded as taking it), nor with a receipt older than the one the door is known to enforce.
 */
function entryDigestRefusalCredible(db: Db, doorId: number, receipt: { seq: number; digest: Uint8Array }, enforcedSeq: number, firmware: string | null, o: CompilerOptions): boolean {
  if (receipt.seq < enforcedSeq) return false;
  if (firmware !== null && entryDigestSupport(db, doorId, firmware) === true) return false;
  const form = receipt.seq > 0 ? receiptedDigestForm(db, doorId, receipt.seq, receipt.digest, o) : null;
  if (form === 'entries') return false;
  if (form === 'body' && compiledSetForm(db, doorId, receipt.seq) === 'entries') return true;
  return doorSeqs(db, doorId).compiledSeq > receipt.seq && compiledDigestForm(db, doorId) === 'entries';
}

/** The form a kept compiled set of the door is named in, or null when it is not kept. */
function compiledSetForm(db: Db, doorId: number, seq: number): DigestForm | null {
  return one<{ form: DigestForm }>(db, 'SELECT digest_form AS form FROM door_sets WHERE door_id = ? AND seq = ?', doorId, seq)?.form ?? null;
}

/**
 * Take back what a phone brought from a door: the lock's receipt and its new event records.
 * The receipt is verified on its own and recorded first (it says what the door enforces); an
 * event batch that does not verify is refused and reported, without undoing the receipt.
 */
export function acceptVisit(
  db: Db,
  report: Pick<VisitReport, 'lockId' | 'receipt' | 'events'> & Partial<Pick<VisitReport, 'timeSyncTold' | 'entryDigestRefused' | 'firmware'>>,
  o: { ctx?: Ctx; provider?: CryptoProvider } = {},
): { doorId: number; enforcedSeq: number; advanced: boolean; eventsUploaded: number; eventsRefused: string | null } {
  const door = one<{ id: number }>(db, 'SELECT id FROM doors WHERE lock_id = ?', report.lockId);
  if (!door) throw new GatewayError('DOOR_NOT_FOUND', `no door has lock ${report.lockId}`);
  const accepted = acceptReceipt(db, door.id, report.receipt, o);
  // Recorded only with a receipt that verified: the visit really reached this door's lock.
  // The lock's firmware string from the phone's info read: a refusal learned under another one
  // is forgotten (updated firmware is asked again; the bundle carries the fallback meanwhile).
  if (report.firmware) {
    forgetRefusalsUnderOtherFirmware(db, door.id, report.firmware);
    // A receipt the lock signed for an entry-form set under its entry digest proves it takes it:
    // the door's bundles stop carrying the body-form fallback.
    if (
      accepted.receipt.seq > 0 &&
      entryDigestSupport(db, door.id, report.firmware) === null &&
      receiptedDigestForm(db, door.id, accepted.receipt.seq, accepted.receipt.digest, o) === 'entries'
    ) {
      recordEntryDigestSupport(db, door.id, true, report.firmware);
    }
  }
  if (report.timeSyncTold) recordRelayedTime(db, door.id, report.timeSyncTold, nowOf(o.ctx ?? {}));
  // The phone's word, as for local time: the lock refused the entry-digest set it carried. The
  // door's next relay bundle (relayBundlesFor) and sync carry the body form. Only a refusal the
  // receipt leaves room for is recorded (entryDigestRefusalCredible).
  if (report.entryDigestRefused && entryDigestRefusalCredible(db, door.id, accepted.receipt, accepted.state.enforcedSeq, report.entryDigestRefused.firmware, o)) {
    recordEntryDigestSupport(db, door.id, false, report.entryDigestRefused.firmware);
  }
  try {
    const { inserted } = acceptEvents(db, door.id, report.events as EventRecord[], { index: accepted.receipt.eventIndex, hash: accepted.receipt.eventHash }, o);
    return { doorId: door.id, enforcedSeq: accepted.state.enforcedSeq, advanced: accepted.advanced, eventsUploaded: inserted, eventsRefused: null };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { doorId: door.id, enforcedSeq: accepted.state.enforcedSeq, advanced: accepted.advanced, eventsUploaded: 0, eventsRefused: `${err.code}: ${err.message}` };
  }
}
