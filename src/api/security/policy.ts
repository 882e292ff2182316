// The API's security settings derived from `[api]` (recomputed only when the config object changes) and how a route declares who may call it.
import type { Config } from "../../config/schema.ts";
import { splitListen } from "../../config/listen.ts";
import { hostSet } from "../../net/host.ts";

export interface SecurityPolicy {
  /** Host names configured on top of loopback (allowed_hosts and the listen host), in src/core/host.ts's hostSet() form. */
  hosts: Set<string>;
  /** Exact browser origins allowed cross-origin (CORS and WebSocket). */
  origins: Set<string>;
  bodyLimit: number;
}

let cache: { api: Config["api"]; policy: SecurityPolicy } | null = null;

/** Security settings of the running config; a reload takes effect on the next request, without a restart. */
export function policyFor(config: Config): SecurityPolicy {
  if (cache?.api === config.api) return cache.policy;
  const policy: SecurityPolicy = {
    hosts: hostSet([...listenHost(config.api.listen), ...config.api.allowed_hosts]),
    origins: new Set(config.api.allowed_origins.map((o) => o.replace(/\/+$/, "").toLowerCase())),
    bodyLimit: config.api.body_limit,
  };
  cache = { api: config.api, policy };
  return policy;
}

const WILDCARDS = hostSet(["0.0.0.0", "::"]);

/** The address the API was told to listen on is a name clients will use (an IP literal cannot be rebound); wildcards are not. */
function listenHost(listen: string): string[] {
  return [...hostSet([splitListen(listen).hostname])].filter((h) => !WILDCARDS.has(h));
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether a request may change something: the one line between reads and writes for tokens and dashboard cookies alike. */
export function isMutating(method: string): boolean {
  return !READ_METHODS.has(method.toUpperCase());
}

/**
 * Who may call a route, as the route declares it with the `access` macro (access.ts): public; only the bearer token (a
 * dashboard session is not enough, e.g. for minting dashboard codes, which would extend the session); or the token or
 * the dashboard's session cookie (with CSRF checks for changes), which is also what a route that declares nothing gets.
 */
export type Access = "public" | "token" | "token_or_session";

/** Each access level as the OpenAPI security requirement the route's `detail` carries. */
export const SECURITY_OF: Record<Access, Record<string, string[]>[]> = {
  public: [],
  token: [{ bearer: [] }],
  token_or_session: [{ bearer: [] }, { session: [] }],
};
/** What an undeclared route asks for. */
export const DEFAULT_SECURITY = SECURITY_OF.token_or_session;

/** A route's `detail.security` → what it needs. Anything not understood is protected (fail closed). */
export function accessOf(security: unknown): Access {
  if (security === undefined) return "token_or_session";
  if (!Array.isArray(security)) return "token";
  if (security.length === 0) return "public";
  return security.some((r) => r && typeof r === "object" && "session" in r) ? "token_or_session" : "token";
}
