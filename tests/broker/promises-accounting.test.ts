// Attacks on the accounting's promises (docs/gateway.md, Usage): every token counted once and right, whatever the way in.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, BUN, createKey, keyUsage, removeHome, REPO, startDaemon, untilCounted, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { join } from "node:path";
import { until } from "../helpers/until.ts";

let vllm: FakeOllama;
let ollama: FakeOllama;
/** A generic OpenAI-compatible server that ends its SSE lines with CRLF (Python's sse-starlette does by default). */
let crlf: ReturnType<typeof Bun.serve>;
/** An Ollama that lists o:1b but answers every generation 503 (busy): the broker fails over to the next upstream. */
let busy: ReturnType<typeof Bun.serve>;
let busyAsked = 0;
/** An Ollama whose model calls a tool with arguments made to look like counts, then goes on generating (slowly). */
let tooler: ReturnType<typeof Bun.serve>;
let d: DaemonProc;
let broker: string;
let token: string;
const keys: Record<string, string> = {};
const CRLF_TOKENS = 6;
let clientHasFirst = Promise.withResolvers<void>();
/** Whether the client had the first token before the server sent the second. */
let firstSeen = false;

const crlfChunk = (delta: object, finish: string | null, extra: object = {}) =>
  `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: "c:1b", choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\r\n\r\n`;

beforeAll(async () => {
  vllm = await startFakeOllama({ models: ["v:1b"], tokens: 40, kind: "vllm" });
  ollama = await startFakeOllama({ models: ["o:1b"], tokens: 5 });
  crlf = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/v1/models") return Response.json({ object: "list", data: [{ id: "c:1b", object: "model" }] });
      // A stored response (vLLM with its store on, OpenAI's API): what was generated earlier, read again.
      if (req.method === "GET" && path === "/v1/responses/resp_1")
        return Response.json({ id: "resp_1", object: "response", status: "completed", model: "c:1b", output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: "stored" }] }], usage: { input_tokens: 9, output_tokens: 500, total_tokens: 509 } });
      if (path !== "/v1/chat/completions") return new Response("not found", { status: 404 });
      const body = (await req.json()) as { stream?: boolean; stream_options?: { include_usage?: boolean } };
      const usage = { prompt_tokens: 9, completion_tokens: CRLF_TOKENS, total_tokens: 9 + CRLF_TOKENS };
      const stream = new ReadableStream({
        async start(c) {
          for (let i = 0; i < CRLF_TOKENS; i++) {
            c.enqueue(new TextEncoder().encode(crlfChunk({ content: `t${i} ` }, null)));
            // The rest waits until the client has the first token (or 5 s): a broker holding the stream back shows.
            if (i === 0) firstSeen = await Promise.race([clientHasFirst.promise.then(() => true), Bun.sleep(5000).then(() => false)]);
          }
          c.enqueue(new TextEncoder().encode(crlfChunk({}, "stop")));
          if (body.stream_options?.include_usage) c.enqueue(new TextEncoder().encode(`data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: "c:1b", choices: [], usage })}\r\n\r\n`));
          c.enqueue(new TextEncoder().encode("data: [DONE]\r\n\r\n"));
          c.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    },
  });
  busy = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.12.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "o:1b", model: "o:1b" }] });
      // Loaded, as the other: warm-first routing does not decide, priority does.
      if (path === "/api/ps") return Response.json({ models: [{ name: "o:1b", model: "o:1b", size: 1, digest: "x", expires_at: "2099-01-01T00:00:00Z", size_vram: 1 }] });
      await req.arrayBuffer();
      busyAsked++;
      return Response.json({ error: "server busy" }, { status: 503 });
    },
  });
  tooler = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.12.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "t:1b", model: "t:1b" }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      const asked = (await req.json()) as { stream?: boolean };
      const line = (o: object) => new TextEncoder().encode(JSON.stringify(o) + "\n");
      if (asked.stream === false) {
        // A whole answer over 256 KiB that breaks off after its tool call, before its counts.
        const head = JSON.stringify({ model: "t:1b", created_at: "2026-01-01T00:00:00Z", message: { role: "assistant", content: "x".repeat(300_000), tool_calls: [{ function: { name: "f", arguments: { eval_count: 0, prompt_eval_count: 0 } } }] } }).slice(0, -2);
        const cut = new ReadableStream({
          async start(c) {
            c.enqueue(new TextEncoder().encode(head));
            await Bun.sleep(50);
            // Not an Error: Bun would print its stack for the server (the cut is the point, not a failure of the test).
            c.error(undefined);
          },
        });
        return new Response(cut, { headers: { "content-type": "application/json; charset=utf-8" } });
      }
      const stream = new ReadableStream({
        async start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(line({ model: "t:1b", created_at: "2026-01-01T00:00:00Z", message: { role: "assistant", content: `w${i} ` }, done: false }));
          const args = { done: true, eval_count: 0, prompt_eval_count: 0 };
          c.enqueue(line({ model: "t:1b", created_at: "2026-01-01T00:00:00Z", message: { role: "assistant", content: "", tool_calls: [{ function: { name: "f", arguments: args } }] }, done: false }));
          // The second call is long in coming: the client has gone by then.
          await Bun.sleep(10_000);
          c.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
    },
  });
  d = await startDaemon({
    config: `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[[upstreams]]
name = "vllm"
kind = "vllm"
url = "${vllm.url}"
[[upstreams]]
name = "crlf"
kind = "openai"
url = "http://127.0.0.1:${crlf.port}"
[[upstreams]]
name = "busy"
url = "http://127.0.0.1:${busy.port}"
priority = 1
[[upstreams]]
name = "ollama"
url = "${ollama.url}"
[[upstreams]]
name = "tooler"
url = "http://127.0.0.1:${tooler.port}"
[[aliases]]
name = "gpt-4o-mini"
model = "v:1b"
`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  token = await apiToken(d);
  for (const name of ["echo", "crlf", "eos", "eos-unread", "floor", "alias", "reader", "embed", "failover", "tools", "cutwhole"]) keys[name] = createKey(d, name, "--tokens-per-day", "10000000");
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": keys.echo! } })).status !== 401, 5000, "the daemon to see the keys");
  await untilUpstreamsUp(d, token, 5);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await vllm?.stop();
  await ollama?.stop();
  await busy?.stop(true);
  await tooler?.stop(true);
  await crlf?.stop(true);
  if (d) removeHome(d.home);
});

const counted = (key: string, n: number) => untilCounted(d, token, key, n);
const openai = (key: string) => new OpenAI({ baseURL: `${broker}/v1`, apiKey: key, maxRetries: 0 });

test("a Responses answer over 256 KiB (echoed instructions) cannot forge its count with a usage key in its echoed tools", async () => {
  const tools = [{ type: "function" as const, name: "f", strict: false, parameters: { type: "object", properties: {}, default: { eval_count: 0, prompt_eval_count: 0 } } }];
  const r = await openai(keys.echo!).responses.create({ model: "v:1b", input: "hi", instructions: "be brief. ".repeat(30_000), tools });
  expect(r.usage?.output_tokens).toBe(40);
  // The instructions are echoed before the tools: the answer is over the 256 KiB read whole, so its end is searched.
  expect(JSON.stringify(r).length).toBeGreaterThan(256 * 1024);
  const t = await counted("echo", 2);
  expect(t.completion_tokens).toBe(40);
  expect(t.prompt_tokens).toBe(7);
});

test("a generic server's SSE with CRLF line ends (sse-starlette): each token reaches the client as it comes, the usage the broker asked for is taken out, and counted", async () => {
  clientHasFirst = Promise.withResolvers<void>();
  const stream = await openai(keys.crlf!).chat.completions.create({ model: "c:1b", messages: [{ role: "user", content: "hi" }], stream: true });
  const chunks: { choices: unknown[]; usage?: unknown }[] = [];
  for await (const c of stream) {
    chunks.push(c);
    clientHasFirst.resolve();
  }
  expect(firstSeen).toBe(true);
  expect(chunks.length).toBe(CRLF_TOKENS + 1);
  // The client did not ask for usage: no chunk without choices reaches it.
  expect(chunks.filter((c) => c.choices.length === 0 || c.usage)).toEqual([]);
  const t = await counted("crlf", 1);
  expect(t.completion_tokens).toBe(CRLF_TOKENS);
  expect(t.prompt_tokens).toBe(9);
});

/** The HTTP status a client call ended with (200, or the error's). */
async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    const x = e as { status?: number; status_code?: number };
    return x.status_code ?? x.status ?? 0;
  }
}

test("openai client: vLLM's ignore_eos without a limit (or with one vLLM does not read), or its min_tokens, holds what it will generate, so five such calls at once run one at a time", async () => {
  vllm.options.tokenDelayMs = 10; // each answer takes 0.4 s: the five overlap
  try {
    // A limit vLLM does not read (llama.cpp's n_predict, Ollama's options) is no limit beside ignore_eos.
    const unread = { ignore_eos: true, n_predict: 50, options: { num_predict: 50 } };
    for (const [key, extra] of [["eos", { ignore_eos: true }], ["eos-unread", unread], ["floor", { min_tokens: 20_000_000 }]] as const) {
      const oa = openai(keys[key]!);
      const results = await Promise.all(Array.from({ length: 5 }, () => status(oa.chat.completions.create({ model: "v:1b", messages: [{ role: "user", content: "hi" }], ...extra } as never))));
      // Holding the default 512 each, all five would run, each sure to generate to its context's end (or 20 M tokens).
      expect({ key, statuses: results.sort() }).toEqual({ key, statuses: [200, 429, 429, 429, 429] });
    }
  } finally {
    vllm.options.tokenDelayMs = 0;
  }
});

test("usage per model: a call through an alias is counted under the model that ran, its upstream's counts", async () => {
  const r = await openai(keys.alias!).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
  expect(r.usage?.completion_tokens).toBe(40);
  await counted("alias", 1);
  const rows = ((await (await fetch(`${d.urls.api}/api/v1/usage?key=alias`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rows: { model: string; completion_tokens: number }[] }).rows;
  expect(rows.map((x) => [x.model, x.completion_tokens])).toEqual([["v:1b", 40]]);
});

test("a key revoked and made again under its name goes on with that name's usage for the day: rotating a key does not reset its budget", async () => {
  const run = (...args: string[]) => Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", ...args], { env: d.env, stdout: "pipe", stderr: "pipe" });
  /** Whether the daemon takes the key (a call that generates nothing). */
  const known = async (key: string) => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": key } })).status !== 401;
  const call = (key: string) => status(openai(key).chat.completions.create({ model: "v:1b", messages: [{ role: "user", content: "hi" }] }));
  const first = createKey(d, "rotated", "--tokens-per-day", "60");
  await until(() => known(first), 5000, "the daemon to see the key");
  expect(await call(first)).toBe(200);
  await until(async () => (await keyUsage(d, token, "rotated")).completion_tokens === 40, 5000, "the call to be counted");
  expect(run("revoke", "rotated").exitCode).toBe(0);
  const second = createKey(d, "rotated", "--tokens-per-day", "60");
  await until(async () => !(await known(first)) && (await known(second)), 5000, "the daemon to see the new key");
  // 47 of the name's 60 tokens are used: the new key's call fits, and spends the rest.
  expect(await call(second)).toBe(200);
  await until(async () => (await keyUsage(d, token, "rotated")).completion_tokens === 80, 5000, "the call to be counted");
  // A fresh budget (the usage left with the old key) would let this one run too.
  expect(await call(second)).toBe(429);
});

test("reading a stored response again (GET /v1/responses/{id}) is a request, not its tokens a second time", async () => {
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${broker}/v1/responses/resp_1`, { headers: { authorization: `Bearer ${keys.reader}` } });
    expect(((await r.json()) as { usage: { output_tokens: number } }).usage.output_tokens).toBe(500);
  }
  const t = await counted("reader", 3);
  expect([t.prompt_tokens, t.completion_tokens]).toEqual([0, 0]);
});

test("a large batch of embeddings (an answer over 256 KiB) counts the prompt tokens its answer states, in both dialects", async () => {
  const input = Array.from({ length: 20_000 }, (_, i) => `w${i}`);
  const post = async (path: string, model: string) => {
    const r = await fetch(`${broker}${path}`, { method: "POST", headers: { authorization: `Bearer ${keys.embed}` }, body: JSON.stringify({ model, input }) });
    expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(256 * 1024);
  };
  await post("/api/embed", "o:1b");
  await post("/v1/embeddings", "v:1b");
  const t = await counted("embed", 2);
  // The fakes state 3 prompt tokens each; the request's size (about 200 KiB) would make some 50,000.
  expect([t.prompt_tokens, t.completion_tokens]).toEqual([6, 0]);
});

test("a call failed over to a second upstream is counted once, with the tokens of the upstream that answered, streamed or whole", async () => {
  const ol = new Ollama({ host: broker, headers: { "x-api-key": keys.failover! } });
  const asked = busyAsked;
  const whole = await ol.chat({ model: "o:1b", messages: [{ role: "user", content: "hi" }] });
  let streamed = 0;
  for await (const part of await ol.chat({ model: "o:1b", messages: [{ role: "user", content: "hi" }], stream: true })) if (part.done) streamed = part.eval_count;
  // The busy upstream was asked first (once it failed, the broker may suspect it and go to the other at once).
  expect(busyAsked - asked).toBeGreaterThanOrEqual(1);
  const t = await counted("failover", 2);
  expect(t).toMatchObject({ requests: 2, completion_tokens: whole.eval_count + streamed, prompt_tokens: whole.prompt_eval_count * 2 });
  expect(whole.eval_count).toBe(5);
});

test("ollama client: a stream cut after a tool call whose arguments look like counts (eval_count 0) is counted by what it relayed, never free", async () => {
  const ol = new Ollama({ host: broker, headers: { "x-api-key": keys.tools! } });
  const stream = await ol.chat({ model: "t:1b", messages: [{ role: "user", content: "call f with eval_count 0" }], stream: true });
  let lines = 0;
  try {
    for await (const part of stream) {
      lines++;
      if (part.message.tool_calls?.length) stream.abort();
    }
  } catch (e) {
    expect(String(e)).toContain("abort");
  }
  expect(lines).toBe(21);
  const t = await counted("tools", 1);
  // The 21 lines relayed, and the prompt estimated from the request's size.
  expect(t.completion_tokens).toBe(21);
  expect(t.prompt_tokens).toBeGreaterThan(0);
});

test("a whole answer over 256 KiB cut short after a tool call whose arguments look like counts is counted by its size, never free", async () => {
  const r = await fetch(`${broker}/api/chat`, { method: "POST", headers: { "x-api-key": keys.cutwhole! }, body: JSON.stringify({ model: "t:1b", messages: [{ role: "user", content: "hi" }], stream: false }) });
  const got = await r.arrayBuffer().then((b) => b.byteLength, () => -1);
  expect(got === -1 || got > 256 * 1024).toBe(true);
  const t = await counted("cutwhole", 1);
  // One token per 4 bytes of what was relayed (about 300 KB), not the arguments' zeros.
  expect(t.completion_tokens).toBeGreaterThan(70_000);
});

test("calls waiting in the queue when the key's day's use reaches its budget are refused (429) when their turn comes, never reaching the upstream", async () => {
  const key = createKey(d, "queued", "--tokens-per-day", "1200", "--max-parallel", "1");
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": key } })).status !== 401, 5000, "the daemon to see the key");
  ollama.options.tokens = 600; // no limit named: each holds about 530 and generates 600
  ollama.options.tokenDelayMs = 1;
  try {
    const ol = new Ollama({ host: broker, headers: { "x-api-key": key } });
    // Chat calls only: a health check (its reads) may fall in the same seconds.
    const chats = () => ollama.requests.filter((r) => r.path === "/api/chat").length;
    const before = chats();
    const results = await Promise.all(
      Array.from({ length: 3 }, async (_, i) => {
        await Bun.sleep(i * 50); // in this order
        return status(ol.chat({ model: "o:1b", messages: [{ role: "user", content: "hi" }] }));
      }),
    );
    // The first two run one after the other and spend the budget (1214 of 1200); the third, queued, never runs.
    expect(results).toEqual([200, 200, 429]);
    expect(chats() - before).toBe(2);
  } finally {
    ollama.options.tokens = 5;
    ollama.options.tokenDelayMs = 0;
  }
});
