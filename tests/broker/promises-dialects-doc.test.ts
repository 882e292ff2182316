// docs/broker.md's Dialects section, sentence by sentence where no other test could fail on it: what each translation
// sends an OpenAI-only upstream, what it refuses before any upstream is called, and how the answer comes back, through
// a real daemon read by the official `openai`, `@anthropic-ai/sdk` and `ollama` clients (their own parsing, their own
// error objects). The upstream is a fake OpenAI API written from OpenAI's API reference; it records what it was sent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";

/** Models whose answers end as their names say: plain (stop), filtered (content_filter), stopped (vLLM's stop_reason), upstream400. */
const MODELS = ["plain-1", "filtered-1", "stopped-1", "refuser-1"];
const bodies: any[] = [];
let upstream: ReturnType<typeof Bun.serve>;
let d: DaemonProc;

const chunk = (model: string, delta: object, finish: string | null = null, extra: object = {}) =>
  `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta, finish_reason: finish, ...extra }] })}\n\n`;

function chatCompletions(body: any): Response {
  bodies.push(body);
  if (body.model === "refuser-1") return Response.json({ error: { message: "This model's maximum context length is 8 tokens", type: "invalid_request_error", param: "messages", code: "context_length_exceeded" } }, { status: 400 });
  const finish = body.model === "filtered-1" ? "content_filter" : "stop";
  // vLLM names the stop sequence that ended the answer in the choice's stop_reason.
  const extra = body.model === "stopped-1" ? { stop_reason: "END" } : {};
  const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
  if (body.stream)
    return new Response(chunk(body.model, { role: "assistant", content: "fine" }) + chunk(body.model, {}, finish, extra) + `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: body.model, choices: [], usage })}\n\ndata: [DONE]\n\n`, {
      headers: { "content-type": "text/event-stream" },
    });
  return Response.json({ id: "chatcmpl-1", object: "chat.completion", created: 1, model: body.model, choices: [{ index: 0, message: { role: "assistant", content: "fine" }, finish_reason: finish, ...extra }], usage });
}

beforeAll(async () => {
  upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/v1/models") return Response.json({ object: "list", data: MODELS.map((id) => ({ id, object: "model", created: 1, owned_by: "me" })) });
      if (path === "/v1/chat/completions" && req.method === "POST") return chatCompletions(await req.json());
      return Response.json({ error: { message: `Invalid URL (${req.method} ${path})`, type: "invalid_request_error", param: null, code: null } }, { status: 404 });
    },
  });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "oai"\nkind = "openai"\nurl = "http://127.0.0.1:${upstream.port}"\n[[aliases]]\nname = "my-alias"\nmodel = "plain-1"\n`,
    waitFor: ["api", "broker"],
  });
  await untilUpstreamsUp(d, await apiToken(d), 1);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await upstream?.stop(true);
  if (d) removeHome(d.home);
});

const openai = () => new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "local", maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: d.urls.broker, apiKey: "local", maxRetries: 0 });
const ollama = () => new Ollama({ host: d.urls.broker });
/** The error a client call throws (the test fails when it does not throw). */
async function thrown(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("the call did not fail");
}

describe("Anthropic Messages translated", () => {
  test("refused with a 400 the SDK raises naming the field, before any upstream is called: a PDF document, another thinking.type, an effort not Anthropic's", async () => {
    const before = bodies.length;
    const pdf = await thrown(
      anthropic().messages.create({ model: "plain-1", max_tokens: 8, messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" } }, { type: "text", text: "sum up" }] }] }),
    );
    expect(pdf).toBeInstanceOf(Anthropic.BadRequestError);
    expect(pdf.error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(pdf.message).toMatch(/pdf|document/i);
    const thinking = await thrown(anthropic().messages.create({ model: "plain-1", max_tokens: 8, thinking: { type: "sometimes" } as never, messages: [{ role: "user", content: "hi" }] }));
    expect(thinking).toBeInstanceOf(Anthropic.BadRequestError);
    expect(thinking.message).toContain("thinking.type");
    const effort = await thrown(anthropic().messages.create({ model: "plain-1", max_tokens: 8, output_config: { effort: "extreme" }, messages: [{ role: "user", content: "hi" }] } as never));
    expect(effort).toBeInstanceOf(Anthropic.BadRequestError);
    expect(effort.message).toContain("output_config.effort");
    expect(bodies.length).toBe(before);
  });

  test("sent: a tool_result's is_error prefixes 'Error: ', metadata.user_id is user, stop_sequences stop, effort max is high; top_k and server tools left out", async () => {
    await anthropic().messages.create({
      model: "plain-1",
      max_tokens: 8,
      top_k: 5,
      stop_sequences: ["END"],
      metadata: { user_id: "ada" },
      output_config: { effort: "max" },
      tools: [{ name: "weather", description: "w", input_schema: { type: "object", properties: {} } }, { type: "web_search_20250305", name: "web_search" }],
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Paris" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", is_error: true, content: "no network" }] },
      ],
    } as never);
    const sent = bodies.at(-1);
    expect(sent).toMatchObject({ user: "ada", stop: ["END"], reasoning_effort: "high", max_tokens: 8 });
    expect(sent.top_k).toBeUndefined();
    expect(sent.tools.map((t: any) => t.function?.name)).toEqual(["weather"]);
    expect(sent.messages.at(-1)).toMatchObject({ role: "tool", tool_call_id: "toolu_1", content: "Error: no network" });
  });

  test("back: content_filter is refusal, vLLM's stop_reason a stop_sequence naming it, whole and streamed", async () => {
    const m = await anthropic().messages.create({ model: "filtered-1", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    expect(m.stop_reason).toBe("refusal");
    const s = await anthropic().messages.stream({ model: "filtered-1", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }).finalMessage();
    expect(s.stop_reason).toBe("refusal");
    const stopped = await anthropic().messages.create({ model: "stopped-1", max_tokens: 8, stop_sequences: ["END"], messages: [{ role: "user", content: "hi" }] });
    expect(stopped).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "END", usage: { input_tokens: 5, output_tokens: 2 } });
    const streamed = await anthropic().messages.stream({ model: "stopped-1", max_tokens: 8, stop_sequences: ["END"], messages: [{ role: "user", content: "hi" }] }).finalMessage();
    expect(streamed).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "END", usage: { input_tokens: 5, output_tokens: 2 } });
  });
});

describe("OpenAI Responses translated", () => {
  test("refused with a 400 the SDK raises naming the field, before any upstream is called: background, an input_file, an image by file_id, an item_reference, another reasoning.effort", async () => {
    const before = bodies.length;
    const cases: [object, RegExp][] = [
      [{ background: true, input: "hi" }, /background/],
      [{ input: [{ role: "user", content: [{ type: "input_file", file_id: "file-1" }] }] }, /input_file/],
      [{ input: [{ role: "user", content: [{ type: "input_image", file_id: "file-1", detail: "auto" }] }] }, /file_id/],
      [{ input: [{ type: "item_reference", id: "msg_1" }] }, /item_reference/],
      [{ input: "hi", reasoning: { effort: "extreme" } }, /reasoning\.effort/],
    ];
    for (const [body, says] of cases) {
      const e = await thrown(openai().responses.create({ model: "plain-1", ...body } as never));
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      expect(e.message).toMatch(says);
    }
    expect(bodies.length).toBe(before);
  });

  test("hosted tools are left out, function tools sent; nothing is stored (store: false in the answer)", async () => {
    const r = await openai().responses.create({
      model: "plain-1",
      input: "hi",
      tools: [{ type: "web_search_preview" }, { type: "function", name: "weather", parameters: { type: "object", properties: {} }, strict: true }],
    } as never);
    expect(r.output_text).toBe("fine");
    expect((r as unknown as { store: boolean }).store).toBe(false);
    expect(bodies.at(-1).tools).toEqual([{ type: "function", function: { name: "weather", parameters: { type: "object", properties: {} }, strict: true } }]);
  });
});

test("a translated Responses stream: response.created, in_progress, the item's events, completed; every event numbered 0, 1, 2… as the SDK reads them", async () => {
  const events: { type: string; sequence_number: number }[] = [];
  for await (const e of await openai().responses.create({ model: "plain-1", input: "hi", stream: true })) events.push(e as never);
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  expect(events.slice(0, 2).map((e) => e.type)).toEqual(["response.created", "response.in_progress"]);
  expect(events.at(-1)!.type).toBe("response.completed");
  const types = events.map((e) => e.type);
  for (const t of ["response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done"]) expect(types).toContain(t);
  expect(types.indexOf("response.output_item.added")).toBeLessThan(types.indexOf("response.output_text.delta"));
  expect(types.indexOf("response.output_item.done")).toBeLessThan(types.indexOf("response.completed"));
});

describe("Ollama's API translated", () => {
  test("num_predict -1 and -2 (no limit) set no max_tokens; keep_alive and the server's own settings are left out; top_k not to OpenAI's API (it refuses fields it does not know)", async () => {
    for (const n of [-1, -2]) {
      const r = await ollama().chat({ model: "plain-1", messages: [{ role: "user", content: "hi" }], options: { num_predict: n, num_ctx: 4096, num_gpu: 1, top_k: 3 }, keep_alive: "5m", stream: false });
      expect(r.message.content).toBe("fine");
      const sent = bodies.at(-1);
      expect(sent.max_tokens).toBeUndefined();
      expect(sent.max_completion_tokens).toBeUndefined();
      expect(sent.keep_alive).toBeUndefined();
      expect(sent.num_ctx).toBeUndefined();
      expect(sent.options).toBeUndefined();
      expect(sent.top_k).toBeUndefined();
      expect(sent.messages).toEqual([{ role: "user", content: "hi" }]);
    }
  });

  test("format json is json_object and a schema json_schema; a think level not Ollama's is a 400 the client raises, before any upstream is called", async () => {
    await ollama().chat({ model: "plain-1", messages: [{ role: "user", content: "hi" }], format: "json", stream: false });
    expect(bodies.at(-1).response_format).toEqual({ type: "json_object" });
    const schema = { type: "object", properties: { a: { type: "string" } } };
    await ollama().chat({ model: "plain-1", messages: [{ role: "user", content: "hi" }], format: schema, stream: false });
    expect(bodies.at(-1).response_format).toMatchObject({ type: "json_schema", json_schema: { schema } });
    const before = bodies.length;
    const e = await thrown(ollama().chat({ model: "plain-1", messages: [{ role: "user", content: "hi" }], think: "max" as never, stream: false }));
    expect(e.name).toBe("ResponseError");
    expect(e.status_code).toBe(400);
    expect(e.error).toContain("think");
    expect(bodies.length).toBe(before);
  });

  test("the alias the client sent is the answer's model, whole and streamed", async () => {
    const r = await ollama().chat({ model: "my-alias", messages: [{ role: "user", content: "hi" }], stream: false });
    expect(r.model).toBe("my-alias");
    expect(bodies.at(-1).model).toBe("plain-1");
    const parts = [];
    for await (const p of await ollama().generate({ model: "my-alias", prompt: "hi", stream: true })) parts.push(p);
    expect(parts.every((p) => p.model === "my-alias")).toBe(true);
    expect(parts.at(-1)).toMatchObject({ done: true, done_reason: "stop", prompt_eval_count: 5, eval_count: 2 });
  });

  test("an upstream's error is Ollama's {error} with the upstream's status: the client's ResponseError with that status_code", async () => {
    const e = await thrown(ollama().chat({ model: "refuser-1", messages: [{ role: "user", content: "hi" }], stream: false }));
    expect(e.name).toBe("ResponseError");
    expect(e.status_code).toBe(400);
    expect(e.error).toContain("maximum context length");
    const s = await thrown((async () => {
      for await (const _ of await ollama().chat({ model: "refuser-1", messages: [{ role: "user", content: "hi" }], stream: true }));
    })());
    expect(s.name).toBe("ResponseError");
    expect(s.status_code).toBe(400);
  });

  test("a translated body that is not a JSON object is a 400 in Ollama's shape", async () => {
    for (const body of ["[]", '"hi"', "null"]) {
      const r = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", headers: { "content-type": "application/json" }, body });
      expect(r.status).toBe(400);
      expect(Object.keys(await r.json())).toEqual(["error"]);
    }
  });
});
