// The tunnel's Prometheus metrics in the daemon's registry (rendered by the API at /metrics).
import { FastCounter, FastGauge } from "../core/fast-metrics.ts";
import { metricsRegistry } from "../core/metrics-registry.ts";
import type { TunnelState } from "../core/contracts.ts";

// Registered once per process even if the component is created again (tests, restarts).
function once<T extends FastGauge | FastCounter>(name: string, make: () => T): T {
  return (metricsRegistry.getSingleMetric(name) as T | undefined) ?? make();
}

/** The connected session's last heartbeat round trip (ms), read at each scrape; null while not connected. */
let rttSource: (() => number | null) | null = null;

const STATES: TunnelState[] = ["disabled", "stopped", "connecting", "connected", "reconnecting", "auth_failed", "failed"];

export const tunnelMetrics = {
  state: once("cloudtolocalllm_tunnel_state", () => new FastGauge({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_state", help: "1 for the tunnel's current state.", labelNames: ["state"] })),
  connects: once("cloudtolocalllm_tunnel_connects_total", () => new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_connects_total", help: "Connection attempts to the relay by result.", labelNames: ["result"] })),
  streams: once("cloudtolocalllm_tunnel_streams_active", () => new FastGauge({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_streams_active", help: "Requests from the relay in flight." })),
  // Counted on every request: plain numbers, not prom-client's label hashing (src/core/fast-metrics.ts).
  requests: once("cloudtolocalllm_tunnel_requests_total", () => new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_requests_total", help: "Requests from the relay by HTTP status.", labelNames: ["status"] })),
  bytes: once("cloudtolocalllm_tunnel_bytes_total", () => new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_bytes_total", help: "Body bytes through the tunnel by direction.", labelNames: ["direction"] })),
  // Answers that outlived their session (docs/protocol.md, Resume).
  resumed: once("cloudtolocalllm_tunnel_resumed_streams_total", () => new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_resumed_streams_total", help: "Answers the relay took over on a new session after theirs ended." })),
  replayed: once("cloudtolocalllm_tunnel_replayed_bytes_total", () => new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_replayed_bytes_total", help: "Body bytes sent again on a resumed stream (the relay had not received them)." })),
  resumeFailed: once("cloudtolocalllm_tunnel_resume_failed_total", () => new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_resume_failed_total", help: "Answers held for resume that the relay never took over (resume window over).", labelNames: ["reason"] })),
  // Read at scrape time: a value kept from the last state change would be the connect's (none yet) or an old connection's.
  rtt: once("cloudtolocalllm_tunnel_rtt_seconds", () => new FastGauge({ registry: metricsRegistry, name: "cloudtolocalllm_tunnel_rtt_seconds", help: "Round-trip time of the last heartbeat on the relay connection (0 while not connected).", collect: (m) => m.set((rttSource?.() ?? 0) / 1000) })),
  /** Where the RTT gauge reads from (the tunnel service while it runs). */
  readRttFrom(source: (() => number | null) | null) {
    rttSource = source;
  },
  setState(s: TunnelState) {
    for (const x of STATES) this.state.set({ state: x }, x === s ? 1 : 0);
  },
};
