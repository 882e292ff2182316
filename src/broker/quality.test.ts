// Unit tests for the quality verdict (excellent/good/poor/critical/down) from the 1.x thresholds, per upstream and overall.
import { describe, expect, test } from "bun:test";
import { DEFAULT_THRESHOLDS, quality, qualityLatency } from "./quality.ts";

describe("quality (1.x thresholds)", () => {
  const cases: [string, Parameters<typeof quality>[0], number, number | null, string][] = [
    ["down wins over everything", "down", 0, 10, "down"],
    ["error rate above 10% → critical", "up", 0.11, 10, "critical"],
    ["error rate exactly 10% is not critical", "up", 0.1, 10, "good"],
    ["critical beats slow", "up", 0.5, 9000, "critical"],
    ["latency above 5000 ms → poor", "up", 0, 5001, "poor"],
    ["latency exactly 5000 ms → good", "up", 0, 5000, "good"],
    ["latency above 1000 ms → good", "up", 0, 1001, "good"],
    ["latency exactly 1000 ms → excellent", "up", 0, 1000, "excellent"],
    ["error rate above 5% → good", "up", 0.051, 10, "good"],
    ["error rate exactly 5% → excellent", "up", 0.05, 10, "excellent"],
    ["no latency known yet → judged on errors only", "up", 0, null, "excellent"],
    ["never answered (unknown) is critical, not excellent", "unknown", 0, null, "critical"],
    ["never answered stays critical whatever the (empty) metrics say", "unknown", 0, 10, "critical"],
    ["degraded is poor at best (its last check failed): never excellent beside connection refused", "degraded", 0, 20, "poor"],
    ["degraded with many failures is critical", "degraded", 0.5, 20, "critical"],
  ];
  for (const [name, state, err, lat, want] of cases) test(name, () => expect(quality(state, err, lat, DEFAULT_THRESHOLDS)).toBe(want as never));

  test("thresholds come from config", () => {
    const t = { critical_error_rate: 0.5, good_error_rate: 0.2, poor_latency_ms: 200, good_latency_ms: 100, min_requests: 1 };
    expect(quality("up", 0.3, 50, t)).toBe("good");
    expect(quality("up", 0.3, 150, t)).toBe("good");
    expect(quality("up", 0.1, 250, t)).toBe("poor");
    expect(quality("up", 0.6, 50, t)).toBe("critical");
    expect(quality("up", 0.1, 100, t)).toBe("excellent");
  });

  test("the error rate judges quality only from min_requests requests on (1 failure of 1 is not critical)", () => {
    expect(quality("up", 1, 10, DEFAULT_THRESHOLDS, 1)).toBe("excellent");
    expect(quality("up", 1, 10, DEFAULT_THRESHOLDS, 4)).toBe("excellent");
    expect(quality("up", 1, 10, DEFAULT_THRESHOLDS, 5)).toBe("critical");
    expect(quality("up", 0.5, 10, { ...DEFAULT_THRESHOLDS, min_requests: 1 }, 1)).toBe("critical");
  });

  test("the judged latency is the traffic's p95 time to first byte, else the health checks' p95", () => {
    const s = (p95: number | null) => ({ p50: null, p90: null, p95, p99: null });
    expect(qualityLatency({ requests: 3, ttfbMs: s(40), healthLatencyMs: s(2) })).toBe(40);
    expect(qualityLatency({ requests: 0, ttfbMs: s(null), healthLatencyMs: s(2) })).toBe(2);
    expect(qualityLatency({ requests: 2, ttfbMs: s(null), healthLatencyMs: s(7) })).toBe(7);
  });
});
