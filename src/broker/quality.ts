// Quality of an upstream and of the whole broker: pure functions of state, metrics and the [quality] thresholds.
import type { Quality, UpstreamMetrics, UpstreamState } from "../core/contracts.ts";
import type { Config } from "../config/schema.ts";

export type QualityThresholds = Config["quality"];

export const DEFAULT_THRESHOLDS: QualityThresholds = {
  critical_error_rate: 0.1,
  good_error_rate: 0.05,
  poor_latency_ms: 5000,
  good_latency_ms: 1000,
};

const RANK: Record<Quality, number> = { excellent: 4, good: 3, poor: 2, critical: 1, down: 0 };

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
 */
export function quality(state: UpstreamState, errorRate: number, latencyMs: number | null, t: QualityThresholds = DEFAULT_THRESHOLDS): Quality {
  if (state === "down") return "down";
  if (state === "unknown") return "critical";
  if (errorRate > t.critical_error_rate) return "critical";
  if (latencyMs !== null && latencyMs > t.poor_latency_ms) return "poor";
  if ((latencyMs !== null && latencyMs > t.good_latency_ms) || errorRate > t.good_error_rate) return "good";
  return "excellent";
}

/**
 * What the user gets from the broker as a whole: the best quality among enabled upstreams (requests fail over to it),
 * "critical" when none serves (every one down or never answered, or none enabled): no request can succeed.
 * "down" is never the overall verdict of a running broker; the API reports it only when the broker is not running.
 */
export function overallQuality(qualities: Quality[]): Quality {
  let best: Quality = "critical";
  for (const q of qualities) if (RANK[q] > RANK[best]) best = q;
  return best;
}
