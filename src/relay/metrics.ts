// The relay's Prometheus metrics (its own registry: the relay is a separate process from the daemon).
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export function createRelayMetrics() {
  const registry = new Registry();
  return {
    registry,
    tunnels: new Gauge({ name: "cloudtolocalllm_relay_tunnels_connected", help: "Agents connected now.", registers: [registry] }),
    agentConnections: new Counter({ name: "cloudtolocalllm_relay_agent_connections_total", help: "Agent connection attempts by result.", labelNames: ["result"], registers: [registry] }),
    requests: new Counter({ name: "cloudtolocalllm_relay_requests_total", help: "Client requests through /t/ID by HTTP status.", labelNames: ["status"], registers: [registry] }),
    activeStreams: new Gauge({ name: "cloudtolocalllm_relay_streams_active", help: "Requests in flight through tunnels.", registers: [registry] }),
    protocolErrors: new Counter({ name: "cloudtolocalllm_relay_protocol_errors_total", help: "Agent connections closed for a protocol error, by code.", labelNames: ["code"], registers: [registry] }),
    bytes: new Counter({ name: "cloudtolocalllm_relay_bytes_total", help: "Body bytes through tunnels by direction.", labelNames: ["direction"], registers: [registry] }),
    ttfb: new Histogram({
      name: "cloudtolocalllm_relay_first_byte_seconds",
      help: "Time from a client request to the agent's response head.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}
export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
