/**
 * People: search, paging, Show Expired Users, and Invite (app or doorcode, keys, resident, may
 * share, start, expiration with the "recommended" warning), as DOOR OS's People tab.
 */
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import type { Session } from '../main.js';
import type { Key, Person } from '../types.js';
import { ActionForm, ErrorNote, field, Table } from '../ui.js';

const PAGE = 25;

export function KeyChecklist({ keys, name = 'keyIds' }: { keys: Key[]; name?: string }) {
  return (
    <fieldset class="keys">
      <legend>Keys</legend>
      {keys.map((k) => (
        <label key={k.id} class="inline">
          <input type="checkbox" name={name} value={String(k.id)} /> {k.name} <small class="muted">({k.kind})</small>
        </label>
      ))}
    </fieldset>
  );
}

function InviteForm({ s, onDone }: { s: Session; onDone: (message: string) => void }) {
  const [keys, setKeys] = useState<Key[]>([]);
  const [expires, setExpires] = useState('');
  useEffect(() => {
    get<Key[]>(`${s.base}/keys`).then(setKeys, () => setKeys([]));
  }, [s.base]);
  return (
    <ActionForm
      submit="Invite"
      testId="invite"
      class="invite"
      onSubmit={async (d) => {
        const keyIds = d.getAll('keyIds').map(Number);
        const r = await post<{ person: Person; created: boolean; warnings: { code: string; message: string }[]; affectedDoors: number[] }>(`${s.base}/people`, {
          email: field(d, 'email'),
          firstName: field(d, 'first'),
          lastName: field(d, 'last'),
          accessType: field(d, 'access'),
          isResident: d.get('resident') === 'on',
          mayShare: d.get('share') === 'on',
          keyIds,
          ...(field(d, 'start') ? { startsAt: field(d, 'start') } : {}),
          ...(field(d, 'expires') ? { expiresAt: field(d, 'expires') } : {}),
        });
        onDone(
          `${r.created ? 'Invited' : 'Added keys to'} ${r.person.firstName} ${r.person.lastName} (person ${r.person.id}); doors to sync: ${r.affectedDoors.length}${r.warnings.map((w) => ` · ${w.message}`).join('')}`,
        );
      }}
    >
      <div class="grid">
        <label>
          Email <input name="email" type="email" required />
        </label>
        <label>
          First name <input name="first" required />
        </label>
        <label>
          Last name <input name="last" required />
        </label>
        <label>
          Access
          <select name="access">
            <option value="app">DOOR app (phone key and doorcode)</option>
            <option value="doorcode">Daily doorcode only</option>
          </select>
        </label>
        <label>
          Start <input name="start" type="datetime-local" />
        </label>
        <label>
          Expiration <input name="expires" type="datetime-local" value={expires} onInput={(e) => setExpires((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      {expires === '' ? <p class="warn">Expiration recommended: without one, access does not end by itself when the lease does.</p> : null}
      <label class="inline">
        <input type="checkbox" name="resident" defaultChecked /> Resident
      </label>
      <label class="inline">
        <input type="checkbox" name="share" /> May share keys with guests
      </label>
      <KeyChecklist keys={keys} />
    </ActionForm>
  );
}

export function PeoplePage({ s }: { s: Session }) {
  const [search, setSearch] = useState('');
  const [expired, setExpired] = useState(false);
  const [offset, setOffset] = useState(0);
  const [people, setPeople] = useState<Person[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [inviting, setInviting] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    // One more than a page tells whether there is a next page.
    const q = new URLSearchParams({ limit: String(PAGE + 1), offset: String(offset), includeExpired: String(expired), ...(search ? { search } : {}) });
    get<Person[]>(`${s.base}/people?${q}`)
      .then((rows) => {
        setPeople(rows.slice(0, PAGE));
        setMore(rows.length > PAGE);
        setError(null);
      })
      .catch(setError);
  }, [s.base, search, expired, offset, s.revision]);

  return (
    <section>
      <div class="heading">
        <h1>People</h1>
        {s.me.keyManagement ? (
          <button type="button" class="primary" onClick={() => setInviting(!inviting)} aria-expanded={inviting} data-testid="open-invite">
            Invite
          </button>
        ) : null}
      </div>
      {notice ? (
        <p class="notice" role="status" data-testid="notice">
          {notice}
        </p>
      ) : null}
      {inviting ? (
        <InviteForm
          s={s}
          onDone={(m) => {
            setNotice(m);
            setInviting(false);
          }}
        />
      ) : null}
      <div class="filters">
        <label class="search">
          Search <input type="search" value={search} onInput={(e) => (setSearch((e.target as HTMLInputElement).value), setOffset(0))} placeholder="name or email" />
        </label>
        <label class="inline">
          <input type="checkbox" checked={expired} onChange={(e) => (setExpired((e.target as HTMLInputElement).checked), setOffset(0))} /> Show Expired Users
        </label>
      </div>
      <ErrorNote error={error} />
      {people === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <Table testId="people" columns={['Name', 'Email', 'Access', 'Status']}>
              {people.map((p) => (
                <tr key={p.id}>
                  <td>
                    <a href={`#/people/${p.id}`}>
                      {p.firstName} {p.lastName}
                    </a>
                    {p.isResident ? <small class="muted"> resident</small> : null}
                  </td>
                  <td>{p.email}</td>
                  <td>{p.accessType === 'app' ? 'DOOR app' : 'doorcode'}</td>
                  <td>
                    <span class={`pill ${p.status}`}>{p.status}</span>
                  </td>
                </tr>
              ))}
            </Table>
      )}
      <nav class="pager" aria-label="pages">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
          ← previous
        </button>
        <span>
          {people && people.length > 0 ? `${offset + 1}–${offset + people.length}` : 'none'}
          {more ? ', more' : ''}
        </span>
        <button type="button" disabled={!more} onClick={() => setOffset(offset + PAGE)}>
          next →
        </button>
      </nav>
    </section>
  );
}
