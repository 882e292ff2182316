// The API's security settings derived from `[api]` (recomputed only when the config object changes) and which routes need a token.
import type { Config } from "../../config/schema.ts";
import { splitListen } from "../../config/listen.ts";

export interface SecurityPolicy {
  /** Lower-case host names (no port) accepted in the Host header. */
  hosts: Set<string>;
  /** Exact browser origins allowed cross-origin (CORS and WebSocket). */
  origins: Set<string>;
  bodyLimit: number;
}

const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]", "::1"];
let cache: { api: Config["api"]; policy: SecurityPolicy } | null = null;

/** Security settings of the running config; a reload takes effect on the next request, without a restart. */
export function policyFor(config: Config): SecurityPolicy {
  if (cache?.api === config.api) return cache.policy;
  const policy: SecurityPolicy = {
    hosts: new Set([...LOOPBACK_NAMES, ...listenHost(config.api.listen), ...config.api.allowed_hosts.map((h) => h.toLowerCase())]),
    origins: new Set(config.api.allowed_origins.map((o) => o.replace(/\/+$/, "").toLowerCase())),
    bodyLimit: config.api.body_limit,
  };
  cache = { api: config.api, policy };
  return policy;
}

/** The address the API was told to listen on is a name clients will use (an IP literal cannot be rebound); wildcards are not. */
function listenHost(listen: string): string[] {
  const { hostname } = splitListen(listen);
  if (hostname === "0.0.0.0" || hostname === "::") return [];
  return [hostname.includes(":") ? `[${hostname.toLowerCase()}]` : hostname.toLowerCase()];
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether a request may change something: the one line between reads and writes for tokens and dashboard cookies alike. */
export function isMutating(method: string): boolean {
  return !READ_METHODS.has(method.toUpperCase());
}

/** The one rule for where the bearer token is required: every mutating route, the WebSocket, config reads and the request inspector. */
export function needsAuth(method: string, path: string): boolean {
  if (isMutating(method)) return true;
  return (
    path === "/ws" ||
    path === "/api/v1/config" ||
    path.startsWith("/api/v1/config/") ||
    path === "/api/v1/requests" ||
    path.startsWith("/api/v1/dashboard/")
  );
}
