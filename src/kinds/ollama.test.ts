// Unit tests for the Ollama kind: its reads against the fake Ollama (tests/helpers/fake-ollama.ts, written from Ollama's API docs).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { servesNatively } from "./index.ts";
import { versionField } from "./types.ts";

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

test("a version that could not be a version (an escape sequence, megabytes) is not taken: status and the dashboard show it", () => {
  expect(versionField({ version: "0.12.0" })).toEqual({ version: "0.12.0" });
  expect(versionField({ version: "0.12\x1b]0;owned\x07" })).toEqual({ version: null });
  expect(versionField({ version: "9".repeat(2000) })).toEqual({ version: null });
});
