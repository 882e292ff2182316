// [proxy] replay_buffer on a real broker: bodies within it fail over, beyond it get one attempt, and what a request
// held is given back when its answer starts, when it fails and when the client goes away; a body it could not hold for a
// translation is a 503 to retry, with the official clients.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";
import { HEAD_BYTES } from "../../src/broker/request-body.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admission } from "../../src/gateway/admission.ts";
import { KeyStore } from "../../src/gateway/key-store.ts";
import { createKey } from "../../src/gateway/keys.ts";
import type { Admitted, Caller, GatewayService } from "../../src/core/contracts.ts";

const KiB = 1024;
let busy: FakeOllama;
let b: FakeOllama;
let tb: TestBroker | null = null;

beforeAll(async () => {
  // "busy" answers every chat 503 (after reading the body): a request that may fail over goes on to b.
  busy = await startFakeOllama({ models: ["m:1b"], failWith503: true });
  b = await startFakeOllama({ models: ["m:1b"], tokens: 2 });
});
afterAll(async () => {
  await busy.stop();
  await b.stop();
});
afterEach(async () => {
  await tb?.stop();
  tb = null;
  busy.requests.length = 0;
  b.requests.length = 0;
});

const chats = (f: { requests: { path: string; bodySize: number }[] }) => f.requests.filter((r) => r.path === "/api/chat");

/** A chat body of about `kb` KiB sent chunked (no Content-Length). */
function chunkedChat(url: string, kb: number, signal?: AbortSignal, hold?: Promise<void>): Promise<Response> {
  const enc = new TextEncoder();
  const parts = [enc.encode('{"model":"m:1b","stream":false,"messages":[{"role":"user","content":"'), ...Array.from({ length: kb / 16 }, () => new Uint8Array(16 * KiB).fill(0x61)), enc.encode('"}]}')];
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (parts.length === 1 && hold) await hold;
      const p = parts.shift();
      if (p) c.enqueue(p);
      else c.close();
    },
  });
  // @ts-expect-error duplex is needed for a streamed body
  return fetch(`${url}/api/chat`, { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half", signal });
}

async function twoUpstreams(bound: number): Promise<TestBroker> {
  const t = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("busy", busy.url, "priority = 1") + upstreamToml("B", b.url, "priority = 2"), {}, `replay_buffer = ${bound}`);
  await t.waitState("busy", "up");
  await t.waitState("B", "up");
  return t;
}

test("a body within the bound fails over with the whole body, and its bytes are given back once answered", async () => {
  tb = await twoUpstreams(512 * KiB);
  const r = await chunkedChat(tb.url, 256);
  expect(r.status).toBe(200);
  await r.text();
  expect(chats(busy).length).toBe(1);
  expect(chats(b).length).toBe(1);
  expect(chats(b)[0]!.bodySize).toBe(chats(busy)[0]!.bodySize);
  expect(tb.broker.replay.held).toBe(0);
});

test("a body beyond the bound gets one attempt: the first upstream's 503 reaches the client, nothing is replayed", async () => {
  tb = await twoUpstreams(128 * KiB);
  const r = await chunkedChat(tb.url, 512);
  expect(r.status).toBe(503);
  await r.text();
  expect(chats(busy).length).toBe(1);
  expect(chats(busy)[0]!.bodySize).toBeGreaterThan(512 * KiB);
  expect(chats(b).length).toBe(0);
  expect(tb.broker.replay.held).toBe(0);
});

test("a sized body beyond the bound gets one attempt too, and keeps its Content-Length upstream", async () => {
  tb = await twoUpstreams(128 * KiB);
  const body = JSON.stringify({ model: "m:1b", stream: false, messages: [{ role: "user", content: "a".repeat(512 * KiB) }] });
  const r = await fetch(`${tb.url}/api/chat`, { method: "POST", headers: { "content-type": "application/json" }, body });
  expect(r.status).toBe(503);
  await r.text();
  expect(chats(busy).length).toBe(1);
  expect(chats(busy)[0]!.bodySize).toBe(body.length);
  expect((busy.requests.find((x) => x.path === "/api/chat") as { headers: Record<string, string> }).headers["content-length"]).toBe(String(body.length));
  expect(chats(b).length).toBe(0);
  expect(tb.broker.replay.held).toBe(0);
});

test("a body under HEAD_BYTES still fails over with replay_buffer = 0", async () => {
  tb = await twoUpstreams(0);
  const r = await chunkedChat(tb.url, HEAD_BYTES / KiB - 16);
  expect(r.status).toBe(200);
  await r.text();
  expect(chats(b).length).toBe(1);
});

test("bodies held at once share the bound: while one holds it, the next streams; a client gone mid-body gives its bytes back", async () => {
  tb = await twoUpstreams(512 * KiB);
  // The first client sends 400 KiB and then stalls before its last part: its bytes are held meanwhile.
  let resume!: () => void;
  const stalled = new Promise<void>((r) => (resume = r));
  const ac = new AbortController();
  const first = chunkedChat(tb.url, 400, ac.signal, stalled).catch((e) => e);
  for (let i = 0; i < 200 && tb.broker.replay.held < 300 * KiB; i++) await Bun.sleep(10);
  expect(tb.broker.replay.held).toBeGreaterThan(300 * KiB);
  expect(tb.broker.replay.held).toBeLessThanOrEqual(512 * KiB);
  // The second does not fit beside it: one attempt, the 503 of the first upstream.
  const second = await chunkedChat(tb.url, 400);
  expect(second.status).toBe(503);
  await second.text();
  expect(chats(b).length).toBe(0);
  // The first client goes away before its body ends: its bytes are given back.
  ac.abort();
  resume();
  await first;
  for (let i = 0; i < 200 && tb.broker.replay.held > 0; i++) await Bun.sleep(10);
  expect(tb.broker.replay.held).toBe(0);
  // With the bound free again, a body of the same size fails over.
  const third = await chunkedChat(tb.url, 400);
  expect(third.status).toBe(200);
  await third.text();
  expect(chats(b).length).toBe(1);
  expect(tb.broker.replay.held).toBe(0);
});

test("a key with a model list whose body the spent bound cut gets 503 with Retry-After (never 413, never streamed unread); a key without one streams", async () => {
  // The gateway as the daemon builds it, on keys made here: "editor" may use m* only, "open" every model.
  const dir = mkdtempSync(join(tmpdir(), "c2l-replay-keys-"));
  try {
    const store = new KeyStore(join(dir, "keys.json"), Date.now, 0);
    const editor = createKey("editor", { models: ["m*"], rpm: 0, tokens_per_day: 0, max_parallel: 0, expiresInMs: null });
    const open = createKey("open", { models: [], rpm: 0, tokens_per_day: 0, max_parallel: 0, expiresInMs: null });
    store.add(editor.record);
    store.add(open.record);
    const admission = new Admission(store, () => "auto");
    const gateway = {
      admit: (h: Headers, c: Caller) => admission.admit(h, c),
      authorize: (...a: Parameters<Admission["authorize"]>) => admission.authorize(...a),
      mayUse: (a: Admitted, m: string) => admission.mayUse(a, m),
      reserve: () => null,
    } as unknown as GatewayService;
    tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("busy", busy.url, "priority = 1") + upstreamToml("B", b.url, "priority = 2"), { gateway }, "replay_buffer = 0");
    await tb.waitState("busy", "up");
    const send = (key: string) => {
      const enc = new TextEncoder();
      const parts = [enc.encode('{"model":"m:1b","stream":false,"messages":[{"role":"user","content":"'), new Uint8Array(200 * KiB).fill(0x61), enc.encode('"}]}')];
      const body = new ReadableStream<Uint8Array>({ pull: (c) => void (parts.length ? c.enqueue(parts.shift()!) : c.close()) });
      // @ts-expect-error duplex is needed for a streamed body
      return fetch(`${tb!.url}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body, duplex: "half" });
    };
    const r = await send(editor.key);
    expect([r.status, r.headers.get("retry-after"), r.headers.get("x-c2l-error-code")]).toEqual([503, "1", "unavailable"]);
    expect((await r.json()).error).toContain("replay_buffer");
    expect(chats(busy).length + chats(b).length).toBe(0);
    // Without a model list nothing needs the whole body: it streams in one attempt (the first upstream's own 503).
    const o = await send(open.key);
    await o.text();
    expect(o.headers.get("x-c2l-error-code")).toBeNull();
    expect([chats(busy).length, chats(b).length]).toEqual([1, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a body left unheld because replay_buffer is spent, for an upstream that must translate it: a 503 to retry (Retry-After) naming replay_buffer, in the caller's dialect, never the 413 \"at most 32 MiB\" of a body under it", async () => {
  // Before, a 300 KiB image got 413 "too large for the broker to translate … (at most 32 MiB)", which no SDK retries.
  const plain = await startFakeOllama({ models: ["q:1b"], tokens: 2, kind: "openai" });
  try {
    tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("plain", plain.url, 'kind = "openai"'), {}, "replay_buffer = 0");
    await tb.waitState("plain", "up");
    const data = Buffer.alloc(300 * KiB, 7).toString("base64");
    const anthropic = new Anthropic({ baseURL: tb.url, apiKey: "local", maxRetries: 0 });
    const e = await anthropic.messages.create({ model: "q:1b", max_tokens: 5, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data } }] }] }).catch((x) => x);
    expect(e).toBeInstanceOf(Anthropic.APIError);
    expect([e.status, e.headers.get("retry-after"), e.headers.get("x-c2l-error-code")]).toEqual([503, "1", "unavailable"]);
    expect(e.error.error.message).toBe("the broker is holding as many request bodies as [proxy] replay_buffer allows, and this request's body must be read whole to be translated for an upstream without /v1/messages; retry in a moment (or raise replay_buffer)");
    const o = await new Ollama({ host: tb.url }).chat({ model: "q:1b", messages: [{ role: "user", content: "what is this?", images: [data] }] }).catch((x) => x);
    expect([o.status_code, o.message]).toEqual([503, expect.stringContaining("[proxy] replay_buffer allows")]);
    expect(plain.requests.filter((r) => r.path === "/v1/chat/completions").length).toBe(0);
  } finally {
    await plain.stop();
  }
});
