// A Responses request translated to a chat completions request, and the 400s of what cannot be.
import { expect, test } from "bun:test";
import { HttpError } from "../../../core/http-error.ts";
import { toChatRequest } from "./to-chat-request.ts";
import type { ResponsesRequest } from "./types.ts";

// Shapes from OpenAI's Responses API reference (platform.openai.com/docs/api-reference/responses).
const req = (r: Partial<ResponsesRequest>): ResponsesRequest => ({ model: "m", input: "hi", ...r });

test("instructions, a string input, sampling, max_output_tokens, json schema output, stream with usage asked", () => {
  expect(toChatRequest(req({ instructions: "be brief", temperature: 0.3, top_p: 0.9, max_output_tokens: 9, user: "u", stream: true, text: { format: { type: "json_schema", name: "x", schema: { type: "object" }, strict: true } } }))).toEqual({
    model: "m",
    messages: [
      { role: "system", content: "be brief" },
      { role: "user", content: "hi" },
    ],
    max_tokens: 9,
    temperature: 0.3,
    top_p: 0.9,
    user: "u",
    response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" }, strict: true } },
    stream: true,
    stream_options: { include_usage: true },
  });
});

test("items: messages with parts and images, developer as system, function calls joined to the assistant turn, outputs as tool messages, reasoning left out", () => {
  const out = toChatRequest(
    req({
      input: [
        { role: "developer", content: "rules" },
        { type: "message", role: "user", content: [{ type: "input_text", text: "what is this?" }, { type: "input_image", image_url: "data:image/png;base64,AAA" }] },
        { type: "reasoning", id: "rs_1", summary: [] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Let me look." }] },
        { type: "function_call", call_id: "call_1", name: "look", arguments: '{"x":1}' },
        { type: "function_call", call_id: "call_2", name: "look", arguments: '{"x":2}' },
        { type: "function_call_output", call_id: "call_1", output: "a cat" },
        { type: "function_call_output", call_id: "call_2", output: "a dog" },
      ],
      tools: [
        { type: "function", name: "look", description: "Look", parameters: { type: "object", properties: { x: { type: "number" } } } },
        { type: "web_search" },
      ],
      tool_choice: { type: "function", name: "look" },
      parallel_tool_calls: false,
    }),
  );
  expect(out.messages).toEqual([
    { role: "system", content: "rules" },
    { role: "user", content: [{ type: "text", text: "what is this?" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAA" } }] },
    {
      role: "assistant",
      content: "Let me look.",
      tool_calls: [
        { id: "call_1", type: "function", function: { name: "look", arguments: '{"x":1}' } },
        { id: "call_2", type: "function", function: { name: "look", arguments: '{"x":2}' } },
      ],
    },
    { role: "tool", tool_call_id: "call_1", content: "a cat" },
    { role: "tool", tool_call_id: "call_2", content: "a dog" },
  ]);
  expect(out.tools).toEqual([{ type: "function", function: { name: "look", description: "Look", parameters: { type: "object", properties: { x: { type: "number" } } } } }]);
  expect(out.tool_choice).toEqual({ type: "function", function: { name: "look" } });
  expect(out.parallel_tool_calls).toBe(false);
  // A strict function stays strict (its arguments guaranteed to match the schema).
  const schema = { type: "object", properties: { x: { type: "number" } }, required: ["x"], additionalProperties: false };
  expect(toChatRequest({ model: "m", input: "hi", tools: [{ type: "function", name: "look", parameters: schema, strict: true }] }).tools).toEqual([{ type: "function", function: { name: "look", parameters: schema, strict: true } }]);
});

test("what needs OpenAI's stored state or files is a 400 naming it", () => {
  const msg = (r: ResponsesRequest) => {
    try {
      toChatRequest(r);
    } catch (e) {
      expect(e).toBeInstanceOf(HttpError);
      expect((e as HttpError).status).toBe(400);
      return (e as Error).message;
    }
    throw new Error("no error");
  };
  expect(msg(req({ previous_response_id: "resp_1" }))).toContain('"previous_response_id"');
  expect(msg(req({ background: true }))).toContain('"background"');
  expect(msg(req({ input: [{ type: "item_reference", id: "x" }] }))).toContain('input[0]: an item of type "item_reference"');
  expect(msg(req({ input: [{ role: "user", content: [{ type: "input_image", file_id: "file_1" }] }] }))).toContain("file_id");
  expect(msg({ model: "m" } as ResponsesRequest)).toContain('"input"');
});
