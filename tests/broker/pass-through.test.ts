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
