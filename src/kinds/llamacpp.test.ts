// Unit tests for the llama.cpp kind: its reads against the fake llama-server (tests/helpers/fake-kinds/llamacpp.ts,
// written from tools/server/README.md), and the router-mode and loading answers the README documents.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { llamacpp, propsFacts } from "./llamacpp.ts";
import { servesNatively } from "./index.ts";

let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ kind: "llamacpp", models: ["qwen2.5-7b-instruct"], slots: 4, tokens: 3, tokenDelayMs: 200, version: "6123" });
});
afterAll(() => fake.stop());

test("llamacpp: healthy from /health, the model (loaded) from /v1/models, slots and busy from /props and /slots, build as version", async () => {
  const idle = await readAll("llamacpp", fake.url);
  expect(idle).toEqual({ failed: {}, models: ["qwen2.5-7b-instruct"], loaded: ["qwen2.5-7b-instruct"], capacity: { slots: 4, busy: 0 }, version: "b6123-fake" });
  // Two generations running: /slots says two slots are processing.
  const running = [0, 1].map(() => fetch(`${fake.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "qwen2.5-7b-instruct", messages: [] }) }));
  await Bun.sleep(100);
  expect((await readAll("llamacpp", fake.url)).capacity).toEqual({ slots: 4, busy: 2 });
  await Promise.all(running);
});

test("llamacpp: while the model loads /health answers 503 and every read fails (the monitor keeps it down or degraded)", async () => {
  fake.options.loading = true;
  try {
    const r = await readAll("llamacpp", fake.url);
    expect(r.failed["/health"]).toBe("/health answered 503");
    expect(r.models).toBeUndefined();
  } finally {
    fake.options.loading = false;
  }
});

test("llamacpp router mode: /v1/models lists every model, loaded are those whose status.value is loaded", () => {
  const models = llamacpp.reads.find((r) => r.path === "/v1/models")!;
  const body = { object: "list", data: [{ id: "a", status: { value: "loaded" } }, { id: "b", status: { value: "unloaded" } }, { id: "c", status: { value: "loading" } }] };
  expect(models.apply(body)).toEqual({ models: ["a", "b", "c"], loaded: ["a"] });
});

test("llamacpp: a /health body other than status ok is not healthy; --no-slots leaves total_slots from /props", () => {
  const health = llamacpp.reads.find((r) => r.path === "/health")!;
  expect(() => health.apply({ status: "loading" })).toThrow('/health says "loading"');
  expect(llamacpp.reads.find((r) => r.path === "/props")!.apply({ total_slots: 2 })).toEqual({ capacity: { slots: 2 } });
});

test("llamacpp speaks OpenAI, Anthropic and Responses itself, not Ollama's API", () => {
  expect(servesNatively("llamacpp", "anthropic")).toBe(true);
  expect(servesNatively("llamacpp", "responses")).toBe(true);
  expect(servesNatively("llamacpp", "ollama")).toBe(false);
});

test("llamacpp: a /v1/models entry's meta.n_params is the parameter count", () => {
  expect(llamacpp.modelFacts!({ id: "m", meta: { n_params: 8_030_261_312, n_ctx_train: 131072 } })).toEqual({ parameterCount: 8_030_261_312 });
  expect(llamacpp.modelFacts!({ id: "m" })).toEqual({});
});

test("llamacpp: a /v1/models entry whose architecture.input_modalities has image is vision; text only, or none, says nothing", () => {
  expect(llamacpp.modelFacts!({ id: "m", architecture: { input_modalities: ["text", "image"], output_modalities: ["text"] } })).toEqual({ capabilities: ["vision"] });
  expect(llamacpp.modelFacts!({ id: "m", architecture: { input_modalities: ["text"], output_modalities: ["text"] } })).toEqual({});
  expect(llamacpp.modelFacts!({ id: "m", architecture: null })).toEqual({});
  expect(llamacpp.modelFacts!({ id: "m", architecture: { input_modalities: "image" } })).toEqual({});
});

// GET /props as tools/server/README.md documents it (abridged), for Ollama's /api/show.
const PROPS = {
  default_generation_settings: { id: 0, id_task: -1, n_ctx: 8192, speculative: false, is_processing: false, params: { n_predict: -1 } },
  total_slots: 1,
  model_path: "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
  chat_template: "{{ messages }}",
  chat_template_caps: {},
  modalities: { vision: false },
  build_info: "b6123-abcdef0",
  is_sleeping: false,
};

test("llamacpp /props for /api/show: the slot context (default_generation_settings.n_ctx) and no capability the server does not state", () => {
  expect(propsFacts(PROPS)).toEqual({ contextLength: 8192 });
  expect(propsFacts({ ...PROPS, modalities: { vision: false, video: false, audio: true } })).toEqual({ contextLength: 8192 });
});

test("llamacpp /props: modalities.vision true is vision; a template that renders tool definitions and tool calls is tools", () => {
  expect(propsFacts({ ...PROPS, modalities: { vision: true, audio: false } })).toEqual({ contextLength: 8192, capabilities: ["vision"] });
  const tools = { supports_tools: true, supports_tool_calls: true, supports_system_role: true, supports_parallel_tool_calls: true };
  expect(propsFacts({ ...PROPS, chat_template_caps: tools })).toEqual({ contextLength: 8192, capabilities: ["tools"] });
  expect(propsFacts({ ...PROPS, modalities: { vision: true }, chat_template_caps: tools })).toEqual({ contextLength: 8192, capabilities: ["vision", "tools"] });
  // Half a tool loop is not tools: definitions read but calls never rendered back, or the other way round.
  expect(propsFacts({ ...PROPS, chat_template_caps: { supports_tools: true, supports_tool_calls: false } }).capabilities).toBeUndefined();
  expect(propsFacts({ ...PROPS, chat_template_caps: { supports_tool_calls: true } }).capabilities).toBeUndefined();
});

test("llamacpp /props: a field missing or of another type tells nothing (never a throw)", () => {
  for (const body of [null, undefined, "props", 42, [], {}, { default_generation_settings: null, modalities: null, chat_template_caps: null }]) expect(propsFacts(body)).toEqual({});
  for (const n_ctx of ["8192", 0, -1, 1.5, Number.NaN, null]) expect(propsFacts({ default_generation_settings: { n_ctx } })).toEqual({});
  // Only true is a statement: "true", 1 or a modality list are not.
  expect(propsFacts({ modalities: ["text", "image"] })).toEqual({});
  expect(propsFacts({ modalities: { vision: "true" }, chat_template_caps: { supports_tools: 1, supports_tool_calls: 1 } })).toEqual({});
});

test("llamacpp /props target: the model's own server in router mode, never loaded by a show; the name URL-encoded", () => {
  expect(llamacpp.showRead!.target("ggml-org/gemma-3-4b-it-GGUF:Q4_K_M")).toBe("/props?model=ggml-org%2Fgemma-3-4b-it-GGUF%3AQ4_K_M&autoload=false");
  expect(llamacpp.showRead!.facts).toBe(propsFacts);
});
