// Anthropic's Messages API through a real daemon with the official @anthropic-ai/sdk: passed through to an Ollama-kind
// upstream that serves /v1/messages, translated to chat completions for an OpenAI-only one; tools with streamed
// arguments, a tool result, an image, abort, errors in Anthropic's shape, keys, usage, failover between the two.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { TOOL_ARGS } from "../helpers/fake-dialects.ts";
import { apiToken, createKey, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let native: FakeOllama;
let plain: FakeOllama;
let d: DaemonProc;
let broker: string;
let token: string;
const keys: Record<string, string> = {};

// "claude-haiku-4-5" is served natively (Ollama kind), "claude-sonnet-4-5" by translation (OpenAI-only kind);
// "shared:1b" by both, for failover.
beforeAll(async () => {
  native = await startFakeOllama({ models: ["llama3.2:1b", "shared:1b"], tokens: 3 });
  plain = await startFakeOllama({ models: ["qwen2.5:0.5b", "shared:1b"], tokens: 3, kind: "openai" });
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
[[aliases]]
name = "claude-haiku-4-5"
model = "llama3.2:1b"
[[aliases]]
name = "claude-sonnet-4-5"
model = "qwen2.5:0.5b"
`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  token = await apiToken(d);
  for (const [name, ...flags] of [["meter"], ["cut"], ["slow", "--rpm", "1"], ["only", "--models", "claude-haiku*"]]) {
    keys[name!] = createKey(d, name!, ...flags);
  }
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": keys.meter! } })).status === 200, 5000, "the daemon to see the keys");
  // Both upstreams checked, so each model routes to the upstream that lists it.
  await untilUpstreamsUp(d, token, 2);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await native?.stop();
  await plain?.stop();
  if (d) removeHome(d.home);
});

/** The client as Claude Code makes it from ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY (x-api-key) or ANTHROPIC_AUTH_TOKEN (Bearer). */
const client = (o: { apiKey?: string; authToken?: string } = {}) =>
  new Anthropic({ baseURL: broker, ...(o.authToken ? { authToken: o.authToken, apiKey: null } : { apiKey: o.apiKey ?? "local" }), maxRetries: 0 });
const user = (content: Anthropic.MessageParam["content"]): Anthropic.MessageParam => ({ role: "user", content });
const WEATHER: Anthropic.Tool = { name: "get_weather", description: "The weather of a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/** The last request the fake got on `path`, as it received it. */
const lastSeen = (f: FakeOllama, path: string) => f.requests.filter((r) => r.path === path).at(-1)!.json as any;

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof Anthropic.APIError>> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(Anthropic.APIError);
    return e as InstanceType<typeof Anthropic.APIError>;
  }
  throw new Error("the call succeeded");
}

const CASES = [
  { label: "passed through (Ollama kind)", model: "claude-haiku-4-5", fake: () => native, path: "/v1/messages" },
  { label: "translated (OpenAI-only kind)", model: "claude-sonnet-4-5", fake: () => plain, path: "/v1/chat/completions" },
] as const;

for (const c of CASES) {
  describe(c.label, () => {
    test("create: a text answer, end_turn, usage; the upstream got it on its own route, the alias resolved", async () => {
      const m = await client().messages.create({ model: c.model, max_tokens: 4, system: "be brief", messages: [user("hi")] });
      expect(m.type).toBe("message");
      expect(m.role).toBe("assistant");
      expect(m.content).toEqual([{ type: "text", text: "tok0 tok1 tok2 tok3 " } as Anthropic.TextBlock]);
      expect(m.stop_reason).toBe("end_turn");
      expect(m.usage).toMatchObject({ input_tokens: 7, output_tokens: 4 });
      const seen = lastSeen(c.fake(), c.path);
      expect(seen.model).toBe(c.fake() === native ? "llama3.2:1b" : "qwen2.5:0.5b");
      if (c.fake() === plain) expect(seen.messages).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: "hi" }]);
      else expect(seen.system).toBe("be brief");
    });

    test("the beta surface Claude Code uses (/v1/messages?beta=true, anthropic-beta header) works the same", async () => {
      const m = await client().beta.messages.create({ model: c.model, max_tokens: 2, messages: [user("hi")], betas: ["interleaved-thinking-2025-05-14"] });
      expect(m.content[0]).toMatchObject({ type: "text", text: "tok0 tok1 " });
      const seen = c.fake().requests.filter((r) => r.path === c.path).at(-1)!;
      expect(seen.headers["anthropic-beta"]).toBe("interleaved-thinking-2025-05-14");
    });

    test("stream: the event sequence, the text, and the final message with usage", async () => {
      const s = client().messages.stream({ model: c.model, max_tokens: 3, messages: [user("hi")] });
      const types: string[] = [];
      let text = "";
      for await (const ev of s) {
        types.push(ev.type);
        if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") text += ev.delta.text;
      }
      const m = await s.finalMessage();
      expect(text).toBe("tok0 tok1 tok2 ");
      expect(types[0]).toBe("message_start");
      expect(types.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
      expect(types.filter((t) => t === "content_block_delta").length).toBe(3);
      expect(m.stop_reason).toBe("end_turn");
      expect(m.usage.output_tokens).toBe(3);
    });

    test("tools: the tool_use block, its arguments streamed as input_json_delta, stop_reason tool_use", async () => {
      const s = client().messages.stream({ model: c.model, max_tokens: 50, tools: [WEATHER], tool_choice: { type: "auto" }, messages: [user("weather in Paris?")] });
      const pieces: string[] = [];
      s.on("inputJson", (partial) => pieces.push(partial));
      const m = await s.finalMessage();
      expect(pieces).toEqual(TOOL_ARGS);
      expect(m.stop_reason).toBe("tool_use");
      const use = m.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
      expect(use).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "Paris" } });
      expect(use.id.length).toBeGreaterThan(0);
      if (c.fake() === plain) expect(lastSeen(plain, c.path).tools).toEqual([{ type: "function", function: { name: "get_weather", description: "The weather of a city", parameters: WEATHER.input_schema } }]);
      // Not streamed: the same call as a whole message.
      const whole = await client().messages.create({ model: c.model, max_tokens: 50, tools: [WEATHER], messages: [user("weather in Paris?")] });
      expect(whole.content.find((b) => b.type === "tool_use")).toMatchObject({ name: "get_weather", input: { city: "Paris" } });
      expect(whole.stop_reason).toBe("tool_use");
    });

    test("parallel tool calls whose pieces the server interleaves: each tool_use whole, with its own input", async () => {
      const TIME: Anthropic.Tool = { name: "get_time", description: "The time in a zone", input_schema: { type: "object", properties: { city: { type: "string" } } } };
      const s = client().messages.stream({ model: c.model, max_tokens: 50, tools: [WEATHER, TIME], messages: [user("weather and time in Paris, in parallel")] });
      const m = await s.finalMessage();
      expect(m.stop_reason).toBe("tool_use");
      const uses = m.content.filter((b) => b.type === "tool_use") as Anthropic.ToolUseBlock[];
      if (c.fake() === plain) expect(uses.map((u) => ({ name: u.name, input: u.input }))).toEqual([
        { name: "get_weather", input: { city: "Paris" } },
        { name: "get_time", input: { city: "Paris" } },
      ]);
      else expect(uses[0]).toMatchObject({ name: "get_weather", input: { city: "Paris" } });
    });
    test("a multi-turn conversation with a tool result gets the model's answer", async () => {
      const m = await client().messages.create({
        model: c.model,
        max_tokens: 2,
        tools: [WEATHER],
        messages: [
          user("weather in Paris?"),
          { role: "assistant", content: [{ type: "text", text: "Let me check." }, { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } }] },
          user([{ type: "tool_result", tool_use_id: "toolu_01", content: "18°C, sunny" }]),
        ],
      });
      expect(m.stop_reason).toBe("end_turn");
      expect(m.content[0]).toMatchObject({ type: "text", text: "tok0 tok1 " });
      const seen = lastSeen(c.fake(), c.path);
      if (c.fake() === plain)
        expect(seen.messages.slice(1)).toEqual([
          { role: "assistant", content: "Let me check.", tool_calls: [{ id: "toolu_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
          { role: "tool", tool_call_id: "toolu_01", content: "18°C, sunny" },
        ]);
      else expect(seen.messages[2].content[0]).toEqual({ type: "tool_result", tool_use_id: "toolu_01", content: "18°C, sunny" });
    });

    test("an image (base64 and URL) reaches the model", async () => {
      const m = await client().messages.create({
        model: c.model,
        max_tokens: 1,
        messages: [
          user([
            { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
            { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
            { type: "text", text: "what is this?" },
          ]),
        ],
      });
      expect(m.content[0]).toMatchObject({ type: "text" });
      const seen = lastSeen(c.fake(), c.path);
      if (c.fake() === plain)
        expect(seen.messages[0].content).toEqual([
          { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          { type: "text", text: "what is this?" },
        ]);
      else expect(seen.messages[0].content[0]).toEqual({ type: "image", source: { type: "base64", media_type: "image/png", data: PNG } });
    });

    test("abort: the client's abort of a stream reaches the upstream", async () => {
      const f = c.fake();
      const before = f.aborts.length;
      f.options.tokenDelayMs = 30;
      try {
        const s = client().messages.stream({ model: c.model, max_tokens: 500, messages: [user("write a long story")] });
        for await (const ev of s) if (ev.type === "content_block_delta") break; // leaving the loop aborts the request
        await f.waitForAborts(before + 1);
        expect(f.aborts.at(-1)!.path).toBe(c.path);
      } finally {
        f.options.tokenDelayMs = 0;
      }
    });

    test("an upstream that breaks off mid-stream: the stream ends with Anthropic's error event, which the SDK throws", async () => {
      const f = c.fake();
      // After the first token has left (a delay between tokens: otherwise nothing leaves before the death, and that is failover).
      f.options.dieAfterTokens = 2;
      f.options.tokenDelayMs = 20;
      try {
        const s = client().messages.stream({ model: c.model, max_tokens: 5, messages: [user("hi")] });
        const e = await apiError(s.finalMessage());
        expect(e.error).toMatchObject({ type: "error", error: { type: "api_error", message: expect.stringContaining("broke off the response") } });
      } finally {
        f.options.dieAfterTokens = undefined;
        f.options.tokenDelayMs = 0;
      }
    });

    test("count_tokens: a number (the upstream has no such route: the broker's estimate)", async () => {
      const r = await client().messages.countTokens({ model: c.model, messages: [user("12345678")] });
      expect(r.input_tokens).toBe(2);
    });
  });
}

test("models.list(): the models in Anthropic's shape (ModelInfo), paged as the SDK follows them; the same models as the OpenAI list, a key's model list applied", async () => {
  // Before, the Anthropic client got OpenAI's entries (object, created, owned_by): no type, display_name or created_at.
  const openAiIds = async (key: string) => ((await (await fetch(`${broker}/v1/models`, { headers: { "x-api-key": key } })).json()) as { data: { id: string }[] }).data.map((m) => m.id);
  for (const key of ["local", keys.only!]) {
    const ids: string[] = [];
    for await (const m of client({ apiKey: key }).models.list({ limit: 2 })) {
      expect(m).toEqual({
        type: "model",
        id: m.id,
        display_name: m.id,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        lifecycle: "active",
        ...{ capabilities: null, deprecated_at: null, line: null, max_input_tokens: null, max_tokens: null, retires_at: null },
      });
      ids.push(m.id);
    }
    expect(ids).toEqual(await openAiIds(key));
  }
  const first = await client().models.list({ limit: 2 });
  expect(first.data.length).toBe(2);
  expect(first.has_more).toBe(true);
  expect(first.last_id).toBe(first.data[1]!.id);
  expect(await openAiIds("local")).toEqual(expect.arrayContaining(["llama3.2:1b", "qwen2.5:0.5b", "shared:1b"]));
});

describe("errors in Anthropic's shape, read by the SDK", () => {
  test("an unknown model is a NotFoundError with type not_found_error", async () => {
    const e = await apiError(client().messages.create({ model: "claude-nope-9", max_tokens: 5, messages: [user("hi")] }));
    expect(e).toBeInstanceOf(Anthropic.NotFoundError);
    expect(e.status).toBe(404);
    expect((e.error as any).type).toBe("error");
    expect((e.error as any).error.type).toBe("not_found_error");
    expect(e.message).toContain("claude-nope-9");
  });

  test("an unknown model on the translating upstream: its OpenAI-shaped 404 comes back in Anthropic's shape", async () => {
    native.options.failWith503 = true;
    try {
      const e = await apiError(client().messages.create({ model: "ghost:1b", max_tokens: 5, messages: [user("hi")] }));
      expect(plain.requests.at(-1)!.path).toBe("/v1/chat/completions");
      expect(e).toBeInstanceOf(Anthropic.NotFoundError);
      expect(e.error).toEqual({ type: "error", error: { type: "not_found_error", message: 'model "ghost:1b" not found' } });
    } finally {
      native.options.failWith503 = false;
    }
  });

  test("a bad request the translation refuses is a 400 invalid_request_error naming the field", async () => {
    const e = await apiError(client().messages.create({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" } }] }] }));
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    expect((e.error as any).error.type).toBe("invalid_request_error");
    expect(e.message).toContain("messages[0].content[0]");
  });

  test("keys: unknown key 401, a model the key may not use 403, over its rate 429 — by x-api-key and by Bearer", async () => {
    const unknown = await apiError(client({ apiKey: "c2l_notarealkey0000000000000000000000000000000" }).messages.create({ model: "claude-haiku-4-5", max_tokens: 1, messages: [user("hi")] }));
    expect(unknown).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(unknown.error).toEqual({ type: "error", error: { type: "authentication_error", message: expect.stringContaining("is not known") } });
    const denied = await apiError(client({ authToken: keys.only! }).messages.create({ model: "claude-sonnet-4-5", max_tokens: 1, messages: [user("hi")] }));
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(denied.error).toEqual({ type: "error", error: { type: "permission_error", message: expect.stringContaining('may not use model "qwen2.5:0.5b"') } });
    expect((await client({ authToken: keys.only! }).messages.create({ model: "claude-haiku-4-5", max_tokens: 1, messages: [user("hi")] })).type).toBe("message");
    expect((await client({ apiKey: keys.slow! }).messages.create({ model: "claude-haiku-4-5", max_tokens: 1, messages: [user("hi")] })).type).toBe("message");
    const limited = await apiError(client({ apiKey: keys.slow! }).messages.create({ model: "claude-haiku-4-5", max_tokens: 1, messages: [user("hi")] }));
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(limited.headers?.get("retry-after")).toMatch(/^\d+$/);
  });
});

test("usage: a translated create and a passed-through stream are counted in /api/v1/usage with their token counts", async () => {
  const usage = async () =>
    ((await (await fetch(`${d.urls.api}/api/v1/usage?key=meter`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { requests: number; prompt_tokens: number; completion_tokens: number } }).totals;
  const before = await usage();
  const k = client({ apiKey: keys.meter! });
  await k.messages.create({ model: "claude-sonnet-4-5", max_tokens: 4, messages: [user("hi")] });
  await k.messages.stream({ model: "claude-haiku-4-5", max_tokens: 5, messages: [user("hi")] }).finalMessage();
  await until(async () => (await usage()).requests === before.requests + 2, 5000, "both requests counted");
  // The fakes count 7 prompt tokens each; 4 and 5 generated. The stream's prompt count is in its message_start.
  expect(await usage()).toMatchObject({ prompt_tokens: before.prompt_tokens + 14, completion_tokens: before.completion_tokens + 9 });
});

test("an aborted stream is not free: the tokens relayed are counted, passed through and translated alike", async () => {
  const usage = async () =>
    ((await (await fetch(`${d.urls.api}/api/v1/usage?key=cut`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { requests: number; prompt_tokens: number; completion_tokens: number } }).totals;
  for (const c of CASES) {
    const before = await usage();
    const f = c.fake();
    f.options.tokenDelayMs = 30;
    try {
      let deltas = 0;
      const s = client({ apiKey: keys.cut! }).messages.stream({ model: c.model, max_tokens: 500, messages: [user("long")] });
      for await (const ev of s) if (ev.type === "content_block_delta" && ++deltas === 3) break;
    } finally {
      f.options.tokenDelayMs = 0;
    }
    await until(async () => (await usage()).requests === before.requests + 1, 5000, `the aborted ${c.label} stream counted`);
    const after = await usage();
    // At least the three tokens the client read; never the 0 or 1 of the message_start's opening count.
    expect({ label: c.label, completion: after.completion_tokens - before.completion_tokens >= 3, prompt: after.prompt_tokens - before.prompt_tokens > 0 }).toEqual({ label: c.label, completion: true, prompt: true });
  }
});

test("failover: the native upstream failing (503) sends the request on, translated, to the OpenAI-only one", async () => {
  native.options.failWith503 = true;
  try {
    const before = plain.requests.length;
    const m = await client().messages.create({ model: "shared:1b", max_tokens: 2, messages: [user("hi")] });
    expect(m.content[0]).toMatchObject({ type: "text", text: "tok0 tok1 " });
    expect(native.requests.at(-1)!.path).toBe("/v1/messages");
    expect(plain.requests.slice(before).map((r) => r.path)).toEqual(["/v1/chat/completions"]);
    const s = await client().messages.stream({ model: "shared:1b", max_tokens: 2, messages: [user("hi")] }).finalMessage();
    expect(s.content[0]).toMatchObject({ type: "text", text: "tok0 tok1 " });
  } finally {
    native.options.failWith503 = false;
  }
});
