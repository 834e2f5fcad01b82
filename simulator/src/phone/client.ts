/**
 * Central side of the latchkit GATT service over noble: what a resident's phone and the
 * gateway's sync engine both use to talk to a lock.
 *
 * One request is outstanding at a time (responses carry the request's token, and a lock serves
 * one central). Control requests go out as write-without-response segments, because the
 * notified response is the acknowledgement; an acknowledged write would only add two connection
 * intervals per segment. Set messages go over the bulk channel and resume at the offset the lock
 * acknowledges, so a transfer cut by a dropped link continues on the next connection.
 */
import type { Characteristic, Peripheral } from '@abandonware/noble';
import type { ControlResponse, CryptoProvider, UnknownOpcodeResponse, EventRecord, LockInfo, OpcodeName, SigningKey, UnlockResult } from '@latchkit/protocol';
import {
  bulkChunks,
  checkStatus,
  decodeBulkProgress,
  decodeEvents,
  decodeLockInfo,
  decodeResponse,
  decodeUnlockChallenge,
  decodeUnlockResult,
  decodeEvent,
  encodeBulkBegin,
  encodeEventsRead,
  encodeRequest,
  encodeUnlockPhone,
  equalBytes,
  GattUuid,
  getCryptoProvider,
  LAYOUT_UUID,
  MIN_ATT_MTU,
  peekSetMessage,
  ProtocolError,
  Reassembler,
  segment,
  toHex,
  ticketSigningInput,
  TICKET_BYTES,
  transferId,
  unlockSigningInput,
  decodeTicketedUnlockResult,
  encodeUnlockTicketMac,
  ticketMac,
  type TicketedUnlockResult,
} from '@latchkit/protocol';
import { SimulatorError, simFail } from '../errors.js';
import { EVENTS_PER_READ } from '../lock/session.js';

export interface LockClientOptions {
  /** Wall-clock ms to wait for one control-point answer (default 15,000). */
  timeoutMs?: number;
  /** Send control requests as acknowledged writes (default false: write without response). */
  controlWithResponse?: boolean;
  /** Also subscribe to the events characteristic; `onEvent` hears each new record. */
  onEvent?: (e: EventRecord) => void;
  crypto?: CryptoProvider;
}

export interface PushProgress {
  sent: number;
  total: number;
  /** Offset the lock had already acknowledged when this push began (0 = fresh transfer). */
  resumedFrom: number;
}

export interface PushResult {
  receipt: Uint8Array;
  bytes: number;
  resumedFrom: number;
  /** Status round trips the transfer needed beyond the first (after a lost chunk). */
  retries: number;
}

/**
 * What the client writes and reads: noble characteristics after discovery, or the same
 * operations on attribute handles a phone cached on an earlier visit (`LockClient.fromHandles`).
 */
interface Channels {
  info: { readAsync(): Promise<Buffer> };
  control: { write(data: Buffer, withoutResponse: boolean): void; writeAsync(data: Buffer, withoutResponse: boolean): Promise<void> };
  bulk: { write(data: Buffer, withoutResponse: boolean): void };
}

/** Attribute handles of the latchkit service on one lock, as a phone caches them (§9.8). */
export interface LockHandles {
  info: number;
  control: number;
  /** The control point's Client Characteristic Configuration descriptor. */
  controlCccd: number;
  bulk: number;
  layout: number;
}

type Pending = { opcode: OpcodeName; resolve(r: ControlResponse): void; reject(e: Error): void };

function expectTicket(payload: Uint8Array): Uint8Array {
  if (payload.length !== TICKET_BYTES) throw new ProtocolError('MALFORMED', `ticket: expected ${TICKET_BYTES} bytes, got ${payload.length}`);
  return payload;
}

export class LockClient {
  private token = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly reassembler = new Reassembler();
  private readonly eventsReassembler = new Reassembler();
  /** Answers awaited by token: pipelined requests (pushPipelined) have several in flight. */
  private readonly pending = new Map<number, Pending>();
  private disconnected = false;
  /** Removes the handle-notification listener of a client on cached handles. */
  private detach: (() => void) | null = null;
  private readonly onDisconnect = (): void => {
    this.disconnected = true;
    this.rejectAll(new SimulatorError('NOT_CONNECTED', 'the link to the lock dropped while waiting for an answer'));
  };

  private constructor(
    readonly peripheral: Peripheral,
    private readonly chars: Channels,
    private readonly options: LockClientOptions,
  ) {}

  private rejectAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }

  /**
   * A client on attribute handles cached from an earlier visit: no discovery, and the control
   * point's notifications are switched on with a Write Command to its CCCD (no round trip). The
   * caller checks the layout hash (`readLayout`) to know the handles still hold.
   */
  static fromHandles(peripheral: Peripheral, handles: LockHandles, options: LockClientOptions = {}): LockClient {
    if (peripheral.state !== 'connected') simFail('NOT_CONNECTED', `peripheral ${peripheral.address} is ${peripheral.state}, connect it first`);
    const write = (handle: number) => (data: Buffer, withoutResponse: boolean): void => peripheral.writeHandle(handle, data, withoutResponse, () => undefined);
    const client = new LockClient(
      peripheral,
      {
        info: { readAsync: () => peripheral.readHandleAsync(handles.info) },
        control: { write: write(handles.control), writeAsync: (data, withoutResponse) => peripheral.writeHandleAsync(handles.control, data, withoutResponse) },
        bulk: { write: write(handles.bulk) },
      },
      options,
    );
    peripheral.once('disconnect', client.onDisconnect);
    const onNotify = (handle: number, data: Buffer): void => {
      if (handle === handles.control) client.onControlData(new Uint8Array(data));
    };
    peripheral.on('handleNotify', onNotify);
    client.detach = () => peripheral.removeListener('handleNotify', onNotify);
    peripheral.once('disconnect', client.detach);
    peripheral.writeHandle(handles.controlCccd, Buffer.from([0x01, 0x00]), true, () => undefined);
    return client;
  }

  /** Discover the latchkit service on a connected peripheral and subscribe to the control point. */
  static async open(peripheral: Peripheral, options: LockClientOptions = {}): Promise<LockClient> {
    if (peripheral.state !== 'connected') simFail('NOT_CONNECTED', `peripheral ${peripheral.address} is ${peripheral.state}, connect it first`);
    const uuids = [GattUuid.info, GattUuid.control, GattUuid.bulk, GattUuid.events, LAYOUT_UUID];
    const { characteristics } = await peripheral.discoverSomeServicesAndCharacteristicsAsync([GattUuid.service], uuids).catch((err: unknown) =>
      simFail('LOCK_NOT_FOUND', `peripheral ${peripheral.address} serves no latchkit service (${err instanceof Error ? err.message : String(err)}); is it a latchkit lock?`),
    );
    const by = (uuid: string): Characteristic => {
      const c = characteristics.find((x) => x.uuid === uuid);
      if (!c) simFail('LOCK_NOT_FOUND', `peripheral ${peripheral.address} has no latchkit characteristic ${uuid}; is it a latchkit lock?`);
      return c;
    };
    const control = by(GattUuid.control);
    const events = by(GattUuid.events);
    const client = new LockClient(peripheral, { info: by(GattUuid.info), control, bulk: by(GattUuid.bulk) }, options);
    peripheral.once('disconnect', client.onDisconnect);
    control.on('data', (data: Buffer) => client.onControlData(new Uint8Array(data)));
    await control.subscribeAsync();
    if (options.onEvent) {
      const onEvent = options.onEvent;
      events.on('data', (data: Buffer) => {
        try {
          const whole = client.eventsReassembler.push(new Uint8Array(data));
          if (whole) onEvent(decodeEvent(whole));
        } catch {
          // A malformed event notification is dropped; the log is read back over the control point anyway.
        }
      });
      await events.subscribeAsync();
    }
    return client;
  }

  /**
   * The handles discovery found on this link, for a phone to cache (null when the lock serves no
   * layout characteristic: firmware without the fast path). noble keeps them in its GATT state
   * and offers no public accessor; a phone OS's GATT cache is what this stands in for.
   */
  discoveredHandles(): LockHandles | null {
    type NobleChar = { valueHandle: number; endHandle?: number };
    const internals = this.peripheral as unknown as { _noble?: { _bindings?: { _handles?: Record<string, number>; _gatts?: Record<number, { _characteristics?: Record<string, Record<string, NobleChar>> }> } } };
    const bindings = internals._noble?._bindings;
    const conn = bindings?._handles?.[this.peripheral.id];
    const chars = conn === undefined ? undefined : bindings?._gatts?.[conn]?._characteristics?.[GattUuid.service];
    const info = chars?.[GattUuid.info];
    const control = chars?.[GattUuid.control];
    const bulk = chars?.[GattUuid.bulk];
    const layout = chars?.[LAYOUT_UUID];
    if (!info || !control || !bulk || !layout) return null;
    // The CCCD directly follows a notifying characteristic's value (bleno, Zephyr and the
    // SoftDevice all allocate it there); the layout hash covers a change of that too.
    return { info: info.valueHandle, control: control.valueHandle, controlCccd: control.valueHandle + 1, bulk: bulk.valueHandle, layout: layout.valueHandle };
  }

  /** Read the layout hash by its handle (a cached client) or by discovery's characteristic. */
  async readLayout(handle: number): Promise<Uint8Array> {
    if (!this.connected) simFail('NOT_CONNECTED', 'not connected to the lock');
    return new Uint8Array(await this.peripheral.readHandleAsync(handle));
  }

  /** The ATT MTU of the link (what segments and chunks are sized to). */
  get mtu(): number {
    return Math.max(MIN_ATT_MTU, this.peripheral.mtu ?? MIN_ATT_MTU);
  }

  get connected(): boolean {
    return !this.disconnected && this.peripheral.state === 'connected';
  }

  private get crypto(): CryptoProvider {
    return this.options.crypto ?? getCryptoProvider();
  }

  private onControlData(value: Uint8Array): void {
    let whole: Uint8Array | null;
    try {
      whole = this.reassembler.push(value);
    } catch {
      return;
    }
    if (!whole || this.pending.size === 0) return;
    let response: ControlResponse | UnknownOpcodeResponse;
    try {
      response = decodeResponse(whole);
    } catch (err) {
      this.rejectAll(err as Error);
      return;
    }
    const p = this.pending.get(response.token);
    if (!p) return;
    if (response.opcode === 'unknown') {
      // The lock does not know this opcode (older firmware): a typed error, not a hang.
      this.pending.delete(response.token);
      p.reject(ProtocolError.fromWire(response.status, `lock does not support ${p.opcode} (opcode 0x${response.opcodeByte.toString(16)})`));
      return;
    }
    if (response.opcode !== p.opcode) return;
    this.pending.delete(response.token);
    p.resolve(response);
  }

  /** One control-point request; resolves with the response (status not checked). */
  request(opcode: OpcodeName, payload: Uint8Array = new Uint8Array(0)): Promise<ControlResponse> {
    const run = async (): Promise<ControlResponse> => this.send(opcode, payload);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Write one request now, without waiting for earlier answers (they are matched by token).
   * Resolves when the whole request was handed to the stack; the inner promise is the answer.
   */
  private async send(opcode: OpcodeName, payload: Uint8Array): Promise<ControlResponse> {
    if (!this.connected) simFail('NOT_CONNECTED', 'not connected to the lock');
    const token = (this.token = (this.token + 1) & 0xff);
    const timeoutMs = this.options.timeoutMs ?? 15_000;
    const answer = new Promise<ControlResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new SimulatorError('TIMEOUT', `lock did not answer ${opcode} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, {
        opcode,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    const withResponse = this.options.controlWithResponse ?? false;
    const segments = segment(encodeRequest({ opcode, token, payload }), this.mtu);
    for (const seg of segments) {
      if (withResponse) await this.chars.control.writeAsync(Buffer.from(seg), false);
      else this.chars.control.write(Buffer.from(seg), true);
    }
    return answer;
  }

  private async ok(opcode: OpcodeName, payload?: Uint8Array): Promise<Uint8Array> {
    return checkStatus(await this.request(opcode, payload)).payload;
  }

  /**
   * Lock info over the control point (`getInfo`), written at once rather than queued, so a read
   * put after it shares its connection event (the gateway's first request on cached handles).
   */
  async controlInfo(): Promise<LockInfo> {
    return decodeLockInfo(checkStatus(await this.send('getInfo', new Uint8Array(0))).payload);
  }

  /** Read the info characteristic (one long read). */
  async info(): Promise<LockInfo> {
    if (!this.connected) simFail('NOT_CONNECTED', 'not connected to the lock');
    return decodeLockInfo(new Uint8Array(await this.chars.info.readAsync()));
  }

  /** Challenge, sign, answer. The result says granted (0) or the deny reason. */
  async unlock(phone: SigningKey, lockId: Uint8Array): Promise<UnlockResult> {
    const { nonce } = decodeUnlockChallenge(await this.ok('unlockChallenge'));
    const signature = this.crypto.ed25519Sign(phone.seed, unlockSigningInput(lockId, nonce));
    return decodeUnlockResult(await this.ok('unlockPhone', encodeUnlockPhone({ publicKey: phone.publicKey, signature })));
  }

  /**
   * Fast path (§9.8): sign the ticket the lock issued on the last granted unlock and send it,
   * with no challenge round trip. The answer carries the next ticket when the unlock is granted.
   */
  async unlockTicket(phone: SigningKey, lockId: Uint8Array, ticket: Uint8Array): Promise<TicketedUnlockResult> {
    const signature = this.crypto.ed25519Sign(phone.seed, ticketSigningInput(lockId, ticket));
    return this.unlockTicketWith(phone.publicKey, signature);
  }

  /** Send a ticket answer with an arbitrary (possibly replayed) signature; for tests and tools. */
  async unlockTicketWith(publicKey: Uint8Array, signature: Uint8Array): Promise<TicketedUnlockResult> {
    // Written at once (not queued behind earlier requests), so a caller can put a read after it
    // in the same connection event.
    return decodeTicketedUnlockResult(checkStatus(await this.send('unlockTicket', encodeUnlockPhone({ publicKey, signature }))).payload);
  }

  /**
   * Fast path with the ticket MAC (§9.8): answer the ticket with `HMAC(K, …)[0..16)` under the
   * ticket MAC key K this phone key shares with the lock (`phoneTicketMacKey`). A lock whose
   * firmware predates it rejects with UNKNOWN_OPCODE and keeps the ticket.
   */
  async unlockTicketMac(phone: SigningKey, lockId: Uint8Array, ticket: Uint8Array, macKey: Uint8Array): Promise<TicketedUnlockResult> {
    return this.unlockTicketMacWith(phone.publicKey, ticketMac(macKey, lockId, ticket, this.crypto));
  }

  /** Send a ticket MAC answer with an arbitrary (possibly replayed) MAC; for tests and tools. */
  async unlockTicketMacWith(publicKey: Uint8Array, mac: Uint8Array): Promise<TicketedUnlockResult> {
    // Written at once, like unlockTicketWith.
    return decodeTicketedUnlockResult(checkStatus(await this.send('unlockTicketMac', encodeUnlockTicketMac({ publicKey, mac }))).payload);
  }

  /**
   * Stop using this client without dropping the link (its cached handles turned out wrong):
   * waiting answers are rejected and notifications on those handles are ignored from now on.
   */
  abandon(): void {
    this.disconnected = true;
    this.peripheral.removeListener('disconnect', this.onDisconnect);
    this.detach?.();
    this.rejectAll(new SimulatorError('NOT_CONNECTED', 'client abandoned (cached handles no longer valid)'));
  }

  /** A ticket for the key granted on this link (after a slow-path unlock). */
  async issueTicket(): Promise<Uint8Array> {
    return expectTicket(await this.ok('ticketIssue'));
  }

  /** Answer a challenge with an arbitrary (possibly replayed) signature; for tests and tools. */
  async unlockWith(publicKey: Uint8Array, signature: Uint8Array, fresh = true): Promise<{ nonce: Uint8Array | null; result: UnlockResult }> {
    const nonce = fresh ? decodeUnlockChallenge(await this.ok('unlockChallenge')).nonce : null;
    return { nonce, result: decodeUnlockResult(await this.ok('unlockPhone', encodeUnlockPhone({ publicKey, signature }))) };
  }

  /** Ask for a challenge only (a phone that signs it itself). */
  async challenge(): Promise<Uint8Array> {
    return decodeUnlockChallenge(await this.ok('unlockChallenge')).nonce;
  }

  /**
   * Send a signed message (full set, delta, commissioning, anchor rotation, time sync) over the
   * bulk channel and commit it. Resumes where the lock's receiver stands. Resolves with the
   * lock's signed receipt; a rejection throws the lock's typed ProtocolError (e.g.
   * DELTA_BASE_MISMATCH with `needsFullSet`), or SimulatorError NOT_CONNECTED if the link drops.
   */
  async push(message: Uint8Array, onProgress?: (p: PushProgress) => void): Promise<PushResult> {
    const id = transferId(message, this.crypto);
    const total = message.length;
    const begin = decodeBulkProgress(await this.ok('bulkBegin', encodeBulkBegin({ id, total })));
    if (!equalBytes(begin.id, id)) throw new ProtocolError('MALFORMED', 'lock answered bulkBegin for another transfer');
    const resumedFrom = begin.received;
    let offset = begin.received;
    let retries = -1;
    let stalls = 0;
    while (offset < total) {
      retries++;
      this.sendChunks(message, offset);
      // Queued after the chunks on the same ATT bearer, so the answer counts all of them.
      const status = decodeBulkProgress(await this.ok('bulkStatus'));
      if (!equalBytes(status.id, id)) throw new ProtocolError('TRANSFER_UNKNOWN', 'the lock no longer holds this transfer');
      if (status.received <= offset) {
        if (++stalls >= 3) simFail('TRANSFER_STALLED', `bulk transfer stuck at ${status.received} of ${total} bytes`, { received: status.received, total });
      } else stalls = 0;
      offset = status.received;
      onProgress?.({ sent: offset, total, resumedFrom });
    }
    const receipt = await this.ok('bulkCommit', id);
    return { receipt, bytes: total - resumedFrom, resumedFrom, retries: Math.max(0, retries) };
  }

  /**
   * Write the bulk chunks of `message` from `offset` up to `until` (default: the end), without
   * asking for progress. `push` uses it; a conformance case uses it to send part of a message.
   */
  sendChunks(message: Uint8Array, offset: number, until = message.length): void {
    for (const chunk of bulkChunks(message.subarray(0, until), offset, this.mtu)) {
      if (!this.connected) simFail('NOT_CONNECTED', `the link dropped during the transfer (lock had ${offset} of ${message.length} bytes)`, { received: offset, total: message.length });
      this.chars.bulk.write(Buffer.from(chunk), true);
    }
  }

  /**
   * `push` with one wait instead of one per step: bulkBegin, every chunk and bulkCommit go out
   * back to back, and the commit's answer is the receipt. The lock keeps only the contiguous
   * prefix it received and refuses to commit a short transfer (TRANSFER_INCOMPLETE), so a lost
   * chunk costs a status request and a resend from the offset the lock reports; nothing is
   * applied before the whole message is there and hashes to its id.
   */
  async pushPipelined(message: Uint8Array, options: { skipChunks?: ReadonlySet<number>; onProgress?: (p: PushProgress) => void } = {}): Promise<PushResult> {
    const id = transferId(message, this.crypto);
    const total = message.length;
    await this.queue;
    const begin = this.send('bulkBegin', encodeBulkBegin({ id, total }));
    begin.catch(() => undefined);
    let index = 0;
    for (const chunk of bulkChunks(message, 0, this.mtu)) {
      if (!this.connected) simFail('NOT_CONNECTED', `the link dropped during the transfer`, { total });
      // Test seam: a chunk the air loses (the model's faults drop links, not single PDUs).
      if (!options.skipChunks?.has(index++)) this.chars.bulk.write(Buffer.from(chunk), true);
    }
    const commit = this.send('bulkCommit', id);
    commit.catch(() => undefined);
    // Everything is handed to the stack; what the lock kept, its commit answer says.
    options.onProgress?.({ sent: total, total, resumedFrom: 0 });
    const started = decodeBulkProgress(checkStatus(await begin).payload);
    if (!equalBytes(started.id, id)) throw new ProtocolError('MALFORMED', 'lock answered bulkBegin for another transfer');
    const first = await commit;
    if (first.status === 0) return { receipt: first.payload, bytes: total - started.received, resumedFrom: started.received, retries: 0 };
    const refused = ProtocolError.fromWire(first.status, 'bulk commit refused');
    if (refused.code !== 'TRANSFER_INCOMPLETE') throw refused;
    // The lock lacks a chunk: continue from where its contiguous prefix ends, as push() does.
    const r = await this.push(message, options.onProgress);
    return { ...r, resumedFrom: started.received, retries: r.retries + 1 };
  }

  /** Where the lock's bulk receiver stands (id of its pending transfer and bytes received). */
  async bulkStatus(): Promise<{ id: string; received: number }> {
    const p = decodeBulkProgress(await this.ok('bulkStatus'));
    return { id: toHex(p.id), received: p.received };
  }

  /** Event records from index `from` on, reading as many batches as needed (at most `max`). */
  async readEvents(from: number, max = 4096): Promise<EventRecord[]> {
    const out: EventRecord[] = [];
    let next = from;
    while (out.length < max) {
      const batch = decodeEvents(await this.ok('eventsRead', encodeEventsRead({ from: next, max: Math.min(EVENTS_PER_READ, max - out.length) })));
      if (batch.length === 0) break;
      out.push(...batch);
      next = batch[batch.length - 1]!.index + 1;
      if (batch.length < EVENTS_PER_READ) break;
    }
    return out;
  }

  /** A fresh receipt for what the lock enforces now. */
  async receipt(): Promise<Uint8Array> {
    return this.ok('receiptRead');
  }

  async disconnect(): Promise<void> {
    this.peripheral.removeListener('disconnect', this.onDisconnect);
    this.rejectAll(new SimulatorError('NOT_CONNECTED', 'disconnected by the client'));
    this.disconnected = true;
    if (this.peripheral.state === 'connected' || this.peripheral.state === 'connecting') await this.peripheral.disconnectAsync();
  }
}

/** Signed set messages for one lock, as the backend hands them out. */
export interface SetBundle {
  /** Delta from the sequence the backend last saw receipted. */
  delta?: Uint8Array;
  /** The full set: sent when there is no usable delta or the lock refuses it (`needsFullSet`). */
  full?: Uint8Array;
}

export interface DeliveryReport {
  sent: 'delta' | 'full';
  /** A delta was carried but could not be used (wrong base, or refused with needsFullSet). */
  fellBack: boolean;
  seq: number;
  /** Bytes sent over the bulk channel in this push (less than the message when resumed). */
  bytes: number;
  resumedFrom: number;
  receipt: Uint8Array;
}

/**
 * Bring a lock up to the newest set in `bundle`: nothing if it already holds that sequence or a
 * newer one; the delta if it starts from the lock's sequence; the full set otherwise or when the
 * lock refuses the delta with DELTA_BASE_MISMATCH / DIGEST_MISMATCH. Other refusals throw the
 * lock's ProtocolError; a dropped link throws NOT_CONNECTED (call again on a new connection to
 * resume). `lockSeq` is the sequence from the lock's info.
 */
export async function deliverSet(client: LockClient, lockSeq: number, bundle: SetBundle, onProgress?: (p: PushProgress) => void, pipelined = false): Promise<DeliveryReport | null> {
  const delta = bundle.delta ? peekSetMessage(bundle.delta) : null;
  const full = bundle.full ? peekSetMessage(bundle.full) : null;
  if (Math.max(delta?.seq ?? 0, full?.seq ?? 0) <= lockSeq) return null;
  const send = async (kind: 'delta' | 'full', bytes: Uint8Array, seq: number, fellBack: boolean): Promise<DeliveryReport> => {
    const r = pipelined ? await client.pushPipelined(bytes, onProgress ? { onProgress } : {}) : await client.push(bytes, onProgress);
    return { sent: kind, fellBack, seq, bytes: r.bytes, resumedFrom: r.resumedFrom, receipt: r.receipt };
  };
  if (delta && bundle.delta && delta.base === lockSeq && delta.seq > lockSeq) {
    try {
      return await send('delta', bundle.delta, delta.seq, false);
    } catch (err) {
      if (!(err instanceof ProtocolError && err.needsFullSet) || !bundle.full || !full || full.seq <= lockSeq) throw err;
      return send('full', bundle.full, full.seq, true);
    }
  }
  if (bundle.full && full && full.seq > lockSeq) return send('full', bundle.full, full.seq, delta !== null);
  return null;
}
