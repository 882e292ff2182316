// Unit tests for the Ollama kind: its reads against the fake Ollama (tests/helpers/fake-ollama.ts, written from Ollama's API docs).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { olderThan, servesNatively } from "./index.ts";
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

test("Anthropic's Messages and the Responses API are served natively from the Ollama release that added them; an older one (its version read) gets the translation", () => {
  expect(servesNatively("ollama", "anthropic", "0.14.0")).toBe(true);
  expect(servesNatively("ollama", "anthropic", "0.40.12")).toBe(true);
  expect(servesNatively("ollama", "anthropic", "0.13.5")).toBe(false);
  expect(servesNatively("ollama", "anthropic", "v0.9.0-rc1")).toBe(false);
  expect(servesNatively("ollama", "responses", "0.13.3")).toBe(true);
  expect(servesNatively("ollama", "responses", "0.13.2")).toBe(false);
  // Not read yet, or a build that does not say a number: taken to serve it, as before.
  expect(servesNatively("ollama", "anthropic", null)).toBe(true);
  expect(servesNatively("ollama", "anthropic", "dev")).toBe(true);
  expect(servesNatively("ollama", "ollama", "0.1.0")).toBe(true);
  expect(olderThan("0.14", "0.14.0")).toBe(false);
  expect(olderThan("1.0.0", "0.14.0")).toBe(false);
});
