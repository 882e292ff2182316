import { expect, test } from "bun:test";
import { askForUsage, usagePlan, UsageStripper } from "./sse-usage.ts";

const b = (s: string) => new TextEncoder().encode(s);
const s = (u: Uint8Array) => new TextDecoder().decode(u);

test("askForUsage adds include_usage to a stream request only, keeping the other stream_options", () => {
  expect(JSON.parse(s(askForUsage(b('{"stream":true,"stream_options":{"x":1},"model":"m"}'))!))).toEqual({ stream: true, stream_options: { x: 1, include_usage: true }, model: "m" });
  expect(askForUsage(b('{"stream":false}'))).toBeNull();
  expect(askForUsage(b('{"stream":true,"stream_options":{"include_usage":true}}'))).toBeNull();
  expect(askForUsage(b("not json"))).toBeNull();
});

test("the usage event is taken out even when split across chunks; every other byte passes in order", () => {
  const stream = 'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}\n\ndata: [DONE]\n\n';
  for (let cut = 1; cut < stream.length; cut += 7) {
    const st = new UsageStripper();
    const out = s(st.push(b(stream.slice(0, cut)))) + s(st.push(b(stream.slice(cut)))) + s(st.end());
    expect(out).toBe('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: [DONE]\n\n');
    expect(st.usage).toEqual({ tokens: 2, promptTokens: 7, genMs: null });
  }
  // A usage field inside a normal event is content, not the usage event.
  const st = new UsageStripper();
  const keep = 'data: {"choices":[{"delta":{"content":"\\"usage\\""}}]}\n\n';
  expect(s(st.push(b(keep)))).toBe(keep);
  expect(st.usage).toBeNull();
});

test("an event the upstream never ends is not held: past 64 KiB it passes on as it comes, and the usage event after it is still taken out", () => {
  const st = new UsageStripper();
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  let out = dec.decode(st.push(enc.encode("data: " + "a".repeat(40_000))));
  expect(out).toBe("");
  out += dec.decode(st.push(enc.encode("a".repeat(40_000))));
  expect(out.length).toBe(80_006);
  out += dec.decode(st.push(enc.encode('b\n\ndata: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\ndata: [DONE]\n\n')));
  out += dec.decode(st.end());
  expect(out).toBe("data: " + "a".repeat(80_000) + "b\n\ndata: [DONE]\n\n");
  expect(st.usage).toEqual({ tokens: 2, promptTokens: 3, genMs: null });
});

test("a stream that is neither a boolean nor null is refused (vLLM reads \"true\" and 1 as true, llama.cpp as false); include_usage in another spelling is taken out", () => {
  for (const v of ['"true"', "1", '"yes"', '"false"', "0", "{}"]) expect(() => usagePlan(b(`{"stream":${v}}`))).toThrow('"stream" in the request body must be true or false');
  expect(usagePlan(b('{"stream":null}'))).toEqual({ streaming: false, withUsage: null });
  // Ollama's decoder reads "INCLUDE_USAGE" after the include_usage the broker sets: it is taken out, ours stays.
  expect(JSON.parse(s(askForUsage(b('{"stream":true,"stream_options":{"include_usage":false,"INCLUDE_USAGE":false}}'))!))).toEqual({ stream: true, stream_options: { include_usage: true } });
  expect(JSON.parse(s(askForUsage(b('{"stream":true,"stream_options":{"include_usage":true,"Include_Usage":false}}'))!))).toEqual({ stream: true, stream_options: { include_usage: true } });
});

test("SSE with CRLF line ends (Python's sse-starlette): each event passes as it comes, and the usage event is taken out", () => {
  const st = new UsageStripper();
  const token = 'data: {"choices":[{"delta":{"content":"a"}}]}\r\n\r\n';
  // Each token event goes on at once, not held back until 64 KiB.
  expect(s(st.push(b(token)))).toBe(token);
  const usage = 'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":6}}\r\n\r\n';
  expect(s(st.push(b(usage + "data: [DONE]\r\n\r\n")))).toBe("data: [DONE]\r\n\r\n");
  expect(st.usage).toEqual({ tokens: 6, promptTokens: 9, genMs: null });
  // "data:" without its optional space is the same event.
  const t = new UsageStripper();
  expect(s(t.push(b('data:{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n')))).toBe("");
  expect(t.usage).toEqual({ tokens: 2, promptTokens: 1, genMs: null });
});
