// Ollama's own API (/api/chat, /api/generate, /api/embed, /api/embeddings) through a real daemon with the official
// `ollama` npm client, in front of upstreams that do not serve it (an OpenAI-only one, a llama.cpp one): translated to
// chat completions and embeddings and back; tools, an image, abort, errors in Ollama's shape, usage. An Ollama-kind
// upstream still gets the request as it is.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Ollama, type Tool } from "ollama";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let native: FakeOllama;
let plain: FakeOllama;
let llama: FakeOllama;
let d: DaemonProc;
let token: string;
let meterKey: string;

beforeAll(async () => {
  native = await startFakeOllama({ models: ["llama3.2:1b", "shared:1b"], tokens: 3 });
  plain = await startFakeOllama({ models: ["qwen2.5:0.5b", "embed:1b", "shared:1b"], tokens: 3, kind: "openai" });
  llama = await startFakeOllama({ models: ["phi:1b"], tokens: 3, kind: "llamacpp" });
  d = await startDaemon({
    config: `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[[upstreams]]
name = "native"
kind = "ollama"
url = "${native.url}"
priority = 10
[[upstreams]]
name = "plain"
kind = "openai"
url = "${plain.url}"
priority = 20
[[upstreams]]
name = "llama"
kind = "llamacpp"
url = "${llama.url}"
[[aliases]]
name = "my-chat"
model = "qwen2.5:0.5b"
`,
    waitFor: ["api", "broker"],
  });
  token = await apiToken(d);
  meterKey = createKey(d, "meter");
  await until(async () => (await fetch(`${d.urls.broker}/v1/models`, { headers: { authorization: `Bearer ${meterKey}` } })).status === 200, 5000, "the daemon to see the key");
  await untilUpstreamsUp(d, token, 3);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  for (const f of [native, plain, llama]) await f?.stop();
  if (d) removeHome(d.home);
});

const client = (key?: string) => new Ollama({ host: d.urls.broker!, ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}) });
const lastSeen = (f: FakeOllama, path: string) => f.requests.filter((r) => r.path === path).at(-1)!.json as any;
const WEATHER: Tool = { type: "function", function: { name: "get_weather", description: "The weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } };
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

const CASES = [
  // top_k is sent only to a kind whose chat completions take it (llama.cpp's do; OpenAI's API refuses unknown fields).
  { label: "OpenAI-only upstream", model: "my-chat", upstreamModel: "qwen2.5:0.5b", fake: () => plain, extra: {} },
  { label: "llama.cpp upstream", model: "phi:1b", upstreamModel: "phi:1b", fake: () => llama, extra: { top_k: 20 } },
] as const;

for (const c of CASES) {
  describe(`translated for an ${c.label}`, () => {
    test("chat: the answer, done_reason, counts; the upstream got a chat completion with the options mapped", async () => {
      const r = await client().chat({
        model: c.model,
        messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }],
        options: { temperature: 0.5, top_p: 0.9, top_k: 20, num_predict: 4, stop: ["\n\n"], seed: 42 },
        format: "json",
        keep_alive: "5m",
        stream: false,
      });
      expect(r.model).toBe(c.model);
      expect(r.message).toMatchObject({ role: "assistant", content: "tok0 tok1 tok2 tok3 " });
      expect(r.done).toBe(true);
      expect(r.done_reason).toBe("stop");
      expect(r.prompt_eval_count).toBe(7);
      expect(r.eval_count).toBe(4);
      expect(r.total_duration).toBeGreaterThan(0);
      const seen = lastSeen(c.fake(), "/v1/chat/completions");
      expect(seen).toEqual({
        model: c.upstreamModel,
        messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }],
        temperature: 0.5,
        top_p: 0.9,
        seed: 42,
        ...c.extra,
        max_tokens: 4,
        stop: ["\n\n"],
        response_format: { type: "json_object" },
      });
    });

    test("chat stream: NDJSON lines, the last done with its counts", async () => {
      const parts: string[] = [];
      let last: any = null;
      for await (const p of await client().chat({ model: c.model, messages: [{ role: "user", content: "hi" }], options: { num_predict: 3 }, stream: true })) {
        if (!p.done) parts.push(p.message.content);
        else last = p;
      }
      expect(parts).toEqual(["tok0 ", "tok1 ", "tok2 "]);
      expect(last).toMatchObject({ done: true, done_reason: "stop", prompt_eval_count: 7, eval_count: 3, message: { role: "assistant", content: "" } });
      expect(lastSeen(c.fake(), "/v1/chat/completions")).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    });
  });
}

describe("translated for an OpenAI-only upstream", () => {
  test("generate: prompt and system as messages, the answer in `response`", async () => {
    const r = await client().generate({ model: "my-chat", prompt: "hi", system: "be brief", options: { num_predict: 2 }, stream: false });
    expect(r).toMatchObject({ model: "my-chat", response: "tok0 tok1 ", done: true, done_reason: "stop", prompt_eval_count: 7, eval_count: 2 });
    expect(lastSeen(plain, "/v1/chat/completions").messages).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: "hi" }]);
  });

  test("generate stream: the pieces in `response`, the last line done", async () => {
    const lines: any[] = [];
    for await (const p of await client().generate({ model: "my-chat", prompt: "hi", options: { num_predict: 2 }, stream: true })) lines.push(p);
    expect(lines.map((l) => l.response)).toEqual(["tok0 ", "tok1 ", ""]);
    expect(lines.at(-1)).toMatchObject({ done: true, done_reason: "stop", eval_count: 2, prompt_eval_count: 7 });
  });

  test("generate with raw is a 400 in Ollama's shape naming the field", async () => {
    const e = (await client().generate({ model: "my-chat", prompt: "hi", raw: true, stream: false }).catch((x) => x)) as any;
    expect(e.name).toBe("ResponseError");
    expect(e.status_code).toBe(400);
    expect(e.error).toContain('"raw"');
  });

  test("a load request (empty messages, an empty prompt, as `ollama run` sends first) is answered done_reason load", async () => {
    const r = await client().chat({ model: "my-chat", messages: [], stream: false });
    expect(r).toMatchObject({ model: "my-chat", done: true, done_reason: "load", message: { role: "assistant", content: "" } });
    expect(lastSeen(plain, "/v1/chat/completions")).toMatchObject({ max_tokens: 1 });
    const g = await client().generate({ model: "my-chat", prompt: "", stream: false });
    expect(g).toMatchObject({ done: true, done_reason: "load", response: "" });
  });

  test("an unload request (keep_alive 0 with nothing to answer: what `ollama stop` sends) is answered done_reason unload, and loads nothing", async () => {
    const before = plain.requests.filter((r) => r.path === "/v1/chat/completions").length;
    // `ollama stop` is a generate with an empty prompt and keep_alive 0; a chat with no messages does the same.
    const g = await client().generate({ model: "my-chat", prompt: "", keep_alive: 0, stream: false });
    expect(g).toMatchObject({ model: "my-chat", done: true, done_reason: "unload", response: "" });
    const lines: unknown[] = [];
    for await (const p of await client().chat({ model: "my-chat", messages: [], keep_alive: "0s", stream: true })) lines.push(p);
    expect(lines).toEqual([expect.objectContaining({ done: true, done_reason: "unload", message: { role: "assistant", content: "" } })]);
    // No completion was asked for: on a server that loads models on demand (LM Studio's JIT) one would load the model.
    expect(plain.requests.filter((r) => r.path === "/v1/chat/completions").length).toBe(before);
    // A load request with a keep_alive that is not zero is still a load.
    expect(await client().generate({ model: "my-chat", prompt: "", keep_alive: "10m", stream: false })).toMatchObject({ done_reason: "load" });
  });

  test("tools: the tool call comes back with its arguments as an object, and a tool result goes on as a tool message", async () => {
    const r = await client().chat({ model: "my-chat", messages: [{ role: "user", content: "weather?" }], tools: [WEATHER], stream: false });
    expect(r.message.tool_calls).toEqual([expect.objectContaining({ function: expect.objectContaining({ name: "get_weather", arguments: { city: "Paris" } }) })]);
    expect(lastSeen(plain, "/v1/chat/completions").tools).toEqual([WEATHER]);
    const streamed: any[] = [];
    for await (const p of await client().chat({ model: "my-chat", messages: [{ role: "user", content: "weather?" }], tools: [WEATHER], stream: true })) if (p.message.tool_calls) streamed.push(...p.message.tool_calls);
    expect(streamed).toEqual([expect.objectContaining({ function: expect.objectContaining({ name: "get_weather", arguments: { city: "Paris" } }) })]);
    const answer = await client().chat({
      model: "my-chat",
      messages: [{ role: "user", content: "weather?" }, r.message, { role: "tool", content: "sunny", tool_name: "get_weather" }],
      tools: [WEATHER],
      options: { num_predict: 1 },
      stream: false,
    });
    expect(answer.message.content).toBe("tok0 ");
    const seen = lastSeen(plain, "/v1/chat/completions");
    const call = seen.messages[1].tool_calls[0];
    expect(call).toMatchObject({ type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } });
    expect(seen.messages[2]).toEqual({ role: "tool", tool_call_id: call.id, content: "sunny" });
  });

  test("an image (base64) goes as an image_url data URL", async () => {
    await client().chat({ model: "my-chat", messages: [{ role: "user", content: "what is it?", images: [PNG] }], options: { num_predict: 1 }, stream: false });
    expect(lastSeen(plain, "/v1/chat/completions").messages[0].content).toEqual([
      { type: "text", text: "what is it?" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
    ]);
  });

  test("embed and the older embeddings, as /v1/embeddings", async () => {
    const e = await client().embed({ model: "embed:1b", input: ["a", "b"] });
    expect(e.embeddings).toEqual([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]]);
    expect(e.model).toBe("embed:1b");
    expect(lastSeen(plain, "/v1/embeddings")).toEqual({ model: "embed:1b", input: ["a", "b"], encoding_format: "float" });
    const old = await client().embeddings({ model: "embed:1b", prompt: "a" });
    expect(old.embedding).toEqual([0.1, 0.2, 0.3]);
    expect(lastSeen(plain, "/v1/embeddings").input).toBe("a");
  });

  test("abort: the client's abort of a stream reaches the upstream", async () => {
    const before = plain.aborts.length;
    plain.options.tokenDelayMs = 30;
    try {
      const s = await client().chat({ model: "my-chat", messages: [{ role: "user", content: "long" }], options: { num_predict: 500 }, stream: true });
      // The client's abort(), as an app's stop button calls it.
      for await (const p of s) if (p.message.content) break;
      s.abort();
      await plain.waitForAborts(before + 1);
      expect(plain.aborts.at(-1)!.path).toBe("/v1/chat/completions");
    } finally {
      plain.options.tokenDelayMs = 0;
    }
  });

  test("an unknown model: the translating upstream's OpenAI-shaped 404 is a ResponseError with Ollama's error and the status", async () => {
    // The Ollama-kind upstream (tried first) busy, so a translating one answers.
    native.options.failWith503 = true;
    try {
      const e = (await client().chat({ model: "nope:9b", messages: [{ role: "user", content: "hi" }], stream: false }).catch((x) => x)) as any;
      expect(e.name).toBe("ResponseError");
      expect(e.status_code).toBe(404);
      expect(e.error).toBe('model "nope:9b" not found');
    } finally {
      native.options.failWith503 = false;
    }
  });

  test("usage: a translated chat and a translated stream are counted in /api/v1/usage with their token counts", async () => {
    const usage = async () =>
      ((await (await fetch(`${d.urls.api}/api/v1/usage?key=meter`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { requests: number; prompt_tokens: number; completion_tokens: number } }).totals;
    const before = await usage();
    await client(meterKey).chat({ model: "my-chat", messages: [{ role: "user", content: "hi" }], options: { num_predict: 4 }, stream: false });
    for await (const _ of await client(meterKey).generate({ model: "my-chat", prompt: "hi", options: { num_predict: 5 }, stream: true }));
    await until(async () => (await usage()).requests === before.requests + 2, 5000, "both requests counted");
    expect(await usage()).toMatchObject({ prompt_tokens: before.prompt_tokens + 14, completion_tokens: before.completion_tokens + 9 });
    // An unload (`ollama stop`) generates nothing and reads no prompt: counted as a request, with no tokens.
    await client(meterKey).generate({ model: "my-chat", prompt: "", keep_alive: 0, stream: false });
    await until(async () => (await usage()).requests === before.requests + 3, 5000, "the unload counted");
    expect(await usage()).toMatchObject({ prompt_tokens: before.prompt_tokens + 14, completion_tokens: before.completion_tokens + 9 });
  });
});

test("an Ollama-kind upstream still gets /api/chat as it is", async () => {
  const r = await client().chat({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], options: { num_predict: 2 }, stream: false });
  expect(r.message.content).toBe("tok0 tok1 ");
  expect(lastSeen(native, "/api/chat")).toMatchObject({ model: "llama3.2:1b", options: { num_predict: 2 } });
});

test("failover: an Ollama-kind upstream that answers 503 hands the request on, translated, to an OpenAI-only one", async () => {
  native.options.failWith503 = true;
  try {
    const before = native.requests.filter((r) => r.path === "/api/chat").length;
    const r = await client().chat({ model: "shared:1b", messages: [{ role: "user", content: "hi" }], options: { num_predict: 2 }, stream: false });
    expect(r).toMatchObject({ model: "shared:1b", message: { content: "tok0 tok1 " }, done: true, eval_count: 2 });
    expect(native.requests.filter((r) => r.path === "/api/chat").length).toBe(before + 1);
    expect(lastSeen(plain, "/v1/chat/completions")).toMatchObject({ model: "shared:1b", max_tokens: 2 });
  } finally {
    native.options.failWith503 = false;
  }
});
