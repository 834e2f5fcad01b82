/**
 * The live event stream of a running gateway: what `GET /properties/{id}/events` sends as
 * Server-Sent Events and `latchkit events --follow` prints.
 *
 * Every event gets an increasing id. The hub keeps the newest `capacity` events (default 1,000),
 * so a client that reconnects with `Last-Event-ID` gets what it missed; one that was away longer
 * than the buffer covers first receives a `gap` event naming how many it lost, then the rest.
 *
 * Activity (uploaded lock events and access changes by any process on the store, the CLI
 * included) is tailed from the store's activity table; the world publishes attempts at its
 * locks, sync progress, door state and clock changes directly.
 */
import type { Db } from '../store/db.js';
import { all, one } from '../model/base.js';
import type { ActivityEntry } from '../model/types.js';

export type StreamEventKind = 'attempt' | 'visit' | 'sync' | 'door' | 'access' | 'activity' | 'clock' | 'gap';

export interface StreamEvent {
  id: number;
  kind: StreamEventKind;
  /** Property the event belongs to (null: every property, e.g. the world clock). */
  propertyId: number | null;
  /** World time, Unix ms. */
  at: number;
  data: Record<string, unknown>;
}

export const DEFAULT_STREAM_CAPACITY = 1000;

export class EventHub {
  private readonly buffer: StreamEvent[] = [];
  private nextId = 1;
  private readonly listeners = new Set<(e: StreamEvent) => void>();
  private tailTimer: ReturnType<typeof setInterval> | null = null;
  private lastActivityId = 0;

  constructor(
    readonly capacity = DEFAULT_STREAM_CAPACITY,
    private readonly now: () => number = Date.now,
  ) {}

  publish(kind: StreamEventKind, propertyId: number | null, data: Record<string, unknown>): StreamEvent {
    const e: StreamEvent = { id: this.nextId++, kind, propertyId, at: this.now(), data };
    this.buffer.push(e);
    if (this.buffer.length > this.capacity) this.buffer.shift();
    for (const l of this.listeners) l(e);
    return e;
  }

  /** Events after `lastId` for a property (and property-less ones); a `gap` first if some fell out. */
  since(lastId: number, propertyId: number): StreamEvent[] {
    const out: StreamEvent[] = [];
    const oldest = this.buffer[0]?.id ?? this.nextId;
    if (lastId > this.lastId) {
      // An id this server never gave: the client saw an earlier run (ids restart at 1). What it
      // missed cannot be counted; it gets everything this run still holds.
      out.push({ id: 0, kind: 'gap', propertyId, at: this.now(), data: { missed: null, reason: 'server restarted', capacity: this.capacity } });
      lastId = oldest - 1;
    }
    if (lastId + 1 < oldest) {
      out.push({ id: oldest - 1, kind: 'gap', propertyId, at: this.now(), data: { missed: oldest - 1 - lastId, capacity: this.capacity } });
    }
    for (const e of this.buffer) if (e.id > lastId && (e.propertyId === null || e.propertyId === propertyId)) out.push(e);
    return out;
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  subscribe(listener: (e: StreamEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Poll the activity table every `intervalMs` and publish new rows (access changes and uploads). */
  tailActivity(db: Db, intervalMs = 250): void {
    if (this.tailTimer) return;
    this.lastActivityId = one<{ id: number | null }>(db, 'SELECT max(id) AS id FROM activity')?.id ?? 0;
    const poll = (): void => {
      const rows = all<ActivityEntry>(
        db,
        `SELECT id, property_id AS propertyId, at, kind, door_id AS doorId, door_name AS doorName, holder_ref AS holderRef, holder_name AS holderName,
                credential_kind AS credentialKind, result, action, actor, message
           FROM activity WHERE id > ? ORDER BY id LIMIT 500`,
        this.lastActivityId,
      );
      for (const r of rows) {
        this.lastActivityId = r.id;
        const { id, propertyId, kind, at, ...rest } = r;
        this.publish(kind === 'access' ? 'access' : 'activity', propertyId, { ...rest, activityId: id, recordedAt: new Date(at).toISOString() });
      }
    };
    this.tailTimer = setInterval(() => {
      try {
        poll();
      } catch {
        // The store closed under us (shutdown); the next start re-reads from the newest row.
      }
    }, intervalMs);
    this.tailTimer.unref();
  }

  close(): void {
    if (this.tailTimer) clearInterval(this.tailTimer);
    this.tailTimer = null;
    this.listeners.clear();
  }
}
