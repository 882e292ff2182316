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

test("prefill after a reconnect fills the gap the page was away with the daemon's samples, not a line across it", () => {
  const h = new History();
  const t0 = 50_000_000;
  for (let s = 0; s <= 60; s++) h.add("a", t0 + s * 1000, m(5)); // live ticks, then the feed is cut for four minutes
  for (let s = 300; s <= 310; s++) h.add("a", t0 + s * 1000, m(7));
  const daemon = Array.from({ length: 63 }, (_, k) => pointOf(t0 + k * 5000, m(1))); // its samples, every 5 s
  h.prefill("a", daemon);
  const ts = h.get("a").map((p) => p.t);
  expect(ts).toEqual([...ts].sort((a, b) => a - b));
  // The samples 65 s … 295 s fill the gap; those beside a live tick add nothing.
  expect(h.get("a").filter((p) => p.p50 === 1).map((p) => (p.t - t0) / 1000)).toEqual(Array.from({ length: 47 }, (_, k) => 65 + k * 5));
  expect(h.get("a").length).toBe(61 + 11 + 47);
});
