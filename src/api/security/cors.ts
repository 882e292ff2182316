// CORS and Origin checks from the `[api] allowed_origins` allowlist (never reflecting any origin); the API's own origin is always allowed.
import { EXPOSED_HEADERS } from "../../core/exposed-headers.ts";
import { HttpError } from "../../core/http-error.ts";
import type { SecurityPolicy } from "./policy.ts";

/** Every method a route takes (tests/api/contract.test.ts checks the OpenAPI document against it): a listed page deletes a key too. */
export const ALLOW_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
/** The token, JSON or TOML bodies, and If-Match, which a config write sends to keep a change made since its read. */
const ALLOW_HEADERS = "Authorization, Content-Type, If-Match";
/** What a listed page reads besides the safelisted headers: the error code, Retry-After…, and the config's ETag (for If-Match). */
const EXPOSE_HEADERS = `${EXPOSED_HEADERS}, ETag`;

/**
 * Why an `[api] allowed_origins` entry lets in no page, or more pages than meant (a status warning); null for an origin.
 * Entries are matched exactly, as written (without a trailing slash, in any case), so these would otherwise go unnoticed.
 */
export function allowedOriginProblem(entry: string): string | null {
  const o = entry.replace(/\/+$/, "").toLowerCase();
  if (o === "*") return `[api] allowed_origins has "*", which lets no page in: the API never allows every origin; list each web app's origin, e.g. "https://app.example.com"`;
  if (o === "null") return `[api] allowed_origins has "null", the Origin of every sandboxed frame and file:// page on any site: all of them may call the API; list the web app's own origin instead`;
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]+$/.test(o)) return `[api] allowed_origins has ${JSON.stringify(entry)}, which is not an origin (scheme://host[:port], no path) and lets no page in`;
  return null;
}

/** True when `origin` is the API's own origin (same host as the Host header) or on the allowlist. */
export function originAllowed(origin: string, host: string, policy: SecurityPolicy): boolean {
  const o = origin.toLowerCase();
  return o === `http://${host.toLowerCase()}` || policy.origins.has(o);
}

/**
 * Checks the Origin header. Requests without one (curl, the CLI, the tray) pass. A foreign origin is refused
 * with 403 — preflights and WebSocket upgrades included. Allowed cross-origin requests get CORS headers in
 * `headers`; a preflight is answered here (the returned Response) and never reaches a route.
 */
export function checkOrigin(request: Request, host: string, policy: SecurityPolicy, headers: Record<string, string | number>): Response | null {
  const origin = request.headers.get("origin");
  const preflight = request.method === "OPTIONS" && request.headers.has("access-control-request-method");
  if (origin === null) {
    if (preflight) throw new HttpError("origin_not_allowed", "a CORS preflight needs an Origin header");
    return null;
  }
  if (!originAllowed(origin, host, policy))
    throw new HttpError("origin_not_allowed", `the origin "${origin}" is not allowed; add it to [api] allowed_origins to let that page use the API`);
  headers["access-control-allow-origin"] = origin;
  headers["access-control-expose-headers"] = EXPOSE_HEADERS;
  headers["vary"] = "Origin";
  if (!preflight) return null;
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": "600",
      vary: "Origin",
    },
  });
}
