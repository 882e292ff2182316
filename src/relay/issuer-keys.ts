// Where the relay gets an issuer's signing keys: jwks_url, or the jwks_uri of the issuer's discovery document; prompt refetch on key rotation.
import type { createRemoteJWKSet, FlattenedJWSInput, JWSHeaderParameters, JWTVerifyGetKey } from "jose";
import { isLoopbackHost } from "../config/listen.ts";
import { logger } from "../core/log.ts";

const log = logger("relay");

/** A request naming an unknown key waits at most this long for the next allowed refetch. */
const MAX_ROTATION_WAIT_MS = 5000;

type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;

export interface IssuerKeysOptions {
  issuer: string;
  /** Explicit JWKS URL; empty: discovered. */
  jwksUrl: string;
  /** Minimum time between JWKS refetches for an unknown key id, and between failed discovery attempts. */
  cooldownMs: number;
  timeoutMs?: number;
}

/** Plain http only on loopback (development and tests): keys fetched in the clear could be swapped. */
export function httpsOrLoopback(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.protocol === "https:" || (u.protocol === "http:" && isLoopbackHost(u.hostname.replace(/^\[|\]$/g, "")));
  } catch {
    return false;
  }
}

function checkedUrl(raw: string, what: string): URL {
  if (!httpsOrLoopback(raw)) throw new Error(`${what} must be an https URL (plain http is only accepted on loopback): ${raw}`);
  return new URL(raw);
}

// jose loads with the first JWT, not with the relay: an idle relay (or one without [oidc]) never needs it.
const jose = () => import("jose");

export class IssuerKeys {
  private remote: RemoteJwks | null = null;
  /** jwks_url, checked at construction (a bad one fails the start); its key set is made on first use. */
  private readonly fixedUrl: URL | null;
  private discovering: Promise<RemoteJwks> | null = null;
  // The times below are performance.now(): cooldowns are spans, and on the wall clock one set back an hour (NTP, an
  // operator) kept a failure of the issuer standing for that hour, every JWT refused though the issuer was back.
  private failure: { at: number; error: Error } | null = null;
  /** The last failed JWKS fetch: within a cooldown of it no fetch is made, so a flood of tokens cannot hammer a failing issuer. */
  private fetchFailure: { at: number; url: string; error: Error } | null = null;
  /** When discovery was last read: after a failed JWKS fetch it is read again at most once per cooldown. */
  private discoveredAt = -Infinity;
  /** When a key set was last fetched: jose counts its own cooldown on the wall clock (below). */
  private fetchedAt = -Infinity;

  constructor(private readonly o: IssuerKeysOptions) {
    this.fixedUrl = o.jwksUrl ? checkedUrl(o.jwksUrl, "[oidc] jwks_url") : null;
  }

  private async jwks(url: URL): Promise<RemoteJwks> {
    const j = await jose();
    // jose's cooldown only counts successful fetches: without this guard every token refetches while the JWKS fails.
    return j.createRemoteJWKSet(url, { cooldownDuration: this.o.cooldownMs, cacheMaxAge: 10 * 60_000, timeoutDuration: this.o.timeoutMs ?? 5000, [j.customFetch]: this.guardedFetch });
  }

  /** The failure of a JWKS fetch (of this url, or any) less than a cooldown ago, if any. */
  private recentFetchFailure(url?: string): Error | null {
    const f = this.fetchFailure;
    return f && (url === undefined || f.url === url) && performance.now() - f.at < this.o.cooldownMs ? f.error : null;
  }

  // A moved jwks_uri (a new URL from discovery) is fetched at once; the URL that just failed waits out the cooldown.
  private readonly guardedFetch = async (url: string, init: RequestInit): Promise<Response> => {
    const recent = this.recentFetchFailure(url);
    if (recent) throw recent;
    try {
      const res = await fetch(url, init);
      if (res.status !== 200) throw new Error(`the issuer's JWKS ${url} answered HTTP ${res.status}`);
      // A 200 that is no key set (an HTML error page, a proxy's login form) is a failed fetch too: jose's own error
      // (ERR_JOSE_GENERIC) did not count as one, so every token read discovery and the JWKS again, logging each time.
      const text = await res.text();
      let keys: unknown;
      try {
        keys = (JSON.parse(text) as { keys?: unknown }).keys;
      } catch {}
      if (!Array.isArray(keys)) throw new Error(`the issuer's JWKS ${url} is not a JSON Web Key Set (no "keys" list in a JSON object)`);
      this.fetchFailure = null;
      this.fetchedAt = performance.now();
      return new Response(text, { status: 200, headers: { "content-type": "application/json" } });
    } catch (e) {
      this.fetchFailure = { at: performance.now(), url, error: e as Error };
      throw e;
    }
  };

  /** The issuer's jwks_uri, read from its discovery document; the document must name the configured issuer. */
  private async discover(): Promise<URL> {
    const where = `${this.o.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const url = checkedUrl(where, "the issuer's discovery document");
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (e) {
      throw new Error(`could not read the issuer's discovery document ${where} (${(e as Error).message})`);
    }
    if (doc.issuer !== this.o.issuer) throw new Error(`the discovery document ${where} names the issuer ${JSON.stringify(doc.issuer)}, not "${this.o.issuer}"`);
    if (typeof doc.jwks_uri !== "string" || !doc.jwks_uri) throw new Error(`the discovery document ${where} has no jwks_uri`);
    return checkedUrl(doc.jwks_uri, "the issuer's jwks_uri");
  }

  /** The cached key set; discovered once, again after a failure (at most once per cooldown). */
  private async current(): Promise<RemoteJwks> {
    if (this.remote) return this.remote;
    if (this.fixedUrl) return (this.remote = await this.jwks(this.fixedUrl));
    if (this.failure && performance.now() - this.failure.at < this.o.cooldownMs) throw this.failure.error;
    // The discovered JWKS failed a moment ago: discovery is read again at most once per cooldown, not on every token.
    const recent = this.recentFetchFailure();
    if (recent && !this.discovering && performance.now() - this.discoveredAt < this.o.cooldownMs) throw recent;
    this.discovering ??= ((this.discoveredAt = performance.now()), this.discover()).then(
      async (url) => {
        this.failure = null;
        this.discovering = null;
        log.info("JWKS address discovered", { issuer: this.o.issuer, jwks_uri: url.href });
        return (this.remote = await this.jwks(url));
      },
      (e: Error) => {
        this.failure = { at: performance.now(), error: e };
        this.discovering = null;
        log.warn("JWTs cannot be verified: the issuer's discovery document failed; retrying on a later request", { issuer: this.o.issuer, error: e.message });
        throw e;
      },
    );
    return this.discovering;
  }

  /** For jwtVerify. */
  readonly getKey: JWTVerifyGetKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    const jwks = await this.current();
    try {
      return await jwks(header, token);
    } catch (e) {
      if (e instanceof (await jose()).errors.JWKSNoMatchingKey) {
        if (!jwks.coolingDown) throw e;
        // jose's cooldown is on the wall clock: set back an hour after a fetch, it would refuse a key rotated in that
        // hour. Past our own cooldown since that fetch, the set is read again now.
        if (performance.now() - this.fetchedAt >= this.o.cooldownMs) {
          await jwks.reload();
          return await jwks(header, token);
        }
        // The issuer rotated right after our last fetch: wait out the (short) cooldown once, then jose refetches.
        const until = performance.now() + Math.min(this.o.cooldownMs, MAX_ROTATION_WAIT_MS);
        while (jwks.coolingDown && performance.now() < until) await Bun.sleep(50);
        return await jwks(header, token);
      }
      // The key set could not be fetched: its address may have moved, so the next request reads discovery again. Only
      // then: a token's own fault (no kid while the issuer has several keys) read discovery and the JWKS again and
      // logged "JWKS address discovered" for every such token anyone sent.
      if (!this.o.jwksUrl && this.remote === jwks && this.fetchFailure) this.remote = null;
      throw e;
    }
  };
}
