/**
 * A person: their keys with start and expiration (edit, remove, add), their doorcode, guests,
 * Revoke All Keys (naming the guests it takes too), Delete Person, and a simulated phone.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, get, post } from '../api.js';
import type { Session } from '../main.js';
import type { Grant, Key, Person } from '../types.js';
import { Action, ActionForm, ErrorNote, field, time, Table } from '../ui.js';
import { KeyChecklist } from './people.js';

interface Credentials {
  doorcode: string | null;
  dailyDoorcode: boolean;
  keycards: { id: number; uid: string }[];
  phoneKeys: { id: number; publicKey: string; label: string | null }[];
}

const localInput = (iso: string | null): string => (iso ? iso.slice(0, 16) : '');

function GrantRow({ s, g, personId, editable }: { s: Session; g: Grant; personId: number; editable: boolean }) {
  const [editing, setEditing] = useState(false);
  return (
    <tr>
      <td>
        {g.keyName}
        {g.sharedBy ? <small class="muted"> shared by person {g.sharedBy}</small> : null}
      </td>
      <td>{time(g.startsAt)}</td>
      <td>{g.expiresAt ? time(g.expiresAt) : <span class="warn">none (recommended)</span>}</td>
      <td>{g.source}</td>
      <td>
        {editable && !editing ? <button type="button" onClick={() => setEditing(true)}>Edit</button> : null}
        {editable && editing ? (
          <ActionForm
            submit="Save"
            onSubmit={async (d) => {
              await api('PATCH', `${s.base}/people/${personId}/grants/${g.id}`, { startsAt: field(d, 'start') || null, expiresAt: field(d, 'expires') || null });
              setEditing(false);
            }}
          >
            <label>
              Start <input type="datetime-local" name="start" value={localInput(g.startsAt)} />
            </label>
            <label>
              Expiration <input type="datetime-local" name="expires" value={localInput(g.expiresAt)} />
            </label>
          </ActionForm>
        ) : null}
        {editable ? <Action label="Remove" kind="danger" run={() => api('DELETE', `${s.base}/people/${personId}/grants/${g.id}`)} confirm={`Remove ${g.keyName}?`} /> : null}
      </td>
    </tr>
  );
}

export function PersonPage({ s, personId }: { s: Session; personId: number }) {
  const [person, setPerson] = useState<Person | null>(null);
  const [grants, setGrants] = useState<Grant[]>([]);
  const [creds, setCreds] = useState<Credentials | null>(null);
  const [guests, setGuests] = useState<Person[]>([]);
  const [keys, setKeys] = useState<Key[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [gone, setGone] = useState(false);
  const at = `${s.base}/people/${personId}`;

  useEffect(() => {
    Promise.all([get<{ person: Person; grants: Grant[] }>(at), get<Credentials>(`${at}/credentials`), get<{ guest: Person }[]>(`${at}/guests`).catch(() => []), get<Key[]>(`${s.base}/keys`)])
      .then(([d, c, g, k]) => {
        setPerson(d.person);
        setGrants(d.grants);
        setCreds(c);
        setGuests(g.map((x) => x.guest));
        setKeys(k);
        setError(null);
      })
      .catch(setError);
  }, [at, s.revision]);

  if (gone) {
    return (
      <section>
        <p class="notice" role="status">
          Person {personId} was deleted. Their past activity stays in Activity.
        </p>
        <a href="#/people">← People</a>
      </section>
    );
  }
  if (error) return <ErrorNote error={error} />;
  if (!person || !creds) return <p class="muted">Loading…</p>;
  const km = s.me.keyManagement;
  const guestNames = guests.map((g) => `${g.firstName} ${g.lastName}`).join(', ');
  return (
    <section>
      <p>
        <a href="#/people">← People</a>
      </p>
      <div class="heading">
        <h1>
          {person.firstName} {person.lastName}
        </h1>
        <span class={`pill ${person.status}`}>{person.status}</span>
      </div>
      <dl class="facts">
        <dt>Email</dt>
        <dd>{person.email}</dd>
        <dt>Access</dt>
        <dd>
          {person.accessType === 'app' ? 'DOOR app' : 'doorcode only'}
          {person.isResident ? ' · resident' : ''}
          {person.mayShare ? ' · may share keys' : ''}
        </dd>
        <dt>Doorcode</dt>
        <dd data-testid="doorcode">{creds.doorcode ?? (creds.dailyDoorcode ? 'daily code' : 'none')}</dd>
        <dt>Keycards</dt>
        <dd>{creds.keycards.length ? creds.keycards.map((c) => <code key={c.id}>{c.uid} </code>) : 'none'}</dd>
        <dt>Phone keys</dt>
        <dd>{creds.phoneKeys.length ? creds.phoneKeys.map((k) => <span key={k.id}>{k.label ?? k.publicKey.slice(0, 12)} </span>) : 'none'}</dd>
        <dt>Guests</dt>
        <dd>{guestNames || 'none'}</dd>
      </dl>
      <h2>Keys</h2>
      <Table testId="grants" columns={['Key', 'Start', 'Expiration', 'Source', '']}>
            {grants.map((g) => (
              <GrantRow key={g.id} s={s} g={g} personId={personId} editable={km} />
            ))}
          </Table>
      {km ? (
        <>
          <details>
            <summary>Add keys</summary>
            <ActionForm submit="Add" onSubmit={(d) => post(`${at}/grants`, { keyIds: d.getAll('keyIds').map(Number), ...(field(d, 'expires') ? { expiresAt: field(d, 'expires') } : {}) })}>
              <KeyChecklist keys={keys} />
              <label>
                Expiration <input type="datetime-local" name="expires" />
              </label>
            </ActionForm>
          </details>
          <div class="danger-zone">
            <Action
              label="Revoke All Keys"
              kind="danger"
              testId="revoke-all"
              confirm={`Revoke every key of ${person.firstName} ${person.lastName}?${guests.length ? ` Their guests lose access too: ${guestNames}.` : ''} Doors enforce it after their next sync.`}
              run={() => post(`${at}/revoke-all`)}
            />
            <Action
              label="Delete Person"
              kind="danger"
              confirm={`Delete ${person.firstName} ${person.lastName}? Their keycards and phone keys go, their guests lose what was shared; past activity stays.`}
              run={async () => {
                await api('DELETE', at);
                setGone(true);
              }}
            />
            {person.accessType === 'app' ? <Action label="Install the simulated phone" run={() => post(`${s.base}/simulate/people/${personId}/install-phone`)} /> : null}
          </div>
        </>
      ) : null}
    </section>
  );
}
