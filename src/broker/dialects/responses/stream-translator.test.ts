// A chat completions stream rewritten as the Responses API's events.
import { expect, test } from "bun:test";
import { SseDecoder } from "../sse-decoder.ts";
import { ResponsesStreamTranslator } from "./stream-translator.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const chunk = (delta: object, finish: string | null = null) => ({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }] });

function translate(text: string, size = 5) {
  const t = new ResponsesStreamTranslator({ model: "m", input: "hi", instructions: "x" }, "shown");
  let out = "";
  const bytes = enc.encode(text);
  for (let i = 0; i < bytes.length; i += size) out += dec.decode(t.push(bytes.subarray(i, i + size)));
  out += dec.decode(t.end());
  const d = new SseDecoder();
  const events = [...d.push(enc.encode(out)), ...d.end()].map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
  for (const e of events) expect(e.data.type).toBe(e.event);
  events.forEach((e, i) => expect(e.data.sequence_number).toBe(i));
  return { events, usage: t.usage, abandoned: t.abandoned };
}

test("text: created, in_progress, a message item with its deltas and done events, completed with usage", () => {
  const { events, usage } = translate(
    sse(chunk({ role: "assistant", content: "" })) + sse(chunk({ content: "Hel" })) + sse(chunk({ content: "lo" })) + sse(chunk({}, "stop")) + sse({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 2 } }) + "data: [DONE]\n\n",
  );
  expect(events.map((e) => e.event)).toEqual([
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
  ]);
  expect(events[0]!.data.response).toMatchObject({ object: "response", status: "in_progress", model: "shown", instructions: "x", output: [] });
  expect(events[4]!.data).toMatchObject({ output_index: 0, content_index: 0, delta: "Hel" });
  expect(events[6]!.data.text).toBe("Hello");
  const done = events.at(-1)!.data.response;
  expect(done).toMatchObject({ status: "completed", output: [{ type: "message", status: "completed", content: [{ type: "output_text", text: "Hello" }] }], usage: { input_tokens: 4, output_tokens: 2, total_tokens: 6 } });
  expect(events[2]!.data.item.id).toBe(done.output[0].id);
  expect(usage).toEqual({ tokens: 2, promptTokens: 4, genMs: null });
});

test("tool calls: a function_call item per call, arguments in pieces, done with the whole arguments", () => {
  const { events } = translate(
    sse(chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] })) +
      sse(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] })) +
      sse(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] })) +
      sse(chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "t", arguments: "{}" } }] })) +
      sse(chunk({}, "tool_calls")) +
      "data: [DONE]\n\n",
  );
  const added = events.filter((e) => e.event === "response.output_item.added").map((e) => e.data.item);
  expect(added).toMatchObject([
    { type: "function_call", call_id: "call_a", name: "get_weather", arguments: "", status: "in_progress" },
    { type: "function_call", call_id: "call_b", name: "t" },
  ]);
  expect(events.filter((e) => e.event === "response.function_call_arguments.delta" && e.data.output_index === 0).map((e) => e.data.delta)).toEqual(['{"city":', '"Paris"}']);
  expect(events.find((e) => e.event === "response.function_call_arguments.done")!.data.arguments).toBe('{"city":"Paris"}');
  expect(events.at(-1)!.data.response.output).toMatchObject([
    { type: "function_call", call_id: "call_a", arguments: '{"city":"Paris"}', status: "completed" },
    { type: "function_call", call_id: "call_b", arguments: "{}", status: "completed" },
  ]);
});

test("cut by length: response.incomplete; an upstream error event: an error event and no completion", () => {
  expect(translate(sse(chunk({ content: "a" })) + sse(chunk({}, "length"))).events.at(-1)!.data).toMatchObject({ type: "response.incomplete", response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } } });
  const failed = translate(sse(chunk({ content: "a" })) + sse({ error: { message: "oom" } }) + sse(chunk({ content: "more" })));
  const err = failed.events;
  expect(err.at(-1)!.data).toEqual({ type: "error", sequence_number: err.length - 1, code: "upstream_error", message: "oom", param: null });
  expect(err.map((e) => e.event)).not.toContain("response.completed");
  // Ended with an error, as Anthropic's translator ends: the Exchange reads no more of the upstream and cancels it.
  expect(failed.abandoned).toBe(true);
  expect(translate(sse(chunk({ content: "a" }, "stop"))).abandoned).toBe(false);
});

test("a stream cut short (no finish reason, no [DONE]) or an event that is not JSON: response.failed with the error, never completed", () => {
  const cut = translate(sse(chunk({ content: "a" })) + sse(chunk({ content: "b" }))).events;
  expect(cut.at(-1)!.data).toMatchObject({ type: "response.failed", response: { status: "failed", error: { code: "server_error", message: expect.stringContaining("without finishing the response") } } });
  expect(cut.map((e) => e.event)).not.toContain("response.completed");
  const bad = translate(sse(chunk({ content: "a" })) + "data: {not json\n\n" + sse(chunk({ content: "b" }, "stop")) + "data: [DONE]\n\n");
  expect(bad.events.at(-1)!.data).toMatchObject({ type: "response.failed", response: { status: "failed", error: { message: expect.stringContaining("not JSON") } } });
  expect(bad.events.filter((e) => e.event === "response.output_text.delta").map((e) => e.data.delta)).toEqual(["a"]);
  expect(bad.events.map((e) => e.event)).not.toContain("response.completed");
});

test("an event the upstream never ends, past the broker's limit: response.failed, and nothing more is held", () => {
  const t = new ResponsesStreamTranslator({ model: "m", input: "hi" }, "shown");
  t.push(enc.encode(sse(chunk({ content: "a" })) + "data: "));
  const big = new Uint8Array(1024 * 1024).fill(0x61);
  let out = "";
  for (let i = 0; i < 33; i++) out += dec.decode(t.push(big));
  expect(out).toContain("response.failed");
  expect(out).toContain("over 33554432 bytes");
  expect(dec.decode(t.end())).toBe("");
});

test("parallel calls whose argument pieces are interleaved: each piece goes to its own call's item", () => {
  const { events } = translate(
    sse(chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "f", arguments: "" } }] })) +
      sse(chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "g", arguments: "" } }] })) +
      sse(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] })) +
      sse(chunk({ tool_calls: [{ index: 1, function: { arguments: '{"y":2}' } }] })) +
      sse(chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] })) +
      sse(chunk({}, "tool_calls")) +
      "data: [DONE]\n\n",
  );
  expect(events.filter((e) => e.event === "response.function_call_arguments.delta").map((e) => [e.data.output_index, e.data.delta])).toEqual([
    [0, '{"x":'],
    [1, '{"y":2}'],
    [0, "1}"],
  ]);
  expect(events.filter((e) => e.event === "response.function_call_arguments.done").map((e) => e.data.arguments)).toEqual(['{"x":1}', '{"y":2}']);
  expect(events.at(-1)!.data.response.output).toMatchObject([
    { type: "function_call", call_id: "call_a", name: "f", arguments: '{"x":1}', status: "completed" },
    { type: "function_call", call_id: "call_b", name: "g", arguments: '{"y":2}', status: "completed" },
  ]);
});

test("text, then a call, then text again: each item closed before the next kind begins, in output order", () => {
  const { events } = translate(
    sse(chunk({ content: "Let me check." })) +
      sse(chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "f", arguments: "{}" } }] })) +
      sse(chunk({ content: "Done." })) +
      sse(chunk({}, "stop")) +
      "data: [DONE]\n\n",
  );
  expect(events.filter((e) => e.event === "response.output_item.added" || e.event === "response.output_item.done").map((e) => `${e.event.slice(21)}:${e.data.output_index}`)).toEqual(["added:0", "done:0", "added:1", "done:1", "added:2", "done:2"]);
  expect(events.at(-1)!.data.response.output.map((o: any) => o.type)).toEqual(["message", "function_call", "message"]);
});

test("usage in the last event: the upstream's reasoning and cached tokens; without a count, an estimate from the reasoning streamed", () => {
  const stream = (usage: object) =>
    sse(chunk({ role: "assistant", reasoning_content: "x".repeat(20) })) + sse(chunk({ reasoning: "y".repeat(20) })) + sse(chunk({ content: "ok" })) + sse(chunk({}, "stop")) + sse({ choices: [], usage }) + "data: [DONE]\n\n";
  const completed = (u: object) => translate(stream(u)).events.at(-1)!.data.response.usage;
  expect(completed({ prompt_tokens: 9, completion_tokens: 40, prompt_tokens_details: { cached_tokens: 8 }, completion_tokens_details: { reasoning_tokens: 31 } })).toEqual({
    input_tokens: 9,
    input_tokens_details: { cached_tokens: 8 },
    output_tokens: 40,
    output_tokens_details: { reasoning_tokens: 31 },
    total_tokens: 49,
  });
  // 40 characters of reasoning, no count (llama.cpp): 10 tokens.
  expect(completed({ prompt_tokens: 9, completion_tokens: 12 }).output_tokens_details).toEqual({ reasoning_tokens: 10 });
});
