/**
 * The live event stream: an EventSource on GET /properties/{id}/events. When the connection
 * drops, the browser reconnects by itself and sends Last-Event-ID, so the server replays what
 * was missed; the status says so ("reconnected, resumed after #N").
 */
import type { StreamMessage } from './types.js';

export type StreamStatus = { state: 'connecting' | 'live' | 'reconnecting' | 'closed'; resumedAfter: number | null; drops: number };

const KINDS = ['attempt', 'visit', 'sync', 'door', 'access', 'activity', 'clock', 'gap'] as const;

/**
 * `onMessage(m, live)`: `live` is false for the buffer the server replays on the first connect
 * (so feeds and the chart have history), true from its `ready` marker on.
 */
export function openStream(propertyId: number, token: string, onMessage: (m: StreamMessage, live: boolean) => void, onStatus: (s: StreamStatus) => void): () => void {
  let lastId = 0;
  let drops = 0;
  let resumedAfter: number | null = null;
  let live = false;
  // lastEventId=0: the first connect replays what the server holds; reconnects send the
  // Last-Event-ID header themselves, which the server prefers over the query.
  const source = new EventSource(`/properties/${propertyId}/events?token=${encodeURIComponent(token)}&lastEventId=0`);
  source.addEventListener('ready', () => {
    live = true;
  });
  onStatus({ state: 'connecting', resumedAfter, drops });
  source.onopen = () => {
    if (drops > 0) resumedAfter = lastId;
    onStatus({ state: 'live', resumedAfter, drops });
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      onStatus({ state: 'closed', resumedAfter, drops });
      return;
    }
    drops++;
    onStatus({ state: 'reconnecting', resumedAfter, drops });
  };
  for (const kind of KINDS) {
    source.addEventListener(kind, (ev) => {
      const m = JSON.parse((ev as MessageEvent<string>).data) as StreamMessage;
      if (m.id > lastId) lastId = m.id;
      onMessage(m, live);
    });
  }
  return () => source.close();
}
