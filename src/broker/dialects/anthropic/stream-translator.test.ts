// A chat completions stream rewritten as Anthropic's Messages events.
import { expect, test } from "bun:test";
import { SseDecoder } from "../sse-decoder.ts";
import { AnthropicStreamTranslator } from "./stream-translator.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const chunk = (delta: object, finish: string | null = null, extra: object = {}) => ({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish, ...extra }] });

/** Runs the stream through the translator cut into pieces of `size` bytes; returns the events as parsed objects. */
function translate(text: string, size = 7, stops: string[] = []): { event: string; data: any }[] {
  const t = new AnthropicStreamTranslator("claude-x", stops, 11);
  let out = "";
  const bytes = enc.encode(text);
  for (let i = 0; i < bytes.length; i += size) out += dec.decode(t.push(bytes.subarray(i, i + size)));
  out += dec.decode(t.end());
  const d = new SseDecoder();
  const events = [...d.push(enc.encode(out)), ...d.end()];
  for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
  return events.map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
}

test("text: message_start, ping, one text block with its deltas, message_delta with usage, message_stop", () => {
  const up =
    sse(chunk({ role: "assistant", content: "" })) +
    sse(chunk({ content: "Hel" })) +
    sse(chunk({ content: "lo" })) +
    sse(chunk({}, "stop")) +
    sse({ id: "chatcmpl-1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } }) +
    "data: [DONE]\n\n";
  const ev = translate(up);
  expect(ev.map((e) => e.event)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
  expect(ev[0]!.data.message).toMatchObject({ type: "message", role: "assistant", model: "claude-x", content: [], stop_reason: null, usage: { input_tokens: 11, output_tokens: 0 } });
  expect(ev[2]!.data).toEqual({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
  expect(ev[3]!.data).toEqual({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } });
  expect(ev[6]!.data).toEqual({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 2, input_tokens: 9 } });
});

test("tool calls with arguments in pieces: text block, then one tool_use block per call with input_json_delta", () => {
  const call = (index: number, fn: object, id?: string) => ({ tool_calls: [{ index, ...(id ? { id, type: "function" } : {}), function: fn }] });
  const up =
    sse(chunk({ role: "assistant", content: "Let me check." })) +
    sse(chunk(call(0, { name: "get_weather", arguments: "" }, "call_a"))) +
    sse(chunk(call(0, { arguments: '{"ci' }))) +
    sse(chunk(call(0, { arguments: 'ty":"Paris"}' }))) +
    sse(chunk(call(1, { name: "get_time", arguments: '{"tz":"CET"}' }, "call_b"))) +
    sse(chunk({}, "tool_calls")) +
    "data: [DONE]\n\n";
  for (const size of [3, 1000]) {
    const ev = translate(up, size);
    expect(ev.map((e) => e.event)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(ev[5]!.data).toEqual({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "call_a", name: "get_weather", input: {} } });
    expect(ev[6]!.data.delta).toEqual({ type: "input_json_delta", partial_json: '{"ci' });
    expect(ev[7]!.data.delta).toEqual({ type: "input_json_delta", partial_json: 'ty":"Paris"}' });
    expect(ev[9]!.data.content_block).toMatchObject({ type: "tool_use", id: "call_b", name: "get_time" });
    expect(ev[10]!.data).toEqual({ type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"tz":"CET"}' } });
    expect(ev[12]!.data.delta.stop_reason).toBe("tool_use");
    // No usage chunk: zero output tokens reported, none counted by the translator.
    expect(ev[12]!.data.usage).toEqual({ output_tokens: 0 });
  }
});

test("reasoning becomes a thinking block before the text; length is max_tokens; a stream without [DONE] still closes", () => {
  const up = sse(chunk({ reasoning_content: "hmm" })) + sse(chunk({ content: "A" })) + sse(chunk({}, "length"));
  const ev = translate(up);
  expect(ev.map((e) => e.event)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
  expect(ev[2]!.data.content_block.type).toBe("thinking");
  expect(ev[3]!.data.delta).toEqual({ type: "thinking_delta", thinking: "hmm" });
  expect(ev[8]!.data.delta.stop_reason).toBe("max_tokens");
});

test("a stop sequence the server names (vLLM's stop_reason) is stop_sequence", () => {
  const ev = translate(sse(chunk({ content: "x" })) + sse(chunk({}, "stop", { stop_reason: "END" })) + "data: [DONE]\n\n", 5, ["END"]);
  expect(ev.at(-2)!.data.delta).toEqual({ stop_reason: "stop_sequence", stop_sequence: "END" });
});

test("an error event from the upstream ends the stream with Anthropic's error event", () => {
  const ev = translate(sse(chunk({ content: "x" })) + sse({ error: { message: "out of memory" } }) + sse(chunk({ content: "y" })));
  expect(ev.at(-1)).toEqual({ event: "error", data: { type: "error", error: { type: "api_error", message: "out of memory" } } });
  expect(ev.map((e) => e.event)).not.toContain("message_stop");
});

test("tool calls without an index (told apart by their ids) and a stream without a finish reason: each its block, tool_use", () => {
  const up =
    sse(chunk({ tool_calls: [{ id: "c1", type: "function", function: { name: "a", arguments: '{"x":' } }] })) +
    sse(chunk({ tool_calls: [{ function: { arguments: "1}" } }] })) +
    sse(chunk({ tool_calls: [{ id: "c2", type: "function", function: { name: "b", arguments: "{}" } }] })) +
    "data: [DONE]\n\n";
  const ev = translate(up);
  const starts = ev.filter((e) => e.event === "content_block_start").map((e) => [e.data.index, e.data.content_block.id]);
  expect(starts).toEqual([
    [0, "c1"],
    [1, "c2"],
  ]);
  expect(ev.filter((e) => e.event === "content_block_delta" && e.data.index === 0).map((e) => e.data.delta.partial_json)).toEqual(['{"x":', "1}"]);
  expect(ev.at(-2)!.data.delta.stop_reason).toBe("tool_use");
});

test("usage is kept for the accounting", () => {
  const t = new AnthropicStreamTranslator("m", [], 0);
  t.push(enc.encode(sse(chunk({ content: "a" }, "stop"))));
  expect(t.usage).toBeNull();
  // Kept as soon as the counts arrive: a stream broken off after them is counted by them.
  t.push(enc.encode(sse({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 1 } })));
  expect(t.usage).toEqual({ tokens: 1, promptTokens: 4, genMs: null });
  t.end();
  expect(t.usage).toEqual({ tokens: 1, promptTokens: 4, genMs: null });
});

test("a stream cut short (no finish reason, no [DONE]) or an empty one ends with Anthropic's error event, not a finished message", () => {
  const ev = translate(sse(chunk({ content: "a" })) + sse(chunk({ content: "b" })));
  expect(ev.map((e) => e.event)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta", "error"]);
  expect(ev.at(-1)!.data).toEqual({ type: "error", error: { type: "api_error", message: expect.stringContaining("without finishing the message") } });
  const e = new AnthropicStreamTranslator("m", [], 0);
  const empty = dec.decode(e.end());
  expect(empty).toContain("event: error");
  expect(empty).not.toContain("message_stop");
});

test("a stream event that is not JSON ends the stream with Anthropic's error event; what follows is not made into a message", () => {
  const t = new AnthropicStreamTranslator("m", [], 0);
  const out = dec.decode(t.push(enc.encode(sse(chunk({ content: "a" })) + sse({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 1 } }) + "data: {not json\n\n" + sse(chunk({ content: "b" }, "stop")) + "data: [DONE]\n\n"))) + dec.decode(t.end());
  expect(out).toContain("event: error");
  expect(out).toContain("not JSON");
  expect(out).not.toContain('"text":"b"');
  expect(out).not.toContain("message_stop");
  // The counts the upstream sent before the break are kept for the accounting.
  expect(t.usage).toEqual({ tokens: 1, promptTokens: 4, genMs: null });
  // Ended with an error: the Exchange reads no more of the upstream (a whole message is not abandoned).
  expect(t.abandoned).toBe(true);
  const whole = new AnthropicStreamTranslator("m", [], 0);
  whole.push(enc.encode(sse(chunk({ content: "a" }, "stop")) + "data: [DONE]\n\n"));
  expect(whole.abandoned).toBe(false);
});

test("an event the upstream never ends, past the broker's limit: Anthropic's error event, and nothing more is held", () => {
  const t = new AnthropicStreamTranslator("m", [], 0);
  const head = dec.decode(t.push(enc.encode(sse(chunk({ content: "a" })) + "data: ")));
  expect(head).toContain("text_delta");
  const big = new Uint8Array(1024 * 1024).fill(0x61);
  let out = "";
  for (let i = 0; i < 33; i++) out += dec.decode(t.push(big));
  expect(out).toContain("event: error");
  expect(out).toContain("over 33554432 bytes");
  expect(dec.decode(t.push(big)) + dec.decode(t.end())).toBe("");
});

test("parallel calls whose pieces interleave: each call's arguments whole in its own block (the first streamed, the others held)", () => {
  const piece = (index: number, fn: object, id?: string) => sse(chunk({ tool_calls: [{ index, ...(id ? { id, type: "function" } : {}), function: fn }] }));
  const up =
    piece(0, { name: "get_weather", arguments: "" }, "call_a") +
    piece(1, { name: "get_time", arguments: "" }, "call_b") +
    piece(0, { arguments: '{"city":' }) +
    piece(1, { arguments: '{"tz":' }) +
    piece(0, { arguments: '"Paris"}' }) +
    piece(1, { arguments: '"CET"}' }) +
    sse(chunk({}, "tool_calls")) +
    "data: [DONE]\n\n";
  for (const size of [5, 1000]) {
    const ev = translate(up, size);
    // Blocks are sequential: each index starts, gets its deltas and stops before the next starts.
    const blocks: { id: string; name: string; json: string }[] = [];
    let open = -1;
    for (const e of ev) {
      if (e.event === "content_block_start") {
        expect(open).toBe(-1);
        open = e.data.index;
        expect(open).toBe(blocks.length);
        blocks.push({ id: e.data.content_block.id, name: e.data.content_block.name, json: "" });
      } else if (e.event === "content_block_delta") {
        expect(e.data.index).toBe(open);
        blocks[open]!.json += e.data.delta.partial_json;
      } else if (e.event === "content_block_stop") {
        expect(e.data.index).toBe(open);
        open = -1;
      }
    }
    expect(blocks.map((b) => ({ id: b.id, name: b.name, input: JSON.parse(b.json) }))).toEqual([
      { id: "call_a", name: "get_weather", input: { city: "Paris" } },
      { id: "call_b", name: "get_time", input: { tz: "CET" } },
    ]);
    expect(ev.at(-2)!.data.delta.stop_reason).toBe("tool_use");
  }
});
