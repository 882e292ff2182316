// A cloud client's call through a tunnel: the client's credentials, the tunnel's limits, then the request streamed over
// the agent's session (src/protocol/session.ts forward()); every refusal in the dialect of the path being called.
import { HttpError } from "../core/http-error.ts";
import { ProtocolError } from "../protocol/codec.ts";
import { forward } from "../protocol/session.ts";
import { StreamError, type Stream } from "../protocol/stream.ts";
import type { AgentSessions } from "./agent-sessions.ts";
import type { RelayAuth } from "./auth.ts";
import type { RelayConfig } from "./config.ts";
import { TunnelLimits } from "./limits.ts";
import type { RelayMetrics } from "./metrics.ts";

/** Headers a cloud client's credentials or cookies ride in: they stay at the relay. */
const CLIENT_ONLY = ["authorization", "cookie", "proxy-authorization"];

export interface ForwardDeps {
  config: RelayConfig;
  auth: RelayAuth;
  sessions: AgentSessions;
  metrics: RelayMetrics;
  firstByteMs: number;
  stopping(): boolean;
}

export type Forwarder = (req: Request, id: string, path: string) => Promise<Response>;

export function createForwarder(deps: ForwardDeps): Forwarder {
  const { config, auth, sessions, metrics } = deps;
  const limits = new Map<string, TunnelLimits>();
  const limitsFor = (id: string) => {
    let l = limits.get(id);
    if (!l) limits.set(id, (l = new TunnelLimits(config.limits.requests_per_minute, config.limits.max_streams)));
    return l;
  };

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

  return async (req, id, path) => {
    const who = await auth.client(req, id);
    if (!who.ok) return new HttpError("unauthorized", who.reason).toDialectResponse(path, { "www-authenticate": 'Bearer realm="relay"' });
    // A restart's window: the agents are being sent away, so say why rather than "refused" or "not connected".
    if (deps.stopping()) return new HttpError("unavailable", "the relay is shutting down; retry in a moment").toDialectResponse(path, { "retry-after": "1" });
    const session = sessions.session(id);
    if (!session) return new HttpError("tunnel_offline", `tunnel "${id}" is not connected`).toDialectResponse(path);
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
      const res = await forward(session, req, path, {
        signal: req.signal,
        dropHeaders: CLIENT_ONLY,
        maxBodyBytes: max,
        onBodyTooLarge: () => (tooLarge = true),
        firstByteTimeoutMs: deps.firstByteMs,
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
  };
}
