// Unit tests for the generic OpenAI-compatible kind: /v1/models only, no loaded models, no load, only the OpenAI dialect.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";
import { readAll } from "../../tests/helpers/fake-kinds/read-all.ts";
import { servesNatively } from "./index.ts";

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
