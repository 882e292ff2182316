import { expect, test } from "bun:test";
import { checkKeyName, createKey, expired, keyHash, keyInfo, modelAllowed, parseExpiry } from "./keys.ts";

const NO_LIMITS = { models: [], rpm: 0, tokens_per_day: 0, max_parallel: 0, expiresInMs: null };

test("a new key is c2l_ + 43 base64url characters; only its hash and first 8 characters are kept", () => {
  const { key, record } = createKey("editor", { ...NO_LIMITS, models: [" llama3* "], rpm: 30 }, new Date("2026-12-01T00:00:00Z"));
  expect(key).toMatch(/^c2l_[A-Za-z0-9_-]{43}$/);
  expect(record).toEqual({
    name: "editor",
    prefix: key.slice(0, 8),
    hash: keyHash(key),
    models: ["llama3*"],
    rpm: 30,
    tokens_per_day: 0,
    max_parallel: 0,
    allow_model_management: false,
    expires_at: null,
    created_at: "2026-12-01T00:00:00.000Z",
  });
  expect(JSON.stringify(record)).not.toContain(key.slice(8));
  expect(keyInfo(record)).not.toHaveProperty("hash");
  expect(createKey("editor", NO_LIMITS).key).not.toBe(key);
});

test("names are checked; expiry is from creation", () => {
  expect(() => checkKeyName("no spaces")).toThrow('"no spaces" is not a valid key name');
  expect(() => checkKeyName("../x")).toThrow("not a valid key name");
  const { record } = createKey("ci", { ...NO_LIMITS, expiresInMs: 3_600_000 }, new Date("2026-12-01T00:00:00Z"));
  expect(record.expires_at).toBe("2026-12-01T01:00:00.000Z");
  expect(expired(record, Date.parse("2026-12-01T00:59:59Z"))).toBe(false);
  expect(expired(record, Date.parse("2026-12-01T01:00:00Z"))).toBe(true);
});

test("model globs match either spelling of the :latest tag and the default namespace, never across a \"/\"; an empty list allows every model", () => {
  expect(modelAllowed([], "anything")).toBe(true);
  expect(modelAllowed(["llama3*"], "llama3.2:1b")).toBe(true);
  expect(modelAllowed(["llama3*"], "qwen2.5:0.5b")).toBe(false);
  expect(modelAllowed(["qwen2.5:*"], "qwen2.5")).toBe(true); // qwen2.5 is qwen2.5:latest
  expect(modelAllowed(["mistral"], "mistral:latest")).toBe(true);
  expect(modelAllowed(["mistral"], "mistral:7b")).toBe(false);
  expect(modelAllowed(["a.b"], "axb")).toBe(false); // dots are literal
  expect(modelAllowed(["llama3*"], null)).toBe(false); // a route without a model is not a way around the list
  // A glob stays within one part of a name: another host's or namespace's model is not "llama3*" or "llama3.2:*".
  expect(modelAllowed(["llama3*"], "llama3.evil.example/x/qwen:latest")).toBe(false);
  expect(modelAllowed(["llama3*"], "llama3/qwen")).toBe(false);
  expect(modelAllowed(["llama3.2:*"], "llama3.2:5000/ns/qwen")).toBe(false);
  expect(modelAllowed(["hf.co/bartowski/*"], "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M")).toBe(true);
  // Ollama's default namespace spelled out is the short name.
  expect(modelAllowed(["llama3*"], "registry.ollama.ai/library/llama3.2:1b")).toBe(true);
  expect(modelAllowed(["llama3*"], "REGISTRY.OLLAMA.AI/library/qwen2.5")).toBe(false);
  expect(modelAllowed(["qwen2.5"], "registry.ollama.ai/library/qwen2.5:latest")).toBe(true);
  // Ollama matches names without case, its default namespace too: in any case it is still the short name.
  expect(modelAllowed(["qwen2.5"], "REGISTRY.Ollama.ai/Library/qwen2.5")).toBe(true);
});

test("parseExpiry: minutes to weeks; a lifetime no date can hold is refused naming the value, not an Invalid Date", () => {
  expect(parseExpiry("90m")).toBe(90 * 60_000);
  expect(parseExpiry("2w")).toBe(14 * 86_400_000);
  expect(parseExpiry("5200w")).toBe(5200 * 604_800_000);
  expect(() => parseExpiry("999999999d")).toThrow('--expires "999999999d" is longer than 100 years');
  expect(() => parseExpiry("5201w", "body.expires")).toThrow('body.expires "5201w" is longer than 100 years');
  expect(() => parseExpiry("soon")).toThrow("is not a duration");
});
