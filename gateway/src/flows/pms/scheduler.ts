import type { Db } from '../../store/db.js';
import { isGatewayError } from '../../errors.js';
import { systemClock, MS_PER_MINUTE, type Clock } from '../../time.js';
import type { PmsAdapter } from './feed.js';
import { listIntegrations, type PmsIntegration } from './integration.js';
import { runPmsSync, type SyncRun } from './sync.js';

/**
 * Pulls every enabled integration when its interval has passed since its last attempt (at most
 * 60 minutes: User Sync runs at least once per hour, seed 003). `tick()` does one round and is
 * what tests call after moving their clock; `start()` calls it on a timer for `latchkit serve`
 * and `latchkit pms watch`. A failing PMS is retried at the next interval, not on every tick.
 */

export interface SchedulerOptions {
  db: Db;
  now?: Clock;
  /** How often start() checks for due pulls (default 30 s; due-ness is by each interval). */
  checkEveryMs?: number;
  /** Adapter override per integration (tests); default: the integration's own feed. */
  adapterFor?: (i: PmsIntegration) => PmsAdapter | undefined;
  /** Told about each finished attempt, including failed ones (which tick() does not throw). */
  onResult?: (r: { propertyId: number; run?: SyncRun; error?: Error }) => void;
}

export class PmsScheduler {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> | undefined;
  private readonly now: Clock;

  constructor(private readonly opts: SchedulerOptions) {
    this.now = opts.now ?? systemClock;
  }

  /** Integrations whose interval has passed since their last attempt (or never pulled). */
  due(): PmsIntegration[] {
    const t = this.now();
    return listIntegrations(this.opts.db).filter(
      (i) => (i.userSync || i.automatedAccess) && (i.lastAttemptAt === null || t - i.lastAttemptAt >= i.intervalMin * MS_PER_MINUTE),
    );
  }

  /** One round: pulls every due integration, one after another. Never rejects for a PMS failure. */
  async tick(): Promise<{ propertyId: number; run?: SyncRun; error?: Error }[]> {
    const results: { propertyId: number; run?: SyncRun; error?: Error }[] = [];
    for (const i of this.due()) {
      let r: { propertyId: number; run?: SyncRun; error?: Error };
      try {
        const adapter = this.opts.adapterFor?.(i);
        const run = await runPmsSync(this.opts.db, i.propertyId, { trigger: 'schedule', ...(adapter ? { adapter } : {}), ctx: { now: this.now, actor: 'pms' } });
        r = { propertyId: i.propertyId, run };
      } catch (e) {
        // A PMS that is down is the integration's normal weather; anything else is our bug.
        if (!isGatewayError(e)) throw e;
        r = { propertyId: i.propertyId, error: e };
      }
      results.push(r);
      this.opts.onResult?.(r);
    }
    return results;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer) return;
    const every = this.opts.checkEveryMs ?? 30_000;
    const round = () => {
      // Rounds never overlap: a slow PMS delays the next check instead of stacking pulls.
      if (this.inFlight) return;
      this.inFlight = this.tick()
        .catch((error: Error) => this.opts.onResult?.({ propertyId: 0, error }))
        .finally(() => {
          this.inFlight = undefined;
        });
    };
    this.timer = setInterval(round, every);
    this.timer.unref?.();
    round();
  }

  /** Stops the timer and waits for a round in progress to finish. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
