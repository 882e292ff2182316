// The HTTP layer's promises where one component checks what the next parses again: request targets (fragments, dot
// segments only decoding reveals, every spelling of a management route) on the broker and through the relay, curl's
// Expect: 100-continue uploads, and what a pipelining client gets. Raw sockets and curl, not fetch (which normalizes).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { createKey, removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const ALLOWED = "llama3.2:1b";
const FORBIDDEN = "qwen2.5:0.5b";
let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc;
let port: number;
/** A key limited to llama3*, without model management; and one with every model, without model management. */
let editor: string;
let full: string;
const RELAY_AUTH = { authorization: `Bearer ${CLIENT_KEY}` };

beforeAll(async () => {
  // routeDecoded: the fake decodes escapes before routing, as Go does; like uvicorn's httptools, Node and Bun, it drops a
  // fragment from the request target (Go keeps it in the path, so Ollama itself answers 404 to "/api/pull#x").
  fake = await startFakeOllama({ models: [FORBIDDEN, ALLOWED], tokens: 2, routeDecoded: true });
  relay = await startRelayProc(relayToml());
  d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  port = Number(new URL(d.urls.broker!).port);
  editor = createKey(d, "editor", "--models", "llama3*");
  full = createKey(d, "full");
  await until(async () => (await fetch(`${d.urls.broker}/api/tags`, { headers: { "x-api-key": full } })).status === 200, 5000, "the daemon to see the keys");
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir);
  if (d) removeHome(d.home);
});

const pulls = () => fake.requests.filter((r) => /pull/i.test(r.path));

test("a request target with a fragment (#…) is 400 in the caller's dialect, on the broker and the relay: /api/pull#x is never the pull, nor /api/tags#x the whole list, of an upstream that drops the fragment", async () => {
  const before = fake.requests.length;
  const pull = JSON.stringify({ model: ALLOWED, stream: false });
  const cases: [string, string, Record<string, string>, string | undefined, (b: any) => unknown][] = [
    ["broker", "POST /api/pull#x", { "x-api-key": full }, pull, (b) => b.error],
    ["broker", "GET /api/tags#x", { "x-api-key": editor }, undefined, (b) => b.error],
    ["broker", "POST /v1/chat/completions#x", { "x-api-key": editor }, JSON.stringify({ model: ALLOWED, messages: [] }), (b) => b.error.message],
    ["broker", "POST /v1/messages#x", { "x-api-key": editor }, JSON.stringify({ model: ALLOWED, max_tokens: 5, messages: [] }), (b) => b.type === "error" && b.error.message],
    ["relay", `POST /t/${TUNNEL_ID}/api/pull#x`, { ...RELAY_AUTH, "x-api-key": full }, pull, (b) => b.error],
    ["relay", `GET /t/${TUNNEL_ID}/v1/models#x`, { ...RELAY_AUTH, "x-api-key": editor }, undefined, (b) => b.error.message],
  ];
  for (const [where, line, headers, body, message] of cases) {
    const [method, target] = line.split(" ") as [string, string];
    const r = await rawRequest(where === "broker" ? port : relay.port, method, target, { headers, body });
    expect({ line, status: r.status, code: r.headers["x-c2l-error-code"] }).toEqual({ line, status: 400, code: "bad_request" });
    expect({ line, message: message(JSON.parse(r.body)) }).toEqual({ line, message: expect.stringContaining("fragment") });
  }
  expect(fake.requests.slice(before).map((q) => q.path)).toEqual([]);
});

test("every spelling of /api/pull is the pull for a key without --allow-model-management (403, the upstream never asked); spellings no upstream routes as the pull pass as they are", async () => {
  const body = JSON.stringify({ model: ALLOWED, stream: false });
  // Bun resolves "/./", "\" and absolute-form targets itself; the broker decodes escapes, folds case, slashes and the dot
  // segments only decoding reveals ("..%2f": Go's ServeMux cleans it to /api/pull before Ollama's router sees it).
  const spellings = ["/api/pull", "//api/pull", "/api/pull/", "/api/./pull", "/api/%2e/pull", "/api/chat/../pull", "/api/chat/..%2fpull", "/api/chat/%2E%2E%2Fpull", "/api/%70ull", "/api%2fpull", "/API/PULL", "/api\\pull", "http://127.0.0.1/api/pull", "/api/pull?insecure=true"];
  for (const key of [editor, full])
    for (const target of spellings) {
      const r = await rawRequest(port, "POST", target, { headers: { "x-api-key": key }, body });
      expect({ target, status: r.status }).toEqual({ target, status: 403 });
      expect(JSON.parse(r.body).error).toContain("may not manage models (/api/pull)");
    }
  expect(pulls()).toEqual([]);
  // Not the pull to Go (";" is not special, "%00" and "%20" stay in the path): 404. The broker says so for ";…" after a
  // route (every upstream keeps it in the path); the upstream answers the others as it would.
  for (const target of ["/api/pull;x", "/api/pull%00", "/api/pull%20"]) {
    const r = await rawRequest(port, "POST", target, { headers: { "x-api-key": full }, body });
    expect({ target, status: r.status }).toEqual({ target, status: 404 });
  }
  // Ollama's own 404 (its path decoded): no pull ran.
  expect(pulls().map((q) => q.path)).toEqual(["/api/pull%00", "/api/pull%20"]);
});

test("every spelling of an allowed route gets one answer on the broker's port and through the relay, the upstream asked for the route itself; a key's model list holds on each", async () => {
  const chat = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: false });
  // [method, spelling, route, body]: a trailing slash, doubled slashes, dot segments, escapes (an escaped slash too),
  // upper case, a query on a POST route, on Ollama's routes and the OpenAI ones (the broker plans only the former).
  const cases: [string, string, string, (m: string) => string | undefined][] = [
    ["POST", "/api/chat/", "/api/chat", chat],
    ["POST", "//api/chat", "/api/chat", chat],
    ["POST", "/api/./chat", "/api/chat", chat],
    ["POST", "/api/x/../chat", "/api/chat", chat],
    ["POST", "/api/%63hat", "/api/chat", chat],
    ["POST", "/api%2Fchat", "/api/chat", chat],
    ["POST", "/API/chat", "/api/chat", chat],
    ["POST", "/api/chat?x=1", "/api/chat", chat],
    ["POST", "/v1/chat/completions/", "/v1/chat/completions", chat],
    ["POST", "/v1//chat/completions", "/v1/chat/completions", chat],
    ["POST", "/V1/%63hat/completions", "/v1/chat/completions", chat],
    ["POST", "/v1/embeddings/", "/v1/embeddings", (m) => JSON.stringify({ model: m, input: "hi" })],
    ["GET", "/api/version/", "/api/version", () => undefined],
  ];
  for (const [method, spelling, route, body] of cases) {
    for (const [where, p, target, headers] of [
      ["broker", port, spelling, { "x-api-key": editor }],
      ["relay", relay.port, `/t/${TUNNEL_ID}${spelling}`, { ...RELAY_AUTH, "x-api-key": editor }],
    ] as const) {
      const before = fake.requests.length;
      const ok = await rawRequest(p, method, target, { headers, body: body(ALLOWED) });
      const sent = fake.requests.slice(before).map((q) => q.path + q.search);
      expect({ where, spelling, status: ok.status, sent }).toEqual({ where, spelling, status: 200, sent: [route + (spelling.includes("?") ? "?x=1" : "")] });
      if (method === "GET") continue;
      // The model off the key's list is refused on every spelling, on both, before the upstream.
      const no = await rawRequest(p, method, target, { headers, body: body(FORBIDDEN) });
      expect({ where, spelling, status: no.status }).toEqual({ where, spelling, status: 403 });
      expect(fake.requests.length).toBe(before + 1);
    }
  }
});

test("a ';' parameter after a route is no route to any upstream: one 404 naming the route, in its dialect, on the broker's port and through the relay", async () => {
  const before = fake.requests.length;
  const cases: [string, string, (b: any) => unknown][] = [
    ["/api/chat;x", JSON.stringify({ model: ALLOWED, messages: [], stream: false }), (b) => b.error],
    ["/v1/chat/completions;a=b", JSON.stringify({ model: ALLOWED, messages: [] }), (b) => b.error.message],
  ];
  for (const [target, body, message] of cases) {
    for (const [where, p, t, headers] of [
      ["broker", port, target, { "x-api-key": editor }],
      ["relay", relay.port, `/t/${TUNNEL_ID}${target}`, { ...RELAY_AUTH, "x-api-key": editor }],
    ] as const) {
      const r = await rawRequest(p, "POST", t, { headers, body });
      const route = target.slice(0, target.indexOf(";"));
      expect({ where, target, status: r.status, message: message(JSON.parse(r.body)) }).toEqual({ where, target, status: 404, message: `${JSON.stringify(target)} is no route: every upstream reads ";…" as part of the path; use ${route}` });
    }
  }
  expect(fake.requests.length).toBe(before);
});

test("through the relay every spelling of /api/pull is refused at the agent ([tunnel] allow_model_management is off) and reaches nothing", async () => {
  const body = JSON.stringify({ model: ALLOWED, stream: false });
  const before = fake.requests.length;
  for (const target of ["/api/pull", "//api/pull", "/api/pull/", "/api/%70ull", "/api%2fpull", "/API/PULL", "/api/chat/..%2fpull", "/api/pull;x", "/api/pull%00", "/api/%u0070ull", "/models/%u006coad"]) {
    const r = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}${target}`, { headers: RELAY_AUTH, body });
    expect({ target, refused: r.status === 400 || r.status === 403 || r.status === 404 }).toEqual({ target, refused: true });
    expect({ target, error: typeof JSON.parse(r.body).error }).toEqual({ target, error: "string" });
  }
  expect(fake.requests.slice(before).map((q) => q.path)).toEqual([]);
});

test("the other kinds' own management routes (llama.cpp's router, LM Studio's v1 REST API, vLLM's LoRA updates) and Ollama's account routes need --allow-model-management too, and [tunnel] allow_model_management", async () => {
  const before = fake.requests.length;
  const routes: [string, Record<string, string>][] = [
    ["/models/load", { model: ALLOWED }],
    ["/models/unload", { model: ALLOWED }],
    ["/api/v1/models/load", { model: ALLOWED }],
    ["/api/v1/models/unload", { instance_id: ALLOWED }],
    ["/api/v1/models/download", { model: ALLOWED }],
    ["/v1/load_lora_adapter", { lora_name: ALLOWED, lora_path: "/tmp/x" }],
    // vLLM's development routes: releasing the weights, an RPC to every worker.
    ["/sleep", {}],
    ["/collective_rpc", { method: "x" }],
    // Ollama's account routes: who the machine's ollama.com account is, and signing it out.
    ["/api/me", {}],
    ["/api/signout", {}],
    // What that account pays for, and Ollama's profiler.
    ["/api/experimental/web_search", { query: "x" }],
    ["/debug/pprof/heap", {}],
  ];
  const account = new Set(["/api/me", "/api/signout", "/api/experimental/web_search", "/debug/pprof/heap"]);
  for (const [route, body] of routes) {
    for (const key of [full, editor]) {
      const r = await rawRequest(port, "POST", route, { headers: { "x-api-key": key }, body: JSON.stringify(body) });
      expect({ route, status: r.status, code: r.headers["x-c2l-error-code"] }).toEqual({ route, status: 403, code: "forbidden" });
      expect(r.body).toContain(`may not manage models (${route})`);
    }
    const t = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}${route}`, { headers: RELAY_AUTH, body: JSON.stringify(body) });
    expect({ route, status: t.status }).toEqual({ route, status: 403 });
    // The account's routes are not model management through the tunnel: only allowed_paths could open them.
    expect(t.body).toContain(account.has(route) ? "is not in [tunnel] allowed_paths" : "model management");
  }
  expect(fake.requests.slice(before).map((q) => q.path)).toEqual([]);
});

test("llama.cpp's router downloads a model on POST /models and deletes one on DELETE /models?model=… (the model in the query): model management for a key and through the tunnel; GET /models stays its list", async () => {
  const before = fake.requests.length;
  for (const [method, target, body] of [
    ["POST", "/models", JSON.stringify({ model: "someone/huge-model-GGUF" })],
    ["DELETE", `/models?model=${ALLOWED}`, undefined],
    ["DELETE", `/%6Dodels?model=${ALLOWED}`, undefined],
  ] as const) {
    for (const key of [full, editor]) {
      const r = await rawRequest(port, method, target, { headers: { "x-api-key": key }, ...(body ? { body } : {}) });
      expect({ method, target, status: r.status }).toEqual({ method, target, status: 403 });
      expect(r.body).toContain("may not manage models (/models)");
    }
    const t = await rawRequest(relay.port, method, `/t/${TUNNEL_ID}${target}`, { headers: RELAY_AUTH, ...(body ? { body } : {}) });
    expect({ method, target, status: t.status }).toEqual({ method, target, status: 403 });
  }
  expect(fake.requests.slice(before).map((q) => `${q.method} ${q.path}`)).toEqual([]);
  // Listing is not managing: the key without a model list still reads GET /models (the fake Ollama has no such route).
  const list = await rawRequest(port, "GET", "/models", { headers: { "x-api-key": full } });
  expect(list.body).not.toContain("may not manage models");
});

test("a body with a byte-order mark, or in UTF-16 (Python's json.loads reads both), cannot name a model off a key's list: refused in the caller's dialect, nothing upstream", async () => {
  const before = fake.requests.length;
  const json = JSON.stringify({ model: FORBIDDEN, messages: [], stream: false });
  const bodies: [string, Uint8Array<ArrayBuffer>][] = [
    ["BOM", new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(json)])],
    ["UTF-16LE", new Uint8Array(Buffer.from(json, "utf16le"))],
    ["UTF-16LE with BOM", new Uint8Array([0xff, 0xfe, ...Buffer.from(json, "utf16le")])],
  ];
  for (const [name, body] of bodies) {
    const r = await fetch(`${d.urls.broker}/v1/chat/completions`, { method: "POST", headers: { "x-api-key": editor, "content-type": "application/json" }, body });
    // Past a UTF-8 mark the model is read (and refused); UTF-16, with its mark or without, is refused as such (400) for
    // every caller: only Python's json reads it (json-top-level.ts).
    const want = { BOM: [403, /may not use model "qwen2\.5:0\.5b"/], "UTF-16LE": [400, /UTF-16 or UTF-32/], "UTF-16LE with BOM": [400, /UTF-16 or UTF-32/] } as const;
    const [status, message] = want[name as keyof typeof want];
    expect({ name, status: r.status }).toEqual({ name, status });
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(message);
  }
  expect(fake.requests.slice(before).map((q) => q.path)).toEqual([]);
});

requireTools(["curl"]).test("curl's Expect: 100-continue upload (a body over 1 MiB) works on the broker and through the relay, and the key's model list is checked on all of it", async () => {
  const dir = relay.dir;
  const filler = "a".repeat(2 * 1024 * 1024);
  const ok = join(dir, "ok.json");
  const hidden = join(dir, "hidden.json");
  writeFileSync(ok, JSON.stringify({ model: ALLOWED, prompt: filler, stream: false }));
  // A second "model" after 2 MiB: read as the model by Go (the last one wins), so the broker must have read it too.
  writeFileSync(hidden, `{"model":"${ALLOWED}","prompt":"${filler}","stream":false,"model":"${FORBIDDEN}"}`);
  const curl = async (url: string, file: string, headers: string[]) => {
    const args = ["curl", "-sS", "-v", "--data-binary", `@${file}`, "-H", "content-type: application/json", ...headers.flatMap((h) => ["-H", h]), "-w", "\n%{http_code}", url];
    const p = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    await p.exited;
    const at = out.lastIndexOf("\n");
    return { status: Number(out.slice(at + 1)), body: out.slice(0, at), sentExpect: /> Expect: 100-continue/i.test(err), gotContinue: /< HTTP\/1\.1 100/.test(err) };
  };
  for (const [where, url, headers] of [
    ["broker", `${d.urls.broker}/api/generate`, [`x-api-key: ${editor}`]],
    ["relay", `${relay.url}/t/${TUNNEL_ID}/api/generate`, [`authorization: Bearer ${CLIENT_KEY}`, `x-api-key: ${editor}`]],
  ] as const) {
    const before = fake.requests.length;
    const good = await curl(url, ok, [...headers]);
    expect({ where, status: good.status, sentExpect: good.sentExpect, gotContinue: good.gotContinue }).toEqual({ where, status: 200, sentExpect: true, gotContinue: true });
    const seen = fake.requests.slice(before).filter((q) => q.path === "/api/generate");
    expect(seen.map((q) => q.bodySize)).toEqual([Bun.file(ok).size]);
    const bad = await curl(url, hidden, [...headers]);
    expect({ where, status: bad.status }).toEqual({ where, status: 400 });
    expect(JSON.parse(bad.body).error).toContain("model");
    expect(fake.requests.slice(before).filter((q) => q.path === "/api/generate").length).toBe(1);
  }
});

/** Writes `bytes` in one write; every status line received before the server closes (or 3 s). */
function statuses(bytes: string): Promise<number[]> {
  return new Promise((resolve) => {
    let out = "";
    const s = connect({ host: "127.0.0.1", port }, () => s.write(bytes));
    s.setEncoding("latin1");
    s.on("data", (c) => (out += c));
    const done = () => resolve([...out.matchAll(/(?:^|\n)HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])));
    s.on("close", done);
    s.on("error", () => {});
    setTimeout(() => s.destroy(), 3_000);
  });
}

test("documented: two requests pipelined in one write get both answers in order, or (Bun 1.4's uWS, oven-sh/bun#33664) the connection closed with none; never an answer to one the upstream did not run", async () => {
  const body = JSON.stringify({ model: ALLOWED, prompt: "hi", stream: false });
  const req = (last: boolean) => `POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n${last ? "Connection: close\r\n" : ""}\r\n${body}`;
  const before = fake.requests.length;
  const got = await statuses(req(false) + req(true));
  expect([[], [200, 200]]).toContainEqual(got);
  const ran = fake.requests.slice(before).filter((q) => q.path === "/api/generate").length;
  expect(ran).toBeGreaterThanOrEqual(got.length);
  expect(ran).toBeLessThanOrEqual(2);
});
