/** The world clock in the header: its time, and advance by minutes, hours or days. */
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import type { Session } from '../main.js';
import { Action, time } from '../ui.js';

export function ClockControl({ s }: { s: Session }) {
  const [clock, setClock] = useState<{ now: string; aheadMs: number } | null>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    get<{ now: string; aheadMs: number }>(`${s.base}/simulate/clock`)
      .then(setClock)
      .catch(() => setClock(null));
  }, [s.base]);
  useEffect(
    () =>
      s.onEvent((m) => {
        if (m.kind === 'clock') setClock({ now: String(m['now']), aheadMs: Number(m['aheadMs']) });
      }),
    [s],
  );
  if (!clock) return null;
  const advance = (minutes: number) => async () => setClock(await post<{ now: string; aheadMs: number }>(`${s.base}/simulate/clock/advance`, { minutes }));
  return (
    <span class="clock">
      <button type="button" class="plain" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="clock" title="the world's time">
        World time {time(clock.now)}
        {clock.aheadMs > 0 ? <small class="muted"> (+{Math.round(clock.aheadMs / 60_000)} min)</small> : null}
      </button>
      {open && s.me.keyManagement ? (
        <span class="clock-menu">
          <Action label="+15 min" run={advance(15)} />
          <Action label="+1 h" run={advance(60)} />
          <Action label="+1 day" run={advance(1440)} testId="advance-day" />
        </span>
      ) : null}
    </span>
  );
}
