// Ollama's /api/chat and /api/generate requests (shapes from Ollama's docs/api.md) as OpenAI chat completions.
import { expect, test } from "bun:test";
import { HttpError } from "../../../core/http-error.ts";
import { chatMessages, chatRequest, generateRequest, imageUrl, isLoadRequest, isUnloadRequest, loadRequest, withThink } from "./to-chat-request.ts";

test("chat: roles, options mapped, keep_alive and think left out, a stream asks for usage", () => {
  const r = chatRequest({
    model: "llama3.2",
    messages: [{ role: "system", content: "s" }, { role: "user", content: "why is the sky blue?" }, { role: "assistant", content: "because" }],
    options: { temperature: 0.2, top_p: 0.8, top_k: 20, num_predict: 100, stop: ["a", "b"], seed: 7, num_ctx: 4096, frequency_penalty: 0.1, presence_penalty: 0.2 },
    keep_alive: "5m",
    think: true,
  });
  expect(r).toEqual({
    model: "llama3.2",
    messages: [{ role: "system", content: "s" }, { role: "user", content: "why is the sky blue?" }, { role: "assistant", content: "because" }],
    temperature: 0.2,
    top_p: 0.8,
    seed: 7,
    frequency_penalty: 0.1,
    presence_penalty: 0.2,
    max_tokens: 100,
    stop: ["a", "b"],
    stream: true,
    stream_options: { include_usage: true },
  });
});

test("stream: false is a whole answer; num_predict -1 (no limit) sets no max_tokens; a single stop string", () => {
  const r = chatRequest({ model: "m", messages: [], stream: false, options: { num_predict: -1, stop: "x" } });
  expect(r.stream).toBeUndefined();
  expect(r.max_tokens).toBeUndefined();
  expect(r.stop).toEqual(["x"]);
});

test("format: json is json_object, a schema json_schema, anything else a 400", () => {
  expect(chatRequest({ model: "m", format: "json", stream: false }).response_format).toEqual({ type: "json_object" });
  const schema = { type: "object", properties: { age: { type: "integer" } }, required: ["age"] };
  expect(chatRequest({ model: "m", format: schema, stream: false }).response_format).toEqual({ type: "json_schema", json_schema: { name: "response", schema } });
  expect(() => chatRequest({ model: "m", format: "yaml" })).toThrow(HttpError);
});

test("images: base64 as data: URLs typed by their first bytes, after the text", () => {
  expect(imageUrl("iVBORw0KGgoAAA")).toBe("data:image/png;base64,iVBORw0KGgoAAA");
  expect(imageUrl("/9j/4AAQ")).toBe("data:image/jpeg;base64,/9j/4AAQ");
  expect(imageUrl("R0lGODlh")).toBe("data:image/gif;base64,R0lGODlh");
  expect(imageUrl("UklGRh4A")).toBe("data:image/webp;base64,UklGRh4A");
  expect(chatMessages([{ role: "user", content: "what is in this image?", images: ["/9j/4AAQ"] }])).toEqual([
    { role: "user", content: [{ type: "text", text: "what is in this image?" }, { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } }] },
  ]);
});

test("tools: definitions as functions; an assistant's tool_calls with arguments as a JSON string; results paired by tool_name", () => {
  const tool = { type: "function", function: { name: "get_current_weather", description: "Get the weather", parameters: { type: "object", properties: { location: { type: "string" } } } } };
  const r = chatRequest({
    model: "m",
    tools: [tool],
    messages: [
      { role: "user", content: "weather in Paris and Toronto?" },
      {
        role: "assistant",
        content: "",
        tool_calls: [
          { function: { name: "get_current_weather", arguments: { location: "Paris" } } },
          { function: { name: "get_time", arguments: { zone: "EST" } } },
        ],
      },
      { role: "tool", content: "9pm", tool_name: "get_time" },
      { role: "tool", content: "22C", tool_name: "get_current_weather" },
    ],
  });
  expect(r.tools).toEqual([tool as any]);
  expect(r.messages[1]).toEqual({
    role: "assistant",
    content: null,
    tool_calls: [
      { id: "call_1_0", type: "function", function: { name: "get_current_weather", arguments: '{"location":"Paris"}' } },
      { id: "call_1_1", type: "function", function: { name: "get_time", arguments: '{"zone":"EST"}' } },
    ],
  });
  expect(r.messages.slice(2)).toEqual([
    { role: "tool", tool_call_id: "call_1_1", content: "9pm" },
    { role: "tool", tool_call_id: "call_1_0", content: "22C" },
  ]);
});

test("tools: a call's own id and a result's tool_call_id are kept; a result with neither answers the earliest open call", () => {
  const m = chatMessages([
    { role: "assistant", tool_calls: [{ id: "call_a", function: { name: "f", arguments: {} } }, { id: "call_b", function: { name: "f", arguments: "{}" } }] },
    { role: "tool", content: "B", tool_call_id: "call_b" },
    { role: "tool", content: "A" },
  ]);
  expect(m.slice(1)).toEqual([
    { role: "tool", tool_call_id: "call_b", content: "B" },
    { role: "tool", tool_call_id: "call_a", content: "A" },
  ]);
});

test("bad input is a 400 naming what is wrong", () => {
  expect(() => chatRequest({ messages: [] })).toThrow("model is required");
  expect(() => chatRequest({ model: "m", messages: [{ role: "robot", content: "x" }] })).toThrow("messages[0].role");
  expect(() => chatRequest({ model: "m", messages: {} as any })).toThrow("messages must be an array");
  expect(() => chatRequest({ model: "m", tools: [{ type: "function", function: {} }] })).toThrow("tools[0].function.name");
});

test("generate: system and prompt as messages, images on the user's turn", () => {
  expect(generateRequest({ model: "m", prompt: "Why is the sky blue?", system: "be brief", stream: false, options: { num_predict: 3 } })).toEqual({
    model: "m",
    messages: [{ role: "system", content: "be brief" }, { role: "user", content: "Why is the sky blue?" }],
    max_tokens: 3,
  });
  expect(generateRequest({ model: "m", prompt: "what?", images: ["iVBORw0KGgo"], stream: false }).messages).toEqual([
    { role: "user", content: [{ type: "text", text: "what?" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo" } }] },
  ]);
});

test("generate: raw, suffix, template and context are refused with a 400 naming the field", () => {
  for (const [k, v] of [["raw", true], ["suffix", "}"], ["template", "{{ .Prompt }}"], ["context", [1, 2]]] as const) {
    let e: unknown;
    try {
      generateRequest({ model: "m", prompt: "x", [k]: v });
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(400);
    expect((e as HttpError).message).toContain(`"${k}"`);
  }
  expect(generateRequest({ model: "m", prompt: "x", raw: false }).messages).toEqual([{ role: "user", content: "x" }]);
});

test("a load request (empty messages, an empty prompt) is told apart, and sent as one token for an empty turn", () => {
  expect(isLoadRequest("chat", { model: "m", messages: [] })).toBe(true);
  expect(isLoadRequest("chat", { model: "m" })).toBe(true);
  expect(isLoadRequest("chat", { model: "m", messages: [{ role: "user", content: "" }] })).toBe(false);
  expect(isLoadRequest("generate", { model: "m" })).toBe(true);
  expect(isLoadRequest("generate", { model: "m", prompt: "" })).toBe(true);
  expect(isLoadRequest("generate", { model: "m", prompt: "hi" })).toBe(false);
  expect(isLoadRequest("generate", { model: "m", images: ["iVBOR"] })).toBe(false);
  expect(loadRequest({ model: "m", keep_alive: "5m" })).toEqual({ model: "m", messages: [{ role: "user", content: "" }], max_tokens: 1 });
});

test("the sampling options the upstream's kind takes beyond OpenAI's API are sent; others (top_k for OpenAI) left out", () => {
  const options = { top_k: 40, min_p: 0.05, repeat_penalty: 1.1, typical_p: 0.9 };
  expect(chatRequest({ model: "m", stream: false, options })).toEqual({ model: "m", messages: [] });
  expect(chatRequest({ model: "m", stream: false, options }, ["top_k", "repeat_penalty"])).toEqual({ model: "m", messages: [], top_k: 40, repeat_penalty: 1.1 });
  expect(generateRequest({ model: "m", prompt: "x", stream: false, options: { top_k: "many" as unknown as number } }, ["top_k"])).toEqual({ model: "m", messages: [{ role: "user", content: "x" }] });
});

test("an unload is keep_alive zero as Ollama reads it (a number or a Go duration); anything else is not", () => {
  for (const k of [0, "0", "0s", "0m0s", "0.0s", " 0ms "]) expect(isUnloadRequest({ model: "m", keep_alive: k })).toBe(true);
  for (const k of [undefined, 1, -1, "", "5m", "10", "-1", "0.5s", "1s0m"]) expect(isUnloadRequest({ model: "m", keep_alive: k as never })).toBe(false);
});

test("think true or false: the upstream kind's own switch (its thinking), nothing for a kind without one or for a level", () => {
  const chat = chatRequest({ model: "qwen3", messages: [], stream: false });
  const kind = { thinking: (on: boolean, model: string) => ({ chat_template_kwargs: { enable_thinking: on, [model]: true } }) };
  expect(withThink(chat, false, kind)).toEqual({ model: "qwen3", messages: [], chat_template_kwargs: { enable_thinking: false, qwen3: true } });
  expect(withThink(chat, true, kind).chat_template_kwargs).toEqual({ enable_thinking: true, qwen3: true });
  expect(withThink(chat, false, {})).toBe(chat);
  // A level is reasoning_effort (chatRequest), not the switch; anything else is not read.
  for (const think of ["high", undefined, null, 1]) expect(withThink(chat, think, kind)).toBe(chat);
});
