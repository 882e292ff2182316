// Daily token budgets against streams cut short and parallel calls, through a real daemon with the official clients:
// aborting never makes a request free, and requests in flight hold part of the budget.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI, { toFile } from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { BUN, keyUsage, removeHome, REPO, startDaemon, untilCounted, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let fake: FakeOllama;
let d: DaemonProc;
let broker: string;
let token: string;
const keys: Record<string, string> = {};

beforeAll(async () => {
  // A slow, long stream: the clients cut it long before its end.
  fake = await startFakeOllama({ models: ["m:1b"], tokens: 1000, tokenDelayMs: 30 });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  token = (await Bun.file(join(d.home, ".config/cloudtolocalllm/api-token")).text()).trim();
  for (const [name, budget] of [["ol", 60], ["oa", 60], ["cut", 100000], ["par", 30], ["esc", 30], ["resp", 600], ["tgi", 1000], ["nobudget", 0]] as const) {
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", name, "--tokens-per-day", String(budget)], { env: d.env, stdout: "pipe" });
    keys[name] = r.stdout.toString().trim();
  }
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": keys.par! } })).status === 200, 5000, "the daemon to see the keys");
}, 30_000);
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

const usage = (key: string) => keyUsage(d, token, key);
const counted = (key: string, n: number) => untilCounted(d, token, key, n);
/**
 * The prompt estimate for the client's body the upstream got last (4 bytes a token), as the broker makes it; on /v1/*
 * less the stream_options the broker added to ask for usage.
 */
const ASKED = ',"stream_options":{"include_usage":true}'.length;
const lastPromptEstimate = () => {
  const r = fake.requests.at(-1)!;
  return Math.ceil((r.bodySize - (r.path.startsWith("/v1/") ? ASKED : 0)) / 4);
};
const chat = { model: "m:1b", messages: [{ role: "user" as const, content: "hi" }] };

async function status(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await p;
    return { status: 200, message: "" };
  } catch (e) {
    const x = e as { message: string; status_code?: number; status?: number };
    return { status: x.status_code ?? x.status ?? 0, message: x.message };
  }
}

test("ollama client: three streams aborted after 5 tokens on a 60-token budget are counted, and the next call gets 429", async () => {
  const ollama = new Ollama({ host: broker, headers: { Authorization: `Bearer ${keys.ol}` } });
  let prompt = 0;
  let read = 0;
  for (let i = 0; i < 3; i++) {
    const stream = await ollama.chat({ ...chat, stream: true });
    let parts = 0;
    const err = await status(
      (async () => {
        for await (const _ of stream) if (++parts === 5) stream.abort();
      })(),
    );
    // The client still hands out the parts it had parsed before the abort (more of them on a loaded machine).
    expect(parts).toBeGreaterThanOrEqual(5);
    read += parts;
    expect(err.message).toContain("abort");
    prompt += lastPromptEstimate();
    await counted("ol", i + 1);
  }
  const u = await usage("ol");
  // What was relayed: the tokens each client read, and at most a token or two more already on the way.
  expect(u.completion_tokens).toBeGreaterThanOrEqual(read);
  expect(u.completion_tokens).toBeLessThanOrEqual(read + 6);
  expect(u.prompt_tokens).toBe(prompt);
  expect(u.prompt_tokens + u.completion_tokens).toBeGreaterThanOrEqual(60);
  const next = await status(ollama.chat({ ...chat, stream: false }));
  expect(next.status).toBe(429);
  expect(next.message).toContain('the API key "ol" used its 60 tokens for today');
}, 30_000);

test("openai client: three streams aborted (AbortController) before the usage event are counted, and the next call gets 429", async () => {
  const openai = new OpenAI({ baseURL: `${broker}/v1`, apiKey: keys.oa!, maxRetries: 0 });
  let prompt = 0;
  for (let i = 0; i < 3; i++) {
    const ac = new AbortController();
    const stream = await openai.chat.completions.create({ ...chat, stream: true }, { signal: ac.signal });
    let parts = 0;
    await status(
      (async () => {
        for await (const c of stream) if (c.choices[0]?.delta?.content && ++parts === 5) ac.abort();
      })(),
    );
    expect(parts).toBe(5);
    prompt += lastPromptEstimate();
    await counted("oa", i + 1);
  }
  const u = await usage("oa");
  expect(u.completion_tokens).toBeGreaterThanOrEqual(15);
  expect(u.completion_tokens).toBeLessThanOrEqual(21);
  expect(u.prompt_tokens).toBe(prompt);
  const next = await status(openai.chat.completions.create(chat));
  expect(next.status).toBe(429);
  expect(next.message).toContain('the API key "oa" used its 60 tokens for today');
  // The SDKs retry a 429 by default after its Retry-After, however long: until 00:00 UTC the call would hang for hours.
  // They are told not to (x-should-retry: false): the error at once, one request each.
  let sent = 0;
  const counting = new OpenAI({ baseURL: `${broker}/v1`, apiKey: keys.oa!, maxRetries: 1, fetch: (url, init) => (sent++, fetch(url, init)) });
  expect((await status(counting.chat.completions.create(chat))).status).toBe(429);
  const anthropic = new Anthropic({ baseURL: broker, apiKey: keys.oa!, maxRetries: 1, fetch: (url, init) => (sent++, fetch(url, init)) });
  expect((await status(anthropic.messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }))).status).toBe(429);
  // (Within two minutes of 00:00 UTC the wait is short enough for the SDKs to honour: then they retry, rightly.)
  if (86_400_000 - (Date.now() % 86_400_000) > 120_000) expect(sent).toBe(2);
}, 30_000);

test("an upstream that breaks off mid-stream: the tokens it sent are counted, in each dialect", async () => {
  fake.options.dieAfterTokens = 6;
  try {
    const post = async (path: string, body: object) => {
      const r = await fetch(`${broker}${path}`, { method: "POST", headers: { "x-api-key": keys.cut! }, body: JSON.stringify({ ...body, stream: true }) });
      const text = await r.text();
      expect(text).toContain("broke off");
      // The tokens that reached the client: all six the upstream sent before it dropped the connection.
      return text.split('"content":"tok').length - 1;
    };
    const before = await usage("cut");
    const ndjson = await post("/api/chat", chat);
    expect(ndjson).toBe(6);
    await counted("cut", before.requests + 1);
    expect(await usage("cut")).toMatchObject({ completion_tokens: ndjson, prompt_tokens: lastPromptEstimate() });
    const sse = await post("/v1/chat/completions", chat);
    expect(sse).toBe(6);
    await counted("cut", before.requests + 2);
    expect((await usage("cut")).completion_tokens).toBe(ndjson + sse);
  } finally {
    fake.options.dieAfterTokens = undefined;
  }
}, 30_000);

test("parallel calls cannot overshoot the budget N times: five at once on a 30-token budget, one runs, four get 429", async () => {
  fake.options.tokens = 20;
  try {
    const ollama = new Ollama({ host: broker, headers: { Authorization: `Bearer ${keys.par}` } });
    const before = await usage("par");
    expect(before.prompt_tokens + before.completion_tokens).toBe(0);
    const results = await Promise.all(Array.from({ length: 5 }, () => status(ollama.chat({ ...chat, stream: false }))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429]);
    expect(results.find((r) => r.status === 429)!.message).toContain('the API key "par" has its 30 tokens for today used or held by requests in flight');
    await counted("par", before.requests + 1);
    // The one that ran: the upstream's own counts (7 prompt, 20 completion); nothing from the refused four.
    expect(await usage("par")).toMatchObject({ requests: before.requests + 1, prompt_tokens: 7, completion_tokens: 20 });
    expect((await status(ollama.chat({ ...chat, stream: false }))).status).toBe(200);
    // 54 used now: over the budget, refused until midnight.
    await counted("par", before.requests + 2);
    expect((await status(ollama.chat({ ...chat, stream: false }))).message).toContain("used its 30 tokens for today (54 used)");
  } finally {
    fake.options.tokens = 1000;
  }
}, 30_000);

test("openai client, Responses API: max_output_tokens is the generation limit a call holds, so five at once on a 600-token budget with 700 each run one at a time", async () => {
  fake.options.tokenDelayMs = 1; // 700 tokens each (the fake generates what max_output_tokens allows, as a model may)
  try {
    const oa = new OpenAI({ baseURL: `${broker}/v1`, apiKey: keys.resp!, maxRetries: 0 });
    // Each may generate 700 tokens: holding the default 512 instead would let two run at once and spend the budget twice.
    const results = await Promise.all(Array.from({ length: 5 }, () => status(oa.responses.create({ model: "m:1b", input: "hi", max_output_tokens: 700 }))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429]);
    expect(results.find((r) => r.status === 429)!.message).toContain('the API key "resp" has its 600 tokens for today used or held by requests in flight');
  } finally {
    fake.options.tokenDelayMs = 30;
  }
}, 30_000);

test("an escaped spelling of a generation route (/api/%63hat, /v1/chat/%63ompletions) holds and counts like the route the upstream serves", async () => {
  fake.options.tokens = 20;
  try {
    const post = (path: string) =>
      fetch(`${broker}${path}`, { method: "POST", headers: { authorization: `Bearer ${keys.esc}`, "content-type": "application/json" }, body: JSON.stringify({ ...chat, stream: false }) });
    // Five at once on a 30-token budget: the holds apply to the escaped spelling too, so four are refused before the upstream.
    // Generation calls only: a health check's reads may fall in the same moment.
    const calls = () => fake.requests.filter((r) => r.method === "POST").length;
    const before = calls();
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => post(i % 2 ? "/v1/chat/%63ompletions" : "/api/%63hat")));
    const statuses = results.map((r) => r.status);
    await Promise.all(results.map((r) => r.text()));
    expect(statuses.filter((s) => s === 429).length).toBe(4);
    expect(calls() - before).toBe(1);
  } finally {
    fake.options.tokens = 1000;
  }
}, 30_000);

test("a key with a daily budget reaches llama.cpp's routes that generate nothing (its slot actions save, restore and erase, /tokenize, /detokenize, /apply-template, the input_tokens counters, the control of a running chat completion); a slot call naming another action, or none, /lora-adapters and /v1/systemone stay 403", async () => {
  const post = (path: string, body: unknown) => fetch(`${broker}${path}`, { method: "POST", headers: { "x-api-key": keys.tgi!, "content-type": "application/json" }, body: JSON.stringify(body) });
  const passed: [string, unknown][] = [
    ["/slots/0?action=save", { filename: "a.bin" }],
    ["/slots/1?action=restore", { filename: "a.bin" }],
    ["/slots/0?action=erase", {}],
    ["/tokenize", { content: "hi" }],
    ["/detokenize", { tokens: [1, 2] }],
    ["/apply-template", { messages: [{ role: "user", content: "hi" }] }],
    ["/v1/responses/input_tokens", { model: "m:1b", input: "hi" }],
    ["/v1/chat/completions/input_tokens", { model: "m:1b", messages: [{ role: "user", content: "hi" }] }],
    ["/v1/chat/completions/control", { id: "chatcmpl-x", action: "reasoning_end", model: "m:1b" }],
  ];
  for (const [path, body] of passed) {
    const before = fake.requests.length;
    const r = await post(path, body);
    await r.text();
    expect({ path, status: r.status }).not.toEqual({ path, status: 403 });
    // Sent on as asked, query included (the fake has no such routes: its own 404).
    expect(fake.requests.slice(before).map((q) => q.path + q.search)).toEqual([path]);
  }
  for (const [path, body] of [["/slots/0?action=completion", {}], ["/slots/0", {}], ["/slots/0?action=erase&action=x", {}], ["/slots/x?action=erase", {}], ["/lora-adapters", [{ id: 0, scale: 1 }]], ["/v1/systemone", { state: "x", questions: {} }]] as const) {
    const before = fake.requests.length;
    const r = await post(path, body);
    expect({ path, status: r.status }).toEqual({ path, status: 403 });
    expect(await r.text()).toContain("daily token budget");
    expect(fake.requests.length).toBe(before);
  }
});

test("a key with a daily budget cannot generate on a route the broker does not count: TGI's /generate and vLLM's transcriptions (openai client) are 403 and never reach the upstream; a key without a budget still reaches them", async () => {
  const seen = (path: string) => fake.requests.filter((r) => r.path === path).length;
  const tgi = (key: string) => fetch(`${broker}/generate`, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: JSON.stringify({ inputs: "hi", parameters: { max_new_tokens: 100000 } }) });
  const refused = await tgi(keys.tgi!);
  expect(refused.status).toBe(403);
  expect(refused.headers.get("x-c2l-error-code")).toBe("forbidden");
  expect(((await refused.json()) as { error: string }).error).toContain("POST /generate");
  const client = new OpenAI({ baseURL: `${broker}/v1`, apiKey: keys.tgi!, maxRetries: 0 });
  const audio = await status(client.audio.transcriptions.create({ model: "m:1b", file: await toFile(new Uint8Array(64), "a.wav") }));
  expect(audio.status).toBe(403);
  expect(audio.message).toContain("/v1/audio/transcriptions");
  expect(seen("/generate") + seen("/v1/audio/transcriptions")).toBe(0);
  // The same route for a key without a budget goes on to the upstream as before (the fake has no such route).
  expect((await tgi(keys.nobudget!)).status).not.toBe(403);
  expect(seen("/generate")).toBe(1);
});
