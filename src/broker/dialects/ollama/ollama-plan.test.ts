// The plans of Ollama's routes: passed through as they are to the kinds that serve Ollama's API, translated for the others.
import { expect, test } from "bun:test";
import { KIND_NAMES, servesNatively } from "../../../kinds/index.ts";
import { HttpError } from "../../../core/http-error.ts";
import { embedPlan, generationPlan } from "./ollama-plan.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const body = (o: unknown) => enc.encode(JSON.stringify(o));

function run(a: { answer(status: number, ct: string | null): { transform: any; contentType: string | null } }, status: number, ct: string, text: string) {
  const p = a.answer(status, ct);
  return { contentType: p.contentType, text: dec.decode(Buffer.concat([p.transform.push(enc.encode(text)), p.transform.end()])), usage: p.transform.usage };
}

test("every kind takes the routes; those that serve Ollama's API get the request as it is", () => {
  const b = body({ model: "m", messages: [] });
  for (const kind of KIND_NAMES) {
    const plan = generationPlan("chat", "m");
    expect(plan.takes(kind)).toBe(true);
    const a = plan.attempt(kind, "/api/chat", b, b.byteLength);
    if (servesNatively(kind, "ollama")) {
      expect(a).toMatchObject({ target: "/api/chat", body: b, translated: false });
      expect(a.answer(200, "application/x-ndjson")).toEqual({ transform: null, contentType: null });
    } else expect(a).toMatchObject({ target: "/v1/chat/completions", translated: true });
  }
});

test("chat translated: a whole answer in Ollama's shape with the usage it read, the name the client sent", () => {
  const a = generationPlan("chat", "alias").attempt("openai", "/api/chat", body({ model: "real", messages: [{ role: "user", content: "hi" }], stream: false }), 0);
  expect(JSON.parse(dec.decode(a.body as Uint8Array))).toEqual({ model: "real", messages: [{ role: "user", content: "hi" }] });
  const r = run(a, 200, "application/json", JSON.stringify({ choices: [{ message: { role: "assistant", content: "yo" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 1 } }));
  expect(r.contentType).toBe("application/json");
  expect(JSON.parse(r.text)).toMatchObject({ model: "alias", message: { content: "yo" }, done: true, prompt_eval_count: 3, eval_count: 1 });
  expect(r.usage).toEqual({ tokens: 1, promptTokens: 3, genMs: null });
});

test("a stream translated is NDJSON", () => {
  const a = generationPlan("generate", null).attempt("vllm", "/api/generate", body({ model: "real", prompt: "hi" }), 0);
  const r = run(a, 200, "text/event-stream", `data: ${JSON.stringify({ choices: [{ delta: { content: "x" }, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`);
  expect(r.contentType).toBe("application/x-ndjson");
  expect(r.text.trimEnd().split("\n").map((l) => JSON.parse(l))).toMatchObject([{ model: "real", response: "x", done: false }, { done: true }]);
});

test("an upstream's error keeps its status and comes in Ollama's shape", () => {
  const a = generationPlan("chat", null).attempt("openai", "/api/chat", body({ model: "m" }), 0);
  const r = run(a, 404, "application/json", JSON.stringify({ error: { message: "model m not found", type: "invalid_request_error" } }));
  expect(JSON.parse(r.text)).toEqual({ error: "model m not found" });
});

test("a body the translation cannot read is a 400 (not JSON) or a 413 (too large to hold)", () => {
  expect(() => generationPlan("chat", null).attempt("openai", "/api/chat", enc.encode("[1]"), 3)).toThrow(HttpError);
  try {
    generationPlan("chat", null).attempt("openai", "/api/chat", new ReadableStream(), 10);
  } catch (e) {
    expect((e as HttpError).status).toBe(413);
  }
});

test("embed translated to /v1/embeddings and back", () => {
  const a = embedPlan("embed", "e").attempt("lmstudio", "/api/embed", body({ model: "m", input: "x" }), 0);
  expect(a.target).toBe("/v1/embeddings");
  const r = run(a, 200, "application/json", JSON.stringify({ data: [{ index: 0, embedding: [1, 2] }], usage: { prompt_tokens: 1 } }));
  expect(JSON.parse(r.text)).toMatchObject({ model: "e", embeddings: [[1, 2]], prompt_eval_count: 1 });
  expect(() => run(a, 200, "application/json", "nope")).toThrow("not JSON");
});

test("no enabled upstream: Ollama's error shape", async () => {
  const res = generationPlan("chat", null).none();
  expect(res.status).toBe(502);
  expect(Object.keys(await res.json())).toEqual(["error"]);
});

test("a load request: one token asked of the upstream, Ollama's done_reason load answered (one NDJSON line when streamed)", () => {
  const a = generationPlan("chat", "shown").attempt("openai", "/api/chat", body({ model: "real", messages: [] }), 0);
  expect(JSON.parse(dec.decode(a.body as Uint8Array))).toEqual({ model: "real", messages: [{ role: "user", content: "" }], max_tokens: 1 });
  const r = run(a, 200, "application/json", JSON.stringify({ choices: [{ message: { content: "x" }, finish_reason: "length" }] }));
  expect(r.contentType).toBe("application/x-ndjson");
  expect(r.text.endsWith("\n")).toBe(true);
  expect(JSON.parse(r.text)).toMatchObject({ model: "shown", message: { role: "assistant", content: "" }, done: true, done_reason: "load" });
  const g = generationPlan("generate", null).attempt("openai", "/api/generate", body({ model: "real", stream: false }), 0);
  expect(JSON.parse(run(g, 200, "application/json", "{}").text)).toMatchObject({ model: "real", response: "", done: true, done_reason: "load" });
  expect(JSON.parse(run(g, 404, "application/json", '{"error":{"message":"no such model"}}').text)).toEqual({ error: "no such model" });
});
