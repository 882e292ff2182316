// Unit tests for the LM Studio kind: its reads against the fake LM Studio (tests/helpers/fake-kinds/lmstudio.ts, from
// LM Studio's REST docs), and the older /api/v0 answer alone.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { lmstudio } from "./lmstudio.ts";
import { servesNatively } from "./index.ts";

let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ kind: "lmstudio", models: ["qwen/qwen3-4b", "google/gemma-3-12b"], loaded: ["google/gemma-3-12b"], slots: 4 });
});
afterAll(() => fake.stop());

test("lmstudio: models from /v1/models, loaded and parallel slots from /api/v1/models (and /api/v0's state)", async () => {
  expect(await readAll("lmstudio", fake.url)).toEqual({ failed: {}, models: ["qwen/qwen3-4b", "google/gemma-3-12b"], loaded: ["google/gemma-3-12b"], capacity: { slots: 4 } });
});

test("lmstudio before 0.4: /api/v0/models alone tells the loaded models", () => {
  const v0 = lmstudio.reads.find((r) => r.path === "/api/v0/models")!;
  expect(v0.apply({ object: "list", data: [{ id: "a", state: "loaded" }, { id: "b", state: "not-loaded" }] })).toEqual({ loaded: ["a"] });
  // A 0.4 instance without `parallel` in its config says nothing of slots.
  const v1 = lmstudio.reads.find((r) => r.path === "/api/v1/models")!;
  expect(v1.apply({ models: [{ key: "a", loaded_instances: [{ id: "a", config: { context_length: 4096 } }] }, { key: "b", loaded_instances: [] }] })).toEqual({ loaded: ["a"] });
});

test("lmstudio speaks OpenAI, Anthropic and Responses itself", () => {
  expect(servesNatively("lmstudio", "anthropic") && servesNatively("lmstudio", "responses")).toBe(true);
  expect(servesNatively("lmstudio", "ollama")).toBe(false);
});
