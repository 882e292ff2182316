// Routing and the merged lists across kinds, with the official clients: one model listed by an Ollama upstream as
// "llama3:latest" and by a vLLM one as "llama3" is one model (one entry in /api/tags and /v1/models, as the router
// takes it), and the upstream that has it loaded is asked first.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";

let o: FakeOllama;
let v: FakeOllama;
let tb: TestBroker;
beforeAll(async () => {
  o = await startFakeOllama({ models: ["llama3:latest", "m:1b"], loaded: ["m:1b"], tokens: 1 });
  v = await startFakeOllama({ models: ["llama3", "qwen"], kind: "vllm", tokens: 1 });
  tb = await startBroker(upstreamToml("o", o.url, "priority = 1") + upstreamToml("v", v.url, 'kind = "vllm"\npriority = 2'));
  await tb.waitState("o", "up");
  await tb.waitState("v", "up");
});
afterAll(async () => {
  await tb.stop();
  await o.stop();
  await v.stop();
});

test("a model named with and without :latest by two upstreams is listed once in /api/tags and /v1/models", async () => {
  const ollama = new Ollama({ host: tb.url });
  expect((await ollama.list()).models.map((m) => m.name)).toEqual(["llama3:latest", "m:1b", "qwen"]);
  const openai = new OpenAI({ baseURL: `${tb.url}/v1`, apiKey: "x", maxRetries: 0 });
  expect((await openai.models.list()).data.map((m) => m.id)).toEqual(["llama3:latest", "m:1b", "qwen"]);
  // /api/ps: what each has in memory (vLLM's models are always loaded).
  expect((await ollama.ps()).models.map((m) => m.name)).toEqual(["m:1b", "llama3", "qwen"]);
});

test("warm first: the vLLM upstream that has llama3 loaded is asked before the preferred Ollama that lists it cold", async () => {
  const r = await new Ollama({ host: tb.url }).chat({ model: "llama3", messages: [{ role: "user", content: "hi" }] });
  expect(r.done).toBe(true);
  expect(v.requests.filter((q) => q.path === "/v1/chat/completions")).toHaveLength(1);
  expect(o.requests.filter((q) => q.path === "/api/chat")).toHaveLength(0);
});
