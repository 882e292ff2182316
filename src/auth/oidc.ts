// Talks to the [auth] issuer through openid-client: discovery, and the parameters every grant sends (scope, audience).
import type * as client from "openid-client";

/** openid-client loads with the first sign-in or token refresh: a daemon without [auth] never needs it. */
export const openidClient = () => import("openid-client");
import type { Config } from "../config/schema.ts";
import { scrub } from "../core/log.ts";
import { isLoopbackHost } from "../config/listen.ts";
import { redactUrl, redactUrlsIn } from "../net/redact-url.ts";
import type { CodeOf } from "../core/error-codes.ts";

export type AuthConfig = Config["auth"];

export class AuthNotConfiguredError extends Error {
  override name = "AuthNotConfiguredError";
  readonly code: CodeOf<"AuthNotConfiguredError"> = "auth_not_configured";
  constructor() {
    super("Sign-in is not configured: set [auth] issuer and client_id in the config file.");
  }
}

/**
 * Certificates are verified whatever NODE_TLS_REJECT_UNAUTHORIZED says (set for some other tool, it would hand the
 * refresh token to whoever answers for the issuer's name), as for the tunnel's connection (src/tunnel/connector.ts).
 * Extra CAs still come from the system store and NODE_EXTRA_CA_CERTS.
 */
const verifiedFetch: client.CustomFetch = (url, options) => fetch(url, { ...options, tls: { rejectUnauthorized: true } } as RequestInit);

/** Discovers the issuer's metadata. Plain http is accepted only for a loopback issuer (development and tests). */
export async function discover(auth: AuthConfig): Promise<client.Configuration> {
  if (!auth.issuer || !auth.client_id) throw new AuthNotConfiguredError();
  const url = new URL(auth.issuer);
  const insecure = url.protocol === "http:";
  // The issuer as every URL is shown (docs/api.md): these sentences reach `login`, the API and the open auth status.
  const shown = redactUrl(auth.issuer);
  if (insecure && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ""))) {
    throw new Error(`[auth] issuer must use https (plain http is only accepted on loopback): ${shown}`);
  }
  let config: client.Configuration;
  try {
    // A desktop app is a public client (RFC 8252): no client secret, PKCE instead.
    const oc = await openidClient();
    config = await oc.discovery(url, auth.client_id, undefined, oc.None(), {
      execute: insecure ? [oc.allowInsecureRequests] : [],
      timeout: 15,
      // Kept by the Configuration for every later request (token, refresh, device code, revocation).
      [oc.customFetch]: verifiedFetch,
    });
  } catch (e) {
    throw new Error(redactUrlsIn(otherIssuer(shown, e) ?? `Could not reach the sign-in issuer ${shown}: ${(e as Error).message}`));
  }
  checkEndpoints(auth.issuer, config.serverMetadata() as unknown as Record<string, unknown>);
  return config;
}

/**
 * The issuer answered, but its discovery document names another issuer (openid-client compares them as URLs): not a
 * network failure, so the sentence says what differs and what to check, else null.
 */
function otherIssuer(issuer: string, e: unknown): string | null {
  const err = e as { code?: unknown; cause?: { attribute?: unknown; body?: { issuer?: unknown } } };
  if (err?.code !== "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED" || err.cause?.attribute !== "issuer") return null;
  const got = String(err.cause.body?.issuer ?? "(none)").slice(0, 200);
  return `The sign-in issuer ${issuer} answered, but its discovery document names another issuer: expected ${issuer}, got ${got}. Set [auth] issuer to exactly the issuer URL the identity provider publishes (a trailing slash counts).`;
}

/**
 * allowInsecureRequests (a loopback development issuer) lets every request use http, so a discovery document that names
 * an http endpoint on another machine would send the refresh token (and the device code) across the network in cleartext.
 * Plain http is for loopback only, endpoints included; an https issuer's http endpoint is refused here too, in one
 * sentence, rather than at its first use.
 */
function checkEndpoints(issuer: string, metadata: Record<string, unknown>): void {
  const shown = redactUrl(issuer);
  for (const [key, value] of Object.entries(metadata)) {
    if (!(key.endsWith("_endpoint") || key === "jwks_uri") || typeof value !== "string") continue;
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new Error(`The sign-in issuer ${shown} names an invalid ${key} in its discovery document.`);
    }
    const plainOk = u.protocol === "http:" && new URL(issuer).protocol === "http:" && isLoopbackHost(u.hostname.replace(/^\[|\]$/g, ""));
    if (u.protocol !== "https:" && !plainOk) {
      throw new Error(`The sign-in issuer ${shown} names ${key} ${u.protocol}//${u.host} in its discovery document: only https is accepted (plain http only on loopback, for a loopback issuer).`);
    }
  }
}

/**
 * Revokes a refresh token at the issuer (RFC 7009), which also ends its grant's access tokens at most issuers. Best
 * effort: null when revoked, else why not (no revocation endpoint in the discovery document, the call failed).
 */
export async function revokeRefreshToken(config: client.Configuration, token: string): Promise<string | null> {
  if (!config.serverMetadata().revocation_endpoint) return "the issuer names no revocation endpoint";
  try {
    await (await openidClient()).tokenRevocation(config, token, { token_type_hint: "refresh_token" });
    return null;
  } catch (e) {
    return grantErrorMessage(e);
  }
}

/** Token request parameters that carry the audience: RFC 8707 `resource` for URIs, plus `audience` (Auth0 and others). */
export function audienceParams(auth: AuthConfig): Record<string, string> {
  if (!auth.audience) return {};
  const p: Record<string, string> = { audience: auth.audience };
  if (/^[a-z][a-z0-9+.-]*:/i.test(auth.audience)) p.resource = auth.audience;
  return p;
}

export function scopeParam(auth: AuthConfig): string {
  return auth.scopes.join(" ");
}

/** "invalid_grant" and friends mean the refresh token is dead: retrying cannot help, only a new sign-in. */
export function isPermanentGrantError(e: unknown): boolean {
  const code = (e as { error?: string })?.error;
  return code === "invalid_grant" || code === "invalid_client" || code === "unauthorized_client" || code === "invalid_target" || code === "invalid_scope";
}

/**
 * One sentence for a failed grant, without echoing anything secret: the issuer's own words may quote the token it was sent
 * (some do), and the sentence reaches the state that /api/v1/status shows any local user, alerts and notify-send's argv.
 */
export function grantErrorMessage(e: unknown): string {
  return scrub(issuerWords(e));
}

function issuerWords(e: unknown): string {
  const err = e as { error?: string; error_description?: string; message?: string; cause?: unknown; status?: number };
  if (err?.error) return `${err.error}${err.error_description ? `: ${err.error_description}` : ""}`;
  const status = err?.cause instanceof Response ? err.cause.status : err?.status;
  if (status) return `the issuer answered HTTP ${status}`;
  return err?.message ?? String(e);
}
