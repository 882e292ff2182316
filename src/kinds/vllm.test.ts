// Unit tests for the vLLM kind: its reads against the fake vLLM (tests/helpers/fake-kinds/vllm.ts, from vLLM's docs),
// and its /metrics parsing on the documented exposition.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { promSum } from "./types.ts";
import { servesNatively } from "./index.ts";
import { vllm } from "./vllm.ts";

let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ kind: "vllm", models: ["meta-llama/Llama-3.1-8B-Instruct"], slots: 1, tokens: 3, tokenDelayMs: 100, version: "0.11.0" });
});
afterAll(() => fake.stop());

test("vllm: /health, the served (loaded) models from /v1/models, version from /version, running and waiting from /metrics", async () => {
  expect(await readAll("vllm", fake.url)).toEqual({ failed: {}, models: ["meta-llama/Llama-3.1-8B-Instruct"], loaded: ["meta-llama/Llama-3.1-8B-Instruct"], version: "0.11.0", capacity: { busy: 0, waiting: 0 } });
  // One slot: of three requests one runs and two wait in its queue.
  const running = [0, 1, 2].map(() => fetch(`${fake.url}/v1/completions`, { method: "POST", body: JSON.stringify({ model: "meta-llama/Llama-3.1-8B-Instruct", prompt: "x" }) }));
  await Bun.sleep(100);
  expect((await readAll("vllm", fake.url)).capacity).toEqual({ busy: 1, waiting: 2 });
  await Promise.all(running);
});

test("promSum adds a gauge over its label sets and ignores longer names and comments", () => {
  const text = [
    "# HELP vllm:num_requests_running Number of requests in model execution batches.",
    'vllm:num_requests_running{model_name="a"} 2.0',
    'vllm:num_requests_running{model_name="b"} 1.0',
    'vllm:num_requests_running_total{model_name="b"} 9.0',
    "vllm:num_requests_waiting 3",
  ].join("\n");
  expect(promSum(text, "vllm:num_requests_running")).toBe(3);
  expect(promSum(text, "vllm:num_requests_waiting")).toBe(3);
  expect(promSum(text, "vllm:gpu_cache_usage_perc")).toBeNull();
});

test("vllm speaks OpenAI, Anthropic and Responses itself", () => {
  expect(servesNatively("vllm", "openai") && servesNatively("vllm", "anthropic") && servesNatively("vllm", "responses")).toBe(true);
  expect(servesNatively("vllm", "ollama")).toBe(false);
});

test("vllm: a /v1/models entry's max_model_len is the context it runs the model with", () => {
  expect(vllm.modelFacts!({ id: "m", max_model_len: 8192 })).toEqual({ contextLength: 8192 });
  expect(vllm.modelFacts!({ id: "m" })).toEqual({});
});
