// The chat page's sign-in: OIDC authorization code + PKCE (S256) as a public client against the relay's [oidc] issuer.
// The verifier and state wait in sessionStorage across the redirect; the access token lands there too (this tab only).

export interface SignInConfig {
  issuer: string;
  client_id: string;
  audience: string;
}

const PENDING = "c2l-chat-pkce";
const TOKEN = "c2l-chat-token";

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const redirectUri = () => `${location.origin}/chat`;

async function discover(issuer: string): Promise<{ authorization_endpoint: string; token_endpoint: string }> {
  const res = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`the sign-in server's discovery document answered HTTP ${res.status}`);
  return res.json();
}

/** The audience as the token request carries it: RFC 8707 `resource` for a URI (as the desktop's login does). */
function audienceParams(c: SignInConfig): Record<string, string> {
  if (!c.audience) return {};
  return /^[a-z][a-z0-9+.-]*:/i.test(c.audience) ? { audience: c.audience, resource: c.audience } : { audience: c.audience };
}

/** Leaves for the issuer's login page; the issuer sends the browser back to /chat?code=…&state=…. */
export async function startSignIn(c: SignInConfig): Promise<void> {
  if (!crypto.subtle) throw new Error("signing in needs a secure page (https, or http on loopback)");
  const d = await discover(c.issuer);
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
  const u = new URL(d.authorization_endpoint);
  const params = { response_type: "code", client_id: c.client_id, redirect_uri: redirectUri(), scope: "openid", code_challenge: challenge, code_challenge_method: "S256", state, ...audienceParams(c) };
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  location.assign(u.toString());
}

/** Back from the issuer (the URL has code or error): trades the code for an access token, then cleans the URL. */
export async function finishSignIn(c: SignInConfig, params: URLSearchParams): Promise<void> {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null") as { verifier: string; state: string } | null;
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", "/chat");
  if (params.get("error")) throw new Error(`the sign-in server refused: ${params.get("error_description") ?? params.get("error")}`);
  if (!pending || params.get("state") !== pending.state) throw new Error("this sign-in answer was not asked for by this page (state mismatch); sign in again");
  const d = await discover(c.issuer);
  const body = new URLSearchParams({ grant_type: "authorization_code", code: params.get("code") ?? "", redirect_uri: redirectUri(), client_id: c.client_id, code_verifier: pending.verifier, ...audienceParams(c) });
  const res = await fetch(d.token_endpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const j = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
  if (!res.ok || !j.access_token) throw new Error(`the sign-in server did not issue a token: ${j.error_description ?? j.error ?? `HTTP ${res.status}`}`);
  sessionStorage.setItem(TOKEN, j.access_token);
}

export function signedInToken(): string | null {
  return sessionStorage.getItem(TOKEN);
}

/** Forgets the token in this tab (the issuer's own session is left alone: signing in again may skip its login page). */
export function signOut(): void {
  sessionStorage.removeItem(TOKEN);
}

/** The subject of the token, for "Signed in as …" (read, not verified: the relay verifies every call). */
export function tokenSubject(token: string): string {
  try {
    const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { sub?: string };
    return payload.sub ?? "?";
  } catch {
    return "?";
  }
}
