// The broker's Prometheus metrics in the shared registry, updated on the hot path without hashing label sets.
//
// prom-client hashes the label set on every inc()/observe(), even through labels() children. These metrics keep plain
// numbers per (upstream, source) child instead and hand them to the registry in prom-client's own format at scrape time.
import { Counter, Gauge } from "prom-client";
import { metricsRegistry } from "../core/metrics-registry.ts";

type Source = "local" | "tunnel";
type Labels = Record<string, string>;

interface MetricValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/** What prom-client's Registry needs from a metric: name, help, type, get(), reset(). */
abstract class FastMetric<C> {
  protected readonly children = new Map<string, { labels: Labels; c: C }>();
  readonly aggregator = "sum";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "histogram",
  ) {
    metricsRegistry.registerMetric(this as never);
  }
  protected abstract fresh(): C;
  child(labels: Labels): C {
    const key = Object.values(labels).join("\u0000");
    let e = this.children.get(key);
    if (!e) this.children.set(key, (e = { labels, c: this.fresh() }));
    return e.c;
  }
  /** Zeroes in place: the hot path keeps references to the children. */
  reset(): void {
    for (const e of this.children.values()) (e.c as { clear(): void }).clear();
  }
  protected abstract values(): MetricValue[];
  async get() {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }
}

export class CounterChild {
  value = 0;
  clear(): void {
    this.value = 0;
  }
  inc(n = 1): void {
    this.value += n;
  }
}

class FastCounter extends FastMetric<CounterChild> {
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  protected fresh() {
    return new CounterChild();
  }
  protected values(): MetricValue[] {
    return [...this.children.values()].map((e) => ({ labels: e.labels, value: e.c.value }));
  }
}

export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++)
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
  }
}

class FastHistogram extends FastMetric<HistogramChild> {
  constructor(
    name: string,
    help: string,
    private readonly bounds: number[],
  ) {
    super(name, help, "histogram");
  }
  protected fresh() {
    return new HistogramChild(this.bounds);
  }
  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const { labels, c } of this.children.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += c.counts[i]!;
        out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: acc });
      });
      out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: "+Inf" }, value: c.count });
      out.push({ metricName: `${this.name}_sum`, labels, value: c.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: c.count });
    }
    return out;
  }
}

// Created once per process: the registry refuses a second metric with the same name.
let metrics: ReturnType<typeof create> | null = null;

function create() {
  return {
    requests: new FastCounter("cloudtolocalllm_broker_requests_total", "Requests relayed to an upstream (each attempt of a failover counts)."),
    errors: new FastCounter("cloudtolocalllm_broker_errors_total", "Requests that failed: no answer, 5xx, or a stream broken off."),
    duration: new FastHistogram("cloudtolocalllm_broker_request_duration_seconds", "Whole request duration, until the last byte of the response.", [
      0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
    ]),
    ttfb: new FastHistogram("cloudtolocalllm_broker_time_to_first_byte_seconds", "Time until the upstream's first response byte (first token of a stream).", [
      0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
    ]),
    bytesIn: new FastCounter("cloudtolocalllm_broker_request_bytes_total", "Request body bytes sent upstream."),
    bytesOut: new FastCounter("cloudtolocalllm_broker_response_bytes_total", "Response body bytes relayed to clients."),
    tokens: new FastCounter("cloudtolocalllm_broker_generated_tokens_total", "Tokens generated (Ollama eval_count, OpenAI usage.completion_tokens)."),
    health: new FastHistogram("cloudtolocalllm_broker_health_check_duration_seconds", "Duration of successful health checks.", [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 3]),
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

new Gauge({
  name: "c2l_queue_length",
  help: "Requests waiting for a free upstream slot ([[upstreams]] max_parallel) or key slot.",
  registers: [metricsRegistry],
  collect() {
    this.set(sum((g) => g.length));
  },
});
new Counter({
  name: "c2l_queue_requests_total",
  help: "Requests that had to wait in the queue, since start.",
  registers: [metricsRegistry],
  collect() {
    this.reset();
    this.inc(sum((g) => g.stats.queued));
  },
});
new Counter({
  name: "c2l_queue_wait_seconds_total",
  help: "Time requests spent waiting in the queue, summed, since start.",
  registers: [metricsRegistry],
  collect() {
    this.reset();
    this.inc(sum((g) => g.stats.waitedMs) / 1000);
  },
});
new Counter({
  name: "c2l_queue_refused_total",
  help: "Requests refused by the queue since start, by reason (full: 429, timeout: 503).",
  labelNames: ["reason"],
  registers: [metricsRegistry],
  collect() {
    this.reset();
    this.inc({ reason: "full" }, sum((g) => g.stats.refusedFull));
    this.inc({ reason: "timeout" }, sum((g) => g.stats.timedOut));
  },
});
