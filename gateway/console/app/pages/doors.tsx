/**
 * Doors: every door with what it runs against what the gateway compiled (the sync-until rule
 * made visible), battery, lockout, last visit, and a Door Sync button. Doors that are behind
 * (the Door Sync tasks) come first; the list is paged on the server, so a property of 10,000
 * doors loads one page at a time.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, post } from '../api.js';
import type { Session } from '../main.js';
import type { DoorState, StreamMessage } from '../types.js';
import { Action, ErrorNote, Pager, time, Table } from '../ui.js';

const PAGE = 50;

export function syncLabel(d: DoorState): string {
  if (d.inSync) return 'in sync';
  if (d.compiledSeq === 0 && d.enforcedSeq === 0) return 'never synced';
  const sets = d.compiledSeq - d.enforcedSeq;
  const parts: string[] = [];
  if (sets > 0) parts.push(`${sets} set${sets === 1 ? '' : 's'}`);
  if (d.pendingChanges > 0) parts.push(`${d.pendingChanges} change${d.pendingChanges === 1 ? '' : 's'}`);
  return `behind by ${parts.join(' + ')}`;
}

export function DoorRowCells({ d, s }: { d: DoorState; s: Session }) {
  return (
    <>
      <td>
        <a href={`#/doors/${d.doorId}`}>{d.name}</a>
      </td>
      <td>
        <span class={`pill ${d.connectivity}`}>{d.connectivity}</span>
        {d.inRange ? null : <span class="pill warn">out of range</span>}
        {d.powered ? null : <span class="pill warn">no power</span>}
      </td>
      <td>
        <span class={d.inSync ? 'pill ok' : 'pill behind'} data-testid={`sync-${d.doorId}`}>
          {syncLabel(d)}
        </span>
        <small class="muted">
          {' '}
          runs {d.enforcedSeq} / compiled {d.compiledSeq}
        </small>
      </td>
      <td>{d.battery}%</td>
      <td>{d.lockedOutUntil ? <span class="pill warn">until {time(d.lockedOutUntil)}</span> : '—'}</td>
      <td>{time(d.lastVisitAt)}</td>
      <td>{s.me.keyManagement ? <Action label="Door Sync" kind={d.inSync ? 'plain' : 'primary'} testId={`door-sync-${d.doorId}`} run={() => post(`${s.base}/simulate/doors/${d.doorId}/door-sync`)} /> : null}</td>
    </>
  );
}

/** Modelled sync and unlock times of the last events, as a small bar chart. */
export function LatencyChart({ events }: { events: StreamMessage[] }) {
  const points = events
    .filter((m) => (m.kind === 'sync' && m['phase'] === 'done' && typeof m['elapsedMs'] === 'number' && m['elapsedMs'] > 0) || (m.kind === 'visit' && typeof m['modelledMs'] === 'number'))
    .slice(0, 40)
    .reverse()
    .map((m) => ({ ms: Number(m.kind === 'visit' ? m['modelledMs'] : m['elapsedMs']), kind: m.kind === 'visit' ? 'unlock' : 'sync', id: m.id }));
  if (points.length === 0) return <p class="muted">No syncs or phone unlocks yet: their modelled times appear here.</p>;
  const max = Math.max(...points.map((p) => p.ms), 1);
  const w = 8;
  const h = 60;
  const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : 0);
  const syncs = points.filter((p) => p.kind === 'sync').map((p) => p.ms);
  const unlocks = points.filter((p) => p.kind === 'unlock').map((p) => p.ms);
  return (
    <figure class="chart" aria-label="modelled sync and unlock times">
      <svg width={points.length * (w + 2)} height={h} role="img">
        {points.map((p, i) => (
          <rect key={p.id} x={i * (w + 2)} y={h - (p.ms / max) * h} width={w} height={(p.ms / max) * h} class={p.kind}>
            <title>{`${p.kind} #${p.id}: ${p.ms.toFixed(0)} ms modelled`}</title>
          </rect>
        ))}
      </svg>
      <figcaption>
        last {points.length}: <span class="sync">■ sync</span> median {median(syncs).toFixed(0)} ms · <span class="unlock">■ phone unlock</span> median {median(unlocks).toFixed(0)} ms (modelled on-air)
      </figcaption>
    </figure>
  );
}

export function DoorsPage({ s }: { s: Session }) {
  const [offset, setOffset] = useState(0);
  const [search, setSearch] = useState('');
  const [doors, setDoors] = useState<DoorState[] | null>(null);
  const [total, setTotal] = useState(0);
  const [behind, setBehind] = useState(0);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const q = new URLSearchParams({ offset: String(offset), limit: String(PAGE), ...(search ? { search } : {}) });
    api<DoorState[]>('GET', `${s.base}/simulate/doors?${q}`)
      .then(({ data, headers }) => {
        setDoors(data);
        setTotal(Number(headers.get('x-total-count') ?? data.length));
        setBehind(Number(headers.get('x-behind-count') ?? 0));
        setError(null);
      })
      .catch(setError);
  }, [s.base, offset, search, s.revision]);

  // A door event replaces that door's row at once (no refetch).
  useEffect(
    () =>
      s.onEvent((m) => {
        if (m.kind !== 'door') return;
        setDoors((old) => old?.map((d) => (d.doorId === m['doorId'] ? ({ ...d, ...(m as unknown as DoorState) } as DoorState) : d)) ?? old);
      }),
    [s],
  );

  return (
    <section>
      <div class="heading">
        <h1>Doors</h1>
        <p class="muted" data-testid="behind-count">
          {behind} of {total} door{total === 1 ? '' : 's'} behind: a change works at a door only after that door is synced
        </p>
      </div>
      <LatencyChart events={s.events} />
      <label class="search">
        Find a door <input type="search" value={search} onInput={(e) => (setSearch((e.target as HTMLInputElement).value), setOffset(0))} />
      </label>
      <ErrorNote error={error} />
      {doors === null ? (
        <p class="muted">Loading doors…</p>
      ) : (
        <Table testId="doors" columns={['Door', 'Reached', 'Credentials', 'Battery', 'Lockout', 'Last visit', '']}>
              {doors.map((d) => (
                <tr key={d.doorId} class={d.inSync ? '' : 'behind'}>
                  <DoorRowCells d={d} s={s} />
                </tr>
              ))}
            </Table>
      )}
      <Pager offset={offset} limit={PAGE} total={total} onPage={setOffset} />
    </section>
  );
}
