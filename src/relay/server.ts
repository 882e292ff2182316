// The relay process: wires its parts (agent sessions, forwarding, routes) onto one Bun server, and stops it cleanly.
import type { Server } from "bun";
import { splitListen } from "../config/listen.ts";
import { logger } from "../core/log.ts";
import { AgentSessions, type AgentData, type TunnelInfo } from "./agent-sessions.ts";
import { RelayAuth } from "./auth.ts";
import { relayMs, type RelayConfig } from "./config.ts";
import type { RelayCluster } from "./cluster/cluster.ts";
import { createForwarder, type ClusterRouting } from "./forward.ts";
import { createRelayMetrics, type RelayMetrics } from "./metrics.ts";
import { relayFetch } from "./routes.ts";

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

export async function startRelay(config: RelayConfig): Promise<RelayServer> {
  const auth = new RelayAuth(config);
  const metrics = createRelayMetrics();
  const ms = relayMs(config);
  let stopping = false;
  const sessions = new AgentSessions(metrics, { handshakeMs: ms.handshake_timeout, heartbeatMs: ms.heartbeat.interval, toleranceMs: ms.heartbeat.tolerance, graceMs: ms.go_away_grace });
  // The cluster routes through the forwarders and they through it; it is created first and given them once they exist.
  let cluster: RelayCluster | null = null;
  const routing: ClusterRouting | undefined = config.cluster.redis_url
    ? { admitRate: (...a) => cluster!.admitRate(...a), forwardToOwner: (...a) => cluster!.forwardToOwner(...a) }
    : undefined;
  const forward = createForwarder({ config, auth, sessions, metrics, firstByteMs: ms.first_byte_timeout, stopping: () => stopping, cluster: routing });
  if (routing) {
    // Loaded only for a cluster node: a relay alone never pays for the Redis parts.
    const { RelayCluster, readSharedSecret } = await import("./cluster/cluster.ts");
    cluster = new RelayCluster({ config, metrics, sessions, owner: forward.owner, stopping: () => stopping }, readSharedSecret(config.cluster.shared_secret_file));
    await cluster.start();
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
    fetch: relayFetch({ config, auth, sessions, metrics, forward, stopping: () => stopping, cluster: cluster ?? undefined }),
    websocket: sessions.websocket,
  });
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `${tls ? "https" : "http"}://${shownHost}:${server.port}`;
  log.info("relay listening", { url, agent_path: config.agent_path, tunnels: config.tunnels.length, oidc: config.oidc.issuer || undefined, node: cluster?.nodeId });

  return {
    url,
    port: server.port!,
    metrics,
    tunnels: () => sessions.listing(),
    async stop() {
      stopping = true;
      await sessions.goAwayAll("the relay is shutting down");
      await cluster?.stop();
      // Answers still being written (a stream that finished just now is answered in one write a moment later) go out
      // before the sockets close; whatever is still open after a short wait is cut.
      await Promise.race([server.stop(false), Bun.sleep(2_000)]);
      await server.stop(true);
    },
  };
}
