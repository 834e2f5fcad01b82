/**
 * Activity: unlocks and denials the locks uploaded, and access changes, newest first, with live
 * additions from the event stream; filter by door and person. Deleted people's entries stay
 * (they carry the holder's name).
 */
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import type { Session } from '../main.js';
import type { Activity } from '../types.js';
import { ErrorNote, Outcome, time, Table } from '../ui.js';

export function ActivityPage({ s }: { s: Session }) {
  const [door, setDoor] = useState('');
  const [person, setPerson] = useState('');
  const [entries, setEntries] = useState<Activity[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const query = (before?: string): string => {
    const q = new URLSearchParams({ limit: '50' });
    if (/^\d+$/.test(door)) q.set('doorId', door);
    if (/^\d+$/.test(person)) q.set('personId', person);
    if (before) q.set('before', before);
    return `${s.base}/activity?${q}`;
  };

  useEffect(() => {
    get<{ entries: Activity[]; nextBefore: string | null }>(query())
      .then((p) => {
        setEntries(p.entries);
        setNext(p.nextBefore);
        setError(null);
      })
      .catch(setError);
  }, [s.base, door, person, s.revision]);

  // Attempts happen at the lock before any upload: show them live, marked as such.
  const live = s.events.filter((m) => m.kind === 'attempt' && (!door || String(m['doorId']) === door) && (!person || String(m['personId']) === person)).slice(0, 20);

  return (
    <section>
      <h1>Activity</h1>
      <div class="filters">
        <label>
          Door id <input class="narrow" inputMode="numeric" value={door} onInput={(e) => setDoor((e.target as HTMLInputElement).value.trim())} data-testid="filter-door" />
        </label>
        <label>
          Person id <input class="narrow" inputMode="numeric" value={person} onInput={(e) => setPerson((e.target as HTMLInputElement).value.trim())} />
        </label>
      </div>
      <ErrorNote error={error} />
      <h2>Live at the locks</h2>
      <ul class="feed" data-testid="live-feed">
        {live.length === 0 ? <li class="muted">nothing yet</li> : null}
        {live.map((m) => (
          <li key={m.id}>
            <Outcome outcome={String(m['outcome'])} reason={m['reason'] as string | null} /> {String(m['doorName'])}: {String(m['credentialKind'] ?? 'unknown credential')}
            {m['personName'] ? ` of ${String(m['personName'])}` : ''} <small class="muted">#{m.id} {time(m.at)}</small>
          </li>
        ))}
      </ul>
      <h2>Activity log</h2>
      {entries === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <Table testId="activity" columns={['When', 'What', 'Who', 'Door']}>
              {entries.map((a) => (
                <tr key={a.id}>
                  <td>{time(a.at)}</td>
                  <td>{a.kind === 'unlock' ? <Outcome outcome={a.result ?? 'denied'} /> : <span class="pill access">{a.action}</span>} {a.message}</td>
                  <td>{a.holderName ?? '—'}</td>
                  <td>{a.doorName ?? '—'}</td>
                </tr>
              ))}
            </Table>
      )}
      {next ? (
        <button
          type="button"
          onClick={() =>
            get<{ entries: Activity[]; nextBefore: string | null }>(query(next)).then((p) => {
              setEntries((old) => [...(old ?? []), ...p.entries]);
              setNext(p.nextBefore);
            }, setError)
          }
        >
          Older
        </button>
      ) : null}
    </section>
  );
}
