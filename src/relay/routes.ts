// The relay's HTTP routes: the agents' upgrade, cloud clients' /t/ID/... and /me/... calls (my-tunnel.ts), health,
// readiness, metrics and the admin listing; errors in the caller's dialect on tunnel calls, in the relay's own shape elsewhere.
import { noteActivity } from "../core/idle-gc.ts";
import type { Server } from "bun";
import { VERSION } from "../core/build-info.ts";
import { HttpError } from "../core/http-error.ts";
import { logger } from "../core/log.ts";
import { RepeatLimit } from "../core/repeat-limit.ts";
import { closing, requestPath, requestProblem, unframedBody, unframedMessage } from "../core/request-checks.ts";
import type { AgentData, AgentSessions } from "./agent-sessions.ts";
import type { RelayAuth } from "./auth.ts";
import { chatPage, isChatPath } from "./chat-route.ts";
import type { RelayConfig } from "./config.ts";
import { createRelayCors, type RelayCors } from "./cors.ts";
import type { Forwarders } from "./forward.ts";
import type { RelayMetrics } from "./metrics.ts";
import { myTunnel, myTunnelTarget } from "./my-tunnel.ts";
import { UrlCredentials } from "./url-credentials.ts";

const log = logger("relay");

/**
 * A cloud client's call, /t/ID/<path>: the tunnel id and the path after it (the one the agent serves, "/" when there is
 * none). Every answer to such a call, error or not, is in the dialect of that inner path (src/core/http-error.ts).
 */
export function tunnelTarget(pathname: string): { id: string; path: string } | null {
  const m = /^\/t\/([^/]+)(\/.*)?$/.exec(pathname);
  return m ? { id: m[1]!, path: m[2] ?? "/" } : null;
}

/** An error answer: in the caller's dialect on a tunnel call (/t/ID/...), in the relay's own shape on its own routes. */
export function relayError(pathname: string, err: HttpError, headers?: HeadersInit): Response {
  const t = tunnelTarget(pathname) ?? myTunnelTarget(pathname);
  return t ? err.toDialectResponse(t.path, headers) : err.toResponse(headers);
}

/** A cluster node's views (cluster/cluster.ts); a relay alone has none. */
export interface ClusterView {
  listing(): Promise<unknown>;
  readiness(): Record<string, unknown>;
  /** Why this node takes no agents and is not ready (cut off from Redis while another node reaches it), or null. */
  standingAside(): string | null;
  /** Why tunnel `id`'s agent is turned away now (this node stands aside), or null. */
  refusesAgent(id: string): string | null;
  stamp(res: Response): Response;
}

export interface RouteDeps {
  config: RelayConfig;
  auth: RelayAuth;
  sessions: AgentSessions;
  metrics: RelayMetrics;
  forward: Forwarders;
  stopping(): boolean;
  cluster?: ClusterView;
  /** CORS, shared with the forwarder that checks a tunnel's own allowed_origins (server.ts); made from the config otherwise. */
  cors?: RelayCors;
}

export function relayFetch(deps: RouteDeps): (req: Request, srv: Server<AgentData>) => Promise<Response | undefined> {
  const cors = deps.cors ?? createRelayCors(deps.config);
  const urlCredentials = new UrlCredentials(deps.config);
  const routes = relayRoutes(deps);
  const mineDeps = { auth: deps.auth, forward: deps.forward, cors };
  // CORS in one place, around every route but the agents' upgrade: a preflight is answered before authentication, and
  // every answer to an allowed origin (errors, streams, the relay's own refusals) carries the headers a page needs.
  return async (req, srv) => {
    // The relay's garbage is collected when it goes quiet (src/core/idle-gc.ts), and its memory handed back.
    noteActivity();
    // Without Host (HTTP/1.0) the URL is a bare path that new URL() refuses; two Hosts or Content-Lengths are refused too.
    const problem = requestProblem(req);
    if (problem) return closing(relayError(requestPath(req), new HttpError("bad_request", problem)));
    // Checked and parsed once per request, here; the routes take the URL.
    const url = new URL(req.url);
    const p = url.pathname;
    if (p === deps.config.agent_path) return routes(req, srv, url);
    // Matched once: CORS and the routes both take it.
    const target = tunnelTarget(p);
    const pre = cors.preflight(req);
    if (pre) return pre instanceof HttpError ? relayError(p, pre, { vary: "Origin" }) : pre;
    const toTunnel = target ?? myTunnelTarget(p);
    // Answers given before the caller is authenticated are decorated on [cors] alone (null), the same whether the tunnel
    // named exists or not: its own allowed_origins apply once its client is known (forward.ts).
    if (toTunnel) {
      // Bun reads no body without framing; the tunnel would carry an empty one (src/core/request-checks.ts).
      if (unframedBody(req)) return cors.decorate(req, closing(relayError(p, new HttpError("bad_request", unframedMessage(req.method)))), null);
      // A credential in the URL goes no further than here (the agent, the upstream and their logs would read the query).
      const inUrl = url.search.length > 1 ? urlCredentials.refusal(url.search) : null;
      if (inUrl) return cors.decorate(req, deps.forward.refuse(inUrl, toTunnel.path), null);
    }
    // A call through a tunnel (nearly every request) is awaited here, with no route function around it.
    let res: Response | undefined;
    if (target) {
      try {
        // The tunnel's own allowed_origins are checked once the caller's key or token is (forward.ts).
        res = await deps.forward.client(req, target.id, target.path + url.search);
        if (deps.cluster) res = deps.cluster.stamp(res);
      } catch (e) {
        res = failed(p, e);
      }
      // On [cors] alone: what the tunnel's own list refuses, the forwarder answered with origin_not_allowed, which
      // carries no CORS headers (cors.ts); every other answer came before authentication or to an origin it allows.
      return cors.decorate(req, res, null);
    }
    // /me/ and /ollama/: the tunnel is known only once the caller's token is read, and its own allowed_origins apply
    // from there on, as on /t/ID/ (decided here, on the node the client reached, which holds the same [[tunnels]]).
    const mine = toTunnel;
    if (mine) {
      let chosen: string | null = null;
      try {
        const a = await myTunnel(req, url, mine, mineDeps);
        chosen = a.tunnelId;
        res = deps.cluster ? deps.cluster.stamp(a.res) : a.res;
      } catch (e) {
        res = failed(p, e);
      }
      return cors.decorate(req, res, chosen);
    }
    res = await routes(req, srv, url);
    return res && cors.decorate(req, res, null);
  };
}

/** A route that threw: logged, and an internal error in the caller's dialect. */
function failed(p: string, e: unknown): Response {
  log.error("request failed", { path: p, error: e });
  return relayError(p, new HttpError("internal", "the relay failed this request"));
}

/** Every route but a call through a tunnel, /t/ID/, /me/ or /ollama/ (relayFetch answers those itself). */
function relayRoutes(deps: RouteDeps): (req: Request, srv: Server<AgentData>, url: URL) => Promise<Response | undefined> {
  const { config, auth, sessions, metrics } = deps;
  // Anyone who can connect can be refused: one line per reason per window, the metric counts each.
  const refusals = new RepeatLimit();
  return async (req, srv, url) => {
    const p = url.pathname;
    try {
      if (p === config.agent_path) {
        if (deps.stopping()) return new HttpError("unavailable", "the relay is shutting down").toResponse();
        const who = await auth.agent(req);
        if (!who.ok) {
          metrics.agentConnections.inc({ result: "unauthorized" });
          const line = refusals.note(who.reason);
          if (line.write) log.warn("agent refused", { reason: who.reason, remote: srv.requestIP(req)?.address, repeated: line.repeated || undefined });
          return new HttpError("unauthorized", who.reason).toResponse({ "www-authenticate": 'Bearer realm="relay"' });
        }
        // An agent here would be offline to every other node: it retries through the balancer, to another node.
        const aside = deps.cluster?.refusesAgent(who.tunnelId);
        if (aside) return new HttpError("unavailable", aside).toResponse({ "retry-after": "1" });
        const data: AgentData = {
          tunnelId: who.tunnelId,
          agent: req.headers.get("user-agent") ?? "",
          remote: srv.requestIP(req)?.address ?? "",
          session: null,
          handshakeTimer: null,
          connectedAt: new Date().toISOString(),
          expiresAt: who.expiresAt ?? null,
          expiryTimer: null,
        };
        if (srv.upgrade(req, { data })) return undefined;
        return new HttpError("bad_request", "expected a WebSocket upgrade").toResponse();
      }
      if (isChatPath(p)) return chatPage(req, p, config);
      if (p === "/healthz") return Response.json({ status: "ok", version: VERSION });
      // Ready while Redis is away too: this node still serves the tunnels it holds (the cluster field says degraded).
      // Not while cut off from Redis when another node reaches it: the balancer sends clients and agents there instead.
      if (p === "/readyz") {
        if (deps.stopping()) return new HttpError("not_ready", "shutting down").toResponse();
        const report = { tunnels: sessions.size, cluster: deps.cluster?.readiness() };
        const aside = deps.cluster?.standingAside();
        return aside ? new HttpError("not_ready", aside, report).toResponse() : Response.json({ status: "ready", ...report });
      }
      if (p === "/metrics") return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
      if (p === "/api/tunnels") {
        if (!auth.admin(req)) return new HttpError("unauthorized", "the tunnel listing needs the admin token").toResponse();
        return Response.json(deps.cluster ? await deps.cluster.listing() : { tunnels: sessions.listing() });
      }
      return new HttpError("not_found", `no route for ${p}`).toResponse();
    } catch (e) {
      return failed(p, e);
    }
  };
}
