// The path an upstream is sent for a request: the route the broker decided on when the client spelled a fixed route another way.
import { DEFAULT_TUNNEL_PATHS } from "../config/tunnel-paths.ts";
import { MODEL_MANAGEMENT_PATHS, withoutTrailingSlash } from "../core/model-routes.ts";
import { EMBEDDING_PATHS, GENERATION_PATHS } from "./exchange.ts";

/**
 * Routes with no parameter in their path, where routeOf's spelling is the route itself: a request to "/v1/chat/completions/"
 * or "/V1/chat/completions" was admitted, checked and counted as /v1/chat/completions, so that is what the upstream is
 * asked for. Sent as the client spelled it, gin (Ollama) and starlette (vLLM) answered a trailing slash with a redirect
 * the broker does not follow (a 502 blamed on the upstream), and cpp-httplib a 404. A path with a parameter
 * (/api/blobs/sha256:…, /v1/models/{id}) keeps its spelling, lower-casing it could name another thing, but not its
 * trailing slash (withoutTrailingSlash, the one routeOf drops): no route of these servers ends in one, and gin's
 * redirect of "/api/blobs/sha256:…/" was the same 502.
 */
const FIXED_ROUTES: ReadonlySet<string> = new Set([...DEFAULT_TUNNEL_PATHS, ...MODEL_MANAGEMENT_PATHS, ...GENERATION_PATHS, ...EMBEDDING_PATHS]);

/** Whether `route` (routeOf) is one of the fixed routes above. */
export function isFixedRoute(route: string): boolean {
  return FIXED_ROUTES.has(route);
}

/** The path to send upstream for `path`, whose route (routeOf) is `route`. Canonical paths (the common case) cost one compare. */
export function upstreamPath(path: string, route: string): string {
  if (path === route) return path;
  return FIXED_ROUTES.has(route) ? route : withoutTrailingSlash(path);
}
