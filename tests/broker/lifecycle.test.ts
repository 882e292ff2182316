// Health states and their events, quality events, request records, and hot reloads that never drop a request.
import { afterEach, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { readAll, startBroker, upstreamToml, type TestBroker } from "./harness.ts";
import type { RequestRecord } from "../../src/core/contracts.ts";
import { requireTools } from "../helpers/requires.ts";

let tb: TestBroker | null = null;
const fakes: FakeOllama[] = [];
async function fake(opts: Parameters<typeof startFakeOllama>[0] = {}) {
  const f = await startFakeOllama(opts);
  fakes.push(f);
  return f;
}
afterEach(async () => {
  await tb?.stop();
  tb = null;
  for (const f of fakes.splice(0)) await f.stop();
});

test("health: failures → degraded, then down after N; recovery → up; each change an upstream.state event", async () => {
  const f = await fake();
  tb = await startBroker(`[health]\ninterval = "60s"\ndown_interval = "60s"\ntimeout = "500ms"\nfailures_before_down = 2\n` + upstreamToml("u", f.url));
  await tb.waitState("u", "up");
  expect(tb.broker.upstream("u")!.version).toBe("0.14.0");
  expect(tb.broker.upstream("u")!.models).toEqual(["llama3.2:1b"]);
  f.setHealthy(false);
  expect((await tb.broker.check("u")).state).toBe("degraded");
  const down = await tb.broker.check("u");
  expect(down.state).toBe("down");
  expect(down.quality).toBe("down");
  expect(down.lastError).toContain("503");
  f.setHealthy(true);
  expect((await tb.broker.check("u")).state).toBe("up");
  const states = tb.seen.filter((e) => e.type === "upstream.state").map((e) => (e.data as { to: string }).to);
  expect(states).toEqual(["up", "degraded", "down", "up"]);
  const qualities = tb.seen.filter((e) => e.type === "upstream.quality").map((e) => (e.data as { to: string }).to);
  // Unchecked, it was critical (never answered), not excellent; degraded (a failed check) is poor at best.
  expect(qualities).toEqual(["excellent", "poor", "down", "excellent"]);
  expect(tb.broker.overallQuality()).toBe("excellent");
});

test("an openai-kind upstream is checked on /v1/models; a stopped one goes down", async () => {
  const f = await fake({ kind: "openai", models: ["gpt-local"] });
  tb = await startBroker(`[health]\ninterval = "60s"\nfailures_before_down = 1\n` + upstreamToml("lm", f.url, `kind = "openai"`));
  await tb.waitState("lm", "up");
  expect(tb.broker.upstream("lm")!.models).toEqual(["gpt-local"]);
  expect(f.requests.map((r) => r.path)).toContain("/v1/models");
  const tags = (await (await fetch(`${tb.url}/api/tags`)).json()) as { models: { name: string }[] };
  expect(tags.models.map((m) => m.name)).toEqual(["gpt-local"]);
  await f.stop();
  const s = await tb.broker.check("lm");
  expect(s.state).toBe("down");
  expect(s.lastError).toBe("connection refused");
});

test("error rate over the window turns quality critical (upstream.quality event)", async () => {
  const f = await fake();
  tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("u", f.url), {}, "max_attempts = 1");
  await tb.waitState("u", "up");
  f.options.failWith503 = true;
  // [quality] min_requests (5): fewer requests than that do not judge by their error rate.
  for (let i = 0; i < 5; i++) await (await fetch(`${tb.url}/api/embed`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", input: "x" }) })).arrayBuffer();
  const end = Date.now() + 3000;
  while (tb.broker.upstream("u")!.quality !== "critical" && Date.now() < end) await Bun.sleep(50);
  expect(tb.broker.upstream("u")!.quality).toBe("critical");
  expect(tb.broker.upstream("u")!.metrics.errorRate).toBe(1);
  expect(tb.seen.some((e) => e.type === "upstream.quality" && (e.data as { to: string }).to === "critical")).toBe(true);
});

test("request.completed carries the record; bodies only when capture_bodies is on, capped", async () => {
  const f = await fake({ tokens: 3 });
  tb = await startBroker(`[dashboard]\ncapture_bodies = true\nbody_cap = 16\n[health]\ninterval = "60s"\n` + upstreamToml("u", f.url));
  await tb.waitState("u", "up");
  const r = await fetch(`${tb.url}/api/generate?x=1`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hello" }) });
  await readAll(r);
  await Bun.sleep(20);
  const rec = tb.seen.filter((e) => e.type === "request.completed").at(-1)!.data as RequestRecord;
  expect(rec).toMatchObject({ source: "local", method: "POST", path: "/api/generate", model: "llama3.2:1b", upstream: "u", status: 200, error: null });
  expect(rec.ttfbMs).toBeGreaterThan(0);
  expect(rec.bytesOut).toBeGreaterThan(100);
  expect(rec.tokensPerSec).toBe(1000); // 3 tokens, eval_duration 3 ms
  expect(rec.requestBody).toBe('{"model":"llama3');
  expect(rec.responseBody).toBe('{"model":"llama3');
  // Off: no bodies.
  const next = structuredClone(tb.config);
  next.dashboard.capture_bodies = false;
  await tb.broker.apply(next, tb.config);
  await readAll(await fetch(`${tb.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hello" }) }));
  await Bun.sleep(20);
  const rec2 = tb.seen.filter((e) => e.type === "request.completed").at(-1)!.data as RequestRecord;
  expect(rec2.requestBody).toBeUndefined();
  expect(rec2.responseBody).toBeUndefined();
});

test("reload: unchanged upstreams are kept, a changed one is rebuilt, in-flight streams finish, a new listen address rebinds", async () => {
  const a = await fake({ tokens: 30, tokenDelayMs: 10 });
  const b = await fake();
  tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("a", a.url) + upstreamToml("b", b.url, "priority = 200"));
  await tb.waitState("a", "up");
  await tb.waitState("b", "up");
  const oldUrl = tb.url;
  const inflight = fetch(`${oldUrl}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [] }) }).then(readAll);
  await Bun.sleep(50);
  const checksB = b.requests.length;
  const next = structuredClone(tb.config);
  next.upstreams[0]!.priority = 7; // a changes
  next.proxy.listen = "127.0.0.1:0"; // same text: no rebind
  await tb.broker.apply(next, tb.config);
  await tb.listener.apply(next.proxy);
  expect(tb.listener.url).toBe(oldUrl);
  // b kept: no new health check; a rebuilt: checked again.
  await tb.waitState("a", "up");
  expect(b.requests.length).toBe(checksB);
  expect(tb.broker.upstream("a")!.priority).toBe(7);
  const { text, error } = await inflight;
  expect(error).toBeNull();
  expect(text.trim().split("\n").at(-1)).toContain('"done":true');
  // A new address: the listener moves.
  const moved = structuredClone(next);
  moved.proxy.listen = "127.0.0.2:0";
  await tb.listener.apply(moved.proxy);
  expect(tb.listener.url).toStartWith("http://127.0.0.2:");
  expect((await fetch(`${tb.listener.url}/api/version`)).status).toBe(200);
  // An address that cannot be bound: a clear error, and the running listener stays.
  const blocker = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  try {
    const busy = structuredClone(moved);
    busy.proxy.listen = `127.0.0.1:${blocker.port}`;
    await expect(tb.listener.apply(busy.proxy)).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ \(\[proxy\] listen\)/);
    expect((await fetch(`${tb.listener.url}/api/version`)).status).toBe(200);
  } finally {
    blocker.stop(true);
  }
  // Disabled: the endpoint goes away.
  const off = structuredClone(moved);
  off.proxy.enabled = false;
  const lastUrl = tb.listener.url!;
  await tb.listener.apply(off.proxy);
  expect(tb.listener.url).toBeNull();
  expect(await fetch(`${lastUrl}/api/version`).then(() => "answered", () => "refused")).toBe("refused");
});

test("checks run every interval while up and at the slower down_interval while down", async () => {
  const f = await fake();
  tb = await startBroker(`[health]\ninterval = "100ms"\ndown_interval = "60s"\nfailures_before_down = 1\n` + upstreamToml("u", f.url));
  await tb.waitState("u", "up");
  const versions = () => f.requests.filter((r) => r.path === "/api/version").length;
  const n0 = versions();
  await Bun.sleep(450);
  expect(versions() - n0).toBeGreaterThanOrEqual(2);
  f.setHealthy(false);
  await tb.waitState("u", "down", 3000);
  const n1 = versions();
  await Bun.sleep(450);
  expect(versions()).toBe(n1);
});

test("the tunnel's requests go through handle() with source \"tunnel\" and show in Prometheus by source", async () => {
  const f = await fake({ tokens: 2 });
  tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("prom-u", f.url));
  await tb.waitState("prom-u", "up");
  const req = new Request("http://tunnel.invalid/api/chat", { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [] }), headers: { "content-type": "application/json" } });
  const res = await tb.broker.handle(req, "tunnel");
  const { text } = await readAll(res);
  expect(text.trim().split("\n").at(-1)).toContain('"done":true');
  expect(f.requests.at(-1)!.headers.host).toBe(`127.0.0.1:${f.port}`);
  await Bun.sleep(20);
  const rec = tb.seen.filter((e) => e.type === "request.completed").at(-1)!.data as RequestRecord;
  expect(rec).toMatchObject({ source: "tunnel", upstream: "prom-u", status: 200 });
  const { metricsRegistry } = await import("../../src/core/metrics-registry.ts");
  const text2 = await metricsRegistry.metrics();
  expect(text2).toContain('cloudtolocalllm_broker_requests_total{upstream="prom-u",source="tunnel"} 1');
  expect(text2).toMatch(/cloudtolocalllm_broker_generated_tokens_total\{upstream="prom-u",source="tunnel"\} 2/);
  expect(text2).toMatch(/cloudtolocalllm_broker_time_to_first_byte_seconds_count\{upstream="prom-u",source="tunnel"\} 1/);
});

// Its own test, so that a machine without promtool still runs the one above.
requireTools(["promtool"]).test("the broker's metrics after a request are valid exposition format for Prometheus' own checker", async () => {
  const f = await fake({ tokens: 2 });
  tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("prom-v", f.url));
  await tb.waitState("prom-v", "up");
  const req = new Request("http://tunnel.invalid/api/chat", { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [] }), headers: { "content-type": "application/json" } });
  await readAll(await tb.broker.handle(req, "tunnel"));
  await Bun.sleep(20); // the request's metrics are recorded as it completes
  const { metricsRegistry } = await import("../../src/core/metrics-registry.ts");
  const ours = (await metricsRegistry.metrics()).split("\n").filter((l) => l.includes("cloudtolocalllm_broker_")).join("\n") + "\n";
  expect(ours).toContain('upstream="prom-v"');
  const promtool = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(ours), stdout: "pipe", stderr: "pipe" });
  const problems = (await new Response(promtool.stdout).text()) + (await new Response(promtool.stderr).text());
  expect(problems.trim()).toBe("");
  expect(await promtool.exited).toBe(0);
});
