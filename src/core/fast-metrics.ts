// Counters, gauges and histograms without prom-client: plain numbers per label set, handed to a prom-client registry at
// scrape time.
//
// prom-client hashes the label set on every inc()/observe(), even through labels() children (3-5 % of a proxied
// request's CPU), and loading it costs an idle process 10+ MiB. These keep a child per label set, found by one string
// key, and render in prom-client's own format when a scrape loads it (src/core/metrics-registry.ts).
import type { MetricSet } from "./metrics-registry.ts";

/** Where a metric registers: the lazy MetricSet, or (in tests) a prom-client Registry. */
type Registry = MetricSet | { registerMetric(m: never): void };

export type Labels = Record<string, string>;

interface MetricValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/** What prom-client's Registry needs from a metric: name, help, type, get(), reset(). */
abstract class FastMetric<C extends { clear(): void }> {
  private readonly children = new Map<string, { labels: Labels; c: C }>();
  readonly aggregator = "sum";
  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
    private readonly labelNames: readonly string[],
    /** Called before each scrape (prom-client's `collect`): a metric read from elsewhere sets itself here. */
    private readonly collect?: (self: never) => void,
  ) {
    registry.registerMetric(this as never);
  }
  /** As prom-client's: a metric without labels reports 0 before its first update. Called by subclasses once set up. */
  protected init(): void {
    if (!this.labelNames.length) this.child();
  }
  protected abstract fresh(): C;
  /** The child for one label set (values taken in labelNames order); cached, so keep it on a hot path. */
  child(labels: Labels = {}): C {
    // No label, or one (the common cases): no key to build.
    const names = this.labelNames;
    let key = names.length === 1 ? (labels[names[0]!] ?? "") : "";
    if (names.length > 1) for (const n of names) key += (labels[n] ?? "") + "\u0000";
    let e = this.children.get(key);
    if (!e) {
      const own: Labels = {};
      for (const n of this.labelNames) if (labels[n] !== undefined) own[n] = labels[n]!;
      this.children.set(key, (e = { labels: own, c: this.fresh() }));
    }
    return e.c;
  }
  private byValues: Map<string, Map<string, Map<string, C>>> | null = null;
  /**
   * child() for a metric of three labels, by their values in labelNames order, through nested maps: no label object
   * and no key string per call (the gateway's usage series are counted per request).
   */
  child3(a: string, b: string, c: string): C {
    const byA = (this.byValues ??= new Map());
    let byB = byA.get(a);
    if (!byB) byA.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (!byC) byB.set(b, (byC = new Map()));
    let child = byC.get(c);
    if (!child) {
      const names = this.labelNames;
      byC.set(c, (child = this.child({ [names[0]!]: a, [names[1]!]: b, [names[2]!]: c })));
    }
    return child;
  }
  /** Zeroes in place: the hot path keeps references to the children. */
  reset(): void {
    for (const e of this.children.values()) e.c.clear();
  }
  protected entries(): Iterable<{ labels: Labels; c: C }> {
    return this.children.values();
  }
  protected abstract values(): MetricValue[];
  async get() {
    this.collect?.(this as never);
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
  /** For a counter read from elsewhere at scrape time (its `collect`). */
  set(n: number): void {
    this.value = n;
  }
}

export class FastCounter extends FastMetric<CounterChild> {
  constructor(o: { registry: Registry; name: string; help: string; labelNames?: readonly string[]; collect?: (self: FastCounter) => void }) {
    super(o.registry, o.name, o.help, "counter", o.labelNames ?? [], o.collect);
    this.init();
  }
  protected fresh() {
    return new CounterChild();
  }
  /** prom-client's shape: inc(), inc(n), inc(labels), inc(labels, n). */
  inc(a?: Labels | number, n = 1): void {
    if (typeof a === "number") this.child().inc(a);
    else this.child(a).inc(n);
  }
  protected values(): MetricValue[] {
    return [...this.entries()].map((e) => ({ labels: e.labels, value: e.c.value }));
  }
}

export class GaugeChild {
  value = 0;
  clear(): void {
    this.value = 0;
  }
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

export class FastGauge extends FastMetric<GaugeChild> {
  constructor(o: { registry: Registry; name: string; help: string; labelNames?: readonly string[]; collect?: (self: FastGauge) => void }) {
    super(o.registry, o.name, o.help, "gauge", o.labelNames ?? [], o.collect);
    this.init();
  }
  protected fresh() {
    return new GaugeChild();
  }
  /** prom-client's shape: set(v) or set(labels, v). */
  set(a: Labels | number, v?: number): void {
    if (typeof a === "number") this.child().set(a);
    else this.child(a).set(v!);
  }
  inc(a?: Labels | number, n = 1): void {
    if (typeof a === "number") this.child().inc(a);
    else this.child(a).inc(n);
  }
  dec(a?: Labels | number, n = 1): void {
    if (typeof a === "number") this.child().dec(a);
    else this.child(a).dec(n);
  }
  protected values(): MetricValue[] {
    return [...this.entries()].map((e) => ({ labels: e.labels, value: e.c.value }));
  }
}

export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
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

export class FastHistogram extends FastMetric<HistogramChild> {
  private readonly bounds: readonly number[];
  constructor(o: { registry: Registry; name: string; help: string; buckets: readonly number[]; labelNames?: readonly string[] }) {
    super(o.registry, o.name, o.help, "histogram", o.labelNames ?? []);
    this.bounds = o.buckets;
    this.init();
  }
  protected fresh() {
    return new HistogramChild(this.bounds);
  }
  /** prom-client's shape: observe(v) or observe(labels, v). */
  observe(a: Labels | number, v?: number): void {
    if (typeof a === "number") this.child().observe(a);
    else this.child(a).observe(v!);
  }
  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const { labels, c } of this.entries()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += c.counts[i]!;
        out.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: acc });
      });
      out.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", ...labels }, value: c.count });
      out.push({ metricName: `${this.name}_sum`, labels, value: c.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: c.count });
    }
    return out;
  }
}
