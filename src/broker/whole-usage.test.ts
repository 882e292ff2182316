// Unit tests for the token counts of a whole answer, read from its top level in each dialect.
import { describe, expect, test } from "bun:test";
import { wholeUsage } from "./whole-usage.ts";

const b = (o: unknown) => new TextEncoder().encode(typeof o === "string" ? o : JSON.stringify(o));

describe("the counts of a whole answer", () => {
  test("each dialect's place: Ollama's top level, OpenAI's usage, Anthropic's and the Responses API's usage", () => {
    expect(wholeUsage(b({ model: "m", done: true, prompt_eval_count: 7, eval_count: 42, eval_duration: 2e9 }))).toEqual({ tokens: 42, promptTokens: 7, genMs: 2000 });
    expect(wholeUsage(b({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 12 } }))).toEqual({ tokens: 12, promptTokens: 7, genMs: null });
    expect(wholeUsage(b({ type: "message", usage: { input_tokens: 9, output_tokens: 3 } }))).toEqual({ tokens: 3, promptTokens: 9, genMs: null });
  });
  test("Ollama leaves eval_count out when it is zero: a done answer generated nothing", () => {
    expect(wholeUsage(b({ model: "m", done: true, done_reason: "load" }))).toEqual({ tokens: 0, promptTokens: null, genMs: null });
  });
  test("data after the usage (vLLM's prompt_logprobs) does not hide it", () => {
    const logprobs = Array.from({ length: 500 }, () => ({ "1": { logprob: -1, rank: 1, decoded_token: "x" } }));
    expect(wholeUsage(b({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 40 }, prompt_logprobs: logprobs }))).toEqual({ tokens: 40, promptTokens: 7, genMs: null });
  });
  test("a count-like key in echoed data (a tool schema's default) is not the count", () => {
    const echo = { tools: [{ parameters: { default: { eval_count: 0, completion_tokens: 0 } } }] };
    expect(wholeUsage(b({ object: "response", ...echo, usage: { input_tokens: 7, output_tokens: 40 }, user: null }))).toEqual({ tokens: 40, promptTokens: 7, genMs: null });
  });
  test("an embedding's: its prompt only (Ollama's /api/embed prompt_eval_count, OpenAI's usage.prompt_tokens)", () => {
    expect(wholeUsage(b({ model: "m", embeddings: [[0.1]], prompt_eval_count: 3 }))).toEqual({ tokens: 0, promptTokens: 3, genMs: null });
    expect(wholeUsage(b({ object: "list", data: [], usage: { prompt_tokens: 5, total_tokens: 5 } }))).toEqual({ tokens: 0, promptTokens: 5, genMs: null });
  });
  test("llama.cpp's own /completion: tokens_predicted and tokens_evaluated at its top", () => {
    expect(wholeUsage(b({ content: "hi", stop: true, tokens_predicted: 50, tokens_evaluated: 7, generation_settings: { n_predict: 50 } }))).toEqual({ tokens: 50, promptTokens: 7, genMs: null });
  });
  test("LM Studio's own chat (/api/v1/chat): its stats", () => {
    expect(wholeUsage(b({ model_instance_id: "m", output: [], stats: { input_tokens: 7, total_output_tokens: 25, reasoning_output_tokens: 3, tokens_per_second: 50 } }))).toEqual({ tokens: 25, promptTokens: 7, genMs: null });
  });
  test("not JSON, not an object, or without counts: null", () => {
    for (const body of ["", "nope", "[1,2]", '{"usage":{"total_tokens":3}}', '{"a":1}', '{"usage":{"completion_tokens":"5"}}', '{"embedding":[0.1]}']) expect(wholeUsage(b(body))).toBeNull();
  });
});
