/** Small building blocks every page uses: action buttons that show the server's refusal, pagers, times. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from './api.js';

/** The server's refusal, next to the control that caused it: code and message. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  return (
    <p class="error" role="alert">
      {e ? <code>{e.code}</code> : null} {e ? e.message : String((error as Error)?.message ?? error)}
    </p>
  );
}

/**
 * A button that runs an async action, is disabled while it runs, and shows the error next to
 * itself if the server refuses (nothing else on the page changes then).
 */
export function Action(props: { label: string; run: () => Promise<unknown>; kind?: 'primary' | 'danger' | 'plain'; confirm?: string; testId?: string; title?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <span class="action">
      <button
        type="button"
        class={props.kind ?? 'plain'}
        disabled={busy}
        data-testid={props.testId}
        title={props.title}
        onClick={async () => {
          if (props.confirm && !window.confirm(props.confirm)) return;
          setBusy(true);
          setError(null);
          try {
            await props.run();
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? `${props.label}…` : props.label}
      </button>
      <ErrorNote error={error} />
    </span>
  );
}

/** A form whose submit runs an async action; errors show under it. */
export function ActionForm(props: { onSubmit: (data: FormData) => Promise<unknown>; children: ComponentChildren; submit: string; testId?: string; class?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      class={`action-form ${props.class ?? ''}`}
      data-testid={props.testId}
      onSubmit={async (ev) => {
        ev.preventDefault();
        const form = ev.currentTarget as HTMLFormElement;
        setBusy(true);
        setError(null);
        try {
          await props.onSubmit(new FormData(form));
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      {props.children}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? `${props.submit}…` : props.submit}
      </button>
      <ErrorNote error={error} />
    </form>
  );
}

export function Pager(props: { offset: number; limit: number; total: number; onPage: (offset: number) => void }) {
  const { offset, limit, total } = props;
  if (total <= limit) return <p class="muted">{total} shown</p>;
  return (
    <nav class="pager" aria-label="pages">
      <button type="button" disabled={offset === 0} onClick={() => props.onPage(Math.max(0, offset - limit))}>
        ← previous
      </button>
      <span>
        {offset + 1}–{Math.min(total, offset + limit)} of {total}
      </span>
      <button type="button" disabled={offset + limit >= total} onClick={() => props.onPage(offset + limit)}>
        next →
      </button>
    </nav>
  );
}

export const time = (iso: string | null | undefined): string => (iso ? iso.slice(0, 16).replace('T', ' ') : '—');

export function Outcome({ outcome, reason }: { outcome: string; reason?: string | null }) {
  return (
    <span class={`outcome ${outcome}`}>
      {outcome.toUpperCase()}
      {reason ? <small> ({reason})</small> : null}
    </span>
  );
}

export const field = (data: FormData, name: string): string => String(data.get(name) ?? '').trim();

/** A table in its scrolling frame, with a header row (the pages' lists all look alike). */
export function Table(props: { testId: string; columns: string[]; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((c, i) => (
              <th key={i}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
