/**
 * Signing in with an OIDC issuer: authorization code with PKCE (RFC 7636), a public client,
 * nothing secret in the page. The verifier and state wait in sessionStorage (this tab only)
 * during the round trip to the issuer, and are removed when it comes back.
 */
import { adopt } from "./session";

const PENDING = "logsight.oidc";

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The S256 challenge of a verifier: base64url(SHA-256(verifier)). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`The identity provider's discovery failed (${response.status}).`);
  return (await response.json()) as Discovery;
}

export function redirectUri(): string {
  return `${location.origin}/login/callback/`;
}

export async function startSignIn(issuer: string, clientId: string, next: string): Promise<void> {
  const { authorization_endpoint } = await discover(issuer);
  const verifier = randomToken(48);
  const state = randomToken(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, issuer, clientId, next }));
  const url = new URL(authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri(),
    scope: "openid email profile",
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

/** Back from the issuer: check the state, exchange the code, keep the access token. */
export async function finishSignIn(params: URLSearchParams): Promise<string> {
  const saved = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  if (params.get("error")) throw new Error(params.get("error_description") ?? params.get("error") ?? "Sign-in refused.");
  if (!saved) throw new Error("No sign-in was started in this tab.");
  const pending = JSON.parse(saved) as { verifier: string; state: string; issuer: string; clientId: string; next: string };
  // A code delivered with another state was not asked for by this tab (login CSRF).
  if (params.get("state") !== pending.state) throw new Error("The sign-in answer does not match the request.");
  const code = params.get("code");
  if (!code) throw new Error("The identity provider sent no code.");
  const { token_endpoint } = await discover(pending.issuer);
  const response = await fetch(token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      client_id: pending.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error_description?: string };
  if (!response.ok || !tokens.access_token) throw new Error(tokens.error_description ?? "The code exchange failed.");
  // No refresh here: when the token expires the page goes back to the issuer, whose own
  // session usually signs the user in again without a prompt.
  adopt({ access_token: tokens.access_token, expires_in: tokens.expires_in ?? 300 }, { refreshable: false });
  return pending.next.startsWith("/") && !pending.next.startsWith("//") ? pending.next : "/";
}
