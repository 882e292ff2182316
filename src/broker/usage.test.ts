// Unit tests for reading token usage from the tail of Ollama and OpenAI responses.
import { describe, expect, test } from "bun:test";
import { estimatePromptTokens, joinTail, parsePromptUsage, parseUsage, streamedTokens } from "./usage.ts";
import { contentKeysOf, CONTENT_ROUTES } from "./content-events.ts";
import { GENERATION_PATHS } from "./exchange.ts";

const b = (s: string) => new TextEncoder().encode(s);

describe("token usage from the tail of a response", () => {
  test("Ollama done line: eval_count and eval_duration (ns)", () => {
    const line = '{"model":"m","done":true,"context":[1,2,3],"total_duration":9,"prompt_eval_count":7,"prompt_eval_duration":4,"eval_count":42,"eval_duration":2000000000}\n';
    expect(parseUsage(b(line))).toEqual({ tokens: 42, promptTokens: 7, genMs: 2000 });
  });
  test("OpenAI usage in the last SSE chunk, before [DONE]", () => {
    const sse = 'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":12,"total_tokens":19}}\n\ndata: [DONE]\n\n';
    expect(parseUsage(b(sse))).toEqual({ tokens: 12, promptTokens: 7, genMs: null });
  });
  test("Anthropic's message and OpenAI's Responses answer: input_tokens and output_tokens", () => {
    const msg = '{"id":"msg_1","type":"message","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":9,"output_tokens":3}}';
    expect(parseUsage(b(msg))).toEqual({ tokens: 3, promptTokens: 9, genMs: null });
    const resp = '{"id":"resp_1","object":"response","usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":0},"output_tokens":4,"total_tokens":9}}';
    expect(parseUsage(b(resp))).toEqual({ tokens: 4, promptTokens: 5, genMs: null });
  });
  test("numbers read from the bytes as the regex read them: white space, no digits, digits past the 32-byte window", () => {
    const regex = (text: string) => {
      const at = text.lastIndexOf('"eval_count"');
      if (at < 0) return null;
      const m = /^"eval_count"\s*:\s*(\d+)/.exec(text.slice(at, at + '"eval_count"'.length + 32));
      return m ? Number(m[1]) : null;
    };
    const cases = ['"eval_count":12', '"eval_count" : 7}', '"eval_count"\t:\n\r 99', '"eval_count":\u00a05', '"eval_count":x1', '"eval_count"', '"eval_count":', '"eval_count" 3',
      `"eval_count":${" ".repeat(25)}123456789`, '"eval_count":1,"eval_count":2', '"eval_count":007'];
    for (const c of cases) {
      const bytes = Buffer.from(c, "latin1");
      expect({ c, n: parseUsage(bytes)?.tokens ?? null }).toEqual({ c, n: regex(c) });
    }
  });
  test("nothing to find", () => {
    expect(parseUsage(b('{"done":false}\n'))).toBeNull();
    expect(parseUsage(new Uint8Array())).toBeNull();
  });
  test("joinTail keeps the last bytes across chunks, in order", () => {
    const t = joinTail([undefined, b("abc"), b("def"), b("gh")], 5);
    expect(new TextDecoder().decode(t)).toBe("defgh");
    expect(new TextDecoder().decode(joinTail([b("xy")], 10))).toBe("xy");
    // A done line split across two chunks is still found.
    const parts = [b('{"eval_count":5,"eval_'), b('duration":1000000}\n')];
    expect(parseUsage(joinTail(parts))).toEqual({ tokens: 5, promptTokens: null, genMs: 1 });
  });
});

describe("tokens counted as a stream passes (for a stream cut short)", () => {
  const ollama = contentKeysOf("/api/chat");
  const openai = contentKeysOf("/v1/chat/completions");
  /** Tokens of a stream cut into these chunks, counted as the Exchange counts them. */
  const count = (route: string, sse: boolean, chunks: string[]) => {
    const state = { eventCounted: false };
    return chunks.reduce((n, c) => n + streamedTokens(b(c), sse, contentKeysOf(route), state), 0);
  };
  test("Ollama NDJSON: one per line with content, however the lines are cut into chunks; not the done line", () => {
    const lines = '{"message":{"content":"a"},"done":false}\n{"message":{"content":"b"},"done":false}\n{"message":{"content":"c';
    const state = { eventCounted: false };
    expect(streamedTokens(b(lines), false, ollama, state)).toBe(3);
    expect(streamedTokens(b('"},"done":false}\n'), false, ollama, state)).toBe(0);
    expect(streamedTokens(b(""), false, ollama, state)).toBe(0);
    // A line cut after its content is counted once, in the chunk that holds the content.
    expect(count("/api/generate", false, ['{"response":"a",', '"done":false}\n{"response":"b","done":false}\n', '{"response":"","done":true,"context":[1,2],"eval_count":2}\n'])).toBe(2);
    expect(count("/api/chat", false, ['{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"content":"x"}}}]},"done":false}\n', '{"message":{"role":"assistant","content":""},"done":true}\n'])).toBe(1);
    expect(count("/api/chat", false, ['{"message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}\n'])).toBe(1);
  });
  test("OpenAI SSE: one per data event with content; the role-only, finish and usage-only chunks, [DONE] and comments are not tokens", () => {
    const sse = 'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata:{"choices":[{"delta":{"content":"b"}}]}\n\n: ping\n\ndata: [DONE]\n\n';
    expect(streamedTokens(b(sse), true, openai, { eventCounted: false })).toBe(2);
    const role = 'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null}]}\n\n';
    const tok = (t: string) => `data: {"choices":[{"index":0,"delta":{"content":${JSON.stringify(t)}},"logprobs":{"content":[{"token":"x"}]}}]}\n\n`;
    const finish = 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}\n\n';
    expect(count("/v1/chat/completions", true, [role, tok("a"), tok('"content": "b"'), tok("data: c"), finish, usage, "data: [DONE]\n\n"])).toBe(3);
    // Spaced JSON (Python's json.dumps), reasoning and tool-call deltas, an event cut across chunks (counted once).
    expect(count("/v1/chat/completions", true, ['data: {"choices": [{"delta": {"reasoning_content": "hm"}}]}\n\n', 'data: {"choices":[{"delta":{"content":null,"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}\n\n', 'data: {"choices":[{"delta":{"reasoning":"', 'x"}}]}\n\n'])).toBe(3);
    expect(count("/v1/completions", true, ['data: {"choices":[{"text":"a","index":0}]}\n\n', 'data: {"choices":[{"text":"","finish_reason":"length"}]}\n\n'])).toBe(1);
  });
  test("Anthropic and Responses SSE: only the content deltas are tokens, not message_start, content_block_start, ping, response.created…", () => {
    const ev = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    const messages = [
      ev("message_start", { message: { id: "m", type: "message", role: "assistant", content: [], usage: { input_tokens: 9, output_tokens: 1 } } }),
      ev("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "" } }),
      ev("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "hm" } }),
      ev("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "sig" } }),
      ev("content_block_start", { index: 1, content_block: { type: "text", text: "" } }),
      ev("ping", {}),
      ev("content_block_delta", { index: 1, delta: { type: "text_delta", text: "text" } }),
      ev("content_block_delta", { index: 1, delta: { type: "text_delta", text: "b" } }),
      ev("content_block_stop", { index: 1 }),
      ev("content_block_start", { index: 2, content_block: { type: "tool_use", id: "t", name: "f", input: {} } }),
      ev("content_block_delta", { index: 2, delta: { type: "input_json_delta", partial_json: '{"a":' } }),
      ev("message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 4 } }),
      ev("message_stop", {}),
    ];
    expect(count("/v1/messages", true, messages)).toBe(4);
    const responses = [
      ev("response.created", { response: { id: "r", status: "in_progress", output: [], text: { format: { type: "text" } }, usage: null } }),
      ev("response.in_progress", { response: { id: "r", status: "in_progress", output: [] } }),
      ev("response.output_item.added", { output_index: 0, item: { type: "message", content: [] } }),
      ev("response.content_part.added", { output_index: 0, part: { type: "output_text", text: "" } }),
      ev("response.output_text.delta", { output_index: 0, delta: "a" }),
      ev("response.output_text.delta", { output_index: 0, delta: "delta" }),
      ev("response.output_text.done", { output_index: 0, text: "adelta" }),
      ev("response.function_call_arguments.delta", { output_index: 1, delta: "{}" }),
      ev("response.completed", { response: { id: "r", status: "completed", output: [{ content: [{ text: "adelta" }] }], usage: { input_tokens: 3, output_tokens: 3 } } }),
    ];
    expect(count("/v1/responses", true, responses)).toBe(3);
  });
  test("every generation route has its dialect's content keys, and the table names no other route", () => {
    expect([...CONTENT_ROUTES].sort()).toEqual([...GENERATION_PATHS].sort());
    for (const route of GENERATION_PATHS) expect(contentKeysOf(route).length).toBeGreaterThan(0);
  });
  test("OpenAI SSE scanned: the first event whose data cannot be JSON is found where it begins, across chunks; legal SSE never is", () => {
    const scan = () => ({ sseEventStart: true, sseBadEventAt: -1, eventCounted: false });
    const ok = 'data: {"choices":[{"delta":{"content":"a"}}]}\n\n';
    // In a chunk, after a blank line (LF or CRLF); first in a chunk after one that ended an event; first in the stream.
    for (const [chunks, n, at] of [
      [[ok + "data: Internal Server Error\n\n"], 1, ok.length],
      [[ok.replaceAll("\n", "\r\n") + "data:<html>\r\n\r\n"], 1, ok.length + 2],
      [[ok, "data: oops\n\n"], 1, 0],
      [["data: oops\n\n"], 0, 0],
    ] as const) {
      const s = scan();
      let counted = 0;
      for (const c of chunks) counted += streamedTokens(b(c), true, openai, s, s);
      expect({ counted, at: s.sseBadEventAt }).toEqual({ counted: n, at });
    }
    // Never taken for one: [DONE], empty data, a comment, data lines after the first of an event (legal SSE joins them),
    // a data line after an event: line, "data: x" inside a token's text, a chunk boundary where it cannot be told.
    const s = scan();
    for (const c of [
      ok + "data: [DONE]\n\n",
      "data:\n\n: ping\n\n",
      'data: {"a":\ndata: 1}\n\n',
      "event: message\ndata: plain text\n\n",
      'data: {"choices":[{"delta":{"content":"\\ndata: hi"}}]}\n\n',
      'data: {"x":1}\n',
      "\ndata: half a line",
    ])
      streamedTokens(b(c), true, openai, s, s);
    expect(s.sseBadEventAt).toBe(-1);
    // Without a scan, counting alone (as before).
    expect(streamedTokens(b(ok + "data: oops\n\n"), true, openai, { eventCounted: false })).toBe(1);
  });
  test("the prompt is estimated at one token per 4 bytes of body", () => {
    expect([estimatePromptTokens(0), estimatePromptTokens(4), estimatePromptTokens(81)]).toEqual([0, 1, 21]);
  });
});

test("llama.cpp's own /completion stream: the last event's tokens_predicted (each event carries the running count)", () => {
  const tail = new TextEncoder().encode('data: {"content":"a","stop":false,"tokens_predicted":1,"tokens_evaluated":7}\n\ndata: {"content":"","stop":true,"tokens_predicted":2,"tokens_evaluated":7}\n\n');
  expect(parseUsage(tail)).toEqual({ tokens: 2, promptTokens: 7, genMs: null });
});

test("LM Studio's own chat stream: the stats of its chat.end event (total_output_tokens, not a reasoning or other count)", () => {
  const tail = new TextEncoder().encode('event: chat.end\ndata: {"type":"chat.end","result":{"output":[],"stats":{"input_tokens":7,"total_output_tokens":25,"reasoning_output_tokens":3}}}\n\n');
  expect(parseUsage(tail)).toEqual({ tokens: 25, promptTokens: 7, genMs: null });
});

test("the counts found last are the answer's own: an echoed tool schema's \"eval_count\": 0 before a Responses answer's usage is not its count", () => {
  const echoed = '{"id":"resp_1","object":"response","tools":[{"type":"function","name":"f","parameters":{"default":{"eval_count":0,"prompt_eval_count":0}}}],"usage":{"input_tokens":5,"output_tokens":4,"total_tokens":9},"user":null}';
  expect(parseUsage(b(echoed))).toEqual({ tokens: 4, promptTokens: 5, genMs: null });
  // A chat completion echoing nothing, with an OpenAI usage after a key named like Ollama's in its text (escaped: no key).
  const chat = '{"choices":[{"message":{"content":"\\"eval_count\\": 0"}}],"usage":{"prompt_tokens":7,"completion_tokens":12}}';
  expect(parseUsage(b(chat))).toEqual({ tokens: 12, promptTokens: 7, genMs: null });
  // A key whose value is not a number (a metadata string echoed after the usage) is passed over.
  const meta = '{"usage":{"input_tokens":5,"output_tokens":4},"metadata":{"eval_count":"0"}}';
  expect(parseUsage(b(meta))).toEqual({ tokens: 4, promptTokens: 5, genMs: null });
});

test("an embedding's prompt count at the end of an answer too large to read whole (Ollama's, OpenAI's)", () => {
  expect(parsePromptUsage(b('0.1,0.2]],"total_duration":1000,"load_duration":5,"prompt_eval_count":4096}'))).toEqual({ tokens: 0, promptTokens: 4096, genMs: null });
  expect(parsePromptUsage(b('0.2,0.3]}],"model":"m","usage":{"prompt_tokens":77,"total_tokens":77}}'))).toEqual({ tokens: 0, promptTokens: 77, genMs: null });
  expect(parsePromptUsage(b("0.1,0.2,0.3]]"))).toBeNull();
});

test("Ollama's NDJSON: the counts are the done line's; a tool call's arguments (a JSON object there) in a stream cut before it are not", () => {
  const tool = '{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"done":true,"eval_count":0,"prompt_eval_count":0}}}]},"done":false}\n';
  const done = '{"model":"m","message":{"role":"assistant","content":""},"done":true,"prompt_eval_count":9,"eval_count":31,"eval_duration":1000000}\n';
  // Cut after the tool call: no counts (the tokens relayed are counted instead), not the arguments' zeros.
  expect(parseUsage(b(tool), true)).toBeNull();
  expect(parseUsage(b(tool + done), true)).toEqual({ tokens: 31, promptTokens: 9, genMs: 1 });
  expect(parseUsage(b(tool.replace('"done":false', '"done" : false')), true)).toBeNull();
  // A done line longer than the tail (a long context array before its counts): no "done" in the tail, the counts are its.
  expect(parseUsage(b('2,3,4],"prompt_eval_count":5,"eval_count":6}\n'), true)).toEqual({ tokens: 6, promptTokens: 5, genMs: null });
  // A done line without a prompt count (its prompt cached) does not take one from a line before it.
  expect(parseUsage(b(tool + '{"done":true,"eval_count":4}\n'), true)).toEqual({ tokens: 4, promptTokens: null, genMs: null });
});
