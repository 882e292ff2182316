// Attacks on what the docs promise about dialects and upstream kinds, through a real daemon with the official clients:
// whole answers counted by their own usage (not a number in data the upstream echoed, nor lost behind fields after it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, keyUsage, removeHome, startDaemon, untilCounted, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let vllm: FakeOllama;
let slow: FakeOllama;
/** An Ollama-kind upstream: it reads top-level keys as Go does (without case, the last one winning). */
let goFake: FakeOllama;
/** An Ollama-kind upstream whose streams (NDJSON and chat completions SSE) end cleanly between two tokens: no done line, no finish_reason, no [DONE]. */
let cutter: ReturnType<typeof Bun.serve>;
const CUT_NDJSON = ['{"model":"c:1b","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"half "},"done":false}', '{"model":"c:1b","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"an ans"},"done":false}', ""].join("\n");
const cutChunk = (content: string) => `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "c:1b", choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: null }] })}\n\n`;
let d: DaemonProc;
let broker: string;
let token: string;
const keys: Record<string, string> = {};

beforeAll(async () => {
  vllm = await startFakeOllama({ models: ["v:1b"], tokens: 40, kind: "vllm" });
  // A long, slow answer from a server without Ollama's API: an Ollama client's stream is translated, and cut by the client.
  slow = await startFakeOllama({ models: ["s:1b"], tokens: 1000, tokenDelayMs: 20, kind: "openai" });
  cutter = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.12.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "c:1b", model: "c:1b" }] });
      await req.text();
      if (path === "/api/chat" || path === "/api/generate") return new Response(CUT_NDJSON.replaceAll('"message":{"role":"assistant","content":', path === "/api/chat" ? '"message":{"role":"assistant","content":' : '"response":').replaceAll('"},"done"', path === "/api/chat" ? '"},"done"' : ',"done"'), { headers: { "content-type": "application/x-ndjson" } });
      if (path === "/v1/chat/completions") return new Response(cutChunk("half ") + cutChunk("an ans"), { headers: { "content-type": "text/event-stream" } });
      return new Response("404 page not found", { status: 404 });
    },
  });
  goFake = await startFakeOllama({ models: ["g:1b"], tokens: 6 });
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
name = "slow"
kind = "openai"
url = "${slow.url}"
[[upstreams]]
name = "cutter"
kind = "ollama"
url = "http://127.0.0.1:${cutter.port}"
[[upstreams]]
name = "go"
url = "${goFake.url}"
`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  token = await apiToken(d);
  for (const name of ["logprobs", "echo", "cut", "fold", "whole", "embed"]) keys[name] = createKey(d, name, "--tokens-per-day", "100000");
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": keys.echo! } })).status !== 401, 5000, "the daemon to see the keys");
  await untilUpstreamsUp(d, token, 4);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await vllm?.stop();
  await slow?.stop();
  await cutter?.stop(true);
  await goFake?.stop();
  if (d) removeHome(d.home);
});

const usage = (key: string) => keyUsage(d, token, key);
const counted = (key: string, n: number) => untilCounted(d, token, key, n);
const openai = (key: string) => new OpenAI({ baseURL: `${broker}/v1`, apiKey: key, maxRetries: 0 });

describe("a whole (not streamed) answer is counted by its own usage", () => {
  test("vLLM's prompt_logprobs after the usage of a chat completion do not make it free", async () => {
    // Tens of KiB of prompt log probabilities after "usage": its numbers are far from the end of the answer.
    const r = await openai(keys.logprobs!).chat.completions.create({ model: "v:1b", messages: [{ role: "user", content: "a long prompt ".repeat(60) }], prompt_logprobs: 5 } as never);
    expect(r.usage?.completion_tokens).toBe(40);
    expect(JSON.stringify(r).length).toBeGreaterThan(20_000);
    let t = await counted("logprobs", 1);
    expect(t.completion_tokens).toBe(40);
    expect(t.prompt_tokens).toBe(7);
    // Over the 256 KiB an answer is held whole: relayed as it comes, and counted by an estimate (one token per 4 bytes), never free.
    const big = await openai(keys.logprobs!).chat.completions.create({ model: "v:1b", messages: [{ role: "user", content: "a long prompt ".repeat(600) }], prompt_logprobs: 5 } as never);
    const size = JSON.stringify(big).length;
    expect(size).toBeGreaterThan(256 * 1024);
    t = await counted("logprobs", 2);
    expect(t.completion_tokens - 40).toBeGreaterThanOrEqual(Math.floor(size / 4) - 1000);
  });

  test("a Responses answer echoing the client's tools cannot forge its count with a usage key in them", async () => {
    // OpenAI's response object echoes the request's tools; a schema's default may hold any key, "eval_count": 0 too.
    const tools = [{ type: "function" as const, name: "f", strict: false, parameters: { type: "object", properties: {}, default: { eval_count: 0, prompt_eval_count: 0 } } }];
    const r = await openai(keys.echo!).responses.create({ model: "v:1b", input: "hi", tools });
    expect(r.usage?.output_tokens).toBe(40);
    const t = await counted("echo", 1);
    expect(t.completion_tokens).toBe(40);
    expect(t.prompt_tokens).toBe(7);
  });
});

test("an Ollama client's translated stream aborted after 5 parts is counted (its NDJSON lines), and the abort reaches the upstream", async () => {
  const ollama = new Ollama({ host: broker, headers: { authorization: `Bearer ${keys.cut}` } });
  const stream = await ollama.chat({ model: "s:1b", messages: [{ role: "user", content: "hi" }], stream: true });
  let parts = 0;
  try {
    for await (const _ of stream) if (++parts === 5) stream.abort();
  } catch {}
  // The client still hands out the parts it had parsed before the abort (more of them on a loaded machine).
  expect(parts).toBeGreaterThanOrEqual(5);
  await slow.waitForAborts(1);
  const t = await counted("cut", 1);
  expect(t.completion_tokens).toBeGreaterThanOrEqual(parts);
  expect(t.prompt_tokens).toBeGreaterThan(0);
});

describe("a native stream that ends cleanly before its end (no done line, no finish_reason or [DONE]) is not a whole answer", () => {
  test("Ollama's NDJSON (chat and generate): an error line the ollama client raises", async () => {
    const ollama = new Ollama({ host: broker });
    let text = "";
    const e = await (async () => {
      try {
        for await (const p of await ollama.chat({ model: "c:1b", messages: [{ role: "user", content: "hi" }], stream: true })) text += p.message.content;
      } catch (err) {
        return err as Error;
      }
      return null;
    })();
    expect(text).toBe("half an ans");
    expect(e?.message).toContain("ended the stream before its last line");
    const g = await (async () => {
      try {
        for await (const _ of await ollama.generate({ model: "c:1b", prompt: "hi", stream: true }));
      } catch (err) {
        return err as Error;
      }
      return null;
    })();
    expect(g?.message).toContain("ended the stream before its last line");
  });

  test("OpenAI's chat completions SSE: an error event the openai client raises", async () => {
    let text = "";
    const e = await (async () => {
      try {
        for await (const c of await openai("ollama").chat.completions.create({ model: "c:1b", messages: [{ role: "user", content: "hi" }], stream: true })) text += c.choices[0]?.delta?.content ?? "";
      } catch (err) {
        return err as Error;
      }
      return null;
    })();
    expect(text).toBe("half an ans");
    expect(e).toBeInstanceOf(OpenAI.APIError);
    expect(e?.message).toContain("ended the stream before its last event");
  });
});

test("a stream named in another spelling (Go's decoder reads \"STREAM\": true, the others do not) is refused: the broker would not know how the answer comes", async () => {
  // Before, the broker read "stream": false and asked for no usage while Ollama streamed without it (counted by events).
  const before = goFake.requests.length;
  const res = await fetch(`${broker}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${keys.fold}` },
    body: '{"model":"g:1b","messages":[{"role":"user","content":"hi"}],"stream":false,"STREAM":true}',
  });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: { message: string } }).error.message).toContain('the request body names "stream" also as "STREAM"');
  expect(goFake.requests.length).toBe(before);
});

test("documented: a stream:false generation abandoned before its answer is not counted; the abort reaches the upstream (the GPU stops)", async () => {
  const aborts = slow.aborts.length;
  const ac = new AbortController();
  const call = openai(keys.whole!).chat.completions.create({ model: "s:1b", messages: [{ role: "user", content: "hi" }], max_tokens: 50 }, { signal: ac.signal });
  await Bun.sleep(300);
  ac.abort();
  await call.catch(() => {});
  await slow.waitForAborts(aborts + 1);
  await Bun.sleep(300);
  // docs/gateway.md: "A request aborted before its answer began is not counted."
  expect((await usage("whole")).completion_tokens).toBe(0);
});

test("embeddings are counted (their prompt tokens), in both dialects and translated, so a token budget bounds them too", async () => {
  // The vLLM fake answers usage.prompt_tokens 3; the Ollama-kind fake's /api/embed prompt_eval_count 3; /api/embed to vLLM is translated.
  const e = await openai(keys.embed!).embeddings.create({ model: "v:1b", input: ["a", "b"], encoding_format: "float" });
  expect(e.usage.prompt_tokens).toBe(3);
  await new Ollama({ host: broker, headers: { authorization: `Bearer ${keys.embed}` } }).embed({ model: "g:1b", input: "hello" });
  await new Ollama({ host: broker, headers: { authorization: `Bearer ${keys.embed}` } }).embed({ model: "v:1b", input: "hello" });
  const t = await counted("embed", 3);
  expect(t.prompt_tokens).toBe(9);
  expect(t.completion_tokens).toBe(0);
});
