// An OpenAI chat completions stream (its documented chunks) rewritten as Ollama's NDJSON stream (docs/api.md).
import { expect, test } from "bun:test";
import { OllamaStreamTranslator } from "./stream-translator.ts";
import type { OllamaRoute } from "./from-chat-response.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const chunk = (delta: object, finish: string | null = null) => ({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "up", choices: [{ index: 0, delta, finish_reason: finish }] });
const USAGE = sse({ id: "chatcmpl-1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } });

function translate(text: string, route: OllamaRoute = "chat", size = 7) {
  const t = new OllamaStreamTranslator(route, "shown", performance.now());
  let out = "";
  const bytes = enc.encode(text);
  for (let i = 0; i < bytes.length; i += size) out += dec.decode(t.push(bytes.subarray(i, i + size)));
  out += dec.decode(t.end());
  expect(out.endsWith("\n")).toBe(true);
  return { lines: out.trimEnd().split("\n").map((l) => JSON.parse(l)), usage: t.usage, abandoned: t.abandoned };
}

test("chat: a line per piece, the last done with done_reason and the counts from usage", () => {
  const { lines, usage } = translate(sse(chunk({ role: "assistant", content: "" })) + sse(chunk({ content: "Hel" })) + sse(chunk({ content: "lo" })) + sse(chunk({}, "stop")) + USAGE + "data: [DONE]\n\n");
  expect(lines.map((l) => l.message.content)).toEqual(["Hel", "lo", ""]);
  for (const l of lines.slice(0, -1)) expect(l).toMatchObject({ model: "shown", message: { role: "assistant" }, done: false });
  expect(lines.at(-1)).toMatchObject({ model: "shown", done: true, done_reason: "stop", prompt_eval_count: 4, eval_count: 2, load_duration: 0 });
  expect(typeof lines.at(-1).total_duration).toBe("number");
  expect(Number.isNaN(Date.parse(lines[0].created_at))).toBe(false);
  expect(usage).toEqual({ tokens: 2, promptTokens: 4, genMs: null });
});

test("generate: the pieces in `response`; cut by length is done_reason length", () => {
  const { lines } = translate(sse(chunk({ content: "a" })) + sse(chunk({ content: "b" }, "length")) + "data: [DONE]\n\n", "generate");
  expect(lines).toMatchObject([
    { response: "a", done: false },
    { response: "b", done: false },
    { response: "", done: true, done_reason: "length" },
  ]);
  expect(lines[0].message).toBeUndefined();
});

test("reasoning comes as thinking", () => {
  const { lines } = translate(sse(chunk({ reasoning_content: "hmm" })) + sse(chunk({ content: "ok" }, "stop")) + "data: [DONE]\n\n");
  expect(lines[0].message).toEqual({ role: "assistant", content: "", thinking: "hmm" });
});

test("tool calls: the arguments' pieces gathered and sent whole, as an object, in one line before the last", () => {
  const { lines } = translate(
    sse(chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] })) +
      sse(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] })) +
      sse(chunk({ tool_calls: [{ index: 0, function: { arguments: ' "Paris"}' } }] })) +
      sse(chunk({}, "tool_calls")) +
      USAGE +
      "data: [DONE]\n\n",
    "chat",
    3,
  );
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatchObject({ done: false, message: { role: "assistant", content: "", tool_calls: [{ id: "call_1", function: { index: 0, name: "get_weather", arguments: { city: "Paris" } } }] } });
  expect(lines[1]).toMatchObject({ done: true, done_reason: "stop", eval_count: 2 });
});

test("a stream that ends without a finish reason or [DONE] ends with an error line, not a done one", () => {
  const { lines, abandoned } = translate(sse(chunk({ content: "a" })));
  expect(lines.at(-1).error).toContain("incomplete");
  expect(lines.some((l) => l.done === true)).toBe(false);
  expect(abandoned).toBe(true);
});

test("an upstream's error event mid-stream is Ollama's error line; the rest is not read", () => {
  const { lines, abandoned } = translate(sse(chunk({ content: "a" })) + sse({ error: { message: "out of memory" } }) + sse(chunk({ content: "b" })));
  expect(lines).toEqual([expect.objectContaining({ message: { role: "assistant", content: "a" } }), { error: "out of memory" }]);
  expect(abandoned).toBe(true);
});

test("a finish reason without [DONE] is still a whole answer", () => {
  const { lines } = translate(sse(chunk({ content: "a" }, "stop")));
  expect(lines.at(-1)).toMatchObject({ done: true, done_reason: "stop" });
});

test("tool arguments nested deeper than JSON.stringify goes end the answer with an error line, after what came (not a throw that reset the client)", () => {
  const deep = `{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
  const text = sse(chunk({ role: "assistant", content: "ok" })) + sse(chunk({ tool_calls: [{ index: 0, id: "t", type: "function", function: { name: "f", arguments: deep } }] })) + sse(chunk({}, "tool_calls")) + "data: [DONE]\n\n";
  for (const size of [7, 1 << 20]) {
    const { lines, abandoned } = translate(text, "chat", size);
    expect(lines[0].message.content).toBe("ok");
    expect(lines.at(-1).error).toStartWith("the upstream sent a stream event the broker cannot translate (Maximum call stack size exceeded");
    expect(abandoned).toBe(true);
  }
  // Cut before [DONE]: the close end() writes fails the same way.
  const cut = translate(sse(chunk({ tool_calls: [{ index: 0, id: "t", type: "function", function: { name: "f", arguments: deep } }] })) + sse(chunk({}, "tool_calls")), "chat", 1 << 20);
  expect(cut.lines.at(-1).error).toContain("cannot translate");
  // Three stack overflows take seconds on a loaded two-core machine (the suite's four workers): past bun's 5 s default.
}, 60_000);
