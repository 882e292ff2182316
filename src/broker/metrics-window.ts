// Per-upstream traffic metrics over a sliding window: a ring of time slots, each with counters and histograms.
//
// Memory is bounded by the slot count (30), whatever the traffic: no sample is kept.
import type { LatencySummary, UpstreamMetrics } from "../core/contracts.ts";
import { Histogram } from "./histogram.ts";

export const SLOTS = 30;

class Slot {
  epoch = -1;
  requests = 0;
  errors = 0;
  bytes = 0;
  tokens = 0;
  genMs = 0;
  latency = new Histogram();
  ttfb = new Histogram();
  health = new Histogram();

  reset(epoch: number): void {
    this.epoch = epoch;
    this.requests = this.errors = this.bytes = this.tokens = this.genMs = 0;
    this.latency.reset();
    this.ttfb.reset();
    this.health.reset();
  }
}

export function summarize(h: Histogram): LatencySummary {
  return { p50: h.percentile(50), p90: h.percentile(90), p95: h.percentile(95), p99: h.percentile(99) };
}

export class MetricsWindow {
  private readonly slots: Slot[] = Array.from({ length: SLOTS }, () => new Slot());
  private readonly slotMs: number;
  private readonly since: number;
  // What snapshot() merges the live slots into, reused: a snapshot runs with every health check and status read, and
  // three new histograms (and a filter callback) each time would get hot enough at idle for the optimising JIT, whose
  // compiler's pages an idle daemon then carries (docs/performance.md, Footprint).
  private readonly merged = { latency: new Histogram(), ttfb: new Histogram(), health: new Histogram() };
  totalRequests = 0;
  totalErrors = 0;

  constructor(
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.slotMs = Math.max(1, Math.ceil(windowMs / SLOTS));
    this.since = now();
  }

  /** The window that replaced this one (its upstream was rebuilt by a reload), which carries its totals on. */
  private successor: MetricsWindow | null = null;

  /**
   * The totals of the window this one replaces (its upstream was rebuilt by a reload): they count since start. The
   * requests still running on the old upstream object finish after this, and count here too (recordRequest).
   */
  carryTotals(from: MetricsWindow): void {
    this.totalRequests += from.totalRequests;
    this.totalErrors += from.totalErrors;
    from.successor = this;
  }

  private slot(): Slot {
    const epoch = Math.floor(this.now() / this.slotMs);
    const s = this.slots[epoch % SLOTS]!;
    if (s.epoch !== epoch) s.reset(epoch);
    return s;
  }

  /** One finished request. ttfbMs is null when no byte came back; tokens/genMs from the done line or usage. */
  recordRequest(latencyMs: number, ttfbMs: number | null, error: boolean, bytes: number, tokens = 0, genMs = 0): void {
    const s = this.slot();
    s.requests++;
    this.totalRequests++;
    if (error) {
      s.errors++;
      this.totalErrors++;
    }
    // A request that started before a reload rebuilt its upstream: its totals are the rebuilt one's (each successor's,
    // as each carried the one before at its rebuild). The retired window keeps the rest (it is no longer read).
    for (let w = this.successor; w !== null; w = w.successor) {
      w.totalRequests++;
      if (error) w.totalErrors++;
    }
    s.bytes += bytes;
    s.latency.record(latencyMs);
    if (ttfbMs !== null) s.ttfb.record(ttfbMs);
    if (tokens > 0 && genMs > 0) {
      s.tokens += tokens;
      s.genMs += genMs;
    }
  }

  /**
   * The upstream is back after an outage: the requests that failed while it was away leave the window (they were the
   * outage, which state and the upstream_down alert report, not the quality of what now answers). Totals keep them.
   */
  forgetErrors(): void {
    for (const s of this.slots) {
      s.requests -= s.errors;
      s.errors = 0;
    }
  }

  recordHealth(latencyMs: number): void {
    this.slot().health.record(latencyMs);
  }

  snapshot(): UpstreamMetrics {
    const { latency, ttfb, health } = this.merged;
    latency.reset();
    ttfb.reset();
    health.reset();
    let requests = 0, errors = 0, bytes = 0, tokens = 0, genMs = 0;
    const current = Math.floor(this.now() / this.slotMs);
    for (const s of this.slots) {
      // Only slots still inside the window.
      if (s.epoch <= current - SLOTS || s.epoch > current) continue;
      requests += s.requests;
      errors += s.errors;
      bytes += s.bytes;
      tokens += s.tokens;
      genMs += s.genMs;
      latency.add(s.latency);
      ttfb.add(s.ttfb);
      health.add(s.health);
    }
    // Early on the window is not full yet: divide by the time actually covered (at least a second).
    const spanSec = Math.max(1, Math.min(this.windowMs, this.now() - this.since)) / 1000;
    return {
      requests,
      errors,
      errorRate: requests ? errors / requests : 0,
      latencyMs: summarize(latency),
      ttfbMs: summarize(ttfb),
      requestsPerSec: requests / spanSec,
      bytesPerSec: bytes / spanSec,
      tokensPerSec: genMs > 0 ? tokens / (genMs / 1000) : null,
      healthLatencyMs: summarize(health),
      totalRequests: this.totalRequests,
      totalErrors: this.totalErrors,
    };
  }
}
