// A whole chat completion rewritten as a Responses API response object.
import { expect, test } from "bun:test";
import { fromChatResponse } from "./from-chat-response.ts";

test("a chat completion as a response object: a message item, a function_call item per call, usage; length is incomplete", () => {
  const r = fromChatResponse(
    { id: "x", choices: [{ message: { content: "ok", tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: '{"a":1}' } }] }, finish_reason: "tool_calls" }], usage: { prompt_tokens: 5, completion_tokens: 3 } },
    { model: "m", input: "hi", tools: [{ type: "function", name: "f" }] },
    "shown",
  );
  expect(r).toMatchObject({
    object: "response",
    status: "completed",
    model: "shown",
    output: [
      { type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "ok", annotations: [] }] },
      { type: "function_call", call_id: "call_1", name: "f", arguments: '{"a":1}', status: "completed" },
    ],
    usage: { input_tokens: 5, output_tokens: 3, total_tokens: 8 },
    tools: [{ type: "function", name: "f" }],
    store: false,
  });
  expect(r.id).toMatch(/^resp_/);
  const cut = fromChatResponse({ choices: [{ message: { content: "a" }, finish_reason: "length" }] }, { model: "m", input: "x" }, "m");
  expect(cut).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
});

test("usage: the upstream's reasoning and cached tokens are carried; reasoning text without a count is estimated, never over the output", () => {
  const req = { model: "m", input: "hi" };
  // OpenAI (and recent vLLM) count the reasoning in completion_tokens_details, the cache in prompt_tokens_details.
  const counted = fromChatResponse(
    { choices: [{ message: { content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 50, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 32 }, completion_tokens_details: { reasoning_tokens: 256 } } },
    req,
    "m",
  );
  expect(counted.usage).toEqual({ input_tokens: 50, input_tokens_details: { cached_tokens: 32 }, output_tokens: 300, output_tokens_details: { reasoning_tokens: 256 }, total_tokens: 350 });
  // llama.cpp sends the reasoning text alone: one token per 4 characters of it (40 characters: 10).
  const text = "x".repeat(40);
  const estimated = fromChatResponse({ choices: [{ message: { reasoning_content: text, content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 5, completion_tokens: 12 } }, req, "m");
  expect(estimated.usage!.output_tokens_details).toEqual({ reasoning_tokens: 10 });
  const capped = fromChatResponse({ choices: [{ message: { reasoning: text, content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 5, completion_tokens: 6 } }, req, "m");
  expect(capped.usage!.output_tokens_details).toEqual({ reasoning_tokens: 6 });
  // A count the server gives wins over the estimate, 0 included; one that is not a count is not read.
  const zero = fromChatResponse({ choices: [{ message: { reasoning_content: text, content: "ok" } }], usage: { completion_tokens: 12, completion_tokens_details: { reasoning_tokens: 0 } } }, req, "m");
  expect(zero.usage!.output_tokens_details).toEqual({ reasoning_tokens: 0 });
  const junk = fromChatResponse({ choices: [{ message: { content: "ok" } }], usage: { completion_tokens: 12, completion_tokens_details: { reasoning_tokens: "7" as never }, prompt_tokens_details: null } }, req, "m");
  expect(junk.usage).toMatchObject({ input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } });
});
