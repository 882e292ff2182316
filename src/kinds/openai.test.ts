// Unit tests for the generic OpenAI-compatible kind: /v1/models only, no loaded models, no load, only the OpenAI dialect.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { kindOf, servesNatively } from "./index.ts";

let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ kind: "openai", models: ["gpt-4o-mini", "local-7b"] });
});
afterAll(() => fake.stop());

test("openai: the model list from /v1/models, nothing else", async () => {
  expect(await readAll("openai", fake.url)).toEqual({ failed: {}, models: ["gpt-4o-mini", "local-7b"] });
});

test("openai speaks only OpenAI's dialect: Anthropic and Responses need translation", () => {
  expect(servesNatively("openai", "openai")).toBe(true);
  expect(servesNatively("openai", "anthropic")).toBe(false);
  expect(servesNatively("openai", "responses")).toBe(false);
  expect(servesNatively("openai", "ollama")).toBe(false);
});

test("openai: OpenAI's reasoning models take their limit as max_completion_tokens, every other model as max_tokens", () => {
  const field = (m: string) => kindOf("openai").limitField!(m);
  for (const m of ["o1", "o1-mini", "o3", "o3-mini-2025-01-31", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5.1", "openai/o3", "GPT-5"]) expect(field(m)).toBe("max_completion_tokens");
  for (const m of ["gpt-4o", "gpt-4.1-mini", "llama3.2:1b", "omni-7b", "gpt-50", "qwen3-8b"]) expect(field(m)).toBe("max_tokens");
  // The other kinds read max_tokens in every release (vLLM and recent llama.cpp also max_completion_tokens).
  for (const k of ["vllm", "llamacpp", "lmstudio", "ollama"] as const) expect(kindOf(k).limitField).toBeUndefined();
});

test("openai: OpenAI's models that do not reason take no reasoning_effort (its API refuses it); every other model does", () => {
  const takes = (m: string) => kindOf("openai").takesReasoningEffort!(m);
  for (const m of ["gpt-4o", "gpt-4o-mini", "openai/gpt-4.1", "gpt-3.5-turbo", "chatgpt-4o-latest", "GPT-4"]) expect(takes(m)).toBe(false);
  for (const m of ["o3-mini", "gpt-5", "gpt-5-mini", "qwen3-8b", "llama3.2:1b", "gpt-oss-20b"]) expect(takes(m)).toBe(true);
  for (const k of ["vllm", "llamacpp", "lmstudio", "ollama"] as const) expect(kindOf(k).takesReasoningEffort).toBeUndefined();
});

test("openai: OpenAI's reasoning models take no temperature, top_p or penalties (its API refuses them); every other model does", () => {
  const refused = (m: string) => kindOf("openai").refusedSampling!(m);
  for (const m of ["o1", "o3-mini", "o4-mini", "gpt-5", "gpt-5.1", "openai/o3"]) expect(refused(m)).toEqual(["temperature", "top_p", "presence_penalty", "frequency_penalty"]);
  for (const m of ["gpt-4o", "gpt-4.1-mini", "llama3.2:1b", "qwen3-8b"]) expect(refused(m)).toEqual([]);
  for (const k of ["vllm", "llamacpp", "lmstudio", "ollama"] as const) expect(kindOf(k).refusedSampling).toBeUndefined();
});
