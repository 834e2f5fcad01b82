/** The console's HTTP client: same origin, bearer token, the server's error codes kept. */
import { LatchkitError } from '@latchkit/protocol';

/** A refusal from the server: its stable code (gateway/API.md) and message, and the HTTP status. */
export class ApiError extends LatchkitError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

const TOKEN_KEY = 'latchkit.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** Called when the server says the token is unknown, revoked or missing: back to the login prompt. */
let onUnauthorized: (message: string) => void = () => undefined;
export function whenUnauthorized(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ data: T; headers: Headers }> {
  const token = storedToken();
  const headers: Record<string, string> = {};
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch (err) {
    throw new ApiError(0, 'SERVER_UNREACHABLE', `the server did not answer: ${(err as Error).message}`);
  }
  const textBody = await res.text();
  let data: unknown = null;
  try {
    data = textBody === '' ? null : JSON.parse(textBody);
  } catch {
    data = textBody;
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string } } | null)?.error;
    const err = new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText);
    if (res.status === 401) onUnauthorized(`${err.code}: ${err.message}`);
    throw err;
  }
  return { data: data as T, headers: res.headers };
}

export const get = async <T>(path: string): Promise<T> => (await api<T>('GET', path)).data;
export const post = async <T>(path: string, body?: unknown): Promise<T> => (await api<T>('POST', path, body)).data;
