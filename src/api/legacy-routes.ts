// What a client of the 1.x tunnel manager's REST API (same port, 8765, kept by the migration) is told instead of a bare 404: the route that replaced its call.
const REPLACED: Record<string, string> = {
  "/api/health": "GET /healthz",
  "/api/status": "GET /api/v1/status",
  "/api/connections": "GET /api/v1/upstreams and GET /api/v1/tunnel",
  "/api/metrics": "GET /api/v1/metrics (JSON) or GET /metrics (Prometheus)",
  "/api/version": "GET /api/v1/version",
  "/api/tunnel/start": "POST /api/v1/tunnel/start",
  "/api/tunnel/stop": "POST /api/v1/tunnel/stop",
  "/api/tunnel/restart": "POST /api/v1/tunnel/restart",
};

/** The sentence added to a 404 for a path of the 1.x API, or "" for any other path. */
export function legacyRouteHint(path: string): string {
  const now = REPLACED[path.replace(/\/+$/, "") || "/"];
  return now ? `; ${path} was the 1.x tunnel manager's API, which this version replaced: use ${now} (docs/api.md)` : "";
}
