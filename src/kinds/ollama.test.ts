// Unit tests for the Ollama kind: its reads against the fake Ollama (tests/helpers/fake-ollama.ts, written from Ollama's API docs).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { servesNatively } from "./index.ts";

let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ kind: "ollama", models: ["llama3.2:1b", "qwen2.5:0.5b"], loaded: ["qwen2.5:0.5b"], version: "0.14.2" });
});
afterAll(() => fake.stop());

test("ollama: version from /api/version, models from /api/tags, loaded from /api/ps; no slot count", async () => {
  const r = await readAll("ollama", fake.url);
  expect(r).toEqual({ failed: {}, version: "0.14.2", models: ["llama3.2:1b", "qwen2.5:0.5b"], loaded: ["qwen2.5:0.5b"] });
});

test("ollama speaks all four dialects itself", () => {
  for (const d of ["ollama", "openai", "anthropic", "responses"] as const) expect(servesNatively("ollama", d)).toBe(true);
});
