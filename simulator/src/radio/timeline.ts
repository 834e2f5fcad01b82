/**
 * Modelled time. A Timeline runs callbacks in order of their modelled time (ms since the air was
 * created). With `fast` pacing it runs the next one as soon as the event loop has let the hosts
 * react to the previous one (one setImmediate per callback); with `realtime` pacing it waits until
 * the wall clock reaches the same point.
 */

import { pendingDeliveries } from './socket.js';

export type Pacing = 'fast' | 'realtime';

export class Pacer {
  private readonly epoch = performance.now();
  /** Timelines with callbacks waiting to run. */
  readonly busy = new Set<Timeline>();

  constructor(readonly pacing: Pacing) {}

  /**
   * True when no timeline other than `except` has anything due before `t` and no host is still
   * to be handed data. Time-outs wait for this under fast pacing: timelines run independently,
   * and a time-out must not overtake work elsewhere that would have happened before it.
   */
  quiescentBefore(t: number, except: Timeline): boolean {
    if (pendingDeliveries() > 0) return false;
    for (const tl of this.busy) if (tl !== except && tl.nextAt < t) return false;
    return true;
  }

  /** Wall-clock ms since the air was created. */
  wallElapsedMs(): number {
    return performance.now() - this.epoch;
  }

  /** Wall-clock delay until modelled time `t` is due (0 under fast pacing). */
  delayUntil(t: number): number {
    return this.pacing === 'fast' ? 0 : Math.max(0, t - this.wallElapsedMs());
  }
}

export interface Scheduled {
  readonly t: number;
  cancelled: boolean;
}

interface Item extends Scheduled {
  readonly seq: number;
  readonly fn: () => void;
  readonly guarded: boolean;
}

export class Timeline {
  /** Modelled time of the latest callback run so far. */
  now = 0;
  private readonly heap: Item[] = [];
  private seq = 0;
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private disposed = false;

  constructor(
    private readonly pacer: Pacer,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Runs `fn` at modelled time `t` (never earlier than `now`). */
  at(t: number, fn: () => void): Scheduled {
    return this.schedule(t, fn, false);
  }

  private schedule(t: number, fn: () => void, guarded: boolean): Scheduled {
    const item: Item = { t: Math.max(t, this.now), seq: this.seq++, fn, cancelled: false, guarded };
    if (this.disposed) {
      item.cancelled = true;
      return item;
    }
    this.push(item);
    this.kick();
    return item;
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Modelled time of the next callback (Infinity when idle). */
  get nextAt(): number {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0]?.t ?? Infinity;
  }

  /**
   * Like `at`, for time-outs: under fast pacing the callback runs only once nothing elsewhere in
   * the air is due before `t` (see `Pacer.quiescentBefore`); until then it keeps yielding, and
   * the timeline's clock does not move past callbacks scheduled before it.
   */
  timeout(t: number, fn: () => void): Scheduled {
    return this.schedule(t, fn, true);
  }

  dispose(): void {
    this.disposed = true;
    this.heap.length = 0;
    this.pacer.busy.delete(this);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = undefined;
    this.timer = undefined;
  }

  private kick(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    const next = this.heap[0];
    if (!next || this.disposed) {
      this.pacer.busy.delete(this);
      return;
    }
    this.pacer.busy.add(this);
    const delay = this.pacer.delayUntil(next.t);
    if (delay <= 0) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.armedFor = Infinity;
      }
      this.immediate ??= setImmediate(() => this.step());
      return;
    }
    if (this.immediate) return;
    if (this.timer && this.armedFor <= next.t) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = next.t;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = Infinity;
      this.step();
    }, delay);
  }

  private step(): void {
    this.immediate = undefined;
    if (this.disposed) return;
    let item = this.pop();
    while (item && item.cancelled) item = this.pop();
    if (item) {
      if (this.pacer.delayUntil(item.t) > 0) {
        // Woke early (timer granularity): put it back and wait again.
        this.push(item);
      } else if (item.guarded && this.pacer.pacing === 'fast' && !this.pacer.quiescentBefore(item.t, this)) {
        this.push(item);
      } else {
        if (item.t > this.now) this.now = item.t;
        try {
          item.fn();
        } catch (error) {
          this.onError(error);
        }
      }
    }
    this.kick();
  }

  private push(item: Item): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Item | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Item, b: Item): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
