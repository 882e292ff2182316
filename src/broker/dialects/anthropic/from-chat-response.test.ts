// A whole chat completion rewritten as an Anthropic message.
import { expect, test } from "bun:test";
import { anthropicErrorFrom, fromChatResponse, toolInput } from "./from-chat-response.ts";

test("a chat completion with text becomes a message with a text block, end_turn and usage", () => {
  const m = fromChatResponse(
    { id: "chatcmpl-123", model: "llama3.2:1b", choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, finish_reason: "stop" }], usage: { prompt_tokens: 9, completion_tokens: 12 } },
    "claude-x",
    [],
  );
  expect(m).toEqual({ id: "msg_123", type: "message", role: "assistant", model: "claude-x", content: [{ type: "text", text: "Hello!" }], stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 9, output_tokens: 12 } });
});

test("tool calls become tool_use blocks with parsed input; length is max_tokens; reasoning is a thinking block", () => {
  const m = fromChatResponse(
    {
      id: "x",
      choices: [
        {
          message: { content: null, reasoning_content: "think", tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
          finish_reason: "tool_calls",
        },
      ],
    },
    "m",
    [],
  );
  expect(m.content).toEqual([
    { type: "thinking", thinking: "think", signature: "" },
    { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
  ]);
  expect(m.stop_reason).toBe("tool_use");
  expect(m.usage).toEqual({ input_tokens: 0, output_tokens: 0 });
  expect(fromChatResponse({ choices: [{ message: { content: "a" }, finish_reason: "length" }] }, "m", []).stop_reason).toBe("max_tokens");
  // A tool call answered with finish_reason "stop" (some servers) is still a tool_use stop.
  expect(fromChatResponse({ choices: [{ message: { content: "", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }, finish_reason: "stop" }] }, "m", []).stop_reason).toBe("tool_use");
});

test("arguments that are not a JSON object are kept", () => {
  expect(toolInput("")).toEqual({});
  expect(toolInput("{broken")).toEqual({ arguments: "{broken" });
  expect(toolInput("[1]")).toEqual({ arguments: [1] });
});

test("upstream errors in any shape come out in Anthropic's, typed by status", () => {
  expect(anthropicErrorFrom(404, '{"error":{"message":"model \\"x\\" not found","type":"invalid_request_error"}}')).toEqual({ type: "error", error: { type: "not_found_error", message: 'model "x" not found' } });
  expect(anthropicErrorFrom(500, '{"error":"boom"}')).toEqual({ type: "error", error: { type: "api_error", message: "boom" } });
  expect(anthropicErrorFrom(503, "busy")).toEqual({ type: "error", error: { type: "overloaded_error", message: "busy" } });
  expect(anthropicErrorFrom(400, "")).toEqual({ type: "error", error: { type: "invalid_request_error", message: "the upstream answered 400" } });
});
