// stream_idle_timeout: an upstream that stalls after its first bytes is cut with an error line and counted, while a slow start or short gaps are not.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { setLogSink } from "../../src/core/log.ts";
import { metricsRegistry } from "../../src/core/metrics-registry.ts";
import { readAll, startBroker, upstreamToml, type TestBroker } from "./harness.ts";

/** An upstream whose chat streams send one chunk and then nothing; it records when the broker hangs up on it. */
function stallingUpstream() {
  const hungUp: string[] = [];
  const line = (o: object) => new TextEncoder().encode(JSON.stringify(o) + "\n");
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.6.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:1b" }] });
      // Prompt processing: nothing at all (not even headers) for 2.5 s, then a whole, quick answer.
      if (path === "/api/generate") {
        await Bun.sleep(2500);
        return new Response(line({ response: "late but fine", done: true }), { headers: { "content-type": "application/x-ndjson" } });
      }
      const sse = path === "/v1/chat/completions";
      const gappy = req.headers.get("x-test") === "gaps";
      return new Response(
        new ReadableStream({
          async start(c) {
            req.signal.addEventListener("abort", () => hungUp.push(path));
            // Headers at once, the first token only after 2.5 s: prompt processing with early headers is not a stall.
            if (gappy) await Bun.sleep(2500);
            c.enqueue(sse ? new TextEncoder().encode(`data: {"choices":[{"delta":{"content":"a"}}]}\n\n`) : line({ message: { content: "a" }, done: false }));
            if (gappy) {
              for (let i = 0; i < 4; i++) {
                await Bun.sleep(500);
                c.enqueue(line({ message: { content: "b" }, done: false }));
              }
              c.enqueue(line({ done: true, eval_count: 5 }));
              c.close();
            }
            // Otherwise: stall forever, the connection open.
          },
        }),
        { headers: { "content-type": sse ? "text/event-stream" : "application/x-ndjson" } },
      );
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, hungUp, stop: () => server.stop(true) };
}

let up: ReturnType<typeof stallingUpstream>;
let b: TestBroker;
const logLines: string[] = [];

beforeAll(async () => {
  setLogSink((l) => {
    logLines.push(l);
    process.stderr.write(l + "\n");
  });
  up = stallingUpstream();
  // min_requests = 1: this one broken stream is enough traffic to judge quality by.
  b = await startBroker(`[quality]\nmin_requests = 1\n` + upstreamToml("stall", up.url, 'stream_idle_timeout = "1s"'));
  await b.waitState("stall", "up");
});

afterAll(async () => {
  setLogSink((l) => process.stderr.write(l + "\n"));
  await b?.stop();
  up?.stop();
});

const post = (path: string, body: object, headers: Record<string, string> = {}) =>
  fetch(`${b.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

test("an NDJSON stream that stalls after its first chunk ends with an error line naming the timeout; the upstream is hung up on and charged an error", async () => {
  const errorsBefore = b.broker.upstream("stall")!.metrics.errors;
  const res = await post("/api/chat", { model: "m:1b", messages: [], stream: true });
  expect(res.status).toBe(200);
  const { text, error } = await readAll(res);
  expect(error).toBeNull();
  const lines = text.trim().split("\n").map((l) => JSON.parse(l));
  expect(lines[0].message.content).toBe("a");
  expect(lines.at(-1).error).toMatch(/upstream "stall" sent nothing for 1s .*stream_idle_timeout/);
  // The broker closed its upstream connection, so the upstream stops generating.
  for (let i = 0; i < 50 && !up.hungUp.includes("/api/chat"); i++) await Bun.sleep(20);
  expect(up.hungUp).toContain("/api/chat");
  const u = b.broker.upstream("stall")!;
  expect(u.metrics.errors).toBe(errorsBefore + 1);
  // Counted like any upstream error: in the error rate the quality is judged on, and in Prometheus.
  expect(u.metrics.errorRate).toBeGreaterThan(0);
  const prom = await metricsRegistry.metrics();
  expect(prom).toMatch(/cloudtolocalllm_broker_errors_total\{upstream="stall",source="local"\} [1-9]/);
  const rec = b.seen.filter((e) => e.type === "request.completed").map((e) => e.data as { path: string; error: string | null }).find((r) => r.path === "/api/chat");
  expect(rec?.error).toMatch(/stream_idle_timeout/);
  expect(logLines.some((l) => l.includes("upstream stalled mid-stream") && l.includes("upstream=stall") && l.includes("stream_idle_timeout=1s"))).toBe(true);
  // And the status stops saying "excellent": the quality (re-judged once a second from traffic) sees the error.
  for (let i = 0; i < 100 && b.broker.upstream("stall")!.quality === "excellent"; i++) await Bun.sleep(50);
  expect(b.broker.upstream("stall")!.quality).toBe("critical");
});

test("an SSE stream that stalls ends with an error event", async () => {
  const res = await post("/v1/chat/completions", { model: "m:1b", messages: [], stream: true });
  expect(res.status).toBe(200);
  const { text } = await readAll(res);
  expect(text).toStartWith('data: {"choices"');
  expect(text).toMatch(/event: error\ndata: \{"error":\{"message":"upstream \\"stall\\" sent nothing for 1s/);
});

test("a slow start (no first byte for longer than the idle timeout) and gaps shorter than it are not stalls", async () => {
  const slow = await post("/api/generate", { model: "m:1b", prompt: "x" });
  expect(slow.status).toBe(200);
  expect(((await slow.json()) as { response: string }).response).toBe("late but fine");

  const gappy = await post("/api/chat", { model: "m:1b", messages: [], stream: true }, { "x-test": "gaps" });
  const { text, error } = await readAll(gappy);
  expect(error).toBeNull();
  const lines = text.trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.length).toBe(6);
  expect(lines.some((l) => "error" in l)).toBe(false);
  expect(lines.at(-1).done).toBe(true);
  // Two 2.5 s waits of the upstream's, one after the other: past bun's 5 s default by design.
}, 20_000);
