// The relay's Prometheus metrics (its own registry: the relay is a separate process from the daemon).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { FastCounter, FastHistogram } from "../core/fast-metrics.ts";

export function createRelayMetrics() {
  const registry = new Registry();
  return {
    registry,
    tunnels: new Gauge({ name: "cloudtolocalllm_relay_tunnels_connected", help: "Agents connected now.", registers: [registry] }),
    agentConnections: new Counter({ name: "cloudtolocalllm_relay_agent_connections_total", help: "Agent connection attempts by result.", labelNames: ["result"], registers: [registry] }),
    // The per-request series: plain numbers, not prom-client's label hashing (src/core/fast-metrics.ts).
    requests: new FastCounter({ registry, name: "cloudtolocalllm_relay_requests_total", help: "Client requests through /t/ID by HTTP status.", labelNames: ["status"] }),
    activeStreams: new Gauge({ name: "cloudtolocalllm_relay_streams_active", help: "Requests in flight through tunnels.", registers: [registry] }),
    protocolErrors: new Counter({ name: "cloudtolocalllm_relay_protocol_errors_total", help: "Agent connections closed for a protocol error, by code.", labelNames: ["code"], registers: [registry] }),
    bytes: new FastCounter({ registry, name: "cloudtolocalllm_relay_bytes_total", help: "Body bytes through tunnels by direction.", labelNames: ["direction"] }),
    // Answers that outlived the agent's session (docs/protocol.md, Resume).
    resumed: new Counter({ name: "cloudtolocalllm_relay_resumed_streams_total", help: "Client answers taken over on the agent's new session (here or at another node) after theirs ended.", registers: [registry] }),
    replayed: new Counter({ name: "cloudtolocalllm_relay_replayed_bytes_total", help: "Answer bytes received before a session ended but not yet delivered, received again after the resume.", registers: [registry] }),
    resumeFailed: new Counter({ name: "cloudtolocalllm_relay_resume_failed_total", help: "Client answers not resumed within the resume window (ended with the error line), by reason.", labelNames: ["reason"], registers: [registry] }),
    ttfb: new FastHistogram({
      registry,
      name: "cloudtolocalllm_relay_first_byte_seconds",
      help: "Time from a client request to the agent's response head.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
    // Cluster series (a node alone reports them at zero): the node's name, its forwards, leases and its Redis.
    node: new Gauge({ name: "cloudtolocalllm_relay_node_info", help: "1, labelled with this node's id (cluster mode).", labelNames: ["node"], registers: [registry] }),
    clusterNodes: new Gauge({ name: "cloudtolocalllm_relay_cluster_nodes", help: "Relay nodes alive in the cluster (heartbeats in Redis), as this node last saw them.", registers: [registry] }),
    forwarded: new Counter({ name: "cloudtolocalllm_relay_forwarded_total", help: "Client requests this node sent to the tunnel's owner node, by result.", labelNames: ["result"], registers: [registry] }),
    forwardedIn: new Counter({ name: "cloudtolocalllm_relay_forwarded_in_total", help: "Requests other nodes forwarded to this node (it owns the tunnel), by HTTP status.", labelNames: ["status"], registers: [registry] }),
    leaseRenewals: new Counter({ name: "cloudtolocalllm_relay_lease_renewals_total", help: "Tunnel lease renewals by result (renewed, reinstated, fenced, redis_down).", labelNames: ["result"], registers: [registry] }),
    takeovers: new Counter({ name: "cloudtolocalllm_relay_lease_takeovers_total", help: "Claims that took a tunnel from another node.", registers: [registry] }),
    internalRefused: new Counter({ name: "cloudtolocalllm_relay_internal_refused_total", help: "Node-to-node requests refused by this node's internal listener, by reason (missing, malformed, stale, bad_signature, unsigned_header, before_start, replay, body).", labelNames: ["reason"], registers: [registry] }),
    ignoredRecords: new Counter({ name: "cloudtolocalllm_relay_ignored_records_total", help: "Leases and heartbeats found in Redis but not honoured (not signed with this cluster's secret, naming a non-member, or of another keyspace), by kind.", labelNames: ["kind"], registers: [registry] }),
    fenced: new Counter({ name: "cloudtolocalllm_relay_fenced_total", help: "Local agent sessions closed because another node took their tunnel.", registers: [registry] }),
    redisUp: new Gauge({ name: "cloudtolocalllm_relay_redis_up", help: "1 while the cluster's Redis answers.", registers: [registry] }),
    redisErrors: new Counter({ name: "cloudtolocalllm_relay_redis_errors_total", help: "Failed Redis commands and connection attempts by kind.", labelNames: ["kind"], registers: [registry] }),
    redisLatency: new Histogram({
      name: "cloudtolocalllm_relay_redis_seconds",
      help: "Round trip of one Redis command.",
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1],
      registers: [registry],
    }),
  };
}
export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
