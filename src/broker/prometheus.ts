// The broker's Prometheus metrics in the shared registry, updated on the hot path without hashing label sets (fast-metrics.ts).
import { CounterChild, FastCounter, FastGauge, FastHistogram, HistogramChild } from "../core/fast-metrics.ts";
import { metricsRegistry } from "../core/metrics-registry.ts";

type Source = "local" | "tunnel";

// Created once per process: the registry refuses a second metric with the same name.
let metrics: ReturnType<typeof create> | null = null;

function create() {
  return {
    requests: new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_broker_requests_total", help: "Requests relayed to an upstream (each attempt of a failover counts).", labelNames: ["upstream", "source"] }),
    errors: new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_broker_errors_total", help: "Requests that failed: no answer, 5xx, or a stream broken off.", labelNames: ["upstream", "source"] }),
    duration: new FastHistogram({
      registry: metricsRegistry,
      name: "cloudtolocalllm_broker_request_duration_seconds",
      help: "Whole request duration, until the last byte of the response.",
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      labelNames: ["upstream", "source"],
    }),
    ttfb: new FastHistogram({
      registry: metricsRegistry,
      name: "cloudtolocalllm_broker_time_to_first_byte_seconds",
      help: "Time until the upstream's first response byte (first token of a stream).",
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      labelNames: ["upstream", "source"],
    }),
    bytesIn: new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_broker_request_bytes_total", help: "Request body bytes sent upstream.", labelNames: ["upstream", "source"] }),
    bytesOut: new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_broker_response_bytes_total", help: "Response body bytes relayed to clients.", labelNames: ["upstream", "source"] }),
    tokens: new FastCounter({ registry: metricsRegistry, name: "cloudtolocalllm_broker_generated_tokens_total", help: "Tokens generated (Ollama eval_count, OpenAI usage.completion_tokens).", labelNames: ["upstream", "source"] }),
    health: new FastHistogram({
      registry: metricsRegistry,
      name: "cloudtolocalllm_broker_health_check_duration_seconds",
      help: "Duration of successful health checks.",
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 3],
      labelNames: ["upstream"],
    }),
  };
}

export interface RequestMetricChildren {
  requests: CounterChild;
  errors: CounterChild;
  duration: HistogramChild;
  ttfb: HistogramChild;
  bytesIn: CounterChild;
  bytesOut: CounterChild;
  tokens: CounterChild;
}

const children = new Map<string, { local?: RequestMetricChildren; tunnel?: RequestMetricChildren }>();

/** The children for one upstream and source; cached, so the hot path is a Map lookup and additions. */
export function requestMetrics(upstream: string, source: Source): RequestMetricChildren {
  let bySource = children.get(upstream);
  if (!bySource) children.set(upstream, (bySource = {}));
  let c = bySource[source];
  if (!c) {
    const m = (metrics ??= create());
    const l = { upstream, source };
    c = {
      requests: m.requests.child(l),
      errors: m.errors.child(l),
      duration: m.duration.child(l),
      ttfb: m.ttfb.child(l),
      bytesIn: m.bytesIn.child(l),
      bytesOut: m.bytesOut.child(l),
      tokens: m.tokens.child(l),
    };
    bySource[source] = c;
  }
  return c;
}

export function observeHealthCheck(upstream: string, seconds: number): void {
  (metrics ??= create()).health.child({ upstream }).observe(seconds);
}

/** What the queue metrics read from each running broker's gate (src/broker/gate.ts). */
interface GateView {
  readonly length: number;
  readonly stats: { queued: number; waitedMs: number; refusedFull: number; timedOut: number };
}
const gates = new Set<GateView>();

/** Counts a broker's gate in the queue metrics while it runs; returns how to stop. */
export function watchGate(g: GateView): () => void {
  gates.add(g);
  return () => gates.delete(g);
}

const sum = (f: (g: GateView) => number) => [...gates].reduce((n, g) => n + f(g), 0);

new FastGauge({
  registry: metricsRegistry,
  name: "c2l_queue_length",
  help: "Requests waiting for a free upstream slot ([[upstreams]] max_parallel) or key slot.",
  collect: (m) => m.set(sum((g) => g.length)),
});
new FastCounter({
  registry: metricsRegistry,
  name: "c2l_queue_requests_total",
  help: "Requests that had to wait in the queue, since start.",
  collect: (m) => m.child().set(sum((g) => g.stats.queued)),
});
new FastCounter({
  registry: metricsRegistry,
  name: "c2l_queue_wait_seconds_total",
  help: "Time requests spent waiting in the queue (served, timed out or gone alike), summed, since start.",
  collect: (m) => m.child().set(sum((g) => g.stats.waitedMs) / 1000),
});
new FastCounter({
  registry: metricsRegistry,
  name: "c2l_queue_refused_total",
  help: "Requests refused by the queue since start, by reason (full: 429, timeout: 503).",
  labelNames: ["reason"],
  collect(m) {
    m.child({ reason: "full" }).set(sum((g) => g.stats.refusedFull));
    m.child({ reason: "timeout" }).set(sum((g) => g.stats.timedOut));
  },
});
