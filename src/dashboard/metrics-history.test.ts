// The charts' metric history: bounded to 15 minutes, forgets removed upstreams, merges the daemon's samples with live ticks.
import { expect, test } from "bun:test";
import type { UpstreamMetrics } from "../core/contracts.ts";
import { History, WINDOW_MS, pointOf } from "./metrics-history.ts";

const m = (p50: number) => ({ latencyMs: { p50, p90: null, p95: p50 * 2, p99: null }, requestsPerSec: 1, tokensPerSec: null }) as unknown as UpstreamMetrics;

test("keeps only the last 15 minutes per upstream and forgets removed ones", () => {
  const h = new History();
  const t0 = 1_000_000;
  for (let i = 0; i <= 20 * 60; i++) h.add("a", t0 + i * 1000, m(i));
  const pts = h.get("a");
  expect(pts.length).toBe(WINDOW_MS / 1000 + 1);
  expect(pts[0]!.t).toBe(t0 + 5 * 60_000);
  expect(pts.at(-1)!.p95).toBe(2 * 20 * 60);
  h.add("b", t0, m(1));
  h.retain(new Set(["b"]));
  expect(h.get("a")).toEqual([]);
  expect(h.get("b").length).toBe(1);
});

test("prefill puts the daemon's older samples in front of live points, dropping overlaps and what is too old", () => {
  const h = new History();
  const now = 10_000_000;
  h.add("a", now, m(5));
  h.add("a", now + 1000, m(6));
  const older = [now - WINDOW_MS - 5000, now - 10_000, now - 5000, now, now + 500].map((t) => pointOf(t, m(1)));
  h.prefill("a", older);
  expect(h.get("a").map((p) => p.t)).toEqual([now - 10_000, now - 5000, now, now + 1000]);
  expect(h.get("a").map((p) => p.p50)).toEqual([1, 1, 5, 6]);
  h.prefill("new", [pointOf(now, m(2))]);
  expect(h.get("new").length).toBe(1);
});
