/**
 * Alerts: Automated Access suggestions (green grant, red revoke, grey no change; approve up to
 * 50 at a time, discard one) and User Sync alerts (partial match, email mismatch).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, get, post } from '../api.js';
import type { Session } from '../main.js';
import type { Alert, Suggestion } from '../types.js';
import { Action, ErrorNote, time } from '../ui.js';

export function AlertsPage({ s }: { s: Session }) {
  const [suggestions, setSuggestions] = useState<Suggestion[] | null>(null);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);
  const refresh = (): void => {
    setReload((r) => r + 1);
    s.refreshAlerts();
  };

  useEffect(() => {
    Promise.all([get<Suggestion[]>(`${s.base}/access-suggestions`), get<Alert[]>(`${s.base}/alerts`)])
      .then(([sg, al]) => {
        setSuggestions(sg);
        setAlerts(al);
        setPicked(new Set());
        setError(null);
      })
      .catch(setError);
  }, [s.base, s.revision, reload]);

  const km = s.me.keyManagement;
  return (
    <section>
      <h1>Alerts</h1>
      <ErrorNote error={error} />
      <h2>Automated Access suggestions</h2>
      {suggestions === null ? (
        <p class="muted">Loading…</p>
      ) : suggestions.length === 0 ? (
        <p class="muted">No pending suggestions.</p>
      ) : (
        <>
          <ul class="suggestions">
            {suggestions.map((x) => (
              <li key={x.id} class={x.color}>
                {km ? (
                  <input
                    type="checkbox"
                    aria-label={`select suggestion ${x.id}`}
                    checked={picked.has(x.id)}
                    disabled={!picked.has(x.id) && picked.size >= 50}
                    onChange={(e) => {
                      const next = new Set(picked);
                      if ((e.target as HTMLInputElement).checked) next.add(x.id);
                      else next.delete(x.id);
                      setPicked(next);
                    }}
                  />
                ) : null}
                <span class={`dot ${x.color}`} aria-hidden="true" /> <strong>{x.personName}</strong>: {x.action}
                {x.keyName ? ` ${x.keyName}` : ''} <small class="muted">{x.detail}</small> {x.startsAt ? <small>from {time(x.startsAt)}</small> : null}
                {km ? <Action label="✕ discard" run={async () => (await api('DELETE', `${s.base}/access-suggestions/${x.id}`), refresh())} /> : null}
              </li>
            ))}
          </ul>
          {km ? <Action label={`Update Access (${picked.size} of at most 50)`} kind="primary" run={async () => (await post(`${s.base}/access-suggestions/approve`, { ids: [...picked] }), refresh())} /> : null}
        </>
      )}
      <h2>User Sync alerts</h2>
      {alerts.length === 0 ? <p class="muted">No open alerts.</p> : null}
      <ul class="alerts">
        {alerts.map((a) => (
          <li key={a.id}>
            <span class="pill warn">{a.kind}</span> {a.message}
            {km ? (
              <span class="row-actions">
                {a.kind === 'email_mismatch' ? <Action label="Accept PMS email" run={async () => (await post(`${s.base}/alerts/${a.id}/resolve`, { action: 'accept_pms_email' }), refresh())} /> : null}
                {a.kind !== 'email_mismatch' && a.personId ? <Action label="Link" run={async () => (await post(`${s.base}/alerts/${a.id}/resolve`, { action: 'link', personId: a.personId }), refresh())} /> : null}
                {a.kind !== 'email_mismatch' ? <Action label="Create person" run={async () => (await post(`${s.base}/alerts/${a.id}/resolve`, { action: 'create' }), refresh())} /> : null}
                <Action label="Dismiss" run={async () => (await post(`${s.base}/alerts/${a.id}/resolve`, { action: 'dismiss' }), refresh())} />
              </span>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
