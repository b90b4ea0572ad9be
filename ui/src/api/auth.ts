// Who the UI signs in as: a bearer token pasted on the sign-in page, kept in sessionStorage
// (this tab, until it closes) or, when asked, localStorage (this browser), and sent with every
// API request as `Authorization: Bearer`. A 401 from any request signs out and brings back the
// sign-in page with the server's message.

export const TOKEN_KEY = 'tug.token';

/** GET /api/v1/whoami. */
export interface Identity {
  user: string;
  groups: string[];
  role: 'viewer' | 'user' | 'admin';
  via?: string;
  authenticated: boolean;
}

/** GET /api/v1/auth/config (open). */
export interface AuthConfig {
  enabled: boolean;
  tokens?: boolean;
  oidc?: { issuer: string; client_id: string };
}

type Store = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

function stores(): { session: Store | null; local: Store | null } {
  const pick = (f: () => Storage): Store | null => {
    try {
      return f();
    } catch {
      return null;
    }
  };
  return { session: pick(() => window.sessionStorage), local: pick(() => window.localStorage) };
}

// The token in memory: storage may be disabled, and reading storage on every request is waste.
let current: string | null | undefined;

/**
 * The Spark UI opens in a tab of its own, which sends no Authorization header: the token also
 * goes in a `tug_token` cookie scoped to /runs/ and same-site only, which the server takes for
 * GETs of its Spark UI proxy and for nothing else. `remember`: kept 30 days, else for the
 * browser session.
 */
function setSparkUiCookie(token: string | null, remember = false): void {
  try {
    const secure = window.location.protocol === 'https:' ? '; Secure' : '';
    if (token) {
      const age = remember ? '; Max-Age=2592000' : '';
      document.cookie = `tug_token=${encodeURIComponent(token)}; Path=/runs/; SameSite=Strict${age}${secure}`;
    } else {
      document.cookie = `tug_token=; Path=/runs/; SameSite=Strict; Max-Age=0${secure}`;
    }
  } catch {
    // no cookies (a sandboxed frame): the Spark UI link then asks for credentials
  }
}

export function storedToken(): string | null {
  if (current !== undefined) return current;
  const { session, local } = stores();
  const fromSession = session?.getItem(TOKEN_KEY) ?? null;
  const fromLocal = fromSession === null ? (local?.getItem(TOKEN_KEY) ?? null) : null;
  current = fromSession ?? fromLocal;
  if (current) setSparkUiCookie(current, fromLocal !== null);
  return current;
}

/** Keeps the token for this tab, or for this browser when `remember`. */
export function saveToken(token: string, remember: boolean): void {
  current = token;
  setSparkUiCookie(token, remember);
  const { session, local } = stores();
  try {
    if (remember) {
      local?.setItem(TOKEN_KEY, token);
      session?.removeItem(TOKEN_KEY);
    } else {
      session?.setItem(TOKEN_KEY, token);
      local?.removeItem(TOKEN_KEY);
    }
  } catch {
    // storage may be full or disabled: the token lives for this page only
  }
}

export function forgetToken(): void {
  current = null;
  setSparkUiCookie(null);
  const { session, local } = stores();
  try {
    session?.removeItem(TOKEN_KEY);
    local?.removeItem(TOKEN_KEY);
  } catch {
    // nothing kept
  }
}

/** The Authorization header for `token` (none without one). */
export function authHeaders(token: string | null = storedToken()): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A pasted token without what copying tends to add: spaces, newlines, a "Bearer " prefix. */
export function cleanToken(text: string): string {
  return text.trim().replace(/^bearer\s+/i, '').trim();
}

// Who listens for a 401 (the App): one listener, replaced on mount.
let onUnauthorized: ((message: string) => void) | null = null;

export function setUnauthorizedHandler(f: ((message: string) => void) | null): void {
  onUnauthorized = f;
}

/** Called by the API client on a 401 answer to a request that carried a token (or needed one). */
export function reportUnauthorized(message: string): void {
  onUnauthorized?.(message);
}

export type Action = 'submit' | 'stop';

/**
 * What the UI offers. Without authentication everyone is an admin (the server is on loopback).
 * The server decides (a user may not stop another group's run); this only hides buttons a role
 * can never use.
 */
export function can(identity: Identity | null, action: Action): boolean {
  if (!identity) return true;
  switch (action) {
    case 'submit':
    case 'stop':
      return identity.role === 'user' || identity.role === 'admin';
    default:
      return false;
  }
}

/** "ada (user · science, ml)". */
export function describeIdentity(identity: Identity): string {
  const groups = identity.groups.length > 0 ? ` · ${identity.groups.join(', ')}` : '';
  return `${identity.user || 'anonymous'} (${identity.role}${groups})`;
}
