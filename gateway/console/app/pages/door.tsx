/**
 * A door: its state, its credentials as the lock holds them against what the gateway compiled
 * (who is added by the next sync, who is still admitted until then), its recent attempts, and
 * the simulate controls (keypad, keycard, a person's phone, power, range, battery, lock clock).
 */
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import type { Session } from '../main.js';
import type { Activity, AttemptOutcome, DoorState, HeldCredential, StreamMessage } from '../types.js';
import { Action, ActionForm, ErrorNote, Outcome, field, time, Table } from '../ui.js';
import { syncLabel } from './doors.js';

interface Row {
  key: string;
  kind: string;
  name: string;
  personId: number | null;
  window: string;
  state: 'both' | 'added' | 'until-sync';
}

/** Compare by (kind, holder, window): a changed window shows as one row until-sync and one added. */
function diff(lock: HeldCredential[], compiled: HeldCredential[]): Row[] {
  const id = (c: HeldCredential): string => `${c.kind}:${c.holderRef}:${c.startsAt ?? ''}:${c.expiresAt ?? ''}`;
  const win = (c: HeldCredential): string => (c.startsAt || c.expiresAt ? `${time(c.startsAt) === '—' ? 'now' : time(c.startsAt)} → ${time(c.expiresAt) === '—' ? 'open' : time(c.expiresAt)}` : 'always');
  const inLock = new Set(lock.map(id));
  const inCompiled = new Set(compiled.map(id));
  const rows = new Map<string, Row>();
  for (const c of [...compiled, ...lock]) {
    const k = id(c);
    if (rows.has(k)) continue;
    rows.set(k, { key: k, kind: c.kind, name: c.name ?? `holder #${c.holderRef}`, personId: c.personId, window: win(c), state: inLock.has(k) && inCompiled.has(k) ? 'both' : inCompiled.has(k) ? 'added' : 'until-sync' });
  }
  const order = { added: 0, 'until-sync': 1, both: 2 };
  return [...rows.values()].sort((a, b) => order[a.state] - order[b.state] || a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind));
}

function Controls({ s, door, onAttempt }: { s: Session; door: DoorState; onAttempt: (r: AttemptOutcome | { outcome: string; reason: string | null; label: string }) => void }) {
  const at = `${s.base}/simulate/doors/${door.doorId}`;
  const [phoneHolders, setPhoneHolders] = useState<HeldCredential[]>([]);
  useEffect(() => {
    get<{ lock: HeldCredential[]; compiled: HeldCredential[] }>(`${at}/credentials`)
      .then((c) => {
        const seen = new Map<number, HeldCredential>();
        for (const h of [...c.compiled, ...c.lock]) if (h.kind === 'phone' && h.personId !== null && !seen.has(h.personId)) seen.set(h.personId, h);
        setPhoneHolders([...seen.values()]);
      })
      .catch(() => setPhoneHolders([]));
  }, [at, s.revision]);
  if (!s.me.keyManagement) return <p class="muted">This token may not act on doors (no Key Management).</p>;
  return (
    <div class="controls">
      <ActionForm
        submit="Enter"
        testId="keypad"
        class="keypad"
        onSubmit={async (d) => {
          const r = await post<AttemptOutcome>(`${at}/keypad`, { code: field(d, 'code') });
          onAttempt({ ...r, label: `keypad ${field(d, 'code')}` });
        }}
      >
        <label>
          Keypad <input name="code" inputMode="numeric" autoComplete="off" placeholder="code" required />
        </label>
      </ActionForm>
      <ActionForm
        submit="Tap card"
        testId="keycard"
        onSubmit={async (d) => {
          const r = await post<AttemptOutcome>(`${at}/keycard`, { uid: field(d, 'uid'), cloned: d.get('cloned') === 'on' });
          onAttempt({ ...r, label: `card ${field(d, 'uid')}${d.get('cloned') === 'on' ? ' (clone)' : ''}` });
        }}
      >
        <label>
          Keycard UID <input name="uid" autoComplete="off" placeholder="04a1b2c3d4e5f6" required />
        </label>
        <label class="inline">
          <input type="checkbox" name="cloned" /> clone (no key)
        </label>
      </ActionForm>
      <ActionForm
        submit="Unlock with phone"
        testId="phone"
        onSubmit={async (d) => {
          const r = await post<{ outcome: string; reason: string | null; relay: { sent: string; bytes: number } | null; modelledMs: { total: number } }>(`${at}/phone-unlock`, { personId: Number(field(d, 'person')) });
          onAttempt({ outcome: r.outcome, reason: r.reason, label: `phone of person ${field(d, 'person')}${r.relay ? `, relayed a ${r.relay.sent} of ${r.relay.bytes} B` : ''}, ${r.modelledMs.total.toFixed(0)} ms modelled` });
        }}
      >
        <label>
          Person{' '}
          <input name="person" list={`phones-${door.doorId}`} inputMode="numeric" placeholder="person id" required />
          <datalist id={`phones-${door.doorId}`}>
            {phoneHolders.map((h) => (
              <option key={h.personId} value={String(h.personId)}>
                {h.name}
              </option>
            ))}
          </datalist>
        </label>
      </ActionForm>
      <div class="faults">
        <Action label="Cut power now" kind="danger" run={() => post(`${at}/power-cut`, {})} testId="power-cut" />
        <ActionForm submit="Arm cut" onSubmit={(d) => post(`${at}/power-cut`, { atWrite: Number(field(d, 'atWrite')) })}>
          <label>
            at write <input name="atWrite" type="number" min="0" class="narrow" required /> of the next apply
          </label>
        </ActionForm>
        <Action label={door.inRange ? 'Take out of range' : 'Bring back in range'} run={() => post(`${at}/range`, { inRange: !door.inRange })} testId="range" />
        <ActionForm submit="Set" onSubmit={(d) => post(`${at}/battery`, { percent: Number(field(d, 'percent')) })}>
          <label>
            Battery <input name="percent" type="number" min="0" max="100" class="narrow" value={door.battery} /> %
          </label>
        </ActionForm>
        <ActionForm submit="Skew" onSubmit={(d) => post(`${at}/lock-clock`, { skewSeconds: Number(field(d, 'skew')) })}>
          <label>
            Lock clock <input name="skew" type="number" class="narrow" placeholder="±s" required /> seconds
          </label>
        </ActionForm>
      </div>
    </div>
  );
}

export function DoorPage({ s, doorId }: { s: Session; doorId: number }) {
  const [door, setDoor] = useState<DoorState | null>(null);
  const [creds, setCreds] = useState<{ lock: HeldCredential[]; compiled: HeldCredential[] } | null>(null);
  const [activity, setActivity] = useState<Activity[]>([]);
  const [results, setResults] = useState<{ outcome: string; reason: string | null; label: string }[]>([]);
  const [error, setError] = useState<unknown>(null);
  const at = `${s.base}/simulate/doors/${doorId}`;

  useEffect(() => {
    Promise.all([get<DoorState>(at), get<{ lock: HeldCredential[]; compiled: HeldCredential[] }>(`${at}/credentials`), get<{ entries: Activity[] }>(`${s.base}/activity?doorId=${doorId}&limit=20`)])
      .then(([d, c, a]) => {
        setDoor(d);
        setCreds(c);
        setActivity(a.entries);
        setError(null);
      })
      .catch(setError);
  }, [at, s.revision]);

  useEffect(
    () =>
      s.onEvent((m: StreamMessage) => {
        if (m.kind === 'door' && m['doorId'] === doorId) {
          setDoor((old) => (old ? ({ ...old, ...(m as unknown as DoorState) } as DoorState) : old));
          get<{ lock: HeldCredential[]; compiled: HeldCredential[] }>(`${at}/credentials`).then(setCreds, () => undefined);
        }
      }),
    [s, doorId],
  );

  if (error) return <ErrorNote error={error} />;
  if (!door || !creds) return <p class="muted">Loading…</p>;
  const rows = diff(creds.lock, creds.compiled);
  const live = s.events.filter((m) => m.kind === 'attempt' && m['doorId'] === doorId).slice(0, 10);
  return (
    <section>
      <p>
        <a href="#/doors">← Doors</a>
      </p>
      <div class="heading">
        <h1>{door.name}</h1>
        <span class={door.inSync ? 'pill ok' : 'pill behind'} data-testid="door-sync-state">
          {syncLabel(door)}
        </span>
        {s.me.keyManagement ? <Action label="Door Sync" kind="primary" testId="door-sync" run={() => post(`${at}/door-sync`)} /> : null}
      </div>
      <dl class="facts">
        <dt>Reached</dt>
        <dd>
          {door.connectivity}
          {door.gateway ? ` through ${door.gateway}` : ' (Door Sync by a phone in range)'}
          {door.inRange ? '' : ' · out of range'}
        </dd>
        <dt>Lock runs</dt>
        <dd>
          set {door.lockSeq ?? '—'} (confirmed {door.enforcedSeq}, compiled {door.compiledSeq}
          {door.pendingChanges ? `, ${door.pendingChanges} changes not compiled` : ''})
        </dd>
        <dt>Battery</dt>
        <dd>{door.battery}%</dd>
        <dt>Lockout</dt>
        <dd>{door.lockedOutUntil ? `until ${time(door.lockedOutUntil)}` : 'none'}</dd>
        <dt>Lock clock</dt>
        <dd>{time(door.lockClock)}</dd>
        <dt>Last visit</dt>
        <dd>{time(door.lastVisitAt)}</dd>
        <dt>Lock id</dt>
        <dd>
          <code>{door.lockId}</code>
        </dd>
      </dl>
      <h2>Try the door</h2>
      <Controls s={s} door={door} onAttempt={(r) => setResults((old) => [{ outcome: r.outcome, reason: r.reason, label: 'label' in r ? r.label : '' }, ...old].slice(0, 10))} />
      {results.length > 0 ? (
        <ul class="results" data-testid="attempt-results">
          {results.map((r, i) => (
            <li key={i}>
              <Outcome outcome={r.outcome} reason={r.reason} /> {r.label}
            </li>
          ))}
        </ul>
      ) : null}
      <h2>Credentials: on the lock vs compiled</h2>
      <p class="muted">
        {rows.filter((r) => r.state === 'added').length} added by the next sync · {rows.filter((r) => r.state === 'until-sync').length} still admitted until the next sync ·{' '}
        {rows.filter((r) => r.state === 'both').length} unchanged
      </p>
      <Table testId="credentials" columns={['Holder', 'Kind', 'Window', 'State']}>
            {rows.slice(0, 300).map((r) => (
              <tr key={r.key} class={r.state}>
                <td>{r.personId ? <a href={`#/people/${r.personId}`}>{r.name}</a> : r.name}</td>
                <td>{r.kind}</td>
                <td>{r.window}</td>
                <td>{r.state === 'added' ? 'added at next sync' : r.state === 'until-sync' ? 'on the lock until the next sync' : 'on the lock'}</td>
              </tr>
            ))}
          </Table>
      {rows.length > 300 ? <p class="muted">first 300 of {rows.length} rows</p> : null}
      <h2>Recent attempts</h2>
      <ul class="feed" data-testid="door-attempts">
        {live.map((m) => (
          <li key={`live-${m.id}`}>
            <Outcome outcome={String(m['outcome'])} reason={m['reason'] as string | null} /> {String(m['credentialKind'] ?? 'unknown credential')}
            {m['personName'] ? ` of ${String(m['personName'])}` : ''} <small class="muted">at the lock, {time(m.at)}</small>
          </li>
        ))}
        {activity
          .filter((a) => a.kind === 'unlock')
          .map((a) => (
            <li key={`a-${a.id}`}>
              <Outcome outcome={a.result ?? 'denied'} /> {a.message} <small class="muted">uploaded, {time(a.at)}</small>
            </li>
          ))}
      </ul>
    </section>
  );
}
