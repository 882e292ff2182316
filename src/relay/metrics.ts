// The relay's Prometheus metrics (its own registry: the relay is a separate process from the daemon). Plain numbers
// (src/core/fast-metrics.ts): prom-client is loaded by the first scrape only, not by an idle relay.
import { FastCounter, FastGauge, FastHistogram } from "../core/fast-metrics.ts";
import { MetricSet } from "../core/metrics-registry.ts";

export function createRelayMetrics() {
  const registry = new MetricSet();
  return {
    registry,
    tunnels: new FastGauge({ registry, name: "cloudtolocalllm_relay_tunnels_connected", help: "Agents connected now." }),
    agentConnections: new FastCounter({ registry, name: "cloudtolocalllm_relay_agent_connections_total", help: "Agent connection attempts by result.", labelNames: ["result"] }),
    // The per-request series: plain numbers, not prom-client's label hashing (src/core/fast-metrics.ts).
    requests: new FastCounter({ registry, name: "cloudtolocalllm_relay_requests_total", help: "Client requests through /t/ID by the HTTP status they got, refusals (401, 429, 502 offline) included; 499: the client left before the answer began.", labelNames: ["status"] }),
    activeStreams: new FastGauge({ registry, name: "cloudtolocalllm_relay_streams_active", help: "Requests in flight through tunnels." }),
    protocolErrors: new FastCounter({ registry, name: "cloudtolocalllm_relay_protocol_errors_total", help: "Agent connections closed for a protocol error, by code.", labelNames: ["code"] }),
    bytes: new FastCounter({ registry, name: "cloudtolocalllm_relay_bytes_total", help: "Body bytes through tunnels by direction.", labelNames: ["direction"] }),
    // Answers that outlived the agent's session (docs/protocol.md, Resume).
    resumed: new FastCounter({ registry, name: "cloudtolocalllm_relay_resumed_streams_total", help: "Client answers taken over on the agent's new session (here or at another node) after theirs ended." }),
    replayed: new FastCounter({ registry, name: "cloudtolocalllm_relay_replayed_bytes_total", help: "Answer bytes the agent sent again after a resume (its RESUME says what it had sent; from an older agent, the bytes received here and not yet delivered)." }),
    resumeFailed: new FastCounter({ registry, name: "cloudtolocalllm_relay_resume_failed_total", help: "Client answers not resumed within the resume window (ended with the error line), by reason.", labelNames: ["reason"] }),
    ttfb: new FastHistogram({
      registry,
      name: "cloudtolocalllm_relay_first_byte_seconds",
      help: "Time from a client request to the agent's response head.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
    // Cluster series (a node alone reports them at zero): the node's name, its forwards, leases and its Redis.
    node: new FastGauge({ registry, name: "cloudtolocalllm_relay_node_info", help: "1, labelled with this node's id (cluster mode).", labelNames: ["node"] }),
    clusterNodes: new FastGauge({ registry, name: "cloudtolocalllm_relay_cluster_nodes", help: "Relay nodes alive in the cluster (heartbeats in Redis), as this node last saw them." }),
    forwarded: new FastCounter({ registry, name: "cloudtolocalllm_relay_forwarded_total", help: "Client requests this node sent to the tunnel's owner node, by result.", labelNames: ["result"] }),
    forwardedIn: new FastCounter({ registry, name: "cloudtolocalllm_relay_forwarded_in_total", help: "Requests other nodes forwarded to this node (it owns the tunnel), by HTTP status.", labelNames: ["status"] }),
    leaseRenewals: new FastCounter({ registry, name: "cloudtolocalllm_relay_lease_renewals_total", help: "Tunnel lease renewals by result (renewed, reinstated, fenced, redis_down).", labelNames: ["result"] }),
    takeovers: new FastCounter({ registry, name: "cloudtolocalllm_relay_lease_takeovers_total", help: "Claims that took a tunnel from another node." }),
    internalRefused: new FastCounter({ registry, name: "cloudtolocalllm_relay_internal_refused_total", help: "Node-to-node requests refused by this node's internal listener, by reason (missing, malformed, stale, bad_signature, unsigned_header, before_start, replay, body, bad_request).", labelNames: ["reason"] }),
    ignoredRecords: new FastCounter({ registry, name: "cloudtolocalllm_relay_ignored_records_total", help: "Leases and heartbeats found in Redis but not honoured (not signed with this cluster's secret, naming a non-member, or of another keyspace), by kind.", labelNames: ["kind"] }),
    fenced: new FastCounter({ registry, name: "cloudtolocalllm_relay_fenced_total", help: "Local agent sessions closed because another node took their tunnel." }),
    redisUp: new FastGauge({ registry, name: "cloudtolocalllm_relay_redis_up", help: "1 while the cluster's Redis answers." }),
    redisErrors: new FastCounter({ registry, name: "cloudtolocalllm_relay_redis_errors_total", help: "Failed Redis commands and connection attempts by kind.", labelNames: ["kind"] }),
    redisLatency: new FastHistogram({ registry,
      name: "cloudtolocalllm_relay_redis_seconds",
      help: "Round trip of one Redis command.",
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1],
    }),
  };
}
export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
