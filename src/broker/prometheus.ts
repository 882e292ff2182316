// The broker's Prometheus metrics in the shared registry, with labelled children cached per upstream and source.
import { Counter, Histogram } from "prom-client";
import { metricsRegistry } from "../core/metrics-registry.ts";

type Source = "local" | "tunnel";
const LABELS = ["upstream", "source"] as const;

// Created once per process: prom-client refuses a second metric with the same name in one registry.
let metrics: ReturnType<typeof create> | null = null;

function create() {
  const registers = [metricsRegistry];
  return {
    requests: new Counter({ name: "cloudtolocalllm_broker_requests_total", help: "Requests relayed to an upstream (each attempt of a failover counts).", labelNames: LABELS, registers }),
    errors: new Counter({ name: "cloudtolocalllm_broker_errors_total", help: "Requests that failed: no answer, 5xx, or a stream broken off.", labelNames: LABELS, registers }),
    duration: new Histogram({
      name: "cloudtolocalllm_broker_request_duration_seconds",
      help: "Whole request duration, until the last byte of the response.",
      labelNames: LABELS,
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    ttfb: new Histogram({
      name: "cloudtolocalllm_broker_time_to_first_byte_seconds",
      help: "Time until the upstream's first response byte (first token of a stream).",
      labelNames: LABELS,
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    bytesIn: new Counter({ name: "cloudtolocalllm_broker_request_bytes_total", help: "Request body bytes sent upstream.", labelNames: LABELS, registers }),
    bytesOut: new Counter({ name: "cloudtolocalllm_broker_response_bytes_total", help: "Response body bytes relayed to clients.", labelNames: LABELS, registers }),
    tokens: new Counter({ name: "cloudtolocalllm_broker_generated_tokens_total", help: "Tokens generated (Ollama eval_count, OpenAI usage.completion_tokens).", labelNames: LABELS, registers }),
    health: new Histogram({
      name: "cloudtolocalllm_broker_health_check_duration_seconds",
      help: "Duration of successful health checks.",
      labelNames: ["upstream"],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 3],
      registers,
    }),
  };
}

export interface RequestMetricChildren {
  requests: Counter.Internal;
  errors: Counter.Internal;
  duration: Histogram.Internal<(typeof LABELS)[number]>;
  ttfb: Histogram.Internal<(typeof LABELS)[number]>;
  bytesIn: Counter.Internal;
  bytesOut: Counter.Internal;
  tokens: Counter.Internal;
}

const children = new Map<string, RequestMetricChildren>();

/** Labelled children for one upstream and source, so the hot path never hashes label sets. */
export function requestMetrics(upstream: string, source: Source): RequestMetricChildren {
  const key = source === "local" ? `l:${upstream}` : `t:${upstream}`;
  let c = children.get(key);
  if (!c) {
    const m = (metrics ??= create());
    const l = { upstream, source };
    c = {
      requests: m.requests.labels(l),
      errors: m.errors.labels(l),
      duration: m.duration.labels(l),
      ttfb: m.ttfb.labels(l),
      bytesIn: m.bytesIn.labels(l),
      bytesOut: m.bytesOut.labels(l),
      tokens: m.tokens.labels(l),
    };
    children.set(key, c);
  }
  return c;
}

export function observeHealthCheck(upstream: string, seconds: number): void {
  (metrics ??= create()).health.labels({ upstream }).observe(seconds);
}
