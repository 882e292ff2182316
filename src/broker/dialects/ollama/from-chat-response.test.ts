// A whole chat completion (OpenAI's documented shape) as Ollama's /api/chat and /api/generate answers, and errors as Ollama's.
import { expect, test } from "bun:test";
import { doneReason, fromChatResponse, ollamaErrorFrom, ollamaStats, toolArguments } from "./from-chat-response.ts";

const completion = {
  id: "chatcmpl-123",
  object: "chat.completion",
  created: 1677652288,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello there." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 },
};

test("chat: message, done, done_reason, counts from usage, durations in ns as the broker saw them", () => {
  const r = fromChatResponse(completion, "chat", "shown", 1000, 1250);
  expect(r).toMatchObject({
    model: "shown",
    message: { role: "assistant", content: "Hello there." },
    done: true,
    done_reason: "stop",
    prompt_eval_count: 9,
    eval_count: 12,
    total_duration: 250_000_000,
    eval_duration: 250_000_000,
    load_duration: 0,
    prompt_eval_duration: 0,
  });
  expect(Number.isNaN(Date.parse(r.created_at as string))).toBe(false);
});

test("generate: the text in `response`; cut by length is done_reason length", () => {
  const r = fromChatResponse({ ...completion, choices: [{ index: 0, message: { role: "assistant", content: "Hel" }, finish_reason: "length" }] }, "generate", "m", 0, 1);
  expect(r).toMatchObject({ model: "m", response: "Hel", done: true, done_reason: "length" });
  expect(r.message).toBeUndefined();
});

test("tool calls: arguments as objects, the call's id kept; reasoning as thinking", () => {
  const r = fromChatResponse(
    {
      choices: [
        {
          message: { role: "assistant", content: null, reasoning_content: "hmm", tool_calls: [{ id: "call_abc", type: "function", function: { name: "get_current_weather", arguments: '{"location":"Paris"}' } }] },
          finish_reason: "tool_calls",
        },
      ],
    },
    "chat",
    "m",
    0,
    0,
  );
  expect(r.message).toEqual({ role: "assistant", content: "", thinking: "hmm", tool_calls: [{ id: "call_abc", function: { index: 0, name: "get_current_weather", arguments: { location: "Paris" } } }] });
  expect(r.done_reason).toBe("stop");
});

test("doneReason, toolArguments, stats without usage", () => {
  expect([doneReason("stop"), doneReason("length"), doneReason("tool_calls"), doneReason(null)]).toEqual(["stop", "length", "stop", "stop"]);
  expect(toolArguments("")).toEqual({});
  expect(toolArguments("[1]")).toEqual({ arguments: [1] });
  expect(toolArguments("not json")).toEqual({ arguments: "not json" });
  expect(ollamaStats(null, 0, 2, 5)).toEqual({ total_duration: 5e6, load_duration: 0, prompt_eval_count: 0, prompt_eval_duration: 2e6, eval_count: 0, eval_duration: 3e6 });
});

test("an upstream's error in Ollama's shape: OpenAI's object, a string error, detail, text, nothing", () => {
  expect(ollamaErrorFrom(404, JSON.stringify({ error: { message: "The model `x` does not exist", type: "invalid_request_error", code: "model_not_found" } }))).toEqual({ error: "The model `x` does not exist" });
  expect(ollamaErrorFrom(500, '{"error":"boom"}')).toEqual({ error: "boom" });
  expect(ollamaErrorFrom(422, '{"detail":"bad field"}')).toEqual({ error: "bad field" });
  expect(ollamaErrorFrom(502, "Bad Gateway\n")).toEqual({ error: "Bad Gateway" });
  expect(ollamaErrorFrom(503, "")).toEqual({ error: "the upstream answered 503" });
});
