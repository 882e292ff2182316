// The desktop's guard against an untrusted relay: path allowlist, model management opt-in, credentials stripped, Host rewritten.
import { HttpError } from "../core/http-error.ts";
import type { TunnelConfig } from "../config/schema.ts";
import { isAccountRoute, isModelManagement, noRouteMessage, routeBeforeParams, routeOf } from "../core/model-routes.ts";

/**
 * Headers the relay may not pass to local services (its own credentials, cookies, browser origins, proxy hints).
 * Referer is a browser origin too: a web app's fetch sends its origin there (its whole page URL, query included, under
 * `referrerPolicy: "unsafe-url"`), so dropping Origin alone told local services which web app called.
 */
const STRIPPED = new Set(["authorization", "cookie", "origin", "referer", "proxy-authorization", "forwarded", "x-real-ip", "host"]);
/** Every X-Forwarded-* (for, host, proto, port, prefix, ...): a proxy hint the relay cannot vouch for, whichever one a local server reads. */
const FORWARDED_PREFIX = "x-forwarded-";
/**
 * Methods a relay (or a 1.x bridge) may ask for; Bun's Request quietly turns any other name ("FOO", "SEARCH") into GET,
 * so the broker and its log would see another request than the relay sent (a GET that carries the body).
 */
export const TUNNEL_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"]);

/** null when the relay may call this method (as the relay named it, before a Request was built) and path, else the error to answer with. */
export function checkPath(method: string, rawPath: string, cfg: Pick<TunnelConfig, "allowed_paths" | "allow_model_management">): HttpError | null {
  // A fragment after the query ("/api/chat?x#y") passes the path's checks, but upstreams read it differently (Go keeps it
  // in the query, uvicorn and Bun drop it): refused as every listener refuses it (src/core/request-checks.ts), since a
  // relay that does not refuse it itself (an old or hostile one) would have the agent send what nobody checked.
  if (rawPath.includes("#")) return new HttpError("bad_request", "the request target has a fragment (#…), which HTTP requests never carry; send the path without it");
  const q = rawPath.indexOf("?");
  const path = q >= 0 ? rawPath.slice(0, q) : rawPath;
  if (!TUNNEL_METHODS.has(method)) return new HttpError("method_not_allowed", `the method ${JSON.stringify(method.slice(0, 32))} is not an HTTP method the tunnel serves`);
  if (method === "OPTIONS" || method === "CONNECT" || method === "TRACE") return new HttpError("method_not_allowed", `${method} is not allowed through the tunnel`);
  // Decided on the route the broker decides on and the upstream serves (routeOf, the one normalisation both use:
  // "/api/chat/", "//api/chat", "/api/%63hat", "/API/chat" are /api/chat; "/api/chat%2F..%2Fpull" is /api/pull), so
  // the tunnel neither refuses a spelling the broker serves on its own port nor passes one as a route it is not.
  const route = routeOf(path);
  // Model management (core/model-routes.ts) is opt-in through the tunnel; the ollama.com account's routes are not part
  // of that opt-in: only allowed_paths can open them.
  if (isModelManagement(route, method) && !isAccountRoute(route)) {
    if (cfg.allow_model_management) return null;
    return new HttpError("forbidden", `model management (${spelled(route, path)}) is not allowed through the tunnel; set [tunnel] allow_model_management = true to allow it`);
  }
  // The path as listed passes too: an allowed_paths entry in another spelling than routeOf's matches as before.
  if (!cfg.allowed_paths.includes(route) && !cfg.allowed_paths.includes(path)) return notAllowed(route, path, cfg.allowed_paths);
  return null;
}

/**
 * The refusal of a path allowed_paths does not name. A ";…" parameter after an allowed route is kept in the path by Go's
 * net/http, starlette and cpp-httplib alike (each answers 404): said so, with the route to use, as that 404.
 */
function notAllowed(route: string, path: string, allowed: readonly string[]): HttpError {
  const bare = routeBeforeParams(path);
  if (bare !== null && allowed.includes(bare)) return new HttpError("not_found", noRouteMessage(path, bare));
  return new HttpError("forbidden", `${spelled(route, path)} is not in [tunnel] allowed_paths`);
}

/**
 * A refused path as the caller can act on it: the route, and the spelling it came as when that differs. The route is
 * decoded ("%3C" is "<" there): shown percent-encoded again, so no markup a client sent comes back in a refusal as
 * markup (a page that shows the error unescaped; tests/relay/hostile-content.e2e.test.ts).
 */
function spelled(route: string, path: string): string {
  return route === path ? path : `${uriSafe(route)}, sent as ${JSON.stringify(path)}`;
}

/** `s` with every character outside a path's plain ones percent-encoded (UTF-8; a lone surrogate as %EF%BF%BD). */
function uriSafe(s: string): string {
  return s.replace(/[^A-Za-z0-9\-._~/:@!$&()*+,;=%]/gu, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x80) return `%${code.toString(16).toUpperCase().padStart(2, "0")}`;
    try {
      return encodeURIComponent(c);
    } catch {
      return "%EF%BF%BD";
    }
  });
}

/** The headers the broker sees from the relay's: relay credentials, cookies, origins and proxy hints gone; Host the broker's own. */
export function sanitizedHeaders(headers: Iterable<[string, string]>, brokerHost: string): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of headers) {
    const name = k.toLowerCase();
    if (!STRIPPED.has(name) && !name.startsWith(FORWARDED_PREFIX)) out.push([k, v]);
  }
  out.push(["host", brokerHost]);
  return out;
}

/**
 * The request the broker sees: same method, path and body, sanitizedHeaders(). The tunnel protocol's streams are built
 * this way from the start (serveStream's `origin` and `headers`); this is for requests made elsewhere (bridge-v1).
 */
export function sanitize(req: Request, brokerHost: string): Request {
  const u = new URL(req.url);
  return new Request(`http://${brokerHost}${u.pathname}${u.search}`, {
    method: req.method,
    headers: sanitizedHeaders(req.headers, brokerHost),
    body: req.body,
    signal: req.signal,
    // @ts-expect-error duplex is needed for a streamed body
    duplex: "half",
  });
}
