// Ollama's /api/embed and /api/embeddings (docs/api.md) as OpenAI's /v1/embeddings, and its answer back.
import { expect, test } from "bun:test";
import { embeddingsRequest, fromEmbeddingsResponse } from "./embed.ts";

test("embed: input (a string or a list) and dimensions; truncate, options and keep_alive left out", () => {
  expect(embeddingsRequest("embed", { model: "all-minilm", input: ["Why is the sky blue?", "Why is the grass green?"], truncate: false, keep_alive: "5m", options: { temperature: 0 } })).toEqual({
    model: "all-minilm",
    input: ["Why is the sky blue?", "Why is the grass green?"],
    encoding_format: "float",
  });
  expect(embeddingsRequest("embed", { model: "m", input: "x", dimensions: 64 })).toEqual({ model: "m", input: "x", dimensions: 64, encoding_format: "float" });
});

test("embeddings (the older route): prompt as the one input", () => {
  expect(embeddingsRequest("embeddings", { model: "m", prompt: "Here is an article" })).toEqual({ model: "m", input: "Here is an article", encoding_format: "float" });
});

test("bad input is a 400 naming the field", () => {
  expect(() => embeddingsRequest("embed", { model: "m", input: [1] as any })).toThrow("input must be a string or an array of strings");
  expect(() => embeddingsRequest("embeddings", { model: "m" })).toThrow("prompt must be a string");
  expect(() => embeddingsRequest("embed", { input: "x" })).toThrow("model is required");
});

const openai = {
  object: "list",
  data: [
    { object: "embedding", index: 1, embedding: [0.3, 0.4] },
    { object: "embedding", index: 0, embedding: [0.1, 0.2] },
  ],
  model: "text-embedding-3-small",
  usage: { prompt_tokens: 8, total_tokens: 8 },
};

test("back: embeddings in input order, the model asked for, prompt_eval_count from usage; the older route's one embedding", () => {
  expect(fromEmbeddingsResponse("embed", openai, "all-minilm", 2)).toEqual({ model: "all-minilm", embeddings: [[0.1, 0.2], [0.3, 0.4]], total_duration: 2_000_000, load_duration: 0, prompt_eval_count: 8 });
  expect(fromEmbeddingsResponse("embeddings", openai, "m", 1)).toEqual({ embedding: [0.1, 0.2] });
});

test("an embedding that is not a list of numbers (base64) is the upstream's error", () => {
  expect(() => fromEmbeddingsResponse("embed", { data: [{ index: 0, embedding: "AAAA" }] }, "m", 0)).toThrow("embedding 0");
});
