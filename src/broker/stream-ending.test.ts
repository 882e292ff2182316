// Unit tests for telling a native stream that ended with its last line or event from one cut short.
import { describe, expect, test } from "bun:test";
import { streamCutShort } from "./stream-ending.ts";

const b = (s: string) => new TextEncoder().encode(s);
const line = (o: object) => JSON.stringify(o) + "\n";
const ev = (o: unknown) => `data: ${typeof o === "string" ? o : JSON.stringify(o)}\n\n`;

describe("Ollama's NDJSON", () => {
  test("a done line, or the upstream's own error line, ends it", () => {
    expect(streamCutShort("ndjson", b(line({ message: { content: "a" }, done: false }) + line({ done: true, done_reason: "stop", eval_count: 1 })))).toBeNull();
    expect(streamCutShort("ndjson", b(line({ message: { content: "a" }, done: false }) + line({ error: "out of memory" })))).toBeNull();
  });
  test("a token line last is cut short", () => {
    expect(streamCutShort("ndjson", b(line({ message: { content: "a" }, done: false })))).toContain('no "done": true');
    expect(streamCutShort("ndjson", b(line({ message: { content: "a" }, done: false }) + line({ message: { content: 'b "done": true' }, done: false })))).toContain("incomplete");
  });
  test("a last line cut in its middle is cut short, whatever it says", () => {
    expect(streamCutShort("ndjson", b(line({ message: { content: "a" }, done: false }) + '{"model":"m","done":fa'))).toContain("in the middle of a line");
    expect(streamCutShort("ndjson", b(line({ message: { content: "a" }, done: false }) + '{"done":true,"eval_count":1'))).toContain("in the middle of a line");
    expect(streamCutShort("ndjson", b('{"model":"m","message":{"content":"a"'))).toContain("in the middle of a line");
  });
  test("a last line longer than the tail (a done line with its context) is not judged", () => {
    expect(streamCutShort("ndjson", b(`{"context":[${"1,".repeat(600)}1],"done":false}`.slice(-1024)))).toBeNull();
  });
});

describe("an OpenAI-compatible SSE stream", () => {
  const chunk = (content: string, finish: string | null = null) => ({ choices: [{ index: 0, delta: { content }, finish_reason: finish }] });
  test("[DONE], a finish reason, or the upstream's own error event ends it", () => {
    expect(streamCutShort("sse", b(ev(chunk("a")) + ev(chunk("", "stop")) + ev("[DONE]")))).toBeNull();
    expect(streamCutShort("sse", b(ev(chunk("a")) + ev(chunk("", "length"))))).toBeNull();
    expect(streamCutShort("sse", b(ev(chunk("a")) + ev({ error: { message: "boom" } })))).toBeNull();
  });
  test("a token event last is cut short", () => {
    expect(streamCutShort("sse", b(ev(chunk("a")) + ev(chunk("b"))))).toContain("no data: [DONE]");
    // llama.cpp's own /completion: the last event says "stop": true (a token event says false).
    expect(streamCutShort("sse", b(ev({ content: "a", stop: false, tokens_predicted: 1 }) + ev({ content: "", stop: true, tokens_predicted: 1 })))).toBeNull();
    expect(streamCutShort("sse", b(ev({ content: "a", stop: false, tokens_predicted: 1 })))).toContain("no data: [DONE]");
    // LM Studio's own chat: named events, the last chat.end.
    expect(streamCutShort("sse", b('event: message.delta\ndata: {"type":"message.delta","content":"a"}\n\nevent: chat.end\ndata: {"type":"chat.end","result":{}}\n\n'))).toBeNull();
    expect(streamCutShort("sse", b('event: message.delta\ndata: {"type":"message.delta","content":"a"}\n\n'))).toContain("no data: [DONE]");
  });
  test("a body that is not a stream is not judged", () => {
    expect(streamCutShort("other", b('{"a":1}'))).toBeNull();
    expect(streamCutShort("other", b(""))).toBeNull();
  });
});

describe("a stream that ended with nothing in it", () => {
  test("is cut short in either format (the openai client took it for an empty answer)", () => {
    expect(streamCutShort("sse", b(""))).toContain("without sending anything");
    expect(streamCutShort("ndjson", b(""))).toContain("without sending anything");
  });
});
