// The relay: agents connect over WebSocket (protocol v2), cloud clients call /t/ID/... and are streamed through the agent's session.
import type { Server, ServerWebSocket } from "bun";
import { HttpError } from "../core/http-error.ts";
import { logger } from "../core/log.ts";
import { bareTargetPath, lacksHost, MISSING_HOST_MESSAGE } from "../core/missing-host.ts";
import { splitListen } from "../config/listen.ts";
import { VERSION } from "../core/build-info.ts";
import { encode, ProtocolError, tryDecode } from "../tunnel/protocol/codec.ts";
import { CAPABILITIES, HEADER_SIZE, MAX_PAYLOAD, PROTOCOL_VERSION } from "../tunnel/protocol/messages.ts";
import { CLOSE_CODES, forward, Session } from "../tunnel/protocol/session.ts";
import { StreamError, type Stream } from "../tunnel/protocol/stream.ts";
import { RelayAuth } from "./auth.ts";
import { relayMs, type RelayConfig } from "./config.ts";
import { TunnelLimits } from "./limits.ts";
import { createRelayMetrics, type RelayMetrics } from "./metrics.ts";

const log = logger("relay");

interface AgentData {
  tunnelId: string;
  agent: string;
  remote: string;
  session: Session | null;
  handshakeTimer: ReturnType<typeof setTimeout> | null;
  connectedAt: string;
  /** When the agent's JWT expires (ms since epoch); its session is drained then so it reconnects with a fresh token. */
  expiresAt: number | null;
  expiryTimer: ReturnType<typeof setTimeout> | null;
}

interface TunnelEntry {
  ws: ServerWebSocket<AgentData>;
  session: Session;
  agent: string;
  remote: string;
  connectedAt: string;
}

export interface TunnelInfo {
  id: string;
  agent: string;
  remote: string;
  connectedAt: string;
  activeStreams: number;
  rttMs: number | null;
}

export interface RelayServer {
  url: string;
  port: number;
  metrics: RelayMetrics;
  tunnels(): TunnelInfo[];
  stop(): Promise<void>;
}

/**
 * A cloud client's call, /t/ID/<path>: the tunnel id and the path after it (the one the agent serves, "/" when there is
 * none). Every answer to such a call, error or not, is in the dialect of that inner path (src/core/http-error.ts).
 */
export function tunnelTarget(pathname: string): { id: string; path: string } | null {
  const m = /^\/t\/([^/]+)(\/.*)?$/.exec(pathname);
  return m ? { id: m[1]!, path: m[2] ?? "/" } : null;
}

/** An error answer: in the caller's dialect on a tunnel call (/t/ID/...), in the relay's own shape on its own routes. */
function relayError(pathname: string, err: HttpError, headers?: HeadersInit): Response {
  const t = tunnelTarget(pathname);
  return t ? err.toDialectResponse(t.path, headers) : err.toResponse(headers);
}

/** Headers a cloud client's credentials or cookies ride in: they stay at the relay. */
const CLIENT_ONLY = ["authorization", "cookie", "proxy-authorization"];

export function startRelay(config: RelayConfig): RelayServer {
  const auth = new RelayAuth(config);
  const metrics = createRelayMetrics();
  const tunnels = new Map<string, TunnelEntry>();
  const limits = new Map<string, TunnelLimits>();
  const ms = relayMs(config);
  const firstByteMs = ms.first_byte_timeout;
  const handshakeMs = ms.handshake_timeout;
  const heartbeatMs = ms.heartbeat.interval;
  const toleranceMs = ms.heartbeat.tolerance;
  const graceMs = ms.go_away_grace;
  let stopping = false;

  const limitsFor = (id: string) => {
    let l = limits.get(id);
    if (!l) limits.set(id, (l = new TunnelLimits(config.limits.requests_per_minute, config.limits.max_streams)));
    return l;
  };

  function onHello(ws: ServerWebSocket<AgentData>, bytes: Uint8Array): void {
    const d = ws.data;
    if (d.handshakeTimer) clearTimeout(d.handshakeTimer);
    d.handshakeTimer = null;
    const r = tryDecode(bytes);
    if (!r.ok || r.frame.type !== "HELLO") {
      const code = r.ok ? "unexpected_frame" : r.error.code;
      metrics.protocolErrors.inc({ code });
      metrics.agentConnections.inc({ result: "protocol_error" });
      log.warn("agent sent a bad handshake; closing", { tunnel: d.tunnelId, code });
      ws.close(CLOSE_CODES.protocol_error, `protocol_error: ${code}: expected HELLO`);
      return;
    }
    const hello = r.frame.body;
    if (hello.version !== PROTOCOL_VERSION) {
      const reason = `the relay speaks tunnel protocol ${PROTOCOL_VERSION} but the agent sent version ${hello.version}; upgrade the older side`;
      metrics.agentConnections.inc({ result: "incompatible_version" });
      log.warn("agent refused: incompatible protocol version", { tunnel: d.tunnelId, agent: hello.agent, version: hello.version, reason });
      ws.send(encode({ type: "GO_AWAY", stream: 0, body: { code: "incompatible_version", reason } }));
      ws.close(CLOSE_CODES.incompatible_version, `incompatible_version: ${reason}`.slice(0, 120));
      return;
    }
    d.agent = hello.agent;
    const session = new Session({
      role: "relay",
      heartbeatMs,
      toleranceMs,
      sink: {
        send: (b) => {
          // 0 means Bun dropped the message: the byte stream would be corrupt, so the session cannot go on.
          if (ws.send(b) === 0 && ws.readyState === 1) session.close("protocol_error", "the agent connection is too far behind");
        },
        close: (code, reason) => ws.close(code, reason),
      },
      onProtocolError: (e) => {
        metrics.protocolErrors.inc({ code: e.code });
        log.warn("agent sent a malformed frame; closing its connection", { tunnel: d.tunnelId, code: e.code, error: e.message });
      },
      onClose: (info) => {
        if (tunnels.get(d.tunnelId)?.session === session) {
          tunnels.delete(d.tunnelId);
          metrics.tunnels.set(tunnels.size);
        }
        log.info("agent disconnected", { tunnel: d.tunnelId, code: info.code, reason: info.reason });
      },
    });
    d.session = session;
    const old = tunnels.get(d.tunnelId);
    tunnels.set(d.tunnelId, { ws, session, agent: hello.agent, remote: d.remote, connectedAt: d.connectedAt });
    metrics.tunnels.set(tunnels.size);
    if (old) old.session.close("replaced", "another connection for this tunnel replaced this one");
    session.sendFrame({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, tunnelId: d.tunnelId } });
    if (d.expiresAt !== null) {
      // A JWT is good until it expires, not forever: go away then, and the agent reconnects with its refreshed token.
      const ms = Math.min(Math.max(0, d.expiresAt - Date.now()), 2 ** 31 - 1);
      d.expiryTimer = setTimeout(() => {
        log.info("agent token expired; asking it to reconnect", { tunnel: d.tunnelId });
        void session.goAway("the agent's token expired; reconnect with a fresh one", graceMs);
      }, ms);
    }
    metrics.agentConnections.inc({ result: "ok" });
    log.info("agent connected", { tunnel: d.tunnelId, agent: hello.agent, remote: d.remote, replaced: !!old });
  }

  async function proxy(req: Request, id: string, path: string): Promise<Response> {
    const who = await auth.client(req, id);
    if (!who.ok) return new HttpError("unauthorized", who.reason).toDialectResponse(path, { "www-authenticate": 'Bearer realm="relay"' });
    // A restart's window: the agents are being sent away, so say why rather than "refused" or "not connected".
    if (stopping) return new HttpError("unavailable", "the relay is shutting down; retry in a moment").toDialectResponse(path, { "retry-after": "1" });
    const entry = tunnels.get(id);
    if (!entry || entry.session.closed) return new HttpError("tunnel_offline", `tunnel "${id}" is not connected`).toDialectResponse(path);
    const max = config.limits.max_body_bytes;
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (max && declared > max) return new HttpError("payload_too_large", `the request body (${declared} bytes) is over this relay's limit of ${max} bytes`).toDialectResponse(path);
    const lim = limitsFor(id);
    const refused = lim.admit();
    if (refused === "streams") return new HttpError("rate_limited", `tunnel "${id}" already has ${lim.maxStreams} requests in flight`).toDialectResponse(path, { "retry-after": "1" });
    if (refused === "rate") return new HttpError("rate_limited", `tunnel "${id}" is over ${config.limits.requests_per_minute} requests per minute`).toDialectResponse(path, { "retry-after": "5" });

    let tooLarge = false;
    const t0 = performance.now();
    let stream: Stream | null = null;
    metrics.activeStreams.inc();
    const settle = () => {
      lim.done();
      metrics.activeStreams.dec();
    };
    try {
      const res = await forward(entry.session, req, path, {
        signal: req.signal,
        dropHeaders: CLIENT_ONLY,
        maxBodyBytes: max,
        onBodyTooLarge: () => (tooLarge = true),
        firstByteTimeoutMs: firstByteMs,
        onStream: (s) => (stream = s),
      });
      metrics.ttfb.observe((performance.now() - t0) / 1000);
      metrics.requests.inc({ status: String(res.status) });
      const s = stream as Stream | null;
      if (s) {
        s.finished.then(() => {
          settle();
          metrics.bytes.inc({ direction: "to_agent" }, s.bytesOut);
          metrics.bytes.inc({ direction: "from_agent" }, s.bytesIn);
        });
      } else settle();
      return res;
    } catch (e) {
      settle();
      const err = tooLarge ? new HttpError("payload_too_large", `the request body is over this relay's limit of ${max} bytes`) : failedForward(e, id);
      metrics.requests.inc({ status: String(err.status) });
      return err.toDialectResponse(path);
    }
  }

  function failedForward(e: unknown, id: string): HttpError {
    if (e instanceof ProtocolError) return new HttpError("bad_request", `the request cannot cross the tunnel: ${e.message}`);
    switch (e instanceof StreamError ? e.code : null) {
      case "timeout":
        return new HttpError("upstream_timeout", `the agent sent no response within ${config.first_byte_timeout}`);
      case "refused":
        return new HttpError("unavailable", `the agent refused the request: ${(e as Error).message}`);
      case "session_closed":
        return new HttpError("tunnel_offline", `tunnel "${id}" disconnected before answering`);
      default:
        return new HttpError("upstream_error", `the tunnel failed the request: ${(e as Error).message}`);
    }
  }

  function listing(): TunnelInfo[] {
    return [...tunnels.entries()].map(([id, t]) => ({
      id,
      agent: t.agent,
      remote: t.remote,
      connectedAt: t.connectedAt,
      activeStreams: t.session.activeStreams,
      rttMs: t.session.rttMs,
    }));
  }

  const { hostname, port } = splitListen(config.listen);
  const tls = config.tls.cert_file ? { cert: Bun.file(config.tls.cert_file), key: Bun.file(config.tls.key_file) } : undefined;
  const server: Server<AgentData> = Bun.serve<AgentData>({
    hostname,
    port,
    tls,
    // Long generations must never be cut by an idle timer; first-byte and heartbeat timers do that job.
    idleTimeout: 0,
    // Bun's default cap is 128 MiB; [limits] max_body_bytes is enforced per request (0 = none) with a JSON 413.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(req, srv) {
      // HTTP/1.0 without Host: the URL is a bare path that new URL() refuses (src/core/missing-host.ts).
      if (lacksHost(req)) return relayError(bareTargetPath(req), new HttpError("bad_request", MISSING_HOST_MESSAGE));
      const url = new URL(req.url);
      const p = url.pathname;
      try {
        if (p === config.agent_path) {
          if (stopping) return new HttpError("unavailable", "the relay is shutting down").toResponse();
          const who = await auth.agent(req);
          if (!who.ok) {
            metrics.agentConnections.inc({ result: "unauthorized" });
            log.warn("agent refused", { reason: who.reason, remote: srv.requestIP(req)?.address });
            return new HttpError("unauthorized", who.reason).toResponse({ "www-authenticate": 'Bearer realm="relay"' });
          }
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
        const target = tunnelTarget(p);
        if (target) return await proxy(req, target.id, target.path + url.search);
        if (p === "/healthz") return Response.json({ status: "ok", version: VERSION });
        if (p === "/readyz") return stopping ? new HttpError("not_ready", "shutting down").toResponse() : Response.json({ status: "ready", tunnels: tunnels.size });
        if (p === "/metrics") return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
        if (p === "/api/tunnels") {
          if (!auth.admin(req)) return new HttpError("unauthorized", "the tunnel listing needs the admin token").toResponse();
          return Response.json({ tunnels: listing() });
        }
        return new HttpError("not_found", `no route for ${p}`).toResponse();
      } catch (e) {
        log.error("request failed", { path: p, error: e });
        return relayError(p, new HttpError("internal", "the relay failed this request"));
      }
    },
    websocket: {
      maxPayloadLength: HEADER_SIZE + MAX_PAYLOAD,
      // Credit windows bound what is queued per stream; this bounds one connection as a whole.
      backpressureLimit: 64 * 1024 * 1024,
      idleTimeout: Math.min(960, Math.max(30, Math.ceil((toleranceMs * 2) / 1000))),
      sendPings: false,
      open(ws) {
        ws.binaryType = "uint8array";
        ws.data.handshakeTimer = setTimeout(() => {
          metrics.agentConnections.inc({ result: "handshake_timeout" });
          ws.close(1008, "handshake_timeout: no HELLO in time");
        }, handshakeMs);
      },
      message(ws, msg) {
        if (typeof msg === "string") {
          metrics.protocolErrors.inc({ code: "not_binary" });
          log.warn("agent sent a text frame; closing its connection", { tunnel: ws.data.tunnelId });
          if (ws.data.session) ws.data.session.close("protocol_error", "not_binary: protocol v2 uses binary frames only");
          else ws.close(CLOSE_CODES.protocol_error, "protocol_error: not_binary");
          return;
        }
        if (!ws.data.session) return onHello(ws, msg as Uint8Array);
        ws.data.session.receive(msg as Uint8Array);
      },
      close(ws, code, reason) {
        if (ws.data.handshakeTimer) clearTimeout(ws.data.handshakeTimer);
        if (ws.data.expiryTimer) clearTimeout(ws.data.expiryTimer);
        ws.data.session?.transportClosed(`websocket closed (${code}${reason ? `: ${reason}` : ""})`);
      },
    },
  });
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `${tls ? "https" : "http"}://${shownHost}:${server.port}`;
  log.info("relay listening", { url, agent_path: config.agent_path, tunnels: config.tunnels.length, oidc: config.oidc.issuer || undefined });

  return {
    url,
    port: server.port!,
    metrics,
    tunnels: listing,
    async stop() {
      stopping = true;
      await Promise.all([...tunnels.values()].map((t) => t.session.goAway("the relay is shutting down", graceMs)));
      await server.stop(true);
    },
  };
}
