// The only way the UI reaches the server: same-origin requests under /api/v1, each with the
// signed-in token (api/auth.ts). A 401 signs out with the server's message.
import { type AuthConfig, type Identity, authHeaders, reportUnauthorized, storedToken } from './auth';
import type { ApiErrorBody } from './types';

export const API = '/api/v1';

/** A non-2xx answer (or a network failure: status 0) with the API's code and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Reads `{"error":{"code","message"}}`, or falls back to the status text. */
export async function errorFrom(resp: Response): Promise<ApiError> {
  let code = `http_${resp.status}`;
  let message = `${resp.status} ${resp.statusText}`.trim();
  try {
    const text = await resp.text();
    if (text) {
      try {
        const body = JSON.parse(text) as Partial<ApiErrorBody>;
        if (body.error && typeof body.error.message === 'string') {
          code = body.error.code || code;
          message = body.error.message;
        } else {
          message = text.slice(0, 500);
        }
      } catch {
        message = text.slice(0, 500);
      }
    }
  } catch {
    // keep the status text
  }
  return new ApiError(resp.status, code, message);
}

/**
 * fetch() with the token's Authorization header. A 401 is reported (the App goes back to the
 * sign-in page with its message) and returned like any other answer.
 */
export async function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const token = storedToken();
  const headers = { ...(init.headers as Record<string, string> | undefined), ...authHeaders(token) };
  const resp = await fetch(url, { ...init, headers });
  if (resp.status === 401) {
    const err = await errorFrom(resp.clone());
    // Only for the token still in use: after the first 401 signs out, the other polls that were
    // in flight (aborted as their pages go) have nothing to add.
    if (storedToken() === token) reportUnauthorized(err.message);
  }
  return resp;
}

export type Fetched<T> = { notModified: true } | { notModified: false; data: T; etag: string | null };

/**
 * GET `path` (relative to /api/v1). With `etag`, sends If-None-Match and reports a 304 as
 * notModified. The browser cache is bypassed (`no-store`) so the ETag logic is ours alone.
 */
export async function getJson<T>(
  path: string,
  opts: { etag?: string | null; signal?: AbortSignal } = {},
): Promise<Fetched<T>> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.etag) headers['If-None-Match'] = opts.etag;
  let resp: Response;
  try {
    resp = await apiFetch(API + path, { headers, cache: 'no-store', signal: opts.signal ?? null });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'the server cannot be reached; retrying');
  }
  if (resp.status === 304) return { notModified: true };
  if (!resp.ok) throw await errorFrom(resp);
  const data = (await resp.json()) as T;
  return { notModified: false, data, etag: resp.headers.get('ETag') };
}

/** GET without ETag handling. */
export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const r = await getJson<T>(path, signal ? { signal } : {});
  if (r.notModified) throw new ApiError(304, 'not_modified', 'unexpected 304');
  return r.data;
}

/** POST a JSON body; resolves with the parsed answer or rejects with an ApiError. */
export async function postJson<T>(path: string, body?: unknown): Promise<T> {
  let resp: Response;
  try {
    resp = await apiFetch(API + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'the server cannot be reached');
  }
  if (!resp.ok) throw await errorFrom(resp);
  const text = await resp.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** Builds "?a=1&b=2" from the non-empty entries (insertion order kept). */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/** The server's sign-in settings (open: no token needed). Null when it cannot be read. */
export async function authConfig(): Promise<AuthConfig | null> {
  try {
    const resp = await fetch(`${API}/auth/config`, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!resp.ok) return null;
    return (await resp.json()) as AuthConfig;
  } catch {
    return null;
  }
}

/**
 * Who `token` is (GET /whoami with it), without signing anyone out: the sign-in page's check.
 * Rejects with the server's ApiError (a 401 carries why the token was refused).
 */
export async function whoami(token: string | null): Promise<Identity> {
  let resp: Response;
  try {
    resp = await fetch(`${API}/whoami`, {
      headers: { Accept: 'application/json', ...authHeaders(token) },
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'the server cannot be reached; try again');
  }
  if (!resp.ok) throw await errorFrom(resp);
  return (await resp.json()) as Identity;
}
