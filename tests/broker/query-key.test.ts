// A gateway key in the URL's query (`?key=c2l_…`), through a real daemon: the broker reads keys from headers only, so
// such a call is refused before anything reads it; the key never reaches the upstream (whose own request log prints
// the query), the daemon's request log line or the inspector. A query without a key goes on as the upstream reads it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { apiToken, createKey, removeHome, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

let up: FakeOllama;
let relay: RelayProc;
let d: DaemonProc;
let token: string;
let key: string;

beforeAll(async () => {
  up = await startFakeOllama({ models: ["llama3.2:1b"] });
  relay = await startRelayProc(relayToml());
  // The request log is on by default ([logging] requests).
  d = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  await d.waitFor(/broker: .*listening.* url=/);
  token = await apiToken(d);
  await untilUpstreamsUp(d, token, 1);
  key = createKey(d, "editor");
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  await up?.stop();
  cleanup(relay?.dir);
  if (d) removeHome(d.home);
});

const json = { "content-type": "application/json" };
const chat = JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false });
/** Every query the upstream received, and whether any part of any request it got held the key. */
const upstreamSaw = () => up.requests.some((r) => (r.search + JSON.stringify(r.headers)).includes(key.slice(4)) || decodeURIComponent(r.search).includes(key.slice(4)));

test("a key in the URL's query is refused (400, in the caller's dialect, naming the parameter, never the key) and reaches neither the upstream, the request log nor the inspector; in any spelling, with or without a key in a header, here or through the relay", async () => {
  const escaped = key.replace("c2l_", "%632l%5F");
  const calls: [string, string, RequestInit][] = [
    ["Ollama chat", `/api/chat?key=${key}`, { method: "POST", headers: json, body: chat }],
    ["the key escaped", `/api/chat?key=${escaped}`, { method: "POST", headers: json, body: chat }],
    ["beside the same key in a header", `/api/chat?api_key=${key}`, { method: "POST", headers: { ...json, authorization: `Bearer ${key}` }, body: chat }],
    ["a bare token", `/api/generate?${key}`, { method: "POST", headers: json, body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }) }],
    ["OpenAI chat, after another parameter", `/v1/chat/completions?api-version=2024-10-21&key=${key}`, { method: "POST", headers: json, body: chat }],
    ["a listing", `/api/tags?key=${key}`, {}],
    ["a pass-through GET", `/api/version?token=${key}`, {}],
  ];
  for (const [what, path, init] of calls) {
    const res = await fetch(`${d.urls.broker}${path}`, init);
    const text = await res.text();
    expect({ what, status: res.status }).toEqual({ what, status: 400 });
    expect(text).toContain("never read from the URL");
    expect(text).not.toContain(key.slice(4));
    if (path.startsWith("/v1/")) expect(JSON.parse(text).error.code).toBe("bad_request");
    expect(res.headers.get("x-c2l-error-code")).toBe("bad_request");
  }
  expect(await (await fetch(`${d.urls.broker}/api/chat?key=${key}`, { method: "POST", headers: json, body: chat })).text()).toContain("?key=c2l_…");
  expect(upstreamSaw()).toBe(false);
  // The official clients given a base URL with the key in it get the refusal as an error they raise.
  const ollama = new Ollama({ host: `${d.urls.broker}`, fetch: ((u: string, i?: RequestInit) => fetch(`${u}?key=${key}`, i)) as typeof fetch });
  await expect(ollama.chat({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] })).rejects.toThrow(/never read from the URL/);
  const openai = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "ollama", defaultQuery: { key }, maxRetries: 0 });
  const refused = await openai.chat.completions.create({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }).then(() => null, (e: unknown) => e);
  expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
  expect(upstreamSaw()).toBe(false);
  // Through the relay the broker refuses it the same way (the agent passes the query on as the caller wrote it).
  const viaRelay = await fetch(`${relay.url}/t/${TUNNEL_ID}/v1/chat/completions?key=${key}`, { method: "POST", headers: { ...json, authorization: `Bearer ${CLIENT_KEY}` }, body: chat });
  expect(viaRelay.status).toBe(400);
  expect(((await viaRelay.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "bad_request", message: expect.stringContaining("never read from the URL") });
  expect(upstreamSaw()).toBe(false);

  // A call with the key where it belongs is served, and it shows in the request log and the inspector: the refused
  // ones above left nothing there holding the key.
  // (The daemon reads the keys file the CLI wrote within a second: until then the key is unknown, 401.)
  await until(async () => {
    const ok = await fetch(`${d.urls.broker}/api/chat?trace=1`, { method: "POST", headers: { ...json, authorization: `Bearer ${key}` }, body: chat });
    await ok.text();
    return ok.status === 200;
  }, 5000, "the key's call served");
  await d.waitFor(/POST \/api\/chat/);
  const records = await until(async () => {
    const r = await (await fetch(`${d.urls.api}/api/v1/requests`, { headers: { authorization: `Bearer ${token}` } })).text();
    return r.includes('"/api/chat"') ? r : null;
  }, 5000, "the served call in the inspector");
  expect(records).not.toContain(key.slice(4));
  expect(d.stderr()).not.toContain(key.slice(4));
  expect(d.stdout()).not.toContain(key.slice(4));
  expect(relay.stderr() + relay.stdout()).not.toContain(key.slice(4));
  expect(upstreamSaw()).toBe(false);
}, 30_000);

test("a query without a key goes to the upstream as the caller wrote it (llama.cpp's ?model=, Azure's ?api-version=, Anthropic's ?beta=true); a c2l_ inside another word is no key", async () => {
  for (const q of ["?api-version=2024-10-21", "?beta=true", "?model=abc2l_x&autoload=false"]) {
    const res = await fetch(`${d.urls.broker}/api/chat${q}`, { method: "POST", headers: json, body: chat });
    const text = await res.text();
    expect({ q, status: res.status, text }).toMatchObject({ q, status: 200 });
    expect(up.requests.at(-1)!.search).toBe(q);
  }
});
