// Anthropic's Messages API and OpenAI's Responses API through a real relay and daemon (the default [tunnel]
// allowed_paths let them through), with the official clients: translated and streamed, tools, abort, errors in Anthropic's shape.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { TOOL_ARGS } from "../helpers/fake-dialects.ts";
import { createKey, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

let native: FakeOllama;
let plain: FakeOllama;
/** An Ollama before 0.14: /v1/messages is its 404 page. */
let older: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

beforeAll(async () => {
  native = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
  plain = await startFakeOllama({ models: ["qwen2.5:0.5b"], tokens: 3, kind: "openai" });
  older = await startFakeOllama({ models: ["older:1b"], tokens: 3, version: "0.13.0" });
  relay = await startRelayProc(relayToml());
  // daemonToml's upstream "fake" is the Ollama-kind one; the OpenAI-only one is added, with an alias for Claude's name.
  const toml =
    daemonToml({ upstream: native.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }) +
    `[[upstreams]]\nname = "plain"\nkind = "openai"\nurl = "${plain.url}"\n[[upstreams]]\nname = "older"\nurl = "${older.url}"\n[[aliases]]\nname = "claude-sonnet-4-5"\nmodel = "qwen2.5:0.5b"\n`;
  daemon = await startAgentDaemon(toml);
}, 40_000);
afterAll(async () => {
  await daemon?.stop();
  await relay?.stop();
  await native?.stop();
  await plain?.stop();
  await older?.stop();
  cleanup(relay?.dir, daemon?.home);
});

// Through the relay the client key goes as a bearer token (ANTHROPIC_AUTH_TOKEN) or, without one, as x-api-key (ANTHROPIC_API_KEY).
const anthropic = () => new Anthropic({ baseURL: `${relay.url}/t/${TUNNEL_ID}`, authToken: CLIENT_KEY, apiKey: null, maxRetries: 0 });

test("create and stream, translated for the OpenAI-only upstream and passed through to the Ollama one", async () => {
  const m = await anthropic().messages.create({ model: "claude-sonnet-4-5", max_tokens: 2, messages: [{ role: "user", content: "hi" }] });
  expect(m.content).toEqual([{ type: "text", text: "tok0 tok1 " } as Anthropic.TextBlock]);
  expect(plain.requests.at(-1)!.path).toBe("/v1/chat/completions");
  const s = await anthropic().messages.stream({ model: "llama3.2:1b", max_tokens: 3, messages: [{ role: "user", content: "hi" }] }).finalMessage();
  expect(s.content).toMatchObject([{ type: "text", text: "tok0 tok1 tok2 " }]);
  expect(native.requests.at(-1)!.path).toBe("/v1/messages");
  expect((await anthropic().messages.countTokens({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "12345678" }] })).input_tokens).toBe(2);
});

test("tools with streamed arguments, translated, through the tunnel", async () => {
  const s = anthropic().messages.stream({
    model: "claude-sonnet-4-5",
    max_tokens: 50,
    tools: [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
    messages: [{ role: "user", content: "weather?" }],
  });
  const pieces: string[] = [];
  s.on("inputJson", (p) => pieces.push(p));
  const m = await s.finalMessage();
  expect(pieces).toEqual(TOOL_ARGS);
  expect(m.content.find((b) => b.type === "tool_use")).toMatchObject({ name: "get_weather", input: { city: "Paris" } });
});

test("structured outputs through the tunnel: output_config.format reaches the OpenAI-only upstream as a strict json_schema response_format", async () => {
  const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
  await anthropic().messages.create({ model: "claude-sonnet-4-5", max_tokens: 2, messages: [{ role: "user", content: "city?" }], output_config: { format: { type: "json_schema", schema } } });
  expect(plain.requests.at(-1)!.json).toMatchObject({ response_format: { type: "json_schema", json_schema: { name: "output", schema, strict: true } } });
});

test("models.list() through the tunnel: Anthropic's ModelInfo entries (anthropic-version crosses to the broker), the OpenAI client's list unchanged", async () => {
  const ids: string[] = [];
  for await (const m of anthropic().models.list()) {
    expect(m).toMatchObject({ type: "model", display_name: m.id, created_at: expect.any(String) });
    ids.push(m.id);
  }
  expect(ids.sort()).toEqual(["llama3.2:1b", "older:1b", "qwen2.5:0.5b"]);
  const openai = await new OpenAI({ baseURL: `${relay.url}/t/${TUNNEL_ID}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 }).models.list();
  expect(openai.data.map((m) => m.id).sort()).toEqual(ids);
  expect(openai.data[0]).toMatchObject({ object: "model" });
});

test("through the tunnel, an Ollama older than 0.14 (by the version its checks read) gets Anthropic's Messages translated to its chat completions, streamed with a tool", async () => {
  await until(async () => ((await (await fetch(`${daemon.urls.broker}/api/tags`)).json()) as { models: { name: string }[] }).models.some((m) => m.name === "older:1b"), 10_000, "the older Ollama to be checked");
  const m = await anthropic()
    .messages.stream({ model: "older:1b", max_tokens: 20, tools: [{ name: "get_weather", input_schema: { type: "object" } }], messages: [{ role: "user", content: "weather?" }] })
    .finalMessage();
  expect(m.stop_reason).toBe("tool_use");
  expect(m.content[0]).toMatchObject({ type: "tool_use", name: "get_weather", input: JSON.parse(TOOL_ARGS.join("")) });
  expect(older.requests.map((r) => r.path).filter((p) => p === "/v1/chat/completions" || p === "/v1/messages")).toEqual(["/v1/chat/completions"]);
});

test("abort through the tunnel reaches the upstream", async () => {
  const before = plain.aborts.length;
  plain.options.tokenDelayMs = 30;
  try {
    const s = anthropic().messages.stream({ model: "claude-sonnet-4-5", max_tokens: 500, messages: [{ role: "user", content: "long" }] });
    for await (const ev of s) if (ev.type === "content_block_delta") break;
    await plain.waitForAborts(before + 1);
    expect(plain.aborts.at(-1)!.path).toBe("/v1/chat/completions");
  } finally {
    plain.options.tokenDelayMs = 0;
  }
});

test("errors through the tunnel in Anthropic's shape: an unknown model, a wrong relay key", async () => {
  let e: unknown = null;
  try {
    await anthropic().messages.create({ model: "claude-nope-9", max_tokens: 1, messages: [{ role: "user", content: "hi" }] });
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(Anthropic.NotFoundError);
  expect(((e as InstanceType<typeof Anthropic.APIError>).error as any).error.type).toBe("not_found_error");
  let w: unknown = null;
  try {
    await new Anthropic({ baseURL: `${relay.url}/t/${TUNNEL_ID}`, authToken: "wrong-key", apiKey: null, maxRetries: 0 }).messages.create({ model: "claude-sonnet-4-5", max_tokens: 1, messages: [{ role: "user", content: "hi" }] });
  } catch (x) {
    w = x;
  }
  expect(w).toBeInstanceOf(Anthropic.AuthenticationError);
  expect(((w as InstanceType<typeof Anthropic.APIError>).error as any).error.type).toBe("authentication_error");
});

test("OpenAI's responses.create through the tunnel (stream and not)", async () => {
  const oa = new OpenAI({ baseURL: `${relay.url}/t/${TUNNEL_ID}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  expect((await oa.responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 2 })).output_text).toBe("tok0 tok1 ");
  let text = "";
  for await (const ev of await oa.responses.create({ model: "llama3.2:1b", input: "hi", max_output_tokens: 2, stream: true })) if (ev.type === "response.output_text.delta") text += ev.delta;
  expect(text).toBe("tok0 tok1 ");
});

/**
 * A client that sends its key in x-api-key only, as Claude Code sends ANTHROPIC_API_KEY (and Anthropic's SDKs before
 * 1.x did; this SDK's `apiKey` now goes as a bearer token, which the relay always took).
 */
const xApiKey = (key: string) => new Anthropic({ baseURL: `${relay.url}/t/${TUNNEL_ID}`, apiKey: null, authToken: null, defaultHeaders: { "x-api-key": key }, maxRetries: 0 });

test("Claude Code's ANTHROPIC_API_KEY (x-api-key) is taken as the relay's client key, and that header stays at the relay", async () => {
  const before = native.requests.length;
  // The SDK's own apiKey option works too.
  expect((await new Anthropic({ baseURL: `${relay.url}/t/${TUNNEL_ID}`, apiKey: CLIENT_KEY, maxRetries: 0 }).messages.countTokens({ model: "llama3.2:1b", messages: [{ role: "user", content: "1234" }] })).input_tokens).toBe(1);
  const viaApiKey = xApiKey(CLIENT_KEY);
  const m = await viaApiKey.messages.create({ model: "llama3.2:1b", max_tokens: 2, messages: [{ role: "user", content: "hi" }] });
  expect(m.content).toEqual([{ type: "text", text: "tok0 tok1 " } as Anthropic.TextBlock]);
  const s = await viaApiKey.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 2, messages: [{ role: "user", content: "hi" }] }).finalMessage();
  expect(s.content).toMatchObject([{ type: "text", text: "tok0 tok1 " }]);
  const seen = native.requests.slice(before).find((r) => r.path === "/v1/messages")!;
  expect(seen.headers["x-api-key"]).toBeUndefined();
  expect(plain.requests.at(-1)!.headers["x-api-key"]).toBeUndefined();
  let w: unknown = null;
  try {
    await xApiKey("wrong-key").messages.create({ model: "llama3.2:1b", max_tokens: 1, messages: [{ role: "user", content: "hi" }] });
  } catch (x) {
    w = x;
  }
  expect(w).toBeInstanceOf(Anthropic.AuthenticationError);
  expect(((w as InstanceType<typeof Anthropic.APIError>).error as any).error).toMatchObject({ type: "authentication_error", message: expect.stringContaining("unknown client key") });
});

test("with the relay's key as a bearer token, a gateway key in x-api-key goes on to the broker (its model list applies)", async () => {
  const gatewayKey = createKey(daemon, "only-llama", "--models", "llama3.2:1b");
  const both = new Anthropic({ baseURL: `${relay.url}/t/${TUNNEL_ID}`, authToken: CLIENT_KEY, apiKey: null, defaultHeaders: { "x-api-key": gatewayKey }, maxRetries: 0 });
  await until(async () => (await both.messages.create({ model: "llama3.2:1b", max_tokens: 1, messages: [{ role: "user", content: "hi" }] }).then(() => true, () => false)), 5000, "the daemon to see the key");
  let e: unknown = null;
  try {
    await both.messages.create({ model: "claude-sonnet-4-5", max_tokens: 1, messages: [{ role: "user", content: "hi" }] });
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(Anthropic.PermissionDeniedError);
  expect(((e as InstanceType<typeof Anthropic.APIError>).error as any).error.message).toContain('"only-llama" may not use model');
  // The bodies an upstream reads differently from the broker are refused behind the relay as on this machine.
  for (const models of ['"model":"llama3.2:1b","model":"qwen2.5:0.5b"', '"model":"llama3.2:1b","Model":"qwen2.5:0.5b"', '"model":"llama3.2:1b","mod\\u0065l":"qwen2.5:0.5b"']) {
    const res = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}/v1/messages`, { headers: { authorization: `Bearer ${CLIENT_KEY}`, "x-api-key": gatewayKey, "content-type": "application/json" }, body: `{${models},"max_tokens":1,"messages":[]}` });
    expect({ models, status: res.status, body: JSON.parse(res.body).error?.type }).toEqual({ models, status: 400, body: "invalid_request_error" });
  }
});

test("every spelling of /v1/messages through the relay is /v1/messages, as on the broker's own port; a ';' parameter is refused in Anthropic's shape, reaching nothing", async () => {
  const body = JSON.stringify({ model: "llama3.2:1b", max_tokens: 2, messages: [{ role: "user", content: "hi" }] });
  // ("/v1/./messages" is not among them: the relay's HTTP parser resolves dot segments, so it is /v1/messages from the start.)
  for (const spelling of ["/v1/messages?beta=true", "/v1/%6Dessages", "//v1/messages", "/v1/messages/", "/V1/messages", "/v1/messages%2F"]) {
    const res = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}${spelling}`, { headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json" }, body });
    expect({ spelling, status: res.status, type: JSON.parse(res.body).type }).toEqual({ spelling, status: 200, type: "message" });
  }
  const count = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}/v1/Messages/count_tokens`, { headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json" }, body });
  expect({ status: count.status, counted: typeof JSON.parse(count.body).input_tokens }).toEqual({ status: 200, counted: "number" });
  const before = native.requests.length + plain.requests.length;
  const res = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}/v1/messages;x`, { headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json" }, body });
  const j = JSON.parse(res.body);
  expect({ status: res.status, shape: j.type, message: j.error?.message }).toEqual({ status: 404, shape: "error", message: '"/v1/messages;x" is no route: every upstream reads ";…" as part of the path; use /v1/messages' });
  expect(native.requests.length + plain.requests.length).toBe(before);
});

test("a translated Responses stream aborted through the relay: the upstream sees the abort", async () => {
  const before = plain.aborts.length;
  plain.options.tokenDelayMs = 30;
  try {
    const oa = new OpenAI({ baseURL: `${relay.url}/t/${TUNNEL_ID}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    for await (const ev of await oa.responses.create({ model: "qwen2.5:0.5b", input: "long", max_output_tokens: 500, stream: true })) if (ev.type === "response.output_text.delta") break;
    await plain.waitForAborts(before + 1);
    expect(plain.aborts.at(-1)!.path).toBe("/v1/chat/completions");
  } finally {
    plain.options.tokenDelayMs = 0;
  }
});

test("through the relay: sized and chunked bodies work on both routes; an empty, non-object or compressed one is refused in the route's dialect", async () => {
  const routes = [
    { path: "/v1/messages", body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 2, messages: [{ role: "user", content: "hi" }] }), anthropic: true },
    { path: "/v1/responses", body: JSON.stringify({ model: "qwen2.5:0.5b", input: "hi", max_output_tokens: 2 }), anthropic: false },
  ];
  const headers = { "x-api-key": CLIENT_KEY, "content-type": "application/json" };
  for (const r of routes) {
    for (const chunked of [false, true]) {
      const res = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}${r.path}`, { headers, body: r.body, chunked });
      expect({ path: r.path, chunked, status: res.status }).toEqual({ path: r.path, chunked, status: 200 });
    }
    for (const [body, extra, status] of [
      ["", {}, 400],
      ["[1]", {}, 400],
      [r.body, { "content-encoding": "gzip" }, 415],
    ] as const) {
      const res = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}${r.path}`, { headers: { ...headers, ...extra }, body });
      const j = JSON.parse(res.body);
      expect({ path: r.path, body, status: res.status, anthropic: j.type === "error", type: j.error?.type }).toEqual({ path: r.path, body, status, anthropic: r.anthropic, type: "invalid_request_error" });
    }
  }
});
