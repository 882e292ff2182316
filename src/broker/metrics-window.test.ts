// Unit tests for the broker's latency histogram and rolling metrics window.
import { describe, expect, test } from "bun:test";
import { BUCKETS, bucketLowerBound, bucketOf, Histogram } from "./histogram.ts";
import { MetricsWindow } from "./metrics-window.ts";

describe("log-linear histogram", () => {
  test("bucket bounds: 16 sub-buckets per power of two", () => {
    expect(bucketLowerBound(bucketOf(1))).toBe(1);
    expect(bucketLowerBound(bucketOf(1.05))).toBe(1);
    expect(bucketLowerBound(bucketOf(1.0625))).toBe(1.0625);
    expect(bucketLowerBound(bucketOf(50))).toBe(50);
    expect(bucketLowerBound(bucketOf(99))).toBe(96);
    expect(bucketLowerBound(bucketOf(1000))).toBe(992);
    expect(bucketLowerBound(bucketOf(4096))).toBe(4096);
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(-3)).toBe(0);
    expect(bucketOf(Number.NaN)).toBe(0);
    expect(bucketOf(1e12)).toBe(BUCKETS - 1);
    // Every bucket's lower bound maps back to itself.
    for (let i = 1; i < BUCKETS; i++) expect(bucketOf(bucketLowerBound(i))).toBe(i);
  });

  test("nearest-rank percentiles of 1..100 ms, exactly", () => {
    const h = new Histogram();
    for (let v = 1; v <= 100; v++) h.record(v);
    expect(h.percentile(50)).toBe(50);
    expect(h.percentile(90)).toBe(88); // 90 falls in [88, 90)
    expect(h.percentile(95)).toBe(92); // 95 falls in [92, 96)
    expect(h.percentile(99)).toBe(96); // 99 falls in [96, 100)
    expect(h.percentile(100)).toBe(100);
    expect(h.percentile(0)).toBe(1);
  });

  test("results are clamped to the values seen; empty is null", () => {
    const h = new Histogram();
    expect(h.percentile(50)).toBeNull();
    h.record(7.3);
    expect(h.percentile(50)).toBe(7.3);
    expect(h.percentile(99)).toBe(7.3);
  });

  test("merging and percentiles over the buckets in use answer as a walk over all of them (NaN, negatives, huge values, after a reset)", () => {
    const full = (h: Histogram, p: number) => {
      if (h.count === 0) return null;
      const rank = Math.max(1, Math.ceil((p / 100) * h.count));
      let seen = 0;
      for (let i = 0; i < BUCKETS; i++) {
        seen += h.counts[i]!;
        if (seen >= rank) return Math.min(h.max, Math.max(h.min, bucketLowerBound(i)));
      }
      return h.max;
    };
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const specials = [NaN, -3, 0, 1e12, 0.01, 2 ** 22, 4096];
    for (let round = 0; round < 40; round++) {
      const parts = [new Histogram(), new Histogram(), new Histogram()];
      for (const h of parts) {
        const n = Math.floor(rand() * 6);
        for (let i = 0; i < n; i++) h.record(rand() < 0.15 ? specials[Math.floor(rand() * specials.length)]! : rand() * 10 ** (rand() * 5));
        if (rand() < 0.2) h.reset();
      }
      const merged = new Histogram();
      merged.record(5);
      merged.reset();
      for (const h of parts) merged.add(h);
      // A reset histogram holds nothing of what it held before.
      let total = 0;
      for (let i = 0; i < BUCKETS; i++) total += merged.counts[i]!;
      expect(total).toBe(merged.count);
      for (const h of [...parts, merged]) for (const p of [1, 50, 90, 99, 100]) expect(h.percentile(p)).toBe(full(h, p));
    }
  });

  test("memory is fixed whatever the number of samples", () => {
    const h = new Histogram();
    for (let i = 0; i < 200_000; i++) h.record(i % 5000);
    expect(h.counts.length).toBe(BUCKETS);
    expect(h.count).toBe(200_000);
  });
});

describe("sliding window", () => {
  test("counts, error rate, rates, percentiles and tokens/s over the window", () => {
    let now = 1_000_000;
    const w = new MetricsWindow(30_000, () => now);
    for (let i = 1; i <= 100; i++) w.recordRequest(i, i / 2, i % 10 === 0, 1000, 0, 0);
    w.recordRequest(200, 20, false, 0, 50, 1000); // 50 tokens in 1 s
    w.recordRequest(200, 20, false, 0, 150, 1000); // 150 tokens in 1 s
    w.recordHealth(3);
    now += 10_000;
    const m = w.snapshot();
    expect(m.requests).toBe(102);
    expect(m.errors).toBe(10);
    expect(m.errorRate).toBeCloseTo(10 / 102, 12);
    expect(m.latencyMs.p50).toBe(50);
    expect(m.latencyMs.p99).toBe(200); // rank 101 of 102: 200 ms, in [200, 208)
    expect(m.ttfbMs.p50).toBe(24); // rank 51 of 102 is 24.5 ms, in [24, 25)
    expect(m.requestsPerSec).toBeCloseTo(102 / 10, 12);
    expect(m.bytesPerSec).toBeCloseTo(100_000 / 10, 12);
    expect(m.tokensPerSec).toBe(100);
    expect(m.healthLatencyMs.p50).toBe(3);
    expect(m.totalRequests).toBe(102);
  });

  test("old slots fall out of the window; totals stay", () => {
    let now = 5_000_000;
    const w = new MetricsWindow(30_000, () => now);
    w.recordRequest(10, 1, true, 0);
    now += 15_000;
    w.recordRequest(20, 2, false, 0);
    expect(w.snapshot().requests).toBe(2);
    now += 20_000; // the first one is now 35 s old
    const m = w.snapshot();
    expect(m.requests).toBe(1);
    expect(m.errors).toBe(0);
    expect(m.latencyMs.p50).toBe(20);
    expect(m.totalRequests).toBe(2);
    expect(m.totalErrors).toBe(1);
    now += 60_000;
    const empty = w.snapshot();
    expect(empty.requests).toBe(0);
    expect(empty.latencyMs.p50).toBeNull();
    expect(empty.tokensPerSec).toBeNull();
    expect(empty.requestsPerSec).toBe(0);
  });
});
