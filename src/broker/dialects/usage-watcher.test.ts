// Usage read from native Messages and Responses streams, and the error event of one cut short.
import { expect, test } from "bun:test";
import { UsageWatcher } from "./usage-watcher.ts";

const enc = new TextEncoder();

test("Anthropic stream: input_tokens from message_start, output_tokens from message_delta; bytes pass unchanged", () => {
  const w = new UsageWatcher("anthropic");
  const text =
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":25,"output_tokens":1}}}\n\n' +
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n' +
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}\n\n' +
    'event: message_stop\ndata: {"type":"message_stop"}\n\n';
  const bytes = enc.encode(text);
  // The start alone (a stream cut short there) gives no counts: message_start's output count is only a start.
  const cut = new UsageWatcher("anthropic");
  cut.push(enc.encode(text.slice(0, text.indexOf("event: content_block_delta"))));
  expect(cut.usage).toBeNull();
  let out = "";
  for (let i = 0; i < bytes.length; i += 13) out += new TextDecoder().decode(w.push(bytes.subarray(i, i + 13)), { stream: true });
  w.end();
  expect(out).toBe(text);
  expect(w.usage).toEqual({ tokens: 15, promptTokens: 25, genMs: null });
});

test("Responses stream: the usage of response.completed", () => {
  const w = new UsageWatcher("responses");
  w.push(enc.encode('event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","status":"in_progress","usage":null}}\n\n'));
  expect(w.usage).toBeNull();
  w.push(enc.encode('event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":7,"output_tokens":3,"total_tokens":10}}}\n\n'));
  expect(w.usage).toEqual({ tokens: 3, promptTokens: 7, genMs: null });
});

test("a native stream that ends before its last event gets the dialect's error event; a whole one gets nothing added", () => {
  const dec = new TextDecoder();
  const a = new UsageWatcher("anthropic");
  a.push(enc.encode('event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3}}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta"'));
  expect(dec.decode(a.end())).toBe('\n\nevent: error\ndata: {"type":"error","error":{"type":"api_error","message":"the upstream ended the stream before its last event; the answer is incomplete"}}\n\n');
  const whole = new UsageWatcher("anthropic");
  whole.push(enc.encode('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
  expect(whole.end().byteLength).toBe(0);
  const r = new UsageWatcher("responses");
  r.push(enc.encode('event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"a"}\n\n'));
  expect(JSON.parse(dec.decode(r.end()).split("data: ")[1]!)).toEqual({ type: "error", code: "upstream_error", message: expect.stringContaining("incomplete"), param: null });
  const failed = new UsageWatcher("responses");
  failed.push(enc.encode('event: response.failed\ndata: {"type":"response.failed","response":{"status":"failed"}}\n\n'));
  expect(failed.end().byteLength).toBe(0);
});

test("only the events that carry counts are decoded and parsed: the token events pass unread", () => {
  const decode = TextDecoder.prototype.decode;
  const parse = JSON.parse;
  let decoded = 0;
  let parsed = 0;
  TextDecoder.prototype.decode = function (this: TextDecoder, ...a: Parameters<TextDecoder["decode"]>) {
    decoded++;
    return decode.apply(this, a);
  };
  JSON.parse = (...a: Parameters<typeof JSON.parse>) => (parsed++, parse(...a));
  const delta = enc.encode('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tok \\"usage\\""}}\n\n');
  const w = new UsageWatcher("anthropic");
  let tokens: { decoded: number; parsed: number };
  try {
    w.push(enc.encode('event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":4,"output_tokens":1}}}\n\nevent: ping\ndata: {"type": "ping"}\n\n'));
    const start = { decoded, parsed };
    for (let i = 0; i < 100; i++) w.push(delta);
    tokens = { decoded: decoded - start.decoded, parsed: parsed - start.parsed };
    w.push(enc.encode('event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":100}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'));
    w.end();
  } finally {
    TextDecoder.prototype.decode = decode;
    JSON.parse = parse;
  }
  expect(tokens).toEqual({ decoded: 0, parsed: 0 });
  // message_start and message_delta, each decoded and parsed once.
  expect({ decoded, parsed }).toEqual({ decoded: 2, parsed: 2 });
  expect(w.usage).toEqual({ tokens: 100, promptTokens: 4, genMs: null });
});
