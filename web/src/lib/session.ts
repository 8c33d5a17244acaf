/**
 * The signed-in session. The access token lives only in this module's memory; the refresh
 * token is an httpOnly cookie on /api/auth that page scripts never see. A reload restores the
 * session by asking /api/auth/session/refresh, which rotates the cookie.
 */

export const SESSION_HEADER = { "X-LogSight-Session": "1" } as const;

export interface SessionTokens {
  access_token: string;
  expires_in: number;
  password_change_required?: boolean;
}

type Listener = () => void;

// Not a secret: whether this browser signed in, so a first visit does not ask for a refresh
// it cannot have (the cookie itself is invisible to scripts).
const SIGNED_IN = "logsight.signed-in";

/** An identity provider's SDK that hands out tokens itself (Clerk): used instead of the cookie. */
export interface ExternalSession {
  token: () => Promise<string | null>;
  signOut: () => Promise<void>;
}

let external: ExternalSession | null = null;
let accessToken: string | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let pending: Promise<boolean> | null = null;
const listeners = new Set<Listener>();

export function currentToken(): string | null {
  return accessToken;
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(): void {
  for (const listener of listeners) listener();
}

/**
 * Keep a new access token. A built-in session renews it from the cookie shortly before it
 * expires; one from an identity provider (not refreshable here) ends when it expires.
 */
export function adopt(tokens: SessionTokens, options: { refreshable?: boolean } = {}): void {
  const refreshable = options.refreshable ?? true;
  accessToken = tokens.access_token;
  if (refreshable) localStorage.setItem(SIGNED_IN, "1");
  clearTimeout(refreshTimer);
  refreshTimer = refreshable
    ? setTimeout(() => void refresh(), Math.max(5, tokens.expires_in - 30) * 1000)
    : setTimeout(forget, tokens.expires_in * 1000);
  notify();
}

export function forget(): void {
  accessToken = null;
  localStorage.removeItem(SIGNED_IN);
  clearTimeout(refreshTimer);
  notify();
}

async function post(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    ...init,
    headers: { ...SESSION_HEADER, ...(init.headers ?? {}) },
  });
}

export class SignInError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function signIn(email: string, password: string): Promise<SessionTokens> {
  const response = await post("/api/auth/session", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const body = (await response.json().catch(() => null)) as
    | (SessionTokens & { error?: { message?: string } })
    | null;
  if (!response.ok || !body) {
    const retry = response.headers.get("retry-after");
    const message =
      response.status === 429
        ? `Too many attempts. Try again in ${retry ?? "a few"} seconds.`
        : (body?.error?.message ?? "Sign-in failed.");
    throw new SignInError(message, response.status);
  }
  adopt(body);
  return body;
}

/**
 * One refresh at a time: concurrent callers in this tab share it, and tabs take turns through
 * a Web Lock. The cookie is the browser's, shared by every tab: two tabs presenting the same
 * refresh token at once would look like a stolen token replayed, and end the session.
 */
export function setExternalSession(session: ExternalSession | null): void {
  external = session;
}

export function refresh(): Promise<boolean> {
  if (external) return refreshExternal(external);
  if (!pending && localStorage.getItem(SIGNED_IN) !== "1") return Promise.resolve(false);
  pending ??= (async () => {
    try {
      const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
      const response = locks
        ? await locks.request("logsight-session-refresh", () => post("/api/auth/session/refresh"))
        : await post("/api/auth/session/refresh");
      if (!response.ok) {
        forget();
        return false;
      }
      adopt((await response.json()) as SessionTokens);
      return true;
    } catch {
      return false;
    } finally {
      pending = null;
    }
  })();
  return pending;
}

async function refreshExternal(session: ExternalSession): Promise<boolean> {
  const token = await session.token().catch(() => null);
  if (!token) {
    forget();
    return false;
  }
  // The SDK keeps its own token fresh (about a minute long): ask it again well before then.
  adopt({ access_token: token, expires_in: 50 }, { refreshable: true });
  return true;
}

export async function signOut(): Promise<void> {
  if (external) {
    await external.signOut().finally(forget);
    return;
  }
  try {
    await fetch("/api/auth/session", {
      method: "DELETE",
      credentials: "same-origin",
      headers: SESSION_HEADER,
    });
  } finally {
    forget();
  }
}
