// The relay process: wires its parts (agent sessions, forwarding, routes) onto one Bun server, and stops it cleanly.
import type { Server } from "bun";
import { bindAddress, splitListen } from "../config/listen.ts";
import { listenError } from "../core/listen-error.ts";
import { closing } from "../core/request-checks.ts";
import { logger } from "../core/log.ts";
import { HttpError } from "../core/http-error.ts";
import { lastResort } from "../core/serve-fallback.ts";
import { drainBounded } from "./bounded-drain.ts";
import { lingeringClose } from "./lingering-close.ts";
import { AgentSessions, type AgentData, type TunnelInfo } from "./agent-sessions.ts";
import { RelayAuth } from "./auth.ts";
import { relayMs, type RelayConfig } from "./config.ts";
import type { RelayCluster } from "./cluster/cluster.ts";
import { createRelayCors } from "./cors.ts";
import { createForwarder, type ClusterRouting } from "./forward.ts";
import { createRelayMetrics, type RelayMetrics } from "./metrics.ts";
import { relayFetch } from "./routes.ts";
import { readRelayTls, unusableTls } from "./tls-files.ts";

export { tunnelTarget } from "./routes.ts";
export type { TunnelInfo };

const log = logger("relay");

export interface RelayServer {
  url: string;
  port: number;
  metrics: RelayMetrics;
  tunnels(): TunnelInfo[];
  stop(): Promise<void>;
}

/**
 * The relay's idle timer must never close a connection a reverse proxy may reuse: nginx's upstream keepalive and
 * HAProxy's connection reuse would send the next call into a connection the relay is closing (a 502, or a connection
 * closed under the client; neither retries a POST). So an answer to a call that was not admitted (a refusal, /healthz,
 * the chat page) closes its connection, and one that was admitted has no idle timer left: an idle keep-alive
 * connection is always the proxy's to close, whatever its timeouts. Only a request head that never completes meets
 * the timer (slowloris). With idle_timeout "0s" too: kept open, a refused call's connection would have Bun read its
 * unread body to the end, however long.
 */
function closeUnadmitted(routes: ReturnType<typeof relayFetch>, admitted: WeakSet<Request>): ReturnType<typeof relayFetch> {
  return async (req, srv) => {
    const res = await routes(req, srv);
    if (!res) return res;
    if (admitted.has(req)) {
      // Admitted, then refused before its body was read (the tunnel offline, full after its wait; a cluster's rate):
      // Bun would read an unread body to its end, however long, to keep the connection. The same bounded drain as a
      // refusal's below; the connection stays (no idle timer is left on it) only when the body ended within it.
      // bodyUsed first: a forwarded call's body is read already, and asking for req.body builds a stream for nothing.
      if (req.bodyUsed || !req.body || req.body.locked) return res;
      const rest = await drainBounded(req.body);
      return rest ? lingeringClose(res, rest) : res;
    }
    // An answer that closes already (a request whose framing is in doubt) closes at once. Otherwise a body the answer
    // left unread (a refused upload) is read to its end first, as Bun would to keep the connection: closing on unread
    // bytes resets it, and a proxy still sending them answers its client 502 instead of this answer.
    if (res.headers.get("connection") === "close") return res;
    // That read is bounded (bounded-drain.ts): past it the answer goes out, the read lingers a moment so the sender sees
    // it rather than a reset (lingering-close.ts), and the connection closes.
    const rest = req.body && !req.bodyUsed ? await drainBounded(req.body) : null;
    return rest ? lingeringClose(res, rest) : closing(res);
  };
}

export async function startRelay(config: RelayConfig): Promise<RelayServer> {
  const auth = new RelayAuth(config);
  const metrics = createRelayMetrics();
  const ms = relayMs(config);
  let stopping = false;
  const sessions = new AgentSessions(metrics, { handshakeMs: ms.handshake_timeout, heartbeatMs: ms.heartbeat.interval, toleranceMs: ms.heartbeat.tolerance, graceMs: ms.go_away_grace, resumeMs: ms.resume_window });
  // A cluster node cannot tell an offer no client waits for from one a client at another node waits for.
  sessions.refuseUnknownOffers = !config.cluster.redis_url;
  // The cluster routes through the forwarders and they through it; it is created first and given them once they exist.
  let cluster: RelayCluster | null = null;
  const routing: ClusterRouting | undefined = config.cluster.redis_url
    ? { admitRate: (...a) => cluster!.admitRate(...a), forwardToOwner: (...a) => cluster!.forwardToOwner(...a), resumeAtOwner: (...a) => cluster!.resumeAtOwner(...a) }
    : undefined;
  // The server exists once the forwarders do; an admitted call lifts its connection's idle timeout through it.
  let server: Server<AgentData> | null = null;
  const admitted = new WeakSet<Request>();
  // Noted with idle_timeout "0s" too: a refused call's body is still drained within bounds, then its connection closed
  // (left open, Bun would read an endless refused upload to its end).
  const idle = ms.limits.idle_timeout > 0;
  const admit = (req: Request) => {
    admitted.add(req);
    if (idle) server?.timeout(req, 0);
  };
  // One CORS for the routes (preflights, headers) and the forwarder (a tunnel's own list, once its client is known).
  const cors = createRelayCors(config);
  const forward = createForwarder({ config, auth, sessions, metrics, firstByteMs: ms.first_byte_timeout, stopping: () => stopping, cluster: routing, admit, originRefusal: cors.refusal });
  if (routing) {
    // Loaded only for a cluster node: a relay alone never pays for the Redis parts.
    const { RelayCluster, readSharedSecret } = await import("./cluster/cluster.ts");
    let secret: Uint8Array;
    try {
      secret = readSharedSecret(config.cluster.shared_secret_file);
    } catch (e) {
      throw new Error(`cluster.shared_secret_file: ${(e as Error).message}`);
    }
    cluster = new RelayCluster({ config, metrics, sessions, owner: forward.owner, resume: forward }, secret);
    await cluster.start();
  }

  const { hostname } = splitListen(config.listen);
  // "localhost" is bound as 127.0.0.1, as the daemon binds it: Bun binds only the first address the resolver lists, ::1
  // on systems listing it first, and a proxy or client sent to 127.0.0.1 found nothing there.
  const { hostname: bindAt, port } = bindAddress(config.listen);
  let tls: Awaited<ReturnType<typeof readRelayTls>>;
  try {
    tls = await readRelayTls(config);
  } catch (e) {
    await cluster?.stop();
    throw e;
  }
  const routes = relayFetch({ config, auth, sessions, metrics, forward, stopping: () => stopping, cluster: cluster ?? undefined, cors });
  try {
    server = Bun.serve<AgentData>({
      hostname: bindAt,
      port,
      tls,
      // A connection that has not had a call admitted is closed after [limits] idle_timeout of silence (a request head
      // trickled in: slowloris; its answer closes it otherwise, closeUnadmitted); an admitted call lifts it (forward.ts
      // `admit`), because long generations must never be cut by an idle timer: first-byte and heartbeat timers do that job.
      // An unadmitted call's answer closes its connection whatever idle_timeout says (closeUnadmitted).
      idleTimeout: Math.round(ms.limits.idle_timeout / 1000),
      // Bun's default cap is 128 MiB; [limits] max_body_bytes is enforced per request (0 = none) with a JSON 413.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      // Bun's development mode is on by default (the compiled binary too): serve-fallback.ts says what it would show.
      development: false,
      fetch: closeUnadmitted(routes, admitted),
      // Bun does not say which path failed: the relay's own shape, not a tunnel dialect.
      error: lastResort(log, "relay", () => new HttpError("internal", "the relay failed this request").toResponse()),
      websocket: sessions.websocket,
    });
  } catch (e) {
    // A cluster node that started already leaves again: no heartbeat of a node that never served stays behind.
    await cluster?.stop();
    // A TLS error is [tls]'s (a file that is not PEM, a key that does not fit); the others (EADDRINUSE, ...) the listener's.
    if (/^ERR_(OSSL|SSL|TLS)/.test((e as NodeJS.ErrnoException)?.code ?? "")) throw unusableTls(config, (e as Error).message);
    throw listenError("it", "listen", config.listen, e, "the relay");
  }
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `${tls ? "https" : "http"}://${shownHost}:${server.port}`;
  log.info("relay listening", { url, agent_path: config.agent_path, tunnels: config.tunnels.length, oidc: config.oidc.issuer || undefined, node: cluster?.nodeId });

  return {
    url,
    port: server.port!,
    metrics,
    tunnels: () => sessions.listing(),
    async stop() {
      // Not ready at once: the balancer's health check takes this node out. A cluster node keeps serving (its agents
      // included) for drain_delay meanwhile, so what the balancer still sends here is served or forwarded, not refused.
      stopping = true;
      if (cluster) await Bun.sleep(ms.cluster.drain_delay);
      // Then its agents move (GO_AWAY: they reconnect at once, through the balancer, to a node that is up) while
      // in-flight streams, the agents' own and those passing through to other nodes, get the whole grace to finish.
      // Still listening meanwhile: a relay alone answers 503 "shutting down", a cluster node forwards.
      const t0 = performance.now();
      await sessions.goAwayAll("the relay is shutting down");
      // A cluster node stays until the agents' new nodes claimed their tunnels (bounded): the other nodes' calls that
      // still come here by its leases are held and sent on there, not answered as if the tunnel were offline.
      await cluster?.movesClaimed();
      // Answers still being written (a cut-short answer's last line a moment after its session ended) go out too, and
      // so do the calls other nodes sent here (held for a move, then sent on): the leases are given up after them.
      await Promise.race([Promise.all([server.stop(false), cluster?.closeInternal()]), Bun.sleep(Math.max(2_000, ms.go_away_grace - (performance.now() - t0)))]);
      await cluster?.stop();
      await server.stop(true);
    },
  };
}
