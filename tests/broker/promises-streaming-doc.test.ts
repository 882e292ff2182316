// docs/broker.md's "Streaming, cancellation and headers", where no other test could fail on a sentence: the broker asks
// every upstream for identity ("Accept-Encoding: identity goes upstream and bytes are passed through untouched"), and a
// stream an upstream compresses anyway is one the broker cannot read — refused in the caller's dialect, never relayed
// with the broker's own plain lines added to compressed bytes; an error answer so compressed is decoded before its
// quoted credential is redacted, never relayed unredacted. (A compressed whole answer passes as it came: tests/broker/promises-http-semantics.test.ts.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { until } from "../helpers/until.ts";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";

const SECRET = "sk-upstream-Zq81xv0";
let up: ReturnType<typeof Bun.serve>;
let d: DaemonProc;
/** The Accept-Encoding of each generation request the upstream got. */
const asked: (string | null)[] = [];
const gz = (s: string) => gzipSync(s);

beforeAll(async () => {
  // An Ollama that gzips whatever it is asked (a proxy in front of it that ignores Accept-Encoding).
  up = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.15.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:1b", model: "m:1b" }, { name: "locked:1b", model: "locked:1b" }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      asked.push(req.headers.get("accept-encoding"));
      const body = await req.json();
      if (body.model === "locked:1b")
        return new Response(gz(JSON.stringify({ error: `invalid api key ${SECRET}` })), { status: 401, headers: { "content-type": "application/json", "content-encoding": "gzip" } });
      if (path === "/v1/chat/completions")
        return new Response(gz(`data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m:1b", choices: [{ index: 0, delta: { content: "hi" }, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`), {
          headers: { "content-type": "text/event-stream", "content-encoding": "gzip" },
        });
      const line = { model: "m:1b", created_at: "2026-01-01T00:00:00Z", message: { role: "assistant", content: "hi" }, done: true, done_reason: "stop", prompt_eval_count: 3, eval_count: 1 };
      return new Response(gz(JSON.stringify(line) + "\n"), { headers: { "content-type": "application/x-ndjson", "content-encoding": "gzip" } });
    },
  });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:${up.port}"\nauth_secret = "${SECRET}"\n`,
    waitFor: ["api", "broker"],
  });
  await untilUpstreamsUp(d, await apiToken(d), 1);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  up?.stop(true);
  if (d) removeHome(d.home);
});

test("an upstream that compresses though asked for identity: a 502 each official client raises naming it, not compressed bytes with the broker's lines added", async () => {
  const ollama = new Ollama({ host: d.urls.broker! });
  // Before: the compressed stream was relayed with a plain {"error":…} line appended (the broker read gzip as NDJSON).
  const o = await (async () => {
    for await (const _ of await ollama.chat({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true }));
  })().catch((e) => e);
  expect(o?.name).toBe("ResponseError");
  expect([o.status_code, o.error]).toEqual([502, expect.stringContaining("compressed (Content-Encoding: gzip) though the broker asked for identity")]);
  const openai = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "x", maxRetries: 0 });
  const c = await openai.chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true }).catch((e) => e);
  expect(c).toBeInstanceOf(OpenAI.APIError);
  expect([c.status, c.message]).toEqual([502, expect.stringContaining("Content-Encoding: gzip")]);
  expect(asked.length).toBeGreaterThanOrEqual(2);
  expect(asked.every((a) => a === "identity")).toBe(true);
});

test("a compressed error answer quoting the upstream's credential never reaches the caller: decoded, then redacted (its status and message kept)", async () => {
  const r = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "locked:1b", messages: [], stream: false }) });
  const text = await r.text();
  expect(r.status).toBe(401);
  expect(text).not.toContain(SECRET);
  expect(r.headers.get("content-encoding")).toBeNull();
  expect(JSON.parse(text).error).toStartWith("invalid api key ");
});

test("a refusal at the door (a key in the query, a key not known) carries no request id; one refused after it was read, before routing, is named but recorded nowhere", async () => {
  const bad = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "c2l_notAKeyOfThisDaemon000000000000000", maxRetries: 0 });
  const unknown = await bad.chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "door" }] }).catch((e) => e);
  expect(unknown).toBeInstanceOf(OpenAI.AuthenticationError);
  expect(unknown.requestID ?? null).toBeNull();
  const inQuery = await fetch(`${d.urls.broker}/v1/chat/completions?key=c2l_x`, { method: "POST", body: "{}" });
  expect([inQuery.status, inQuery.headers.get("x-request-id")]).toEqual([400, null]);
  // Read, then refused before routing (a Messages body that is not a JSON object): named, and no record of it.
  const read = await fetch(`${d.urls.broker}/v1/messages`, { method: "POST", headers: { "anthropic-version": "2023-06-01" }, body: "[]" });
  const id = read.headers.get("request-id");
  expect([read.status, id]).toEqual([400, expect.stringMatching(/^[0-9a-z]+-[0-9a-z]+$/)]);
  // A routed request after it (this upstream's compressed answer, a 502): its record arrives, none for the refused ones.
  const routed = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [], stream: false }) });
  const routedId = routed.headers.get("x-request-id");
  expect([routed.status, routedId]).toEqual([502, null]);
  const token = await apiToken(d);
  const records = async () => ((await (await fetch(`${d.urls.api}/api/v1/requests`, { headers: { authorization: `Bearer ${token}` } })).json()) as { requests: { id: string; path: string; status: number; model: string | null }[] }).requests;
  const all = await until(async () => {
    const r = await records();
    return r.some((x) => x.path === "/api/chat" && x.status === 502) ? r : null;
  }, 5_000, "the routed request's record");
  // (The upstream's own 401 for locked:1b, an earlier test's, is a routed request: recorded.)
  expect(all.filter((r) => r.id === id || (r.status === 401 && r.model !== "locked:1b") || r.path.includes("key="))).toEqual([]);
});
