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
