// The daemon's Prometheus registry, without prom-client until a scrape: the broker and the tunnel register their metrics
// here at start-up, and GET /metrics loads prom-client only to render them (an idle process never loads it: 10+ MiB).

/** What prom-client's Registry needs from a metric to render it (prom-client's own metrics have it too). */
export interface ScrapeMetric {
  /** Optional in the type only: prom-client's declarations leave it out, its objects have it. */
  readonly name?: string;
  get(): unknown;
  reset(): void;
}

/** prom-client's text format, as its Registry reports it. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A list of metrics that renders through a prom-client Registry made at scrape time. */
export class MetricSet {
  private readonly list = new Map<string, ScrapeMetric>();
  readonly contentType = PROMETHEUS_CONTENT_TYPE;

  /** As prom-client's: a second metric of the same name is refused. */
  registerMetric(m: ScrapeMetric): void {
    const name = m.name!;
    if (this.list.has(name) && this.list.get(name) !== m) throw new Error(`A metric with the name ${name} has already been registered.`);
    this.list.set(name, m);
  }
  getSingleMetric(name: string): ScrapeMetric | undefined {
    return this.list.get(name);
  }
  removeSingleMetric(name: string): void {
    this.list.delete(name);
  }
  resetMetrics(): void {
    for (const m of this.list.values()) m.reset();
  }
  /** The Prometheus text of every metric, in registration order. */
  async metrics(): Promise<string> {
    const { Registry } = await import("prom-client");
    const r = new Registry();
    for (const m of this.list.values()) r.registerMetric(m as never);
    return r.metrics();
  }
}

export const metricsRegistry = new MetricSet();
