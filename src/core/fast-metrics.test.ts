// The hot-path metrics render exactly as prom-client's own Counter and Histogram do after the same updates.
import { expect, test } from "bun:test";
import { Counter, Histogram, Registry } from "prom-client";
import { FastCounter, FastHistogram } from "./fast-metrics.ts";

test("a FastCounter and a FastHistogram scrape byte for byte like prom-client's after the same updates", async () => {
  const theirs = new Registry();
  const ours = new Registry();
  const c1 = new Counter({ name: "x_requests_total", help: "Requests.", labelNames: ["status", "source"], registers: [theirs] });
  const c2 = new FastCounter({ registry: ours, name: "x_requests_total", help: "Requests.", labelNames: ["status", "source"] });
  const h1 = new Histogram({ name: "x_seconds", help: "Time.", buckets: [0.1, 1, 10], labelNames: ["source"], registers: [theirs] });
  const h2 = new FastHistogram({ registry: ours, name: "x_seconds", help: "Time.", buckets: [0.1, 1, 10], labelNames: ["source"] });
  const u1 = new Counter({ name: "x_plain_total", help: "Plain.", registers: [theirs] });
  const u2 = new FastCounter({ registry: ours, name: "x_plain_total", help: "Plain." });
  for (const [status, source, n] of [["200", "local", 1], ["200", "local", 2], ["502", "tunnel", 1], ["200", "tunnel", 5]] as const) {
    c1.inc({ status, source }, n);
    c2.inc({ source, status }, n); // label order in the call does not matter
  }
  for (const [source, v] of [["local", 0.05], ["local", 3], ["tunnel", 0.5], ["local", 100]] as const) {
    h1.observe({ source }, v);
    h2.observe({ source }, v);
  }
  u1.inc();
  u1.inc(4);
  u2.inc();
  u2.inc(4);
  expect(await ours.metrics()).toBe(await theirs.metrics());
  expect(await ours.metrics()).toContain('x_requests_total{status="200",source="local"} 3');
  // reset() zeroes in place (children stay valid for the hot path that holds them).
  const child = c2.child({ status: "200", source: "local" });
  ours.resetMetrics();
  child.inc(7);
  expect(await ours.metrics()).toContain('x_requests_total{status="200",source="local"} 7');
});
