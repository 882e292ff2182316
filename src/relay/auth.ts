// Who may do what at the relay: hashed static tokens, OIDC JWTs (jose, JWKS with key rotation), subject → tunnel id.
import { relayMs, type RelayConfig } from "./config.ts";
import { IssuerKeys } from "./issuer-keys.ts";

// Bun's native hasher, and no jose until a JWT comes: node:crypto and jose would cost an idle relay several MiB.
// One-shot: no hasher object per request (a client key is hashed on every call through the relay).
const sha256Hex = (text: string) => Bun.CryptoHasher.hash("sha256", text, "hex") as string;

export function hashToken(token: string): string {
  return sha256Hex(token);
}

/** Constant-time comparison of two hex digests (what timingSafeEqual did, without node:crypto). */
function sameHash(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The bearer token of an Authorization header, or null. Tokens are never read from the URL. */
export function bearer(req: Request): string | null {
  const h = req.headers.get("authorization");
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m ? m[1]! : null;
}

/**
 * Why no token was found: none was sent, or an Authorization header is there but is not one Bearer token (another
 * scheme, a token with spaces, or two headers, which arrive joined by a comma). `wanted` names what was expected.
 */
function noToken(req: Request, wanted: string): string {
  const h = req.headers.get("authorization");
  if (h === null) return `missing ${wanted}`;
  // `curl -H "Authorization: Bearer $CLIENT_KEY"` in a shell where the variable is not set: say so, not "another scheme".
  if (/^Bearer\s*$/i.test(h)) return `the Authorization header's Bearer token is empty (is the variable that should hold it set in this shell?): send ${wanted}`;
  return `the Authorization header is not one Bearer token (another scheme, a token with spaces, or two Authorization headers): send ${wanted}`;
}

/**
 * A cloud client's credential for /t/ID/...: the bearer token or, when no Authorization header is sent at all, the
 * x-api-key header — where Anthropic's SDK and Claude Code (ANTHROPIC_API_KEY) put a key. Authorization wins so a
 * client can send the relay's key as a bearer token and a gateway key (c2l_…) for the broker in x-api-key. The header
 * it came from stays at the relay (forward.ts).
 */
export function clientCredential(req: Request): { token: string; header: "authorization" | "x-api-key" } | null {
  if (req.headers.has("authorization")) {
    const token = bearer(req);
    return token ? { token, header: "authorization" } : null;
  }
  const key = req.headers.get("x-api-key")?.trim();
  return key && !/\s/.test(key) ? { token: key, header: "x-api-key" } : null;
}

/** A JWT-looking token (three base64url parts); anything else is treated as a static token. */
const looksLikeJwt = (t: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t);

/** Tunnel id for a JWT subject without a [[tunnels]] entry: a hash, so that distinct subjects can never collide or be guessed into one another. */
export function subjectTunnelId(issuer: string, subject: string): string {
  return "u" + sha256Hex(`${issuer}\n${subject}`).slice(0, 24);
}

/** expiresAt (ms since epoch) is set for JWTs: the relay ends an agent's session when its token expires. */
/**
 * `client`: who a cloud client is at the relay, for its share of the tunnel's streams and minute (client-share.ts,
 * client-rate.ts): the hash of its client key, or its JWT subject (hashed: it rides a header across a cluster's hop).
 * Agents have none.
 */
export type AuthResult = { ok: true; tunnelId: string; via: "token" | "jwt"; subject?: string; expiresAt?: number; client?: string } | { ok: false; reason: string };

/** The time claims a JWT can fail, in words. */
const JWT_TIME_CLAIMS: Record<string, string> = { exp: "it has expired", nbf: "it is not valid yet (nbf)", iat: "it was issued in the future (iat)" };

export class RelayAuth {
  private jwks: IssuerKeys | null = null;

  constructor(private readonly config: RelayConfig) {
    const o = config.oidc;
    // Keys are cached and refetched on an unknown kid, which is how key rotation reaches us.
    if (o.issuer) this.jwks = new IssuerKeys({ issuer: o.issuer, jwksUrl: o.jwks_url, cooldownMs: relayMs(config).oidc.jwks_cooldown });
  }

  private async verifyJwt(token: string): Promise<{ ok: true; subject: string; expiresAt: number } | { ok: false; reason: string }> {
    if (!this.jwks) return { ok: false, reason: "JWTs are not accepted by this relay (no [oidc] issuer)" };
    try {
      const { jwtVerify } = await import("jose");
      const { payload } = await jwtVerify(token, this.jwks.getKey, { issuer: this.config.oidc.issuer, audience: this.config.oidc.audience, requiredClaims: ["sub", "exp"] });
      return { ok: true, subject: payload.sub!, expiresAt: payload.exp! * 1000 };
    } catch (e) {
      const err = e as { code?: string; claim?: string; reason?: string; message?: string };
      // A token refused for a time claim is often a clock that is off, not a token that is bad: say which claim, and so.
      const when = err.reason === "check_failed" && err.claim ? JWT_TIME_CLAIMS[err.claim] : undefined;
      const clock = when ? `: ${when} by the relay's clock; if it was just issued, the issuer's, this machine's or the relay's clock is off (\`timedatectl\` says whether it is synchronized)` : "";
      return { ok: false, reason: `the JWT was rejected (${err.code ?? err.message})${clock}` };
    }
  }

  private tunnelForSubject(subject: string): string {
    return this.tunnelsOf(subject)[0]!;
  }

  /**
   * Every tunnel a JWT subject owns: the [[tunnels]] bound to it (in config order), else the one its hashed id names
   * (where its agent lands when it connects with its own JWT). Never empty.
   */
  tunnelsOf(subject: string): string[] {
    const bound = this.config.tunnels.filter((t) => t.subject && t.subject === subject).map((t) => t.id);
    return bound.length ? bound : [subjectTunnelId(this.config.oidc.issuer, subject)];
  }

  /** A signed-in user (a verified JWT's subject): /me/ and /ollama/ route by it. A static key names no user. */
  async user(req: Request): Promise<{ ok: true; subject: string } | { ok: false; reason: string }> {
    const token = bearer(req);
    if (!token) return { ok: false, reason: noToken(req, "Authorization: Bearer with a signed-in user's access token") };
    if (!this.jwks) return { ok: false, reason: "this relay has no [oidc] issuer, so it has no signed-in users: call /t/ID/... with the tunnel's client key" };
    if (!looksLikeJwt(token)) return { ok: false, reason: "this route needs a signed-in user's access token (a JWT), not a client key: with a client key call /t/ID/..." };
    const v = await this.verifyJwt(token);
    return v.ok ? { ok: true, subject: v.subject } : v;
  }

  /** An agent: its static token's tunnel, or its JWT subject's tunnel. */
  async agent(req: Request): Promise<AuthResult> {
    const token = bearer(req);
    if (!token) return { ok: false, reason: noToken(req, "Authorization: Bearer with the agent's token") };
    const h = hashToken(token);
    const t = this.config.tunnels.find((x) => x.agent_token_sha256 && sameHash(x.agent_token_sha256, h));
    if (t) return { ok: true, tunnelId: t.id, via: "token" };
    if (looksLikeJwt(token) && this.jwks) {
      const v = await this.verifyJwt(token);
      if (!v.ok) return v;
      return { ok: true, tunnelId: this.tunnelForSubject(v.subject), via: "jwt", subject: v.subject, expiresAt: v.expiresAt };
    }
    return { ok: false, reason: "unknown agent token" };
  }

  /** A cloud client calling /t/ID/...: one of the tunnel's client keys, or a JWT whose subject owns the tunnel. */
  // A client key is answered without a promise (every call through the relay passes here); only a JWT waits.
  client(req: Request, tunnelId: string): AuthResult | Promise<AuthResult> {
    const token = clientCredential(req)?.token;
    if (!token) return { ok: false, reason: noToken(req, "Authorization: Bearer with a client key (or x-api-key)") };
    const t = this.config.tunnels.find((x) => x.id === tunnelId);
    const h = hashToken(token);
    // The key's configured hash names the client: no string made per call.
    const k = t?.client_key_sha256.find((k) => sameHash(k, h));
    if (k) return { ok: true, tunnelId, via: "token", client: k };
    if (looksLikeJwt(token) && this.jwks) return this.clientByJwt(token, tunnelId);
    return { ok: false, reason: "unknown client key for this tunnel" };
  }

  private async clientByJwt(token: string, tunnelId: string): Promise<AuthResult> {
    const v = await this.verifyJwt(token);
    if (!v.ok) return v;
    if (!this.tunnelsOf(v.subject).includes(tunnelId)) return { ok: false, reason: "this account does not own the tunnel" };
    return { ok: true, tunnelId, via: "jwt", subject: v.subject, client: `jwt:${sha256Hex(v.subject)}` };
  }

  admin(req: Request): boolean {
    const token = bearer(req);
    return !!token && !!this.config.admin_token_sha256 && sameHash(this.config.admin_token_sha256, hashToken(token));
  }
}
