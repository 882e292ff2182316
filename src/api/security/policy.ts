// The API's security settings derived from `[api]` (recomputed only when the config object changes) and how a route declares who may call it.
import type { Config } from "../../config/schema.ts";
import { splitListen } from "../../config/listen.ts";
import { hostSet } from "../../core/host.ts";

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
 * How a route declares who may call it: spread into the route's `detail`, which is also its OpenAPI operation, so the
 * route, its protection and its documentation are one declaration. A route that declares nothing is protected.
 */
export const PUBLIC = { security: [] as Record<string, string[]>[] };
/** Only the bearer token: a dashboard session is not enough (e.g. minting dashboard codes, which would extend the session). */
export const TOKEN_ONLY = { security: [{ bearer: [] }] as Record<string, string[]>[] };
/** What an undeclared route asks for: the bearer token, or the dashboard's session cookie (with CSRF checks for changes). */
export const DEFAULT_SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { session: [] }];

export type Access = "public" | "token" | "token_or_session";

/** A route's `detail.security` → what it needs. Anything not understood is protected (fail closed). */
export function accessOf(security: unknown): Access {
  if (security === undefined) return "token_or_session";
  if (!Array.isArray(security)) return "token";
  if (security.length === 0) return "public";
  return security.some((r) => r && typeof r === "object" && "session" in r) ? "token_or_session" : "token";
}
