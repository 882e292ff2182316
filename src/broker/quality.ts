// Quality of one upstream: a pure function of its state, metrics and the [quality] thresholds (the overall verdict is src/core/verdict.ts).
import type { Quality, UpstreamMetrics, UpstreamState } from "../core/contracts.ts";
import type { Config } from "../config/schema.ts";

export type QualityThresholds = Config["quality"];

export const DEFAULT_THRESHOLDS: QualityThresholds = {
  critical_error_rate: 0.1,
  good_error_rate: 0.05,
  poor_latency_ms: 5000,
  good_latency_ms: 1000,
  min_requests: 5,
};

/**
 * The latency that quality judges: the p95 time to first byte of real traffic in the window (a whole generation's
 * duration says more about the answer's length than about the upstream), else the p95 of the health checks.
 */
export function qualityLatency(m: Pick<UpstreamMetrics, "ttfbMs" | "healthLatencyMs" | "requests">): number | null {
  if (m.requests > 0 && m.ttfbMs.p95 !== null) return m.ttfbMs.p95;
  return m.healthLatencyMs.p95;
}

/**
 * The 1.x rules: down or error rate > 10% → critical; latency > 5 s → poor; > 1 s or error rate > 5% → good.
 * An upstream that has never answered (state unknown) is critical: nothing shows it serves, and "excellent" for
 * an Ollama that is not running is what users were told before the first check.
 * The error rate counts once the window holds `min_requests` requests (as [alerts] error_rate_min_requests does for
 * alerts): one failure of one request is not a verdict. A degraded upstream (its last check failed, or half of it did)
 * is "poor" at best: it may be going down, and "excellent" beside "connection refused" is not the truth.
 */
export function quality(state: UpstreamState, errorRate: number, latencyMs: number | null, t: QualityThresholds = DEFAULT_THRESHOLDS, requests = Infinity): Quality {
  if (state === "down") return "down";
  if (state === "unknown") return "critical";
  const judged = requests >= t.min_requests ? errorRate : 0;
  if (judged > t.critical_error_rate) return "critical";
  if (state === "degraded") return "poor";
  if (latencyMs !== null && latencyMs > t.poor_latency_ms) return "poor";
  if ((latencyMs !== null && latencyMs > t.good_latency_ms) || judged > t.good_error_rate) return "good";
  return "excellent";
}
