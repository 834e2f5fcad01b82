/**
 * One LE connection between a central and a peripheral controller, with its own modelled clock.
 *
 * The link runs connection events at anchor + k × interval. In each event the central and the
 * peripheral alternate PDUs (an "exchange": central PDU, T_IFS, peripheral PDU, T_IFS); the event
 * goes on while either side had more data queued when the exchange started (the MD bit), up to the
 * profile's packets per event and the end of the interval. A PDU carries at most `dataLength`
 * octets, so an HCI ACL packet longer than that takes several exchanges. Host reactions to what an
 * exchange delivered are stamped with the delivery time, so they can join the same event only if
 * it is still open — which is why an acknowledged ATT operation costs about two intervals.
 */
import { PB, STATUS } from './hci/constants.js';
import { aclPacket, disconnectionComplete, leConnectionUpdateComplete, numberOfCompletedPackets } from './hci/codec.js';
import { exchangeAirtimeUs, pduAirtimeUs, T_IFS_US, type Phy } from './profiles.js';
import { Rng } from './rng.js';
import { Timeline, type Pacer, type Scheduled } from './timeline.js';

export type Side = 'central' | 'peripheral';

export interface LinkParams {
  connectionIntervalMs: number;
  phy: Phy;
  dataLength: number;
  packetsPerEvent: number;
  supervisionTimeoutMs: number;
  latency: number;
}

/** Why and when a link ended. */
export interface LinkClosure {
  /** HCI reason the central's host was given. */
  centralReason: number;
  /** HCI reason the peripheral's host was given. */
  peripheralReason: number;
  /** What ended it, in words: 'central disconnected', 'drop-at-byte', 'out-of-range', ... */
  cause: string;
  /** Modelled time at which both hosts were told. */
  atMs: number;
}

export interface LinkStats {
  /** ACL payload bytes (L2CAP headers included) delivered central → peripheral. */
  bytesToPeripheral: number;
  bytesToCentral: number;
  exchanges: number;
  events: number;
  /** Exchanges lost to injected packet loss and sent again. */
  retransmissions: number;
}

/** Link-level faults currently armed on this link (set by the air). */
export interface LinkFaults {
  lossRate: number;
  /** Link lost after this many consecutive lost exchanges (besides the supervision timeout). */
  lossLinkAfter: number | undefined;
  dropAtByte: { byte: number; direction: 'central-to-peripheral' | 'peripheral-to-central' | 'both'; onFire: () => void } | undefined;
  dropAtMs: { afterMs: number; onFire: () => void } | undefined;
}

/** The controller-side operations a link needs. */
export interface LinkEndpoint {
  readonly address: string;
  /** Queue bytes for this controller's host, stamped with modelled time `stamp`. */
  toHost(data: Buffer, stamp: number, onEmit?: () => void): void;
  /** Realtime pacing: the wall clock; fast pacing: -Infinity. */
  wallNow(): number;
  releaseHandle(handle: number): void;
}

export interface LinkEnv {
  readonly pacer: Pacer;
  onError(error: unknown): void;
  onClosed(link: Link): void;
}

interface Fragment {
  bytes: number;
  ready: number;
  /** Set on the last fragment of an HCI ACL packet: what the peer's host receives. */
  pb: number;
  payload: Buffer | undefined;
}

let nextLinkId = 1;

export class Link {
  readonly id = nextLinkId++;
  readonly timeline: Timeline;
  readonly stats: LinkStats = { bytesToPeripheral: 0, bytesToCentral: 0, exchanges: 0, events: 0, retransmissions: 0 };
  readonly faults: LinkFaults = { lossRate: 0, lossLinkAfter: undefined, dropAtByte: undefined, dropAtMs: undefined };
  /** Resolves when both hosts have been told the link is gone. */
  readonly closed: Promise<LinkClosure>;
  closure: LinkClosure | undefined;
  state: 'open' | 'closing' | 'closed' = 'open';
  /** ATT MTU the central's host asks for on this link (read by the noble Gatt wrapper). */
  centralAttMtu: number | undefined;

  private resolveClosed!: (c: LinkClosure) => void;
  private readonly queues: Record<Side, Fragment[]> = { central: [], peripheral: [] };
  private readonly hostTime: Record<Side, number>;
  private lastActivity: number;
  private anchor: number;
  private eventIndex = -1;
  private eventStart = -Infinity;
  private eventOpen = false;
  private exchangesInEvent = 0;
  private cursor: number;
  private lastSuccess: number;
  private consecutiveLosses = 0;
  private scheduled: Scheduled | undefined;
  private terminating: { by: Side; reason: number } | undefined;
  private pendingUpdate: Scheduled | undefined;
  private readonly rng: Rng;

  constructor(
    private readonly env: LinkEnv,
    readonly centralEnd: LinkEndpoint,
    readonly peripheralEnd: LinkEndpoint,
    readonly centralHandle: number,
    readonly peripheralHandle: number,
    public params: LinkParams,
    /** Modelled time of the connection's first event; both hosts hear Connection Complete then. */
    readonly establishedAtMs: number,
    seed: number,
  ) {
    this.timeline = new Timeline(env.pacer, (e) => env.onError(e));
    this.timeline.now = establishedAtMs;
    this.anchor = establishedAtMs;
    this.cursor = establishedAtMs;
    this.lastSuccess = establishedAtMs;
    this.lastActivity = establishedAtMs;
    this.hostTime = { central: establishedAtMs, peripheral: establishedAtMs };
    this.rng = new Rng(seed);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** The link's modelled clock: the latest on-air moment it has delivered to either host. */
  get modelledMs(): number {
    return this.lastActivity;
  }

  /** Modelled ms since the connection was established. */
  get elapsedMs(): number {
    return this.lastActivity - this.establishedAtMs;
  }

  /** Modelled time a host on `side` acts at when it writes to this link. */
  hostNow(side: Side): number {
    const end = side === 'central' ? this.centralEnd : this.peripheralEnd;
    return Math.max(this.hostTime[side], end.wallNow());
  }

  /**
   * The host on `side` is busy computing for `ms` (a lock MCU verifying a signature): whatever it
   * sends next is ready no earlier than that.
   */
  hostBusy(side: Side, ms: number): number {
    const until = this.hostNow(side) + ms;
    if (until > this.hostTime[side]) this.hostTime[side] = until;
    return until;
  }

  /** An HCI ACL packet from the host on `side` (payload = ACL data after the 4-byte HCI header). */
  submit(side: Side, pb: number, payload: Buffer): boolean {
    if (this.state !== 'open' || this.terminating) return false;
    const ready = this.hostNow(side);
    const queue = this.queues[side];
    const first = pb === PB.CONTINUATION ? PB.CONTINUATION : PB.FIRST_FLUSHABLE;
    const n = Math.max(1, Math.ceil(payload.length / this.params.dataLength));
    for (let i = 0; i < n; i++) {
      const bytes = i === n - 1 ? payload.length - i * this.params.dataLength : this.params.dataLength;
      queue.push({ bytes, ready, pb: first, payload: i === n - 1 ? payload : undefined });
    }
    this.ensureScheduled();
    return true;
  }

  /** Host-requested disconnect: queued data still goes out, then LL_TERMINATE_IND. */
  disconnect(by: Side, reason: number): void {
    if (this.state !== 'open' || this.terminating) return;
    this.terminating = { by, reason };
    this.ensureScheduled();
  }

  /**
   * The link is lost at modelled time `atMs` (radio gone, drop fault, ...). Nothing more gets
   * through; both hosts learn about it when the supervision timeout expires.
   */
  lose(cause: string, atMs: number = this.lastActivity): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.cancelScheduled();
    this.queues.central.length = 0;
    this.queues.peripheral.length = 0;
    const detectAt = Math.max(atMs, this.lastSuccess) + this.params.supervisionTimeoutMs;
    this.timeline.at(detectAt, () => this.finish(STATUS.CONNECTION_TIMEOUT, STATUS.CONNECTION_TIMEOUT, cause, detectAt));
  }

  /** Ends the link at once on both sides (the air is closing or a controller was reset). */
  abort(cause: string, reason: number = STATUS.CONNECTION_TIMEOUT): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.cancelScheduled();
    this.finish(reason, reason, cause, Math.max(this.lastActivity, this.timeline.now));
  }

  /**
   * Connection parameter update, applied at an instant 6 events ahead (the minimum the spec
   * allows); both hosts get LE Connection Update Complete then.
   */
  update(changes: Partial<Pick<LinkParams, 'connectionIntervalMs' | 'latency' | 'supervisionTimeoutMs'>>, from: number): void {
    if (this.state !== 'open') return;
    if (this.pendingUpdate) this.pendingUpdate.cancelled = true;
    const instant = this.nextAnchorAtOrAfter(from, true) + 5 * this.params.connectionIntervalMs;
    this.pendingUpdate = this.timeline.at(instant, () => {
      this.pendingUpdate = undefined;
      if (this.state !== 'open') return;
      this.params = { ...this.params, ...changes };
      // The instant is the first event on the new anchor; nothing has used it yet.
      this.anchor = instant;
      this.eventIndex = -1;
      this.eventStart = -Infinity;
      this.eventOpen = false;
      const p = this.params;
      this.centralEnd.toHost(leConnectionUpdateComplete(this.centralHandle, p.connectionIntervalMs, p.latency, p.supervisionTimeoutMs), instant, this.noteDelivery('central', instant));
      this.peripheralEnd.toHost(leConnectionUpdateComplete(this.peripheralHandle, p.connectionIntervalMs, p.latency, p.supervisionTimeoutMs), instant, this.noteDelivery('peripheral', instant));
      this.cancelScheduled();
      this.ensureScheduled();
    });
  }

  /** Changes PHY, data length or packets per event from the next connection event on. */
  retune(changes: Partial<Pick<LinkParams, 'phy' | 'dataLength' | 'packetsPerEvent'>>): void {
    this.params = { ...this.params, ...changes };
  }

  /** Delivery bookkeeping, run when the host actually receives the bytes. */
  noteDelivery(side: Side, stamp: number): () => void {
    return () => {
      if (stamp > this.hostTime[side]) this.hostTime[side] = stamp;
      if (stamp > this.lastActivity) this.lastActivity = stamp;
    };
  }

  private cancelScheduled(): void {
    if (this.scheduled) this.scheduled.cancelled = true;
    this.scheduled = undefined;
  }

  private ensureScheduled(): void {
    if (this.state !== 'open' || this.scheduled) return;
    const c = this.queues.central[0];
    const p = this.queues.peripheral[0];
    if (!c && !p && !this.terminating) return;
    let t: number;
    if (this.eventOpen) {
      t = this.cursor;
    } else {
      const ready = Math.min(c?.ready ?? Infinity, p?.ready ?? Infinity, this.terminating ? this.hostNow(this.terminating.by) : Infinity);
      t = this.nextAnchorAtOrAfter(ready, true);
    }
    this.scheduled = this.timeline.at(t, () => {
      this.scheduled = undefined;
      this.exchange(t);
    });
  }

  /** First anchor at or after `t`; with `afterCurrent`, also strictly after the current event. */
  private nextAnchorAtOrAfter(t: number, afterCurrent: boolean): number {
    const interval = this.params.connectionIntervalMs;
    let k = Math.ceil((Math.max(t, this.anchor) - this.anchor) / interval - 1e-9);
    if (afterCurrent && k <= this.eventIndex) k = this.eventIndex + 1;
    return this.anchor + k * interval;
  }

  private exchange(t: number): void {
    if (this.state !== 'open') return;
    const p = this.params;
    if (!this.eventOpen) {
      this.eventIndex = Math.round((t - this.anchor) / p.connectionIntervalMs);
      this.eventStart = t;
      this.exchangesInEvent = 0;
      this.stats.events++;
    }
    const drop = this.faults.dropAtMs;
    if (drop && t >= this.establishedAtMs + drop.afterMs) {
      this.faults.dropAtMs = undefined;
      drop.onFire();
      this.lose('drop-at-time', this.establishedAtMs + drop.afterMs);
      return;
    }
    const cq = this.queues.central;
    const pq = this.queues.peripheral;
    const c = cq[0] && cq[0].ready <= t ? cq[0] : undefined;
    const q = pq[0] && pq[0].ready <= t ? pq[0] : undefined;
    if (!c && !q) {
      if (this.terminating) {
        this.terminate(t);
        return;
      }
      this.eventOpen = false;
      this.ensureScheduled();
      return;
    }
    const durationMs = exchangeAirtimeUs(p.phy, c?.bytes ?? 0, q?.bytes ?? 0) / 1000;
    const eventEnd = this.eventStart + p.connectionIntervalMs - T_IFS_US / 1000;
    if (this.exchangesInEvent > 0 && t + durationMs > eventEnd) {
      this.eventOpen = false;
      this.ensureScheduled();
      return;
    }
    if (this.faults.lossRate > 0 && this.rng.next() < this.faults.lossRate) {
      // The peer missed the packet: no acknowledgement, the event ends, the PDU is sent again
      // at the next anchor. Losing link contact for the supervision timeout ends the link.
      this.stats.retransmissions++;
      this.consecutiveLosses++;
      this.eventOpen = false;
      this.cursor = t + durationMs;
      const limit = this.faults.lossLinkAfter;
      if (t + durationMs - this.lastSuccess >= p.supervisionTimeoutMs || (limit !== undefined && this.consecutiveLosses >= limit)) {
        this.lose('packet-loss', t + durationMs);
        return;
      }
      this.ensureScheduled();
      return;
    }
    const byteDrop = this.faults.dropAtByte;
    if (byteDrop) {
      const counted =
        (byteDrop.direction !== 'peripheral-to-central' ? this.stats.bytesToPeripheral + (c?.bytes ?? 0) : 0) +
        (byteDrop.direction !== 'central-to-peripheral' ? this.stats.bytesToCentral + (q?.bytes ?? 0) : 0);
      if (counted > byteDrop.byte) {
        this.faults.dropAtByte = undefined;
        byteDrop.onFire();
        this.lose('drop-at-byte', t);
        return;
      }
    }
    const centralPduEnd = t + pduAirtimeUs(p.phy, c?.bytes ?? 0) / 1000;
    const end = t + durationMs;
    const ackOfCentral = end - T_IFS_US / 1000;
    this.consecutiveLosses = 0;
    if (c) {
      cq.shift();
      this.stats.bytesToPeripheral += c.bytes;
      if (c.payload) {
        this.peripheralEnd.toHost(aclPacket(this.peripheralHandle, c.pb, c.payload), centralPduEnd, this.noteDelivery('peripheral', centralPduEnd));
        this.centralEnd.toHost(numberOfCompletedPackets(this.centralHandle, 1), ackOfCentral, this.noteDelivery('central', ackOfCentral));
      }
    }
    if (q) {
      pq.shift();
      this.stats.bytesToCentral += q.bytes;
      if (q.payload) {
        this.centralEnd.toHost(aclPacket(this.centralHandle, q.pb, q.payload), ackOfCentral, this.noteDelivery('central', ackOfCentral));
        this.peripheralEnd.toHost(numberOfCompletedPackets(this.peripheralHandle, 1), end, this.noteDelivery('peripheral', end));
      }
    }
    this.stats.exchanges++;
    this.exchangesInEvent++;
    this.lastSuccess = end;
    this.cursor = end;
    const more = (cq[0] !== undefined && cq[0].ready <= t) || (pq[0] !== undefined && pq[0].ready <= t) || this.terminating !== undefined;
    this.eventOpen = more && this.exchangesInEvent < p.packetsPerEvent;
    this.ensureScheduled();
  }

  private terminate(t: number): void {
    const by = this.terminating!;
    // LL_TERMINATE_IND: a 2-byte control PDU, acknowledged by the peer's next PDU.
    const at = t + exchangeAirtimeUs(this.params.phy, 2, 0) / 1000;
    this.state = 'closing';
    const local = STATUS.LOCAL_HOST_TERMINATED;
    const cause = `${by.by} disconnected`;
    if (by.by === 'central') this.finish(local, by.reason, cause, at);
    else this.finish(by.reason, local, cause, at);
  }

  private finish(centralReason: number, peripheralReason: number, cause: string, atMs: number): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.cancelScheduled();
    if (this.pendingUpdate) this.pendingUpdate.cancelled = true;
    this.queues.central.length = 0;
    this.queues.peripheral.length = 0;
    this.closure = { centralReason, peripheralReason, cause, atMs };
    this.centralEnd.toHost(disconnectionComplete(this.centralHandle, centralReason), atMs, this.noteDelivery('central', atMs));
    this.peripheralEnd.toHost(disconnectionComplete(this.peripheralHandle, peripheralReason), atMs, this.noteDelivery('peripheral', atMs));
    if (atMs > this.lastActivity) this.lastActivity = atMs;
    this.centralEnd.releaseHandle(this.centralHandle);
    this.peripheralEnd.releaseHandle(this.peripheralHandle);
    this.timeline.dispose();
    this.env.onClosed(this);
    this.resolveClosed(this.closure);
  }
}
