// OpenAI's Responses API (/v1/responses) through a real daemon with the official openai client: passed through to an
// upstream whose kind serves it, translated to chat completions for one that does not (stream and not, tools with streamed
// arguments, a function call's output, usage counted, abort reaching the upstream); what needs OpenAI's stored state is a 400.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { TOOL_ARGS } from "../helpers/fake-dialects.ts";
import { apiToken, createKey, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let native: FakeOllama;
let plain: FakeOllama;
let both: DaemonProc;
let onlyPlain: DaemonProc;
let token: string;
let meter: string;
let token2: string;
let meter2: string;

const daemonConfig = (ups: string) => `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n${ups}`;
const upstream = (name: string, kind: string, url: string, priority: number) => `[[upstreams]]\nname = "${name}"\nkind = "${kind}"\nurl = "${url}"\npriority = ${priority}\n`;

beforeAll(async () => {
  native = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
  plain = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3, kind: "openai" });
  // Routing as usual (the Ollama one first); the second daemon has only the OpenAI-only upstream, which needs translation.
  [both, onlyPlain] = await Promise.all([
    startDaemon({ config: daemonConfig(upstream("native", "ollama", native.url, 1) + upstream("plain", "openai", plain.url, 50)), waitFor: ["api", "broker"] }),
    startDaemon({ config: daemonConfig(upstream("plain", "openai", plain.url, 1)), waitFor: ["api", "broker"] }),
  ]);
  token = await apiToken(both);
  meter = createKey(both, "meter");
  meter2 = createKey(onlyPlain, "meter");
  token2 = await apiToken(onlyPlain);
  await until(async () => (await fetch(`${both.urls.broker}/v1/models`, { headers: { "x-api-key": meter } })).status === 200, 5000, "the daemon to see the key");
  await until(async () => (await fetch(`${onlyPlain.urls.broker}/v1/models`, { headers: { "x-api-key": meter2 } })).status === 200, 5000, "the daemon to see the key");
}, 40_000);
afterAll(async () => {
  await Promise.all([both?.stop(), onlyPlain?.stop()]);
  await native?.stop();
  await plain?.stop();
  for (const d of [both, onlyPlain]) if (d) removeHome(d.home);
});

const openai = (d: DaemonProc, apiKey = "local") => new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey, maxRetries: 0 });

describe("passed through to the upstream whose kind serves it", () => {
  test("responses.create: the answer's output_text and usage, sent as it is", async () => {
    const plainBefore = plain.requests.filter((r) => r.path === "/v1/responses").length;
    const r = await openai(both).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 4 });
    expect(r.object).toBe("response");
    expect(r.status).toBe("completed");
    expect(r.output_text).toBe("tok0 tok1 tok2 tok3 ");
    expect(r.usage).toMatchObject({ input_tokens: 7, output_tokens: 4 });
    expect(native.requests.at(-1)).toMatchObject({ path: "/v1/responses", json: { model: "llama3.2:1b", input: "hi", max_output_tokens: 4 } });
    expect(plain.requests.filter((r) => r.path === "/v1/responses").length).toBe(plainBefore);
  });

  test("responses.create stream: the text deltas and response.completed", async () => {
    const s = await openai(both).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 3, stream: true });
    let text = "";
    let completed: OpenAI.Responses.Response | null = null;
    for await (const ev of s) {
      if (ev.type === "response.output_text.delta") text += ev.delta;
      if (ev.type === "response.completed") completed = ev.response;
    }
    expect(text).toBe("tok0 tok1 tok2 ");
    expect(completed!.usage).toMatchObject({ input_tokens: 7, output_tokens: 3 });
  });

  test("usage of both (stream and not) counted in /api/v1/usage", async () => {
    const usage = async () =>
      ((await (await fetch(`${both.urls.api}/api/v1/usage?key=meter`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { requests: number; prompt_tokens: number; completion_tokens: number } }).totals;
    const before = await usage();
    await openai(both, meter).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 2 });
    for await (const _ of await openai(both, meter).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 5, stream: true }));
    await until(async () => (await usage()).requests === before.requests + 2, 5000, "both counted");
    expect(await usage()).toMatchObject({ prompt_tokens: before.prompt_tokens + 14, completion_tokens: before.completion_tokens + 7 });
  });

  test("abort: leaving a stream reaches the upstream", async () => {
    const before = native.aborts.length;
    native.options.tokenDelayMs = 30;
    try {
      const s = await openai(both).responses.create({ model: "llama3.2:1b", input: "long", max_output_tokens: 500, stream: true });
      for await (const ev of s) if (ev.type === "response.output_text.delta") break;
      await native.waitForAborts(before + 1);
      expect(native.aborts.at(-1)!.path).toBe("/v1/responses");
    } finally {
      native.options.tokenDelayMs = 0;
    }
  });
});

describe("translated to chat completions for an upstream without /v1/responses", () => {
  const lastChat = () => plain.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!.json as any;

  test("responses.create: output_text, usage, status; the upstream got a chat completions request", async () => {
    const before = plain.requests.length;
    const r = await openai(onlyPlain).responses.create({ model: "llama3.2:1b", instructions: "be brief", input: "hi", max_output_tokens: 4 });
    expect(r.object).toBe("response");
    expect(r.status).toBe("completed");
    expect(r.output_text).toBe("tok0 tok1 tok2 tok3 ");
    expect(r.usage).toMatchObject({ input_tokens: 7, output_tokens: 4, total_tokens: 11 });
    expect(plain.requests.slice(before).map((x) => x.path)).toEqual(["/v1/chat/completions"]);
    expect(lastChat()).toEqual({ model: "llama3.2:1b", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], max_tokens: 4 });
  });

  test("stream: text deltas, then response.completed with the text and usage", async () => {
    const s = await openai(onlyPlain).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 3, stream: true });
    const types: string[] = [];
    let text = "";
    let completed: OpenAI.Responses.Response | null = null;
    for await (const ev of s) {
      types.push(ev.type);
      if (ev.type === "response.output_text.delta") text += ev.delta;
      if (ev.type === "response.completed") completed = ev.response;
    }
    expect(text).toBe("tok0 tok1 tok2 ");
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(completed!.output[0]).toMatchObject({ type: "message", status: "completed", content: [{ type: "output_text", text: "tok0 tok1 tok2 " }] });
    expect(completed!.usage).toMatchObject({ input_tokens: 7, output_tokens: 3 });
  });

  test("tools: a function call with its arguments streamed, then its output in the next turn", async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: "function", name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, strict: false }];
    const s = await openai(onlyPlain).responses.create({ model: "llama3.2:1b", input: "weather in Paris?", tools, stream: true });
    const pieces: string[] = [];
    let call: OpenAI.Responses.ResponseFunctionToolCall | null = null;
    for await (const ev of s) {
      if (ev.type === "response.function_call_arguments.delta") pieces.push(ev.delta);
      if (ev.type === "response.output_item.done" && ev.item.type === "function_call") call = ev.item;
    }
    expect(pieces).toEqual(TOOL_ARGS);
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", arguments: TOOL_ARGS.join("") });
    expect(lastChat().tools).toEqual([{ type: "function", function: { name: "get_weather", description: "Weather of a city", parameters: (tools[0] as OpenAI.Responses.FunctionTool).parameters } }]);
    const next = await openai(onlyPlain).responses.create({
      model: "llama3.2:1b",
      max_output_tokens: 2,
      tools,
      input: [
        { role: "user", content: "weather in Paris?" },
        { type: "function_call", call_id: call!.call_id, name: "get_weather", arguments: call!.arguments },
        { type: "function_call_output", call_id: call!.call_id, output: "18°C" },
      ],
    });
    expect(next.output_text).toBe("tok0 tok1 ");
    expect(lastChat().messages.slice(1)).toEqual([
      { role: "assistant", content: null, tool_calls: [{ id: call!.call_id, type: "function", function: { name: "get_weather", arguments: call!.arguments } }] },
      { role: "tool", tool_call_id: call!.call_id, content: "18°C" },
    ]);
  });

  test("previous_response_id (OpenAI's stored state) is a 400 the client reads, naming the field", async () => {
    let err: unknown = null;
    try {
      await openai(onlyPlain).responses.create({ model: "llama3.2:1b", input: "and then?", previous_response_id: "resp_123" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toContain("previous_response_id");
  });

  test("usage counted, and abort reaches the upstream", async () => {
    const usage = async () =>
      ((await (await fetch(`${onlyPlain.urls.api}/api/v1/usage?key=meter`, { headers: { authorization: `Bearer ${token2}` } })).json()) as { totals: { requests: number; prompt_tokens: number; completion_tokens: number } }).totals;
    const before = await usage();
    await openai(onlyPlain, meter2).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 2 });
    for await (const _ of await openai(onlyPlain, meter2).responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 5, stream: true }));
    await until(async () => (await usage()).requests === before.requests + 2, 5000, "both counted");
    expect(await usage()).toMatchObject({ prompt_tokens: before.prompt_tokens + 14, completion_tokens: before.completion_tokens + 7 });
    const aborts = plain.aborts.length;
    plain.options.tokenDelayMs = 30;
    try {
      const s = await openai(onlyPlain).responses.create({ model: "llama3.2:1b", input: "long", max_output_tokens: 500, stream: true });
      for await (const ev of s) if (ev.type === "response.output_text.delta") break;
      await plain.waitForAborts(aborts + 1);
      expect(plain.aborts.at(-1)!.path).toBe("/v1/chat/completions");
    } finally {
      plain.options.tokenDelayMs = 0;
    }
  });
});
