/**
 * The latchkit console: a property's doors, people, activity and alerts, driven live by the
 * event stream. Pages are chosen by the URL hash (#/doors, #/doors/4, #/people, #/people/7,
 * #/activity, #/alerts), so the browser's back button and bookmarks work without a router.
 */
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, get, storeToken, storedToken, whenUnauthorized } from './api.js';
import { openStream, type StreamStatus } from './stream.js';
import type { Me, Property, StreamMessage } from './types.js';
import { ErrorNote } from './ui.js';
import { DoorsPage } from './pages/doors.js';
import { DoorPage } from './pages/door.js';
import { PeoplePage } from './pages/people.js';
import { PersonPage } from './pages/person.js';
import { ActivityPage } from './pages/activity.js';
import { AlertsPage } from './pages/alerts.js';
import { ClockControl } from './pages/clock.js';

/** What every page gets: who is logged in, the property, the live stream and a way to act on it. */
export interface Session {
  me: Me;
  property: Property;
  base: string;
  /** Newest stream messages first (the last 500). */
  events: StreamMessage[];
  /** Subscribe to stream messages; returns the unsubscribe function. */
  onEvent(fn: (m: StreamMessage) => void): () => void;
  /** Bumped by access changes and syncs, so lists refetch. */
  revision: number;
  alertCount: number;
  refreshAlerts(): void;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/doors');
  useEffect(() => {
    const on = (): void => setHash(location.hash || '#/doors');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Login({ reason, onToken }: { reason: string | null; onToken: (t: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="login">
      <h1>latchkit console</h1>
      {reason ? (
        <p class="error" role="alert">
          {reason}
        </p>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <label>
          API token
          <input name="token" type="password" autoComplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} required />
        </label>
        <button type="submit" class="primary">
          Log in
        </button>
      </form>
      <p class="muted">
        <code>latchkit serve --demo</code> prints a URL that logs the demo's manager in; any API token works (<code>latchkit token create</code>).
      </p>
    </main>
  );
}

function StatusBadge({ status }: { status: StreamStatus }) {
  const text =
    status.state === 'live'
      ? status.resumedAfter !== null
        ? `live · reconnected, resumed after #${status.resumedAfter}`
        : 'live'
      : status.state === 'reconnecting'
        ? 'connection lost · reconnecting…'
        : status.state;
  return (
    <span class={`stream ${status.state}`} data-testid="stream-status" role="status">
      ● {text}
    </span>
  );
}

function Shell({ me, property, onLogout }: { me: Me; property: Property; onLogout: () => void }) {
  const hash = useHash();
  const [events, setEvents] = useState<StreamMessage[]>([]);
  const [status, setStatus] = useState<StreamStatus>({ state: 'connecting', resumedAfter: null, drops: 0 });
  const [revision, setRevision] = useState(0);
  const [alertCount, setAlertCount] = useState(0);
  const listeners = useRef(new Set<(m: StreamMessage) => void>());
  const base = `/properties/${property.id}`;

  const refreshAlerts = useCallback(() => {
    Promise.all([get<unknown[]>(`${base}/access-suggestions`), get<unknown[]>(`${base}/alerts`)])
      .then(([s, a]) => setAlertCount((s as { color: string }[]).filter((x) => x.color !== 'grey').length + a.length))
      .catch(() => undefined);
  }, [base]);

  useEffect(() => {
    refreshAlerts();
    const close = openStream(
      property.id,
      storedToken() ?? '',
      (m, live) => {
        setEvents((old) => [m, ...old].slice(0, 500));
        if (!live) return;
        if (m.kind === 'access' || (m.kind === 'sync' && m['phase'] === 'done') || m.kind === 'activity' || m.kind === 'clock') setRevision((r) => r + 1);
        if (m.kind === 'access') refreshAlerts();
        for (const l of listeners.current) l(m);
      },
      (s) => {
        setStatus(s);
        // A stream the server closed for good: the token may have been revoked; /me says.
        if (s.state === 'closed') get('/me').catch(() => undefined);
      },
    );
    return close;
  }, [property.id]);

  const session: Session = useMemo(
    () => ({
      me,
      property,
      base,
      events,
      revision,
      alertCount,
      refreshAlerts,
      onEvent: (fn) => {
        listeners.current.add(fn);
        return () => listeners.current.delete(fn);
      },
    }),
    [me, property, events, revision, alertCount],
  );

  const [, page, id] = /^#\/(\w+)(?:\/(\d+))?/.exec(hash) ?? [];
  const body =
    page === 'doors' && id ? (
      <DoorPage s={session} doorId={Number(id)} />
    ) : page === 'people' && id ? (
      <PersonPage s={session} personId={Number(id)} />
    ) : page === 'people' ? (
      <PeoplePage s={session} />
    ) : page === 'activity' ? (
      <ActivityPage s={session} />
    ) : page === 'alerts' ? (
      <AlertsPage s={session} />
    ) : (
      <DoorsPage s={session} />
    );
  const tab = (name: string, label: string, extra?: preact.ComponentChildren) => (
    <a href={`#/${name}`} class={page === name || (!page && name === 'doors') ? 'tab current' : 'tab'} aria-current={page === name ? 'page' : undefined}>
      {label}
      {extra}
    </a>
  );
  return (
    <>
      <header class="top">
        <div class="brand">
          <strong>latchkit</strong> <span class="muted">{property.name}</span>
        </div>
        <nav class="tabs" aria-label="main">
          {tab('doors', 'Doors')}
          {tab('people', 'People')}
          {tab('activity', 'Activity')}
          {tab(
            'alerts',
            'Alerts',
            <span class={alertCount > 0 ? 'badge hot' : 'badge'} data-testid="alert-count" aria-label={`${alertCount} pending alerts`}>
              {alertCount}
            </span>,
          )}
        </nav>
        <div class="right">
          <ClockControl s={session} />
          <StatusBadge status={status} />
          <span class="muted who" title={me.keyManagement ? 'may change access' : 'read and configure only'}>
            {me.name}
            {me.keyManagement ? '' : ' (view only)'}
          </span>
          <button type="button" class="plain" onClick={onLogout}>
            Log out
          </button>
        </div>
      </header>
      <main class="page">{body}</main>
    </>
  );
}

function App() {
  const [token, setToken] = useState<string | null>(() => {
    // `?token=` (the URL serve --demo prints) logs in, then leaves the address bar and history.
    const url = new URL(location.href);
    const fromUrl = url.searchParams.get('token');
    if (fromUrl) {
      storeToken(fromUrl);
      url.searchParams.delete('token');
      history.replaceState(null, '', url.pathname + url.search + url.hash);
    }
    return storedToken();
  });
  const [reason, setReason] = useState<string | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [property, setProperty] = useState<Property | null>(null);
  const [error, setError] = useState<unknown>(null);

  const logout = useCallback((why: string | null) => {
    storeToken(null);
    setToken(null);
    setMe(null);
    setProperty(null);
    setReason(why);
  }, []);

  useEffect(() => {
    whenUnauthorized((message) => logout(`Your token was refused (${message}). Log in again.`));
  }, []);

  useEffect(() => {
    if (!token) return;
    setError(null);
    (async () => {
      const who = await get<Me>('/me');
      const props = await get<Property[]>('/properties');
      const chosen = props.find((p) => p.id === who.propertyId) ?? props[0];
      if (!chosen) throw new ApiError(404, 'PROPERTY_NOT_FOUND', 'this token sees no property');
      setMe(who);
      setProperty(chosen);
    })().catch((err: unknown) => {
      if (!(err instanceof ApiError && err.status === 401)) setError(err);
    });
  }, [token]);

  if (!token) {
    return (
      <Login
        reason={reason}
        onToken={(t) => {
          storeToken(t);
          setReason(null);
          setToken(t);
        }}
      />
    );
  }
  if (error) {
    return (
      <main class="login">
        <ErrorNote error={error} />
        <button type="button" onClick={() => logout(null)}>
          Log in with another token
        </button>
      </main>
    );
  }
  if (!me || !property) return <p class="boot">Loading…</p>;
  return <Shell me={me} property={property} onLogout={() => logout(null)} />;
}

render(<App />, document.getElementById('app')!);
