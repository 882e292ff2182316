// What a translation does with the fields an upstream reads one way only, through a real daemon with the official
// clients and a fake OpenAI API written from OpenAI's API reference: the generation limit its reasoning models take
// (max_completion_tokens; max_tokens is refused), and a Responses stream that fails keeps the text it streamed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";

/** A reasoning model (OpenAI's o-series: max_tokens refused), a chat model, and one whose streams break off mid-answer. */
const REASONING = "o3-mini";
const CHAT = "gpt-4o-mini";
/** A model of another make that refuses reasoning_effort as OpenAI's own non-reasoning models do. */
const NO_EFFORT = "plain-7b";
const CUT = "cut-1";
/** A model whose streams lose their connection mid-answer (the upstream's socket dropped, no last chunk). */
const DROP = "drop-1";
const THINKER = "qwen3-8b";
/** A model whose streams are cut by their limit (finish_reason "length"). */
const LONG = "long-1";
const bodies: { model: string; json: any }[] = [];
let upstream: ReturnType<typeof Bun.serve>;
let d: DaemonProc;

const chunk = (model: string, delta: object, finish: string | null = null, logprobs: object | null = null) =>
  `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta, logprobs, finish_reason: finish }] })}\n\n`;
/** The log probability of the answer's one token ("fine"), with `top` alternatives, as chat completions write it. */
const LOGPROB = (top: number) => ({ token: "fine", logprob: -0.25, bytes: [102, 105, 110, 101], top_logprobs: [{ token: "fine", logprob: -0.25, bytes: [102, 105, 110, 101] }, { token: "good", logprob: -1.5, bytes: [103, 111, 111, 100] }].slice(0, top) });

/** POST /v1/chat/completions as OpenAI answers it: a reasoning model refuses max_tokens, and sampling fields (but temperature 1), with a 400 naming the parameter. */
function chatCompletions(body: any): Response {
  bodies.push({ model: body.model, json: body });
  if (body.model === REASONING && body.max_tokens !== undefined)
    return Response.json(
      { error: { message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", type: "invalid_request_error", param: "max_tokens", code: "unsupported_parameter" } },
      { status: 400 },
    );
  // OpenAI's reasoning models take temperature only at its default (1), and none of top_p and the penalties.
  if (body.model === REASONING && body.temperature !== undefined && body.temperature !== 1)
    return Response.json(
      { error: { message: `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`, type: "invalid_request_error", param: "temperature", code: "unsupported_value" } },
      { status: 400 },
    );
  for (const param of ["top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs"])
    if (body.model === REASONING && body[param] !== undefined)
      return Response.json({ error: { message: `Unsupported parameter: '${param}' is not supported with this model.`, type: "invalid_request_error", param, code: "unsupported_parameter" } }, { status: 400 });
  if ((body.model === CHAT || body.model === NO_EFFORT) && body.reasoning_effort !== undefined)
    return Response.json({ error: { message: "Unsupported parameter: 'reasoning_effort' is not supported with this model.", type: "invalid_request_error", param: "reasoning_effort", code: "unsupported_parameter" } }, { status: 400 });
  // A model that reasons before it answers, its reasoning in reasoning_content (as vLLM and llama.cpp send it).
  // Its usage counts no reasoning tokens (llama.cpp's has no completion_tokens_details).
  const thinkerUsage = { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 };
  if (body.model === THINKER && body.stream)
    return new Response(
      chunk(THINKER, { role: "assistant", reasoning_content: "Let me " }) +
        chunk(THINKER, { reasoning_content: "think." }) +
        chunk(THINKER, { content: "fine" }) +
        chunk(THINKER, {}, "stop") +
        (body.stream_options?.include_usage ? `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: THINKER, choices: [], usage: thinkerUsage })}\n\n` : "") +
        "data: [DONE]\n\n",
      { headers: { "content-type": "text/event-stream" } },
    );
  if (body.model === THINKER) return Response.json({ id: "chatcmpl-1", object: "chat.completion", created: 1, model: THINKER, choices: [{ index: 0, message: { role: "assistant", reasoning_content: "Let me think.", content: "fine" }, finish_reason: "stop" }], usage: thinkerUsage });
  if (body.model === LONG)
    return new Response(chunk(LONG, { role: "assistant", content: "half " }) + chunk(LONG, { content: "an answer" }, "length") + "data: [DONE]\n\n", { headers: { "content-type": "text/event-stream" } });
  if (body.model === DROP) {
    let step = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          if (step++ === 0) return c.enqueue(new TextEncoder().encode(chunk(DROP, { role: "assistant", content: "half " }) + chunk(DROP, { content: "an answer" })));
          await Bun.sleep(30);
          c.error(new Error("gone"));
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  }
  if (body.model === CUT) return new Response(chunk(CUT, { role: "assistant", content: "half " }) + chunk(CUT, { content: "an answer" }), { headers: { "content-type": "text/event-stream" } });
  // OpenAI's usage of a reasoning model (its API reference): the reasoning it spent, which it never shows, counted in the details.
  const usage =
    body.model === REASONING
      ? { prompt_tokens: 5, completion_tokens: 66, total_tokens: 71, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 64, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } }
      : { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
  // Log probabilities when asked (logprobs: true), top_logprobs alternatives each: choice.logprobs.content, per chunk in a stream.
  const logprobs = body.logprobs ? { content: [LOGPROB(body.top_logprobs ?? 0)], refusal: null } : null;
  if (body.stream)
    return new Response(chunk(body.model, { role: "assistant", content: "fine" }, null, logprobs) + chunk(body.model, {}, "stop") + `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: body.model, choices: [], usage })}\n\ndata: [DONE]\n\n`, {
      headers: { "content-type": "text/event-stream" },
    });
  return Response.json({ id: "chatcmpl-1", object: "chat.completion", created: 1, model: body.model, choices: [{ index: 0, message: { role: "assistant", content: "fine" }, logprobs, finish_reason: "stop" }], usage });
}

beforeAll(async () => {
  upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/v1/models") return Response.json({ object: "list", data: [REASONING, CHAT, CUT, DROP, THINKER, LONG].map((id) => ({ id, object: "model", created: 1, owned_by: "openai" })) });
      if (path === "/v1/chat/completions" && req.method === "POST") return chatCompletions(await req.json());
      return Response.json({ error: { message: `Invalid URL (${req.method} ${path})`, type: "invalid_request_error", param: null, code: null } }, { status: 404 });
    },
  });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "openai"\nkind = "openai"\nurl = "http://127.0.0.1:${upstream.port}"\n`,
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
const last = (model: string) => bodies.filter((b) => b.model === model).at(-1)!.json;

describe("the generation limit of a translated request, as an OpenAI-kind upstream's model takes it", () => {
  test("a reasoning model gets max_completion_tokens from Anthropic's max_tokens, Responses' max_output_tokens and Ollama's num_predict", async () => {
    const m = await anthropic().messages.create({ model: REASONING, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
    expect(m.content).toMatchObject([{ type: "text", text: "fine" }]);
    expect(last(REASONING)).toMatchObject({ max_completion_tokens: 64 });
    expect(last(REASONING).max_tokens).toBeUndefined();
    const r = await openai().responses.create({ model: REASONING, input: "hi", max_output_tokens: 32 });
    expect(r.output_text).toBe("fine");
    expect(last(REASONING)).toMatchObject({ max_completion_tokens: 32 });
    const o = await ollama().chat({ model: REASONING, messages: [{ role: "user", content: "hi" }], options: { num_predict: 16 }, stream: false });
    expect(o.message.content).toBe("fine");
    expect(last(REASONING)).toMatchObject({ max_completion_tokens: 16 });
    // `ollama run` loads the model first: a one-token completion, its limit in the same field.
    const load = await ollama().generate({ model: REASONING, prompt: "", stream: false });
    expect(load.done_reason).toBe("load");
    expect(last(REASONING)).toMatchObject({ max_completion_tokens: 1 });
  });

  test("a reasoning model gets no temperature, top_p or penalties (OpenAI refuses them) from Anthropic, Responses and Ollama; another model keeps them", async () => {
    // Claude Code sends temperature (this SDK's types no longer name it).
    const m = await anthropic().messages.create({ model: REASONING, max_tokens: 64, temperature: 0.2, top_p: 0.9, messages: [{ role: "user", content: "hi" }] } as never);
    expect(m.content[0]).toMatchObject({ type: "text", text: "fine" });
    for (const f of ["temperature", "top_p"]) expect(last(REASONING)[f]).toBeUndefined();
    const r = await openai().responses.create({ model: REASONING, input: "hi", temperature: 0.3, top_p: 0.5 });
    expect(r.output_text).toBe("fine");
    for (const f of ["temperature", "top_p"]) expect(last(REASONING)[f]).toBeUndefined();
    const o = await ollama().chat({ model: REASONING, messages: [{ role: "user", content: "hi" }], options: { temperature: 0.1, top_p: 0.8, presence_penalty: 0.5, frequency_penalty: 0.5 } });
    expect(o.message.content).toBe("fine");
    for (const f of ["temperature", "top_p", "presence_penalty", "frequency_penalty"]) expect(last(REASONING)[f]).toBeUndefined();
    await anthropic().messages.create({ model: CHAT, max_tokens: 64, temperature: 0.2, top_p: 0.9, messages: [{ role: "user", content: "hi" }] } as never);
    expect(last(CHAT)).toMatchObject({ temperature: 0.2, top_p: 0.9 });
  });

  test("another model keeps max_tokens, which every OpenAI-compatible server reads", async () => {
    await anthropic().messages.create({ model: CHAT, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
    expect(last(CHAT)).toMatchObject({ max_tokens: 64 });
    expect(last(CHAT).max_completion_tokens).toBeUndefined();
  });
});

describe("a translated Responses stream that fails", () => {
  test("responses.stream(): cut by its limit, the final response (incomplete) carries the text, its message incomplete", async () => {
    const s = openai().responses.stream({ model: LONG, input: "hi", max_output_tokens: 2 });
    for await (const _ of s);
    const final = await s.finalResponse();
    expect(final.status).toBe("incomplete");
    expect(final.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(final.output_text).toBe("half an answer");
    expect(final.output[0]).toMatchObject({ type: "message", status: "incomplete" });
  });

  test("responses.stream(): the final response (failed) carries the text streamed before the failure", async () => {
    const s = openai().responses.stream({ model: CUT, input: "hi" });
    let text = "";
    for await (const ev of s) if (ev.type === "response.output_text.delta") text += ev.delta;
    const final = await s.finalResponse();
    expect(text).toBe("half an answer");
    expect(final.status).toBe("failed");
    expect(final.error?.message).toContain("incomplete");
    expect(final.output_text).toBe("half an answer");
    expect(final.output[0]).toMatchObject({ type: "message", status: "incomplete", content: [{ type: "output_text", text: "half an answer" }] });
  });

  test("responses.stream(): the upstream's connection dropped mid-answer, the final response (failed) says so and carries the text streamed", async () => {
    const s = openai().responses.stream({ model: DROP, input: "hi" });
    let text = "";
    const types: string[] = [];
    for await (const ev of s) {
      types.push(ev.type);
      if (ev.type === "response.output_text.delta") text += ev.delta;
    }
    const final = await s.finalResponse();
    expect(text).toBe("half an answer");
    expect(types.at(-1)).toBe("response.failed");
    expect(types).not.toContain("error");
    expect(final.status).toBe("failed");
    expect(final.error?.message).toContain(`upstream "openai" broke off the response`);
    expect(final.output_text).toBe("half an answer");
    expect(final.output[0]).toMatchObject({ type: "message", status: "incomplete", content: [{ type: "output_text", text: "half an answer" }] });
  });
});

describe("reasoning and log probabilities asked for: translated, or refused in the caller's shape, never dropped", () => {
  test("Anthropic thinking (its budget) and output_config.effort become reasoning_effort", async () => {
    await anthropic().messages.create({ model: REASONING, max_tokens: 8000, thinking: { type: "enabled", budget_tokens: 2048 }, messages: [{ role: "user", content: "hi" }] });
    expect(last(REASONING)).toMatchObject({ reasoning_effort: "low" });
    await anthropic().messages.create({ model: REASONING, max_tokens: 20000, thinking: { type: "enabled", budget_tokens: 16384 }, messages: [{ role: "user", content: "hi" }] });
    expect(last(REASONING)).toMatchObject({ reasoning_effort: "high" });
    await anthropic().messages.create({ model: REASONING, max_tokens: 64, output_config: { effort: "medium" }, messages: [{ role: "user", content: "hi" }] } as never);
    expect(last(REASONING)).toMatchObject({ reasoning_effort: "medium" });
    await anthropic().messages.create({ model: REASONING, max_tokens: 64, thinking: { type: "disabled" }, messages: [{ role: "user", content: "hi" }] });
    expect(last(REASONING).reasoning_effort).toBeUndefined();
  });

  test("OpenAI's models that do not reason get no reasoning_effort (thinking is a hint: Claude Code on gpt-4o works); another model's refusal reaches the Anthropic client as a 400 naming it", async () => {
    const ok = await anthropic().messages.create({ model: CHAT, max_tokens: 8000, thinking: { type: "enabled", budget_tokens: 4096 }, messages: [{ role: "user", content: "hi" }] });
    expect(ok.type).toBe("message");
    expect(last(CHAT).reasoning_effort).toBeUndefined();
    const err = await anthropic()
      .messages.create({ model: NO_EFFORT, max_tokens: 8000, thinking: { type: "enabled", budget_tokens: 4096 }, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toContain("reasoning_effort");
    const bad = await anthropic()
      .messages.create({ model: REASONING, max_tokens: 64, output_config: { effort: "extreme" }, messages: [{ role: "user", content: "hi" }] } as never)
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as Error).message).toContain("output_config.effort");
  });

  test("Responses: reasoning.effort, and include's logprobs read back into output_text (whole and streamed)", async () => {
    await openai().responses.create({ model: REASONING, input: "hi", reasoning: { effort: "high" } });
    expect(last(REASONING)).toMatchObject({ reasoning_effort: "high" });
    const r = await openai().responses.create({ model: CHAT, input: "hi", include: ["message.output_text.logprobs"], top_logprobs: 2 });
    expect(last(CHAT)).toMatchObject({ logprobs: true, top_logprobs: 2 });
    const part = (r.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText;
    expect(part.logprobs).toEqual([LOGPROB(2)]);
    const s = openai().responses.stream({ model: CHAT, input: "hi", include: ["message.output_text.logprobs"] });
    const deltas: unknown[] = [];
    for await (const ev of s) if (ev.type === "response.output_text.delta") deltas.push(...ev.logprobs);
    expect(deltas).toEqual([LOGPROB(0)]);
    const final = await s.finalResponse();
    expect(((final.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText).logprobs).toEqual([LOGPROB(0)]);
  });

  test("Ollama: logprobs and top_logprobs read back into its logprobs (whole and streamed); a think level is reasoning_effort", async () => {
    const whole = await ollama().chat({ model: CHAT, messages: [{ role: "user", content: "hi" }], logprobs: true, top_logprobs: 1, stream: false });
    expect(last(CHAT)).toMatchObject({ logprobs: true, top_logprobs: 1 });
    expect(whole.logprobs).toEqual([LOGPROB(1)] as never);
    const lines: unknown[] = [];
    for await (const part of await ollama().generate({ model: CHAT, prompt: "hi", logprobs: true, stream: true })) lines.push(...(part.logprobs ?? []));
    expect(lines).toEqual([LOGPROB(0)]);
    await ollama().chat({ model: REASONING, messages: [{ role: "user", content: "hi" }], think: "high", stream: false });
    expect(last(REASONING)).toMatchObject({ reasoning_effort: "high" });
  });

  test("log probabilities asked of OpenAI's reasoning models (which refuse them) are a 400 in the caller's dialect naming them, before any upstream is called", async () => {
    const before = bodies.length;
    const o = await ollama()
      .chat({ model: REASONING, messages: [{ role: "user", content: "hi" }], logprobs: true, top_logprobs: 2, stream: false })
      .catch((e: unknown) => e);
    expect(o).toMatchObject({ name: "ResponseError", status_code: 400 });
    expect((o as Error).message).toContain("does not return log probabilities: its server refuses logprobs and top_logprobs");
    const g = await ollama()
      .generate({ model: REASONING, prompt: "hi", logprobs: true, stream: true })
      .catch((e: unknown) => e);
    expect(g).toMatchObject({ status_code: 400 });
    for (const ask of [{ include: ["message.output_text.logprobs" as const] }, { top_logprobs: 3 }]) {
      const r = await openai()
        .responses.create({ model: REASONING, input: "hi", ...ask })
        .catch((e: unknown) => e);
      expect(r).toBeInstanceOf(OpenAI.BadRequestError);
      expect((r as InstanceType<typeof OpenAI.BadRequestError>).message).toContain(`model "${REASONING}" does not return log probabilities`);
    }
    const streamed = await (async () => {
      for await (const _ of openai().responses.stream({ model: REASONING, input: "hi", include: ["message.output_text.logprobs"] }));
    })().catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bodies.length).toBe(before);
    // The same model without them is served.
    expect((await openai().responses.create({ model: REASONING, input: "hi" })).output_text).toBe("fine");
  });
});

test("Responses: the upstream's reasoning comes back as a reasoning item before the message (whole and streamed)", async () => {
  const reasoningText = (r: OpenAI.Responses.Response) => (r.output[0] as OpenAI.Responses.ResponseReasoningItem).content?.map((c) => c.text).join("");
  const whole = await openai().responses.create({ model: THINKER, input: "hi" });
  expect(whole.output.map((o) => o.type)).toEqual(["reasoning", "message"]);
  expect(reasoningText(whole)).toBe("Let me think.");
  expect(whole.output_text).toBe("fine");
  const s = openai().responses.stream({ model: THINKER, input: "hi" });
  const deltas: string[] = [];
  for await (const ev of s) if (ev.type === "response.reasoning_text.delta") deltas.push(ev.delta);
  const final = await s.finalResponse();
  expect(deltas).toEqual(["Let me ", "think."]);
  expect(final.output.map((o) => o.type)).toEqual(["reasoning", "message"]);
  expect(reasoningText(final)).toBe("Let me think.");
  expect(final.output_text).toBe("fine");
});

test("Responses: the reasoning tokens the upstream counts (OpenAI's completion_tokens_details) are the usage's, whole and streamed; a server that sends only the reasoning text gets an estimate from it", async () => {
  const whole = await openai().responses.create({ model: REASONING, input: "hi", reasoning: { effort: "low" } });
  expect(whole.usage).toMatchObject({ input_tokens: 5, output_tokens: 66, output_tokens_details: { reasoning_tokens: 64 }, total_tokens: 71 });
  const s = openai().responses.stream({ model: REASONING, input: "hi" });
  for await (const _ of s);
  expect((await s.finalResponse()).usage).toMatchObject({ output_tokens: 66, output_tokens_details: { reasoning_tokens: 64 } });
  // "Let me think.": 13 characters, 4 tokens of the 6 the answer took.
  const thinker = await openai().responses.create({ model: THINKER, input: "hi" });
  expect(thinker.usage).toMatchObject({ output_tokens: 6, output_tokens_details: { reasoning_tokens: 4 } });
  const ts = openai().responses.stream({ model: THINKER, input: "hi" });
  for await (const _ of ts);
  expect((await ts.finalResponse()).usage).toMatchObject({ output_tokens: 6, output_tokens_details: { reasoning_tokens: 4 } });
});
