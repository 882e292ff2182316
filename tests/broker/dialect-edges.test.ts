// The dialect routes (/v1/messages, count_tokens, /v1/responses) as an outside tester attacks them, through a real
// daemon: every spelling of the route, bodies the broker cannot read as every upstream would (empty, not JSON,
// compressed, chunked), and upstreams that answer badly (a huge whole answer, one that is not JSON, a stream cut short
// or with an event that is not JSON) — each answered in the caller's dialect, read by the official clients, and counted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { until } from "../helpers/until.ts";

let native: FakeOllama;
let d: DaemonProc;
let port: number;
let token: string;
const keys: Record<string, string> = {};

/** An OpenAI-compatible upstream (needs translation) that misbehaves as `mode` says. */
let mode: "huge" | "notjson" | "malformed" | "nodone" | "drop" | "slow" | "babble" | "errbabble" | "textbabble" | "textchunk" = "huge";
let rogueAborts = 0;
let rogue: ReturnType<typeof Bun.serve>;
/** An Ollama-kind upstream (serves /v1/messages and /v1/responses itself) whose streams end cleanly before their last event. */
let cutter: ReturnType<typeof Bun.serve>;
const cutterPaths: string[] = [];
const ev = (type: string, o: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
const CUT_STREAMS: Record<string, string> = {
  "/v1/messages":
    ev("message_start", { message: { id: "msg_1", type: "message", role: "assistant", model: "cutter:1b", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 6, output_tokens: 1 } } }) +
    ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) +
    ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "half an ans" } }),
  "/v1/responses": ev("response.created", { sequence_number: 0, response: { id: "resp_1", object: "response", status: "in_progress", output: [], usage: null } }) + ev("response.output_text.delta", { sequence_number: 1, item_id: "m", output_index: 0, content_index: 0, delta: "half" }),
};
const enc = new TextEncoder();
const sse = (o: unknown) => `data: ${typeof o === "string" ? o : JSON.stringify(o)}\n\n`;
const chunk = (content: string, finish: string | null = null) => ({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: finish }] });
const USAGE = sse({ id: "c", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 5, completion_tokens: 2 } });
const STREAMS = {
  malformed: sse(chunk("a")) + USAGE + sse("{not json") + sse(chunk("b", "stop")) + sse("[DONE]"),
  nodone: sse(chunk("a")) + USAGE + sse(chunk("b")),
};

beforeAll(async () => {
  native = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
  rogue = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/v1/models") return Response.json({ object: "list", data: [{ id: "rogue:1b", object: "model" }] });
      if (path !== "/v1/chat/completions") return new Response("not found", { status: 404 });
      await req.json();
      if (mode === "huge") {
        // Up to 256 MiB of one JSON string, chunked, for as long as the broker reads it (it must stop at 32 MiB).
        let n = 0;
        return new Response(
          new ReadableStream({
            pull(c) {
              if (n++ > 4096) return c.close();
              c.enqueue(enc.encode(n === 1 ? '{"x":"' : "a".repeat(65536)));
            },
            cancel() {
              rogueAborts++;
            },
          }),
          { headers: { "content-type": "application/json" } },
        );
      }
      if (mode === "notjson") return new Response("<html>bad gateway</html>", { headers: { "content-type": "application/json" } });
      if (mode === "slow") {
        // The head and a first piece of a whole answer, then nothing until the broker lets go.
        let sent = false;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (!sent) return void ((sent = true), c.enqueue(enc.encode('{"id":"x",')));
              await Bun.sleep(10_000);
              c.close();
            },
            cancel() {
              rogueAborts++;
            },
          }),
          { headers: { "content-type": "application/json" } },
        );
      }
      if (mode === "babble" || mode === "errbabble") {
        // A bad event (or the upstream's own error event), then more chunks every 50 ms for as long as anyone reads them.
        let first = true;
        const bad = mode === "babble" ? sse("{not json") : sse({ error: { message: "the model ran out of memory", type: "server_error" } });
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (first) return void ((first = false), c.enqueue(enc.encode(sse(chunk("a")) + bad)));
              await Bun.sleep(50);
              c.enqueue(enc.encode(sse(chunk("more"))));
            },
            cancel() {
              rogueAborts++;
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        );
      }
      if (mode === "textbabble" || mode === "textchunk") {
        // A token, then an event that is plain text (a proxy's or server's error page leaking into the stream), in a chunk
        // of its own or after the token in one; then more tokens every 50 ms for as long as anyone reads them.
        let step = 0;
        const text = sse("Internal Server Error");
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (step++ === 0) return c.enqueue(enc.encode(sse(chunk("a")) + (mode === "textchunk" ? text : "")));
              if (step === 2 && mode === "textbabble") return c.enqueue(enc.encode(text));
              await Bun.sleep(50);
              c.enqueue(enc.encode(sse(chunk("more"))));
            },
            cancel() {
              rogueAborts++;
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        );
      }
      if (mode === "drop") {
        // Two tokens and the usage, then the connection is dropped mid-stream (no last chunk).
        let step = 0;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (step++ === 0) return c.enqueue(enc.encode(sse(chunk("a")) + sse(chunk("b")) + USAGE));
              await Bun.sleep(30);
              c.error(new Error("gone"));
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        );
      }
      return new Response(STREAMS[mode], { headers: { "content-type": "text/event-stream" } });
    },
  });
  cutter = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method === "POST") cutterPaths.push(path);
      if (path === "/api/version") return Response.json({ version: "0.14.0" });
      if (path === "/api/tags" || path === "/api/ps") return Response.json({ models: [{ name: "cutter:1b", model: "cutter:1b" }] });
      const cut = CUT_STREAMS[path];
      if (!cut) return Response.json({ error: "not found" }, { status: 404 });
      await req.text();
      return new Response(cut, { headers: { "content-type": "text/event-stream" } });
    },
  });
  d = await startDaemon({
    config: `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[[upstreams]]
name = "native"
kind = "ollama"
url = "${native.url}"
[[upstreams]]
name = "rogue"
kind = "openai"
url = "http://127.0.0.1:${rogue.port}"
[[upstreams]]
name = "cutter"
kind = "ollama"
url = "http://127.0.0.1:${cutter.port}"
[[aliases]]
name = "claude-haiku-4-5"
model = "llama3.2:1b"
[[aliases]]
name = "claude-rogue-4-5"
model = "rogue:1b"
`,
    waitFor: ["api", "broker"],
  });
  port = Number(new URL(d.urls.broker!).port);
  token = await apiToken(d);
  for (const [name, ...flags] of [["only", "--models", "llama3.2:1b"], ["meter"]]) {
    keys[name!] = createKey(d, name!, ...flags);
  }
  await until(async () => (await fetch(`${d.urls.broker}/api/version`, { headers: { "x-api-key": keys.meter! } })).status === 200, 5000, "the daemon to see the keys");
  await untilUpstreamsUp(d, token, 3);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await native?.stop();
  rogue?.stop(true);
  cutter?.stop(true);
  if (d) removeHome(d.home);
});

const usage = async (key: string) =>
  ((await (await fetch(`${d.urls.api}/api/v1/usage?key=${key}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { requests: number; prompt_tokens: number; completion_tokens: number } }).totals;
const msg = (model: string) => JSON.stringify({ model, max_tokens: 2, messages: [{ role: "user", content: "hi" }] });
const anthropic = () => new Anthropic({ baseURL: d.urls.broker!, apiKey: keys.meter!, maxRetries: 0 });
const openai = () => new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: keys.meter!, maxRetries: 0 });

async function thrown(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("the call succeeded");
}

describe("a key limited to some models, on the dialect routes", () => {
  const ROUTES = [
    { path: "/v1/messages", rest: '"max_tokens":2,"messages":[{"role":"user","content":"hi"}]', anthropic: true },
    { path: "/v1/messages/count_tokens", rest: '"messages":[{"role":"user","content":"hi"}]', anthropic: true },
    { path: "/v1/responses", rest: '"input":"hi","max_output_tokens":2', anthropic: false },
  ];
  const type = (anthropic: boolean, body: string) => (anthropic ? JSON.parse(body).error?.type : JSON.parse(body).error?.type);

  test("a body naming the model twice, in another case, escaped or not as a string is refused in the route's dialect; nothing reaches an upstream", async () => {
    const before = native.requests.filter((r) => r.path.startsWith("/v1/")).length;
    for (const r of ROUTES) {
      for (const [label, models] of [
        ["twice", '"model":"llama3.2:1b","model":"rogue:1b"'],
        ["case", '"model":"llama3.2:1b","Model":"rogue:1b"'],
        ["escaped", '"model":"llama3.2:1b","mod\\u0065l":"rogue:1b"'],
        ["not a string", '"model":["rogue:1b"]'],
      ] as const) {
        const res = await rawRequest(port, "POST", r.path, { headers: { "x-api-key": keys.only!, "content-type": "application/json" }, body: `{${models},${r.rest}}` });
        expect({ path: r.path, label, status: res.status, type: type(r.anthropic, res.body), anthropicShape: JSON.parse(res.body).type === "error" }).toEqual({ path: r.path, label, status: 400, type: "invalid_request_error", anthropicShape: r.anthropic });
      }
    }
    expect(native.requests.filter((r) => r.path.startsWith("/v1/")).length).toBe(before);
  });

  test("an alias is allowed by its model on the list; a claude-… alias of a model off the list is a 403 the SDK raises", async () => {
    const only = new Anthropic({ baseURL: d.urls.broker!, apiKey: keys.only!, maxRetries: 0 });
    expect((await only.messages.create({ model: "claude-haiku-4-5", max_tokens: 2, messages: [{ role: "user", content: "hi" }] })).type).toBe("message");
    const e = await thrown(only.messages.create({ model: "claude-rogue-4-5", max_tokens: 2, messages: [{ role: "user", content: "hi" }] }));
    expect(e).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(e.message).toContain('may not use model "rogue:1b"');
    const o = await thrown(new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: keys.only!, maxRetries: 0 }).responses.create({ model: "claude-rogue-4-5", input: "hi" }));
    expect(o).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });
});

describe("every spelling of /v1/messages", () => {
  const SPELLINGS = ["/v1/%6Dessages", "//v1/messages", "/v1/messages/", "/V1/messages", "/v1/messages?beta=true"];

  test("is admitted by the key's model list, reaches a native upstream as /v1/messages (its router's spelling), and is counted", async () => {
    const before = await usage("only");
    for (const path of SPELLINGS) {
      const denied = await rawRequest(port, "POST", path, { headers: { "x-api-key": keys.only!, "content-type": "application/json" }, body: msg("rogue:1b") });
      expect({ path, status: denied.status, type: JSON.parse(denied.body).error?.type }).toEqual({ path, status: 403, type: "permission_error" });
      const ok = await rawRequest(port, "POST", path, { headers: { "x-api-key": keys.only!, "content-type": "application/json" }, body: msg("llama3.2:1b") });
      expect({ path, status: ok.status, type: JSON.parse(ok.body).type }).toEqual({ path, status: 200, type: "message" });
      const seen = native.requests.at(-1)!;
      expect({ path, seen: seen.path }).toEqual({ path, seen: "/v1/messages" });
    }
    await until(async () => (await usage("only")).requests === before.requests + SPELLINGS.length, 5000, "each spelling counted");
    expect((await usage("only")).completion_tokens - before.completion_tokens).toBe(2 * SPELLINGS.length);
  });

  test("/v1/responses and count_tokens likewise: the upstream gets the route as the broker read it", async () => {
    for (const [path, route, body] of [
      ["/v1/%72esponses", "/v1/responses", { model: "llama3.2:1b", input: "hi", max_output_tokens: 2 }],
      ["/V1/Responses/", "/v1/responses", { model: "llama3.2:1b", input: "hi", max_output_tokens: 2 }],
      ["//v1/messages//count_tokens", "/v1/messages/count_tokens", { model: "cutter:1b", messages: [{ role: "user", content: "hi" }] }],
    ] as const) {
      const denied = await rawRequest(port, "POST", path, { headers: { "x-api-key": keys.only!, "content-type": "application/json" }, body: JSON.stringify({ ...body, model: "rogue:1b" }) });
      expect({ path, status: denied.status }).toEqual({ path, status: 403 });
      const res = await rawRequest(port, "POST", path, { headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      // (count_tokens: this Ollama-kind upstream has no such route, so the broker's estimate answers, after asking it.)
      expect({ path, status: res.status, seen: route === "/v1/responses" ? native.requests.at(-1)!.path : cutterPaths.at(-1) }).toEqual({ path, status: 200, seen: route });
    }
  });
});

describe("request bodies on the dialect routes", () => {
  const ROUTES = [
    { path: "/v1/messages", body: msg("llama3.2:1b"), anthropic: true },
    { path: "/v1/messages/count_tokens", body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }), anthropic: true },
    { path: "/v1/responses", body: JSON.stringify({ model: "llama3.2:1b", input: "hi", max_output_tokens: 2 }), anthropic: false },
  ];
  const shape = (anthropic: boolean, body: string) => {
    const j = JSON.parse(body);
    return anthropic ? { type: j.type, kind: j.error?.type, message: j.error?.message } : { type: "error", kind: j.error?.type, message: j.error?.message };
  };

  test("sized and chunked bodies both work", async () => {
    for (const r of ROUTES) {
      const sized = await rawRequest(port, "POST", r.path, { headers: { "content-type": "application/json" }, body: r.body });
      const chunked = await rawRequest(port, "POST", r.path, { headers: { "content-type": "application/json" }, body: r.body, chunked: true });
      expect({ path: r.path, sized: sized.status, chunked: chunked.status }).toEqual({ path: r.path, sized: 200, chunked: 200 });
    }
  });

  test("empty, not a JSON object, or compressed: a clear error in the caller's dialect, for every upstream alike", async () => {
    for (const r of ROUTES) {
      for (const [label, body, headers, status, words] of [
        ["empty", "", {}, 400, "is empty"],
        ["empty chunked", "", {}, 400, "is empty"],
        ["not JSON", "hello", {}, 400, "not a JSON object"],
        ["an array", "[1]", {}, 400, "not a JSON object"],
        ["gzip", r.body, { "content-encoding": "gzip" }, 415, "Content-Encoding: gzip"],
      ] as const) {
        const res = await rawRequest(port, "POST", r.path, { headers: { "content-type": "application/json", ...headers }, body, chunked: label === "empty chunked" });
        const s = shape(r.anthropic, res.body);
        expect({ path: r.path, label, status: res.status, type: s.type, kind: s.kind }).toEqual({ path: r.path, label, status, type: "error", kind: "invalid_request_error" });
        expect(s.message).toContain(words);
      }
    }
  });
});

describe("an upstream that answers badly, through a translation", () => {
  test("a whole answer over the broker's limit is a 502 in the caller's dialect, and the upstream's reading is stopped", async () => {
    mode = "huge";
    const before = rogueAborts;
    const e = await thrown(anthropic().messages.create({ model: "rogue:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
    expect(e).toBeInstanceOf(Anthropic.InternalServerError);
    expect(e.status).toBe(502);
    expect(e.error).toEqual({ type: "error", error: { type: "api_error", message: expect.stringContaining("more than the broker holds") } });
    const o = await thrown(openai().responses.create({ model: "rogue:1b", input: "hi" }));
    expect(o).toBeInstanceOf(OpenAI.InternalServerError);
    expect(o.error).toMatchObject({ code: "upstream_error", message: expect.stringContaining("more than the broker holds") });
    await until(() => rogueAborts >= before + 2, 5000, "the upstream's answers abandoned");
  });

  test("a whole answer the client abandons while the broker reads it: the upstream sees the abort", async () => {
    mode = "slow";
    const before = rogueAborts;
    const ac = new AbortController();
    const p = anthropic().messages.create({ model: "rogue:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }, { signal: ac.signal });
    await Bun.sleep(300);
    ac.abort();
    expect(await thrown(p)).toBeInstanceOf(Anthropic.APIUserAbortError);
    await until(() => rogueAborts > before, 5000, "the upstream to see the abort");
  });

  test("a whole answer that is not JSON is a 502 error the clients raise, never a 200", async () => {
    mode = "notjson";
    const e = await thrown(anthropic().messages.create({ model: "rogue:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
    expect(e).toBeInstanceOf(Anthropic.InternalServerError);
    expect(e.message).toContain("not JSON");
    const o = await thrown(openai().responses.create({ model: "rogue:1b", input: "hi" }));
    expect(o).toBeInstanceOf(OpenAI.InternalServerError);
  });

  for (const m of ["malformed", "nodone", "drop"] as const) {
    test(`a stream ${m === "malformed" ? "with an event that is not JSON" : m === "nodone" ? "cut short (no finish reason, no [DONE])" : "broken off (the connection dropped)"}: Anthropic's error event the SDK raises, Responses' response.failed (or an error it raises); counted`, async () => {
      mode = m;
      const before = await usage("meter");
      const s = anthropic().messages.stream({ model: "rogue:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
      const e = await thrown(s.finalMessage());
      expect(e).toBeInstanceOf(Anthropic.APIError);
      const why = m === "drop" ? "broke off the response" : "the answer is incomplete";
      expect(e.error).toMatchObject({ type: "error", error: { type: "api_error", message: expect.stringContaining(why) } });
      const events: any[] = [];
      const iterate = (async () => {
        for await (const ev of await openai().responses.create({ model: "rogue:1b", input: "hi", stream: true })) events.push(ev);
      })();
      await iterate;
      // A broken connection ends the Responses stream as the translator's own failures do: response.failed.
      expect(events.at(-1)).toMatchObject({ type: "response.failed", response: { status: "failed", error: { message: expect.stringContaining(why) } } });
      expect(events.map((x) => x.type)).not.toContain("response.completed");
      await until(async () => (await usage("meter")).requests === before.requests + 2, 5000, "both streams counted");
      // The upstream's counts, sent before the break, are what is counted.
      const after = await usage("meter");
      expect({ prompt: after.prompt_tokens - before.prompt_tokens, completion: after.completion_tokens - before.completion_tokens }).toEqual({ prompt: 10, completion: 4 });
    });
  }

  test("a translated stream the broker ended with the dialect's error (an event not JSON, cut short) is the upstream's failure: each request's log line says why, in every dialect", async () => {
    // Before: the client got the error but the broker logged a 200 without one and counted a success (quality kept
    // "excellent" while every answer failed): only the native streams' endings were recorded.
    const failed = () => d.count(/ request: 200 POST \S+ model=rogue:1b upstream=rogue .*error="the upstream (sent a stream event that is not JSON|ended the stream without finishing)/);
    const warned = () => d.count(/ warn broker: upstream's stream ended with an error upstream=rogue .*reason="the upstream /);
    const ollama = new Ollama({ host: d.urls.broker!, headers: { Authorization: `Bearer ${keys.meter}` } });
    for (const m of ["malformed", "nodone"] as const) {
      mode = m;
      const before = { failed: failed(), warned: warned() };
      const o = await thrown((async () => {
        for await (const _ of await ollama.chat({ model: "rogue:1b", messages: [{ role: "user", content: "hi" }], stream: true }));
      })());
      expect(o.message).toContain("the answer is incomplete");
      const a = await thrown(anthropic().messages.stream({ model: "rogue:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).finalMessage());
      expect(a).toBeInstanceOf(Anthropic.APIError);
      const events: any[] = [];
      for await (const x of await openai().responses.create({ model: "rogue:1b", input: "hi", stream: true })) events.push(x);
      expect(events.at(-1)).toMatchObject({ type: "response.failed" });
      await until(() => failed() === before.failed + 3 && warned() === before.warned + 3, 5000, `three failed answers logged with their reason (${m})`);
    }
  }, 20_000);

  test("a native Messages stream that ends cleanly before its last event is the upstream's failure in the log, as the client's error says", async () => {
    const failed = () => d.count(/ request: 200 POST \/v1\/messages model=cutter:1b upstream=cutter .*error="the upstream ended the stream before its last event/);
    const before = failed();
    const e = await thrown(anthropic().messages.stream({ model: "cutter:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).finalMessage());
    expect(e).toBeInstanceOf(Anthropic.APIError);
    await until(() => failed() === before + 1, 5000, "the cut-short answer logged with its reason");
  }, 15_000);

  test("a stream the broker ended with an error is not read further: the client's stream ends, the upstream is let go", async () => {
    mode = "babble";
    const before = rogueAborts;
    const events: any[] = [];
    for await (const x of await openai().responses.create({ model: "rogue:1b", input: "hi", stream: true })) events.push(x);
    expect(events.at(-1)).toMatchObject({ type: "response.failed" });
    await until(() => rogueAborts > before, 5000, "the upstream let go");
    const r = await rawRequest(port, "POST", "/v1/messages", { body: JSON.stringify({ model: "rogue:1b", max_tokens: 5, stream: true, messages: [{ role: "user", content: "hi" }] }), timeoutMs: 5000 });
    expect(r.body.trimEnd().split("\n\n").at(-1)).toStartWith("event: error");
  });

  test("passed through (openai client, chat stream): an event that is plain text, not JSON, ends the stream with an error the SDK raises (not a bare SyntaxError); the tokens before it arrive, the upstream is let go", async () => {
    const logged = () => d.count(/ warn broker: upstream broke off mid-stream upstream=rogue .*reason="it sent a stream event that is not JSON/);
    for (const m of ["textbabble", "textchunk"] as const) {
      mode = m;
      const before = { aborts: rogueAborts, logged: logged() };
      let text = "";
      const e = await thrown(
        (async () => {
          // With include_usage asked, the stream passes as it is; without, through the usage stripper (the broker asks for it).
          const usage = m === "textchunk" ? { stream_options: { include_usage: true } } : {};
          for await (const c of await openai().chat.completions.create({ model: "rogue:1b", messages: [{ role: "user", content: "hi" }], stream: true, ...usage })) text += c.choices[0]?.delta?.content ?? "";
        })(),
      );
      expect(e).toBeInstanceOf(OpenAI.APIError);
      expect(e.message).toContain('upstream "rogue" broke off the response: it sent a stream event that is not JSON ("Internal Server Error"); the answer is incomplete');
      expect(text).toBe("a");
      await until(() => rogueAborts > before.aborts && logged() === before.logged + 1, 5000, `the upstream let go and the failure logged (${m})`);
    }
  });

  test("an upstream's error event mid-stream ends the answer with the dialect's error event; the rest is not read, the upstream is let go", async () => {
    mode = "errbabble";
    const before = rogueAborts;
    const events: any[] = [];
    for await (const x of await openai().responses.create({ model: "rogue:1b", input: "hi", stream: true })) events.push(x);
    expect(events.at(-1)).toMatchObject({ type: "error", code: "upstream_error", message: "the model ran out of memory", param: null });
    await until(() => rogueAborts > before, 5000, "the upstream let go (Responses)");
    const s = anthropic().messages.stream({ model: "rogue:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
    const e = await thrown(s.finalMessage());
    expect(e).toBeInstanceOf(Anthropic.APIError);
    expect(e.error).toMatchObject({ type: "error", error: { type: "api_error", message: "the model ran out of memory" } });
    await until(() => rogueAborts > before + 1, 5000, "the upstream let go (Messages)");
  });

  test("a native stream that ends cleanly before its last event: the dialect's error event is added (Anthropic's SDK raises it)", async () => {
    const s = anthropic().messages.stream({ model: "cutter:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
    const e = await thrown(s.finalMessage());
    expect(e).toBeInstanceOf(Anthropic.APIError);
    expect(e.error).toMatchObject({ type: "error", error: { type: "api_error", message: expect.stringContaining("the answer is incomplete") } });
    // OpenAI's SDK hands a Responses stream's error event to the caller as an event (as it does OpenAI's own).
    const events: any[] = [];
    for await (const x of await openai().responses.create({ model: "cutter:1b", input: "hi", stream: true })) events.push(x);
    expect(events.at(-1)).toEqual({ type: "error", code: "upstream_error", message: expect.stringContaining("the answer is incomplete"), param: null });
  });
});
