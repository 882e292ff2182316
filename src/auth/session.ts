// The signed-in session (access, refresh and ID tokens) and how it is kept as one item in the secret store.
import type * as client from "openid-client";
import type { SecretStore } from "../core/contracts.ts";
import { registerSecret } from "../core/log.ts";

/** Name of the secret that holds the session (one item, so a rotated refresh token is never stored half-way). */
export const SESSION_SECRET = "auth-session";

export interface AuthSession {
  issuer: string;
  clientId: string;
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  /** Epoch milliseconds; null when the issuer did not say. */
  expiresAt: number | null;
  subject: string | null;
  name: string | null;
  /** Epoch milliseconds when the access token was obtained: its lifetime decides when to refresh. Absent in older sessions. */
  issuedAt?: number;
  /**
   * The refresh token this one replaced (rotation), kept until the new one is confirmed by a successful refresh: if a
   * crash lost the confirmation, the first refresh after a restart may try it once.
   */
  previousRefreshToken?: string | null;
}

/**
 * A JWT's claims, unverified (what jose's decodeJwt returns; the issuer's TLS vouches for tokens we asked it for).
 * Decoded here rather than with jose, which would cost every daemon its load for a few lines.
 */
function claimsOf(jwt: string | null | undefined): Record<string, unknown> {
  if (!jwt) return {};
  const parts = jwt.split(".");
  if (parts.length !== 3 || !parts[1]) return {}; // opaque access tokens are fine
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return claims && typeof claims === "object" && !Array.isArray(claims) ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function register(s: AuthSession): AuthSession {
  registerSecret(s.accessToken);
  registerSecret(s.refreshToken);
  registerSecret(s.idToken);
  registerSecret(s.previousRefreshToken);
  return s;
}

/** Builds the session from a token response; a response without a new refresh or ID token keeps the previous ones. */
export function sessionFromTokens(
  tokens: client.TokenEndpointResponse & { claims?(): Record<string, unknown> | undefined },
  ids: { issuer: string; clientId: string },
  prev?: AuthSession | null,
  now = Date.now(),
): AuthSession {
  const idClaims = tokens.claims?.() ?? claimsOf(tokens.id_token);
  const atClaims = claimsOf(tokens.access_token);
  const expiresIn = typeof tokens.expires_in === "number" ? tokens.expires_in : null;
  const exp = typeof atClaims.exp === "number" ? atClaims.exp * 1000 : null;
  const iat = typeof atClaims.iat === "number" ? atClaims.iat * 1000 : null;
  // Read on our clock, the issuer's absolute exp is off by however far the two clocks differ (a desktop minutes or hours
  // ahead would see a fresh token as expired, drop it and refresh every 2 s): its own lifetime, exp − iat, counted from
  // now is not. Without iat, exp is all there is.
  const atExp = exp !== null && iat !== null && exp > iat ? now + (exp - iat) : exp;
  const rotated = !!tokens.refresh_token && !!prev?.refreshToken && tokens.refresh_token !== prev.refreshToken;
  return register({
    ...ids,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token ?? prev?.refreshToken ?? null,
    idToken: tokens.id_token ?? prev?.idToken ?? null,
    // The earlier of what the response says and what a JWT access token says: refreshing early is harmless, late is not.
    expiresAt: expiresIn !== null && atExp !== null ? Math.min(now + expiresIn * 1000, atExp) : expiresIn !== null ? now + expiresIn * 1000 : atExp,
    subject: (idClaims.sub as string) ?? (atClaims.sub as string) ?? prev?.subject ?? null,
    name: (idClaims.name as string) ?? (idClaims.preferred_username as string) ?? (idClaims.email as string) ?? prev?.name ?? null,
    issuedAt: now,
    previousRefreshToken: rotated ? prev!.refreshToken : null,
  });
}

export async function loadSession(store: SecretStore): Promise<AuthSession | null> {
  return parseSession(await store.get(SESSION_SECRET));
}

/** The session a stored item holds, or null (none, or not one). */
export function parseSession(text: string | null): AuthSession | null {
  if (!text) return null;
  try {
    const s = JSON.parse(text) as AuthSession;
    if (typeof s.accessToken !== "string") return null;
    return register(s);
  } catch {
    return null;
  }
}

export async function saveSession(store: SecretStore, s: AuthSession): Promise<void> {
  await store.set(SESSION_SECRET, JSON.stringify(register(s)));
}

export async function clearSession(store: SecretStore): Promise<boolean> {
  return store.delete(SESSION_SECRET);
}
