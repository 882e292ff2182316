// max_parallel and the fair queue through a real broker: the upstream never runs more than its limit (its own count),
// a second free upstream takes the overflow, a client that leaves while queued never reaches an upstream, and the
// queue position and wait are in the response's headers.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";
import { metricsRegistry } from "../../src/core/metrics-registry.ts";
import { until } from "../helpers/until.ts";

let a: FakeOllama;
let b: FakeOllama;
let tb: TestBroker | null = null;
beforeAll(async () => {
  a = await startFakeOllama({ models: ["m:1b"], tokens: 4, tokenDelayMs: 40 });
  b = await startFakeOllama({ models: ["m:1b"], tokens: 4, tokenDelayMs: 40 });
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});
afterEach(async () => {
  await tb?.stop();
  tb = null;
  a.concurrency.max = 0;
  b.concurrency.max = 0;
  a.requests.length = 0;
  b.requests.length = 0;
});

const chat = (url: string, init: RequestInit = {}) =>
  fetch(`${url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: false }), ...init });

test("max_parallel = 1 serialises requests at the upstream; queued ones say where they stood and how long they waited", async () => {
  tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1"));
  await tb.waitState("a", "up");
  const replies = await Promise.all(Array.from({ length: 4 }, () => chat(tb!.url)));
  expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
  expect(a.concurrency.max).toBe(1);
  const positions = replies.map((r) => r.headers.get("x-queue-position")).filter((p) => p !== null).map(Number).sort();
  expect(positions).toEqual([1, 2, 3]);
  const waited = replies.map((r) => Number(/queue;dur=([\d.]+)/.exec(r.headers.get("server-timing")!)![1]));
  expect(Math.max(...waited)).toBeGreaterThan(100); // the last one waited for about three generations of 160 ms
  // The request records (what usage accounting sums) carry the same wait.
  await Bun.sleep(20);
  const recs = tb.seen.filter((e) => e.type === "request.completed").map((e) => (e.data as { queueMs?: number }).queueMs ?? 0);
  expect(Math.max(...recs)).toBeCloseTo(Math.max(...waited), -1);
  const metrics = await metricsRegistry.metrics();
  expect(metrics).toMatch(/^c2l_queue_length 0$/m);
  expect(Number(/^c2l_queue_requests_total (\d+)$/m.exec(metrics)![1])).toBeGreaterThanOrEqual(3);
  expect(Number(/^c2l_queue_wait_seconds_total ([\d.]+)$/m.exec(metrics)![1])).toBeGreaterThan(0.1);
});

test("a second free upstream takes the overflow, each still within its own limit", async () => {
  tb = await startBroker(upstreamToml("a", a.url, "priority = 1\nmax_parallel = 1") + upstreamToml("b", b.url, "priority = 2\nmax_parallel = 1"));
  await tb.waitState("a", "up");
  await tb.waitState("b", "up");
  const replies = await Promise.all(Array.from({ length: 4 }, () => chat(tb!.url)));
  expect(replies.every((r) => r.status === 200)).toBe(true);
  expect([a.concurrency.max, b.concurrency.max]).toEqual([1, 1]);
  expect(a.requests.filter((r) => r.path === "/api/chat").length).toBeGreaterThan(0);
  expect(b.requests.filter((r) => r.path === "/api/chat").length).toBeGreaterThan(0);
});

test("a request waits for the busy upstream that lists its model, not a free one that does not (which would 404)", async () => {
  const other = await startFakeOllama({ models: ["other:1b"], tokens: 2 });
  try {
    tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1") + upstreamToml("other", other.url));
    await tb.waitState("a", "up");
    await tb.waitState("other", "up");
    const replies = await Promise.all(Array.from({ length: 3 }, () => chat(tb!.url)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(a.concurrency.max).toBe(1);
    expect(other.requests.filter((r) => r.path === "/api/chat")).toHaveLength(0);
  } finally {
    await other.stop();
  }
});

test("a request for another model on a free upstream is not held behind the same caller's request waiting for a busy one", async () => {
  const other = await startFakeOllama({ models: ["other:1b"], tokens: 1 });
  try {
    a.options.tokenDelayMs = 250; // each generation on a holds its only slot for 1 s
    tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1") + upstreamToml("other", other.url));
    await tb.waitState("a", "up");
    await tb.waitState("other", "up");
    const running = chat(tb.url);
    await until(() => a.concurrency.now === 1);
    const queued = chat(tb.url);
    await until(() => tb!.broker.gate.length === 1);
    const r = await fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "other:1b", messages: [], stream: false }) });
    expect(r.status).toBe(200);
    expect(r.headers.get("x-queue-position")).toBeNull();
    // Answered while a's first generation still runs and the other caller's request still waits for it.
    expect(tb.broker.gate.length).toBe(1);
    expect(a.requests.filter((q) => q.path === "/api/chat")).toHaveLength(1);
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
  } finally {
    a.options.tokenDelayMs = 40;
    await other.stop();
  }
});

for (const phase of ["mid-stream", "before the first byte"] as const) {
  test(`a client that leaves ${phase} frees its slot at once: the request queued behind it starts, not when the generation would have ended`, async () => {
    a.options.tokens = 100; // 4 s a generation
    try {
      tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1"));
      await tb.waitState("a", "up");
      const ac = new AbortController();
      const first = fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [], stream: phase === "mid-stream" }), signal: ac.signal }).catch(() => null);
      if (phase === "mid-stream") await (await first)!.body!.getReader().read();
      else await until(() => a.concurrency.now === 1);
      const next = fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [], stream: true }) });
      await until(() => tb!.broker.gate.length === 1);
      ac.abort();
      await a.waitForAborts(1, 2000);
      await until(() => a.requests.filter((r) => r.path === "/api/chat").length === 2, 2000, "the queued request to start");
      (await next).body!.cancel();
    } finally {
      a.options.tokens = 4;
      a.aborts.length = 0;
    }
  });
}

test("a client that disconnects while queued never reaches the upstream", async () => {
  tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1"));
  await tb.waitState("a", "up");
  const first = chat(tb.url);
  await Bun.sleep(30);
  const ac = new AbortController();
  const second = chat(tb.url, { signal: ac.signal }).catch((e: Error) => e);
  await Bun.sleep(30);
  ac.abort();
  expect(await second).toBeInstanceOf(Error);
  expect((await first).status).toBe(200);
  await Bun.sleep(200);
  expect(a.requests.filter((r) => r.path === "/api/chat").length).toBe(1);
  expect(tb.broker.gate.length).toBe(0);
});

test("a streaming OpenAI request whose client leaves after its early head, while still queued, never reaches the upstream", async () => {
  tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1"));
  await tb.waitState("a", "up");
  const first = chat(tb.url); // holds the only slot for ~160 ms
  await Bun.sleep(30);
  const ac = new AbortController();
  const r = await fetch(`${tb.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true }),
    signal: ac.signal,
  });
  // The head and the first comment came while it waited; then the client goes away.
  expect(r.headers.get("x-queue-position")).toBe("1");
  const reader = r.body!.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toStartWith(": queued at position 1");
  ac.abort();
  await reader.read().catch(() => {});
  expect((await first).status).toBe(200);
  await Bun.sleep(300);
  expect(a.requests.filter((x) => x.path === "/v1/chat/completions").length).toBe(0);
  expect(tb.broker.gate.length).toBe(0);
});

test("a streaming OpenAI request that must wait gets its head at once, SSE comments while queued, then the stream", async () => {
  tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1"));
  await tb.waitState("a", "up");
  const busy = chat(tb.url); // holds the only slot for ~160 ms
  await Bun.sleep(30);
  const r = await fetch(`${tb.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true }) });
  // The head came before the slot was free: the first request was still running.
  expect(a.concurrency.now).toBe(1);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toBe("text/event-stream");
  expect(r.headers.get("x-queue-position")).toBe("1");
  const text = await r.text();
  expect(text.startsWith(": queued at position 1\n\n")).toBe(true);
  expect(text).toContain('"content":"tok0 "');
  expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  expect((await busy).status).toBe(200);
  expect(a.concurrency.max).toBe(1);

  // The official client reads such a stream as any other (comments are part of SSE).
  const OpenAI = (await import("openai")).default;
  const oa = new OpenAI({ baseURL: `${tb.url}/v1`, apiKey: "ollama", maxRetries: 0 });
  const hold = chat(tb.url);
  await Bun.sleep(30);
  let content = "";
  for await (const c of await oa.chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true })) content += c.choices[0]?.delta?.content ?? "";
  expect(content).toBe("tok0 tok1 tok2 tok3 ");
  await hold;
});

test("a request that waits past queue_timeout is a 503 in its dialect with Retry-After (an SSE error event once its head went out); queue_limit = 0 queues nothing", async () => {
  a.options.tokenDelayMs = 250; // the request holding the only slot takes about a second
  try {
    tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1"), {}, 'queue_timeout = "300ms"');
    await tb.waitState("a", "up");
    const busy = chat(tb.url);
    await until(() => a.concurrency.now === 1, 2000, "the first request to reach the upstream");
    const ollama = await chat(tb.url);
    expect([ollama.status, ollama.headers.get("x-c2l-error-code"), Number(ollama.headers.get("retry-after")) > 0]).toEqual([503, "unavailable", true]);
    expect(((await ollama.json()) as { error: string }).error).toContain("queue_timeout");
    const sse = await fetch(`${tb.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true }) });
    expect(sse.status).toBe(200);
    const text = await sse.text();
    expect(text).toContain("event: error");
    expect(text).toContain('"code":"unavailable"');
    expect((await busy).status).toBe(200);
    expect(a.requests.filter((r) => r.path === "/api/chat" || r.path === "/v1/chat/completions").length).toBe(1);
    await tb.stop();

    tb = await startBroker(upstreamToml("a", a.url, "max_parallel = 1"), {}, "queue_limit = 0");
    await tb.waitState("a", "up");
    const holding = chat(tb.url);
    await until(() => a.concurrency.now === 1, 2000, "the first request to reach the upstream");
    const refused = await fetch(`${tb.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }] }) });
    expect([refused.status, refused.headers.get("x-c2l-error-code")]).toEqual([429, "rate_limited"]);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
    expect((await holding).status).toBe(200);
  } finally {
    a.options.tokenDelayMs = 40;
  }
});
