// What clients rely on passes untouched: keep_alive as sent and fields the broker does not know (Ollama's think, tool
// calls, options); an upstream's own keep_alive setting replaces the client's on Ollama's model routes only.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";

let f: FakeOllama;
let tb: TestBroker | null = null;
beforeAll(async () => {
  f = await startFakeOllama({ models: ["m:1b"], tokens: 1 });
});
afterAll(() => f.stop());
afterEach(async () => {
  await tb?.stop();
  tb = null;
});

const SENT = {
  model: "m:1b",
  messages: [{ role: "user", content: "hi" }],
  stream: false,
  keep_alive: "10m",
  think: true,
  tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
  options: { num_ctx: 8192, seed: 7 },
  x_future_field: { nested: [1, "two", null] },
};
const lastBody = (path: string) => f.requests.filter((r) => r.path === path).at(-1)!.json;

test("without an upstream keep_alive, the body reaches the upstream exactly as sent", async () => {
  tb = await startBroker(upstreamToml("local", f.url));
  await tb.waitState("local", "up");
  expect((await fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify(SENT) })).status).toBe(200);
  expect(lastBody("/api/chat")).toEqual(SENT);
});

test("an upstream's keep_alive replaces the client's on Ollama routes (a number of seconds as a number); /v1 is left alone", async () => {
  tb = await startBroker(upstreamToml("local", f.url, 'keep_alive = "-1"'));
  await tb.waitState("local", "up");
  await fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify(SENT) });
  expect(lastBody("/api/chat")).toEqual({ ...SENT, keep_alive: -1 });
  await fetch(`${tb.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "m:1b", prompt: "hi", stream: false }) });
  expect(lastBody("/api/generate")).toEqual({ model: "m:1b", prompt: "hi", stream: false, keep_alive: -1 });
  const v1 = { model: "m:1b", messages: [{ role: "user", content: "hi" }] };
  await fetch(`${tb.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(v1) });
  expect(lastBody("/v1/chat/completions")).toEqual(v1);
});

/**
 * The keep_alive Ollama runs with: Go's encoding/json sets the field from every top-level key that matches it, exactly
 * or without case (the Kelvin sign K folds to k, the long s ſ to s), the last one winning. Its json/v2 also ignores "_" and "-".
 */
function goKeepAlive(body: Record<string, unknown>): unknown {
  let v: unknown;
  const fold = (k: string) => k.replace(/\u212a/g, "k").replace(/\u017f/g, "s").replace(/[_-]/g, "").toLowerCase();
  for (const [k, x] of Object.entries(body)) if (fold(k) === "keepalive") v = x;
  return v;
}

test("an upstream's keep_alive cannot be overridden by the client's keep_alive in another spelling, which Go reads after it", async () => {
  tb = await startBroker(upstreamToml("local", f.url, 'keep_alive = "0"'));
  await tb.waitState("local", "up");
  // Each body sends keep_alive = "-1" (keep the model loaded forever) where Go reads it last, against the upstream's "0".
  const bodies = [
    `{"model":"m:1b","prompt":"hi","stream":false,"keep_alive":"5m","KEEP_ALIVE":"-1"}`,
    `{"model":"m:1b","prompt":"hi","stream":false,"Keep_Alive":"-1"}`,
    `{"model":"m:1b","prompt":"hi","stream":false,"keep_alive":"5m","\\u212Aeep_alive":"-1"}`,
    `{"model":"m:1b","prompt":"hi","stream":false,"keep_alive":"5m","keep_alive":"-1"}`,
    `{"model":"m:1b","prompt":"hi","stream":false,"keep_alive":"5m","keepalive":"-1"}`,
  ];
  for (const body of bodies) {
    const r = await fetch(`${tb.url}/api/generate`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect({ body, status: r.status }).toEqual({ body, status: 200 });
    const seen = lastBody("/api/generate") as Record<string, unknown>;
    expect({ body, keepAlive: goKeepAlive(seen) }).toEqual({ body, keepAlive: 0 });
    expect(seen.prompt).toBe("hi");
  }
});

test("a client's credentials in any header the broker knows as one (Azure OpenAI's api-key too) never reach the upstream", async () => {
  tb = await startBroker(upstreamToml("local", f.url));
  await tb.waitState("local", "up");
  const headers = { "content-type": "application/json", "api-key": "azure-secret-1", "x-api-key": "anthropic-secret-2", authorization: "Bearer sk-secret-3", cookie: "s=secret-4" };
  const r = await fetch(`${tb.url}/v1/chat/completions`, { method: "POST", headers, body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }] }) });
  expect(r.status).toBe(200);
  const seen = f.requests.filter((x) => x.path === "/v1/chat/completions").at(-1)!;
  expect(JSON.stringify(seen.headers)).not.toMatch(/secret-\d/);
});
