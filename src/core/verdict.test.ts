// Unit tests for the one health verdict: headline quality, the worst problem, its reason and fix.
import { describe, expect, test } from "bun:test";
import type { UpstreamStatus } from "./contracts.ts";
import { fixFor, reasonLabel, serving, verdict } from "./verdict.ts";

const NO_LATENCY = { p50: null, p90: null, p95: null, p99: null };
const up = (name: string, over: Partial<UpstreamStatus> = {}): UpstreamStatus => ({
  name,
  kind: "ollama",
  url: `http://127.0.0.1:1/${name}`,
  enabled: true,
  priority: 100,
  state: "up",
  quality: "excellent",
  version: "0.6.0",
  models: [],
  lastCheck: null,
  lastError: null,
  metrics: { requests: 0, errors: 0, errorRate: 0, latencyMs: NO_LATENCY, ttfbMs: NO_LATENCY, requestsPerSec: 0, bytesPerSec: 0, tokensPerSec: null, healthLatencyMs: NO_LATENCY, totalRequests: 0, totalErrors: 0 },
  ...over,
});
const REFUSED = "is Ollama running? `systemctl --user start ollama` or `ollama serve`";

describe("verdict", () => {
  test("all up and excellent: ok, no reason", () => {
    expect(verdict([up("local")])).toEqual({ quality: "excellent", level: "ok", upstream: null, reason: null, fix: null, text: "quality excellent" });
  });

  test("a degraded Ollama (connection refused) is never excellent and names the reason and the fix", () => {
    const v = verdict([up("local", { state: "degraded", quality: "poor", lastError: "connection refused" })]);
    expect(v.quality).toBe("poor");
    expect(v.level).toBe("warning");
    expect(v.reason).toBe("connection refused");
    expect(v.fix).toBe(REFUSED);
    expect(v.text).toBe(`local is degraded: connection refused — ${REFUSED}`);
  });

  test("the only upstream down: critical with the reason", () => {
    const v = verdict([up("local", { state: "down", quality: "down", lastError: "connection refused" })]);
    expect(v).toMatchObject({ quality: "critical", level: "critical", upstream: "local", reason: "connection refused", fix: REFUSED });
  });

  test("one of two down: requests fail over, but the headline is good at best and names the down one", () => {
    const v = verdict([up("local"), up("spare", { state: "down", quality: "down", lastError: "timed out", kind: "openai", url: "http://spare:8000" })]);
    expect(v.quality).toBe("good");
    expect(v.level).toBe("warning");
    expect(v.upstream).toBe("spare");
    // The fix names the upstream, never its URL (error bodies carry it to callers, the tunnel's included).
    expect(v.fix).toBe('upstream "spare" did not answer in time: is it overloaded, or behind a firewall?');
    expect(v.text).not.toContain("spare:8000");
  });

  test("down is worse than degraded, degraded worse than a poor quality", () => {
    const v = verdict([up("a", { quality: "poor" }), up("b", { state: "degraded", quality: "poor", lastError: "x" }), up("c", { state: "down", quality: "down", lastError: "y" })]);
    expect(v.upstream).toBe("c");
    expect(verdict([up("a", { quality: "poor" }), up("b", { state: "degraded", quality: "poor", lastError: "x" })]).upstream).toBe("b");
  });

  test("a low quality on an up upstream says why from its figures", () => {
    const u = up("local", { quality: "critical" });
    u.metrics = { ...u.metrics, requests: 10, errors: 4, errorRate: 0.4 };
    const v = verdict([u]);
    expect(v.level).toBe("critical");
    expect(v.text).toContain("local quality critical: 4 of 10 requests failed");
  });

  test("as a metric label a low quality's reason has no figures (they change per request: a new series each scrape); a down upstream's is its reason", () => {
    const u = up("local", { quality: "critical" });
    u.metrics = { ...u.metrics, requests: 10, errors: 4, errorRate: 0.4 };
    expect(reasonLabel(verdict([u]), [u])).toBe("slow or failing requests");
    const slow = up("local", { quality: "poor" });
    expect(reasonLabel(verdict([slow]), [slow])).toBe("slow time to first byte");
    const down = up("local", { state: "down", quality: "down", lastError: "connection refused" });
    expect(reasonLabel(verdict([down]), [down])).toBe("connection refused");
    expect(reasonLabel(verdict([up("local")]), [up("local")])).toBe("");
  });

  test("before the first checks: checking; without a broker: down; nothing enabled: critical", () => {
    expect(verdict([up("local", { state: "unknown", quality: "critical" })]).level).toBe("checking");
    expect(verdict([up("local")], false)).toMatchObject({ quality: "down", level: "critical" });
    expect(verdict([up("local", { enabled: false })])).toMatchObject({ quality: "critical", level: "critical", reason: "no upstream is enabled" });
  });

  test("fixes by kind and reason; none for an unknown reason", () => {
    expect(fixFor(up("l", { lastError: "connection refused" }))).toBe(REFUSED);
    expect(fixFor(up("l", { kind: "openai", lastError: "connection refused" }))).toBe('is the server of upstream "l" running, at the url the config gives?');
    expect(fixFor(up("l", { lastError: "/api/version answered 401" }))).toContain("auth_secret");
    expect(fixFor(up("l", { lastError: "/api/version answered 503" }))).toBe('upstream "l" answers, but with server errors: see its own log');
    expect(fixFor(up("l", { lastError: "something odd" }))).toBeNull();
    expect(fixFor(up("l"))).toBeNull();
  });

  test("figures are current only for a serving upstream", () => {
    expect(serving(up("l"))).toBe(true);
    expect(serving(up("l", { state: "degraded" }))).toBe(true);
    expect(serving(up("l", { state: "down" }))).toBe(false);
    expect(serving(up("l", { enabled: false }))).toBe(false);
  });
});
