// /v1/messages' plan: passed through to kinds that serve it, translated for the others.
import { expect, test } from "bun:test";
import { HttpError } from "../../../core/http-error.ts";
import { messagesPlan } from "./messages-plan.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const body = (o: unknown) => enc.encode(JSON.stringify(o));
const run = (t: { push(c: Uint8Array): Uint8Array; end(): Uint8Array } | null, text: string) => (t ? dec.decode(t.push(enc.encode(text))) + dec.decode(t.end()) : text);

test("a kind that serves /v1/messages gets the request as it is; its stream passes with its usage read", () => {
  const sent = body({ model: "m", max_tokens: 5, messages: [{ role: "user", content: "hi" }], stream: true });
  const a = messagesPlan("claude-x").attempt("ollama", "/v1/messages?beta=true", sent, sent.byteLength);
  expect(a).toMatchObject({ target: "/v1/messages?beta=true", body: sent, translated: false });
  const ans = a.answer(200, "text/event-stream");
  const ev = 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';
  expect(run(ans.transform, ev)).toBe(ev);
  expect(ans.transform!.usage).toEqual({ tokens: 3, promptTokens: null, genMs: null });
  // Its errors in Anthropic's shape stay; another shape is put in it.
  const native = '{"type":"error","error":{"type":"not_found_error","message":"model not found"}}';
  expect(run(a.answer(404, "application/json").transform, native)).toBe(native);
  expect(JSON.parse(run(a.answer(500, "text/plain").transform, "boom"))).toEqual({ type: "error", error: { type: "api_error", message: "boom" } });
});

test("a kind without it gets a chat completions request, and its answers come back as Anthropic's", () => {
  const sent = body({ model: "llama3.2:1b", max_tokens: 5, stop_sequences: ["X"], messages: [{ role: "user", content: "hi" }] });
  const a = messagesPlan("claude-x").attempt("openai", "/v1/messages?beta=true", sent, sent.byteLength);
  expect(a.target).toBe("/v1/chat/completions");
  expect(a.translated).toBe(true);
  expect(JSON.parse(dec.decode(a.body as Uint8Array))).toEqual({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], max_tokens: 5, stop: ["X"] });
  const whole = a.answer(200, "application/json");
  expect(whole.contentType).toBe("application/json");
  const m = JSON.parse(run(whole.transform, JSON.stringify({ id: "chatcmpl-1", choices: [{ message: { content: "yo" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 1 } })));
  expect(m).toMatchObject({ type: "message", model: "claude-x", content: [{ type: "text", text: "yo" }], stop_reason: "end_turn", usage: { input_tokens: 3, output_tokens: 1 } });
  expect(whole.transform!.usage).toEqual({ tokens: 1, promptTokens: 3, genMs: null });
  const err = a.answer(404, "application/json");
  expect(JSON.parse(run(err.transform, '{"error":{"message":"model \\"x\\" not found"}}'))).toEqual({ type: "error", error: { type: "not_found_error", message: 'model "x" not found' } });
  expect(run(a.answer(200, "text/event-stream").transform, "data: [DONE]\n\n")).toContain("event: message_stop");
});

test("a body too large to hold cannot be translated (413), nor one that is not a JSON object (400)", () => {
  const p = messagesPlan(null);
  const stream = new ReadableStream<Uint8Array>();
  expect(() => p.attempt("openai", "/v1/messages", stream, 50_000_000)).toThrow(HttpError);
  try {
    p.attempt("openai", "/v1/messages", stream, 50_000_000);
  } catch (e) {
    expect((e as HttpError).status).toBe(413);
  }
  // Passed through as it is to a native upstream, which reads it itself.
  expect(p.attempt("ollama", "/v1/messages", stream, 50_000_000).body).toBe(stream);
  expect(() => p.attempt("openai", "/v1/messages", enc.encode("[1]"), 3)).toThrow("JSON object");
  expect(p.takes("openai")).toBe(true);
});
