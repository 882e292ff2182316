// /v1/responses' plan: passed through to kinds that serve it, translated for the others.
import { expect, test } from "bun:test";
import { HttpError } from "../../../core/http-error.ts";
import { responsesPlan } from "./responses-plan.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const body = (o: unknown) => enc.encode(JSON.stringify(o));
const run = (t: { push(c: Uint8Array): Uint8Array; end(): Uint8Array } | null, text: string) => (t ? dec.decode(t.push(enc.encode(text))) + dec.decode(t.end()) : text);

test("passed through to kinds that serve it, its stream's usage read", () => {
  const p = responsesPlan("m");
  expect(p.takes("openai")).toBe(true);
  const sent = body({ model: "m", input: "hi" });
  const a = p.attempt("ollama", "/v1/responses", sent, sent.byteLength);
  expect(a).toMatchObject({ target: "/v1/responses", body: sent, translated: false });
  const ans = a.answer(200, "text/event-stream");
  run(ans.transform, 'event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":2,"output_tokens":5}}}\n\n');
  expect(ans.transform!.usage).toEqual({ tokens: 5, promptTokens: 2, genMs: null });
  expect(a.answer(200, "application/json").transform).toBeNull();
});

test("translated for a kind without it: chat completions out, a response object (or its error in OpenAI's shape) back", () => {
  const sent = body({ model: "llama3.2:1b", instructions: "be brief", input: "hi", max_output_tokens: 5 });
  const a = responsesPlan("alias-name").attempt("openai", "/v1/responses", sent, sent.byteLength);
  expect(a.target).toBe("/v1/chat/completions");
  expect(JSON.parse(dec.decode(a.body as Uint8Array))).toEqual({ model: "llama3.2:1b", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], max_tokens: 5 });
  const whole = a.answer(200, "application/json");
  const r = JSON.parse(run(whole.transform, JSON.stringify({ id: "x", choices: [{ message: { content: "yo" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 1 } })));
  expect(r).toMatchObject({ object: "response", status: "completed", model: "alias-name", instructions: "be brief", output: [{ type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "yo" }] }], usage: { input_tokens: 3, output_tokens: 1, total_tokens: 4 } });
  expect(whole.transform!.usage).toEqual({ tokens: 1, promptTokens: 3, genMs: null });
  expect(JSON.parse(run(a.answer(404, "application/json").transform, '{"error":{"message":"model not found","type":"invalid_request_error"}}'))).toEqual({ error: { message: "model not found", type: "invalid_request_error" } });
  expect(JSON.parse(run(a.answer(500, "text/plain").transform, "boom")).error).toMatchObject({ message: "boom", type: "server_error" });
  // An error body not in OpenAI's shape gets the type and code of its status, as every other OpenAI-shaped error does.
  const cases: [number, string, string][] = [
    [400, "invalid_request_error", "bad_request"],
    [401, "authentication_error", "unauthorized"],
    [403, "permission_error", "forbidden"],
    [404, "not_found_error", "not_found"],
    [422, "invalid_request_error", "validation_failed"],
    [429, "rate_limit_error", "rate_limited"],
    [418, "invalid_request_error", "bad_request"],
    [503, "server_error", "upstream_error"],
  ];
  for (const [status, type, code] of cases) expect(JSON.parse(run(a.answer(status, "text/plain").transform, "no"))).toEqual({ error: { message: "no", type, code, param: null } });
  expect(run(a.answer(200, "text/event-stream").transform, "data: [DONE]\n\n")).toContain("event: response.completed");
});

test("a body too large to hold cannot be translated (413); one that is not an object is a 400", () => {
  const p = responsesPlan(null);
  const stream = new ReadableStream<Uint8Array>();
  try {
    p.attempt("openai", "/v1/responses", stream, 50_000_000);
    throw new Error("no error");
  } catch (e) {
    expect((e as HttpError).status).toBe(413);
  }
  expect(() => p.attempt("openai", "/v1/responses", enc.encode("[1]"), 3)).toThrow("JSON object");
});
