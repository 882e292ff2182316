// Unit tests for the llama.cpp kind: its reads against the fake llama-server (tests/helpers/fake-kinds/llamacpp.ts,
// written from tools/server/README.md), and the router-mode and loading answers the README documents.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { llamacpp } from "./llamacpp.ts";
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
