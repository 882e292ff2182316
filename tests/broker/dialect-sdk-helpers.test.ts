// The official SDKs' helpers on the dialects' less common features, through a translation to an OpenAI-only upstream
// that answers as a script says: Anthropic's messages.stream() (thinking, text and tool input accumulated, stop reasons),
// structured outputs read by messages.parse(), error types and retries; OpenAI's responses.stream() finalResponse().
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { jsonSchemaOutputFormat } from "@anthropic-ai/sdk/helpers/json-schema";
import OpenAI from "openai";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";
import { until } from "../helpers/until.ts";

/** What the upstream answers a chat completion with (its body as parsed). */
let reply: (body: any) => Response = () => new Response("unset", { status: 500 });
let up: ReturnType<typeof Bun.serve>;
let b: TestBroker;
/** Chat completion requests the upstream received. */
const seen: any[] = [];
const sse = (o: unknown) => `data: ${typeof o === "string" ? o : JSON.stringify(o)}\n\n`;
const stream = (...chunks: unknown[]) => new Response(chunks.map(sse).join("") + sse("[DONE]"), { headers: { "content-type": "text/event-stream" } });
const chunk = (delta: object, finish: string | null = null, extra: object = {}) => ({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m:1b", choices: [{ index: 0, delta, finish_reason: finish, ...extra }] });
const usage = (prompt: number, completion: number) => ({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m:1b", choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } });
const whole = (content: string) => Response.json({ id: "c1", object: "chat.completion", created: 1, model: "m:1b", choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 9, completion_tokens: 4 } });

beforeAll(async () => {
  up = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      if (new URL(req.url).pathname === "/v1/models") return Response.json({ object: "list", data: [{ id: "m:1b", object: "model" }] });
      const body = await req.json();
      seen.push(body);
      return reply(body);
    },
  });
  b = await startBroker(upstreamToml("plain", `http://127.0.0.1:${up.port}`, 'kind = "openai"'));
  await b.waitState("plain", "up");
});
afterAll(async () => {
  await b?.stop();
  up?.stop(true);
});

const anthropic = (maxRetries = 0) => new Anthropic({ baseURL: b.url, apiKey: "local", maxRetries });
const CITY = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false } as const;

test("Anthropic structured outputs: output_config.format reaches the upstream as a json_schema response_format, and messages.parse() reads the answer", async () => {
  // As a server that decodes constrained by a schema answers: JSON when one is asked for, prose otherwise.
  reply = (body) => whole(body.response_format?.type === "json_schema" ? '{"city":"Paris"}' : "The city is Paris.");
  const m = await anthropic().messages.parse({ model: "m:1b", max_tokens: 50, messages: [{ role: "user", content: "Which city?" }], output_config: { format: jsonSchemaOutputFormat(CITY) } });
  expect(m.parsed_output).toEqual({ city: "Paris" });
  expect(seen.at(-1).response_format).toEqual({ type: "json_schema", json_schema: { name: "output", schema: CITY, strict: true } });
  // Streamed too: the stream's final message is parsed.
  reply = (body) => stream(chunk({ role: "assistant", content: body.response_format ? '{"city":' : "Paris" }), chunk({ content: body.response_format ? '"Paris"}' : "." }), chunk({}, "stop"), usage(9, 4));
  const s = await anthropic().messages.stream({ model: "m:1b", max_tokens: 50, messages: [{ role: "user", content: "Which city?" }], output_config: { format: jsonSchemaOutputFormat(CITY) } }).finalMessage();
  expect(s.parsed_output).toEqual({ city: "Paris" });
});

test("Anthropic messages.stream(): a system as blocks, tool_choice any; thinking, text and a tool's input accumulated by the SDK; stop reason and usage", async () => {
  reply = () =>
    stream(
      chunk({ role: "assistant", reasoning_content: "The user wants weather." }),
      chunk({ content: "Let me look." }),
      chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({}, "tool_calls"),
      usage(12, 8),
    );
  const s = anthropic().messages.stream({
    model: "m:1b",
    max_tokens: 100,
    system: [{ type: "text", text: "Be brief." }, { type: "text", text: "Use tools." }],
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
    tool_choice: { type: "any", disable_parallel_tool_use: true },
  });
  let text = "";
  const json: string[] = [];
  s.on("text", (t) => (text += t));
  s.on("inputJson", (p) => json.push(p));
  const m = await s.finalMessage();
  expect(m.content).toEqual([
    { type: "thinking", thinking: "The user wants weather.", signature: "" },
    { type: "text", text: "Let me look." },
    { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
  ] as never);
  expect([text, json, m.stop_reason, m.usage.input_tokens, m.usage.output_tokens]).toEqual(["Let me look.", ['{"city":', '"Paris"}'], "tool_use", 12, 8]);
  expect(seen.at(-1)).toMatchObject({ messages: [{ role: "system", content: "Be brief.\nUse tools." }, { role: "user", content: "Weather in Paris?" }], tool_choice: "required", parallel_tool_calls: false });
});

test("Anthropic stop reasons through the stream helper: stop_sequence (named by the server), max_tokens, end_turn", async () => {
  const cases = [
    { finish: "stop", extra: { stop_reason: "END" }, want: ["stop_sequence", "END"] },
    { finish: "length", extra: {}, want: ["max_tokens", null] },
    { finish: "stop", extra: {}, want: ["end_turn", null] },
  ];
  for (const c of cases) {
    reply = () => stream(chunk({ role: "assistant", content: "Hello" }), chunk({}, c.finish, c.extra), usage(3, 1));
    const m = await anthropic().messages.stream({ model: "m:1b", max_tokens: 5, stop_sequences: ["END"], messages: [{ role: "user", content: "hi" }] }).finalMessage();
    expect([m.stop_reason, m.stop_sequence]).toEqual(c.want as never);
    expect(seen.at(-1).stop).toEqual(["END"]);
  }
});

test("Anthropic errors: an upstream's 429 and 503 are a RateLimitError and an overloaded_error, retried as its Retry-After says", async () => {
  let tries = 0;
  reply = () => (tries++, Response.json({ error: { message: "slow down", type: "rate_limit_error" } }, { status: 429, headers: { "retry-after": "0" } }));
  const e429 = await anthropic(1).messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
  expect([e429.constructor.name, e429.status, e429.error, tries]).toEqual(["RateLimitError", 429, { type: "error", error: { type: "rate_limit_error", message: "slow down" } }, 2]);
  reply = () => Response.json({ error: { message: "loading model" } }, { status: 503 });
  const e503 = await anthropic().messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
  expect([e503.status, e503.error?.error?.type]).toEqual([503, "overloaded_error"]);
});

test("OpenAI responses.stream(): text then a function call, each item whole in finalResponse() with the usage; a json_schema text.format reaches the upstream", async () => {
  reply = () =>
    stream(
      chunk({ role: "assistant", content: "Checking. " }),
      chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ':"Paris"}' } }] }),
      chunk({}, "tool_calls"),
      usage(11, 6),
    );
  const oa = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: "local", maxRetries: 0 });
  const s = oa.responses.stream({ model: "m:1b", input: "Weather?", tools: [{ type: "function", name: "get_weather", parameters: { type: "object" }, strict: false }], parallel_tool_calls: false });
  const r = await s.finalResponse();
  expect(r.output).toMatchObject([
    { type: "message", status: "completed", content: [{ type: "output_text", text: "Checking. " }] },
    { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}', status: "completed" },
  ]);
  expect([r.status, r.usage?.input_tokens, r.usage?.output_tokens, seen.at(-1).parallel_tool_calls]).toEqual(["completed", 11, 6, false]);
  reply = () => stream(chunk({ role: "assistant", content: '{"city":' }), chunk({ content: '"Paris"}' }), chunk({}, "stop"), usage(5, 4));
  const j = await oa.responses.stream({ model: "m:1b", input: "Which city?", text: { format: { type: "json_schema", name: "city", schema: CITY, strict: true } } }).finalResponse();
  expect([JSON.parse(j.output_text), seen.at(-1).response_format]).toEqual([{ city: "Paris" }, { type: "json_schema", json_schema: { name: "city", schema: CITY, strict: true } }]);
});

test("the SDKs' request ids: Anthropic's _request_id (request-id) and OpenAI's (x-request-id) name the request's record, on answers and errors alike; an upstream's own is kept", async () => {
  const recordIds = () => b.seen.filter((e) => e.type === "request.completed").map((e) => (e.data as { id: string }).id);
  reply = () => whole("Hello.");
  // Before: no request-id header, so the SDK's _request_id was null.
  const m = await anthropic().messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
  expect(m._request_id).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
  await until(() => recordIds().includes(m._request_id!), 5_000, "the request's record");
  reply = () => stream(chunk({ role: "assistant", content: "Hi" }), chunk({}, "stop"), usage(3, 1));
  const streamed = await anthropic().messages.create({ model: "m:1b", max_tokens: 5, stream: true, messages: [{ role: "user", content: "hi" }] }).withResponse();
  for await (const _ of streamed.data);
  expect(streamed.request_id).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
  expect(streamed.request_id).not.toBe(m._request_id);
  // An upstream's error, and one the broker composes (no upstream serves the model): an APIError's requestID.
  reply = () => Response.json({ error: { message: "loading model" } }, { status: 503 });
  const upstreamError = await anthropic().messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
  expect(upstreamError.requestID).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
  const brokerError = await anthropic().messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "robot" as "user", content: "hi" }] }).catch((e) => e);
  expect([brokerError.status, brokerError.error?.error?.message]).toEqual([400, 'messages[0].role must be "user" or "assistant"']);
  expect(brokerError.requestID).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
  await until(() => recordIds().includes(brokerError.requestID), 5_000, "the refused request's record");

  const openai = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: "local", maxRetries: 0 });
  reply = () => whole("Hello.");
  const c = await openai.chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }] });
  expect(c._request_id).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
  reply = () => Response.json({ error: { message: "loading model" } }, { status: 503 });
  const failed = await openai.chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
  expect([failed.status, failed.requestID]).toEqual([503, expect.stringMatching(/^[0-9a-z]+-[0-9a-z]+$/)]);
  // OpenAI's own API behind the broker: its id is the one its support knows, so it is kept.
  reply = () => {
    const r = whole("Hello.");
    r.headers.set("x-request-id", "req_upstream123");
    return r;
  };
  expect((await openai.chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }] }))._request_id).toBe("req_upstream123");
});

test("the model lists the broker answers name their record too: OpenAI's and Anthropic's models.list() and models.retrieve(), and Anthropic's not_found_error; Ollama's /api/tags gets no id header", async () => {
  const recordIds = () => b.seen.filter((e) => e.type === "request.completed").map((e) => (e.data as { id: string }).id);
  const ID = /^[0-9a-z]+-[0-9a-z]+$/;
  const openai = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: "local", maxRetries: 0 });
  const oList = await openai.models.list().withResponse();
  expect(oList.data.data.map((m) => m.id)).toEqual(["m:1b"]);
  // Before: no x-request-id on the merged list, so the SDK's request_id was null.
  expect(oList.request_id).toMatch(ID);
  await until(() => recordIds().includes(oList.request_id!), 5_000, "the listing's record");
  const aList = await anthropic().models.list().withResponse();
  expect(aList.request_id).toMatch(ID);
  const one = await anthropic().models.retrieve("m:1b");
  expect([one.id, one._request_id]).toEqual(["m:1b", expect.stringMatching(ID)]);
  const missing = await anthropic().models.retrieve("no-such-model").catch((e) => e);
  expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
  expect(missing.requestID).toMatch(ID);
  const tags = await fetch(`${b.url}/api/tags`);
  expect(tags.status).toBe(200);
  expect([tags.headers.get("request-id"), tags.headers.get("x-request-id")]).toEqual([null, null]);
});
