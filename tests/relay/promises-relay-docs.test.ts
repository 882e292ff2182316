// docs/relay.md's sentences as tests against a real relay (from source) and a daemon as its agent: what an
// unauthenticated caller learns, where credentials never go, the metrics the docs name, and a single relay's SIGTERM.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hashToken } from "../../src/relay/auth.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, removeHome, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

setDefaultTimeout(60_000);
const REPO = join(import.meta.dir, "../..");
/** A tunnel in the config whose agent never connects, and its key. */
const BOB_KEY = "bob-client-key-for-promises-0123456";
const BOB_AGENT = "bob-agent-token-for-promises-01234";
/** What a guesser sends: close to a real key, and a real key of another tunnel. */
const WRONG_KEY = "client-key-for-tests-0123456780";

let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc | undefined;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 20, tokenDelayMs: 100 });
  relay = await startRelayProc(
    relayToml({ extra: `go_away_grace = "20s"` }) +
      `\n[[tunnels]]\nid = "bob"\nagent_token_sha256 = "${hashToken(BOB_AGENT)}"\nclient_key_sha256 = ["${hashToken(BOB_KEY)}"]\n`,
  );
  d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: relay.url.replace("http", "ws") + "/agent" }));
});
afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
  cleanup(relay?.dir);
});

const chat = (tunnel: string, headers: Record<string, string>, stream = false) =>
  fetch(`${relay.url}/t/${tunnel}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream }),
  });

/** Status, body and headers of an answer, the date left out: what a caller can compare. */
async function seen(r: Response): Promise<{ status: number; body: string; headers: [string, string][] }> {
  const headers = [...r.headers].filter(([k]) => k !== "date");
  return { status: r.status, body: await r.text(), headers };
}

test("an unauthenticated caller cannot tell a connected tunnel, a configured one without its agent and an id no tunnel has apart: no key, a wrong key, another tunnel's key, an agent token are answered alike", async () => {
  const tries: [string, Record<string, string>][] = [
    ["no key", {}],
    ["wrong key", { authorization: `Bearer ${WRONG_KEY}` }],
    ["x-api-key", { "x-api-key": WRONG_KEY }],
    ["agent token", { authorization: `Bearer ${AGENT_TOKEN}` }],
    ["admin token", { authorization: `Bearer ${ADMIN_TOKEN}` }],
  ];
  for (const [what, h] of tries) {
    const connected = await seen(await chat(TUNNEL_ID, h));
    const offline = await seen(await chat("bob", { ...h, ...(what === "agent token" ? { authorization: `Bearer ${BOB_AGENT}` } : {}) }));
    const none = await seen(await chat("nosuchtunnel", h));
    expect({ what, status: connected.status }).toEqual({ what, status: 401 });
    // The body may name the id it was asked for (the caller's own input), nothing else.
    expect({ what, offline: { ...offline, body: offline.body.replaceAll("bob", TUNNEL_ID) } }).toEqual({ what, offline: connected });
    expect({ what, none: { ...none, body: none.body.replaceAll("nosuchtunnel", TUNNEL_ID) } }).toEqual({ what, none: connected });
  }
  // A key of one tunnel opens nothing of another, whether that one exists or not.
  expect(await seen(await chat(TUNNEL_ID, { authorization: `Bearer ${BOB_KEY}` }))).toEqual(await seen(await chat("nosuchtunnel", { authorization: `Bearer ${BOB_KEY}` })).then((s) => ({ ...s, body: s.body.replaceAll("nosuchtunnel", TUNNEL_ID) })));
  // /metrics and /healthz are open to anyone: they name no tunnel; /api/tunnels without the admin token lists none.
  const metrics = await (await fetch(`${relay.url}/metrics`)).text();
  expect(metrics).not.toContain(TUNNEL_ID);
  expect(metrics).not.toContain("bob");
  const listing = await fetch(`${relay.url}/api/tunnels`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  expect(listing.status).toBe(401);
  expect(await listing.text()).not.toContain(TUNNEL_ID);
});

test("no credential reaches the relay's log, /metrics, /readyz or /healthz: client keys, agent tokens, the admin token, a guessed key, after calls served and refused", async () => {
  // Served (the fake's chat takes 2 s here, for the SIGTERM test: its model list is at once).
  for (const h of [{ authorization: `Bearer ${CLIENT_KEY}` }, { "x-api-key": CLIENT_KEY }] as Record<string, string>[]) {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: h });
    expect(r.status).toBe(200);
    await r.text();
  }
  for (const k of [WRONG_KEY, BOB_KEY, AGENT_TOKEN, ADMIN_TOKEN, ""]) await (await chat(TUNNEL_ID, { authorization: `Bearer ${k}` })).text();
  await (await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags?key=${WRONG_KEY}`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } })).text();
  await (await fetch(`${relay.url}/api/tunnels`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  await (await fetch(`${relay.url}/api/tunnels`, { headers: { authorization: `Bearer ${WRONG_KEY}` } })).text();
  // A refused agent: a guessed token, and another tunnel's client key offered as an agent token.
  for (const t of [WRONG_KEY, BOB_KEY]) await (await fetch(`${relay.url}/agent`, { headers: { authorization: `Bearer ${t}`, upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } })).text();
  await relay.waitFor(/agent refused/);
  const seenByAnyone = [
    relay.stderr(),
    relay.stdout(),
    await (await fetch(`${relay.url}/metrics`)).text(),
    await (await fetch(`${relay.url}/readyz`)).text(),
    await (await fetch(`${relay.url}/healthz`)).text(),
  ].join("\n");
  for (const secret of [CLIENT_KEY, WRONG_KEY, BOB_KEY, BOB_AGENT, AGENT_TOKEN, ADMIN_TOKEN, hashToken(CLIENT_KEY), hashToken(AGENT_TOKEN)]) {
    // Nor a prefix long enough to narrow a guess.
    expect({ secret, found: seenByAnyone.includes(secret.slice(0, 16)) }).toEqual({ secret, found: false });
  }
});

/** The cloudtolocalllm_relay_* names in a docs page's "## Metrics" section. */
function documentedMetrics(doc: string): string[] {
  const text = readFileSync(join(REPO, "docs", doc), "utf8");
  const section = text.slice(text.indexOf("\n## Metrics"), text.indexOf("\n## ", text.indexOf("\n## Metrics") + 5));
  return [...new Set([...section.matchAll(/`(cloudtolocalllm_relay_[a-z_]+)/g)].map((m) => m[1]!))];
}

test("every relay metric docs/relay.md names is in the relay's /metrics, with a HELP and a TYPE", async () => {
  const names = documentedMetrics("relay.md");
  expect(names.length).toBeGreaterThanOrEqual(10);
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const missing = names.filter((n) => !text.includes(`# TYPE ${n} `) || !text.includes(`# HELP ${n} `));
  expect(missing).toEqual([]);
});

test("the relay's own routes answer as docs/relay.md's Endpoints table says: /healthz, /readyz, /api/tunnels with its fields; their errors {error:{code,message}} with x-c2l-error-code", async () => {
  expect(await (await fetch(`${relay.url}/healthz`)).json()).toEqual({ status: "ok", version: expect.any(String) });
  expect(await (await fetch(`${relay.url}/readyz`)).json()).toEqual({ status: "ready", tunnels: 1 });
  const list = (await (await fetch(`${relay.url}/api/tunnels`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { tunnels: Record<string, unknown>[] };
  expect(list.tunnels.map((t) => Object.keys(t).sort())).toEqual([["activeStreams", "agent", "connectedAt", "id", "remote", "rttMs"]]);
  expect(list.tunnels[0]!.id).toBe(TUNNEL_ID);
  for (const [path, headers, status, code] of [
    ["/api/tunnels", {}, 401, "unauthorized"],
    ["/api/tunnels", { authorization: `Bearer ${CLIENT_KEY}` }, 401, "unauthorized"],
    ["/no-such-route", {}, 404, "not_found"],
  ] as [string, Record<string, string>, number, string][]) {
    const r = await fetch(`${relay.url}${path}`, { headers });
    expect([path, r.status, r.headers.get("x-c2l-error-code")]).toEqual([path, status, code]);
    expect(await r.json()).toEqual({ error: { code, message: expect.any(String) } });
  }
});

test("a client key inside any value of the query is refused at the relay, whatever punctuation is around it (a sentence's period, a dot, @, ~, !), and never reaches the upstream", async () => {
  // docs/relay.md, Never a credential in the URL: "by value in any parameter ... inside a value (user:KEY, JSON)".
  // A generated key is base64url: whatever else surrounds it, the run of those characters is the key.
  const before = fake.requests.length;
  const values = [`my key is ${CLIENT_KEY}.`, `x.${CLIENT_KEY}`, `${CLIENT_KEY}.x`, `${CLIENT_KEY}@relay.example.com`, `~${CLIENT_KEY}`, `${CLIENT_KEY}!`, `*${CLIENT_KEY}*`, `${CLIENT_KEY}?`];
  for (const v of values) {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags?note=${encodeURIComponent(v)}`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    const text = await r.text();
    expect({ v, status: r.status, code: r.headers.get("x-c2l-error-code") }).toEqual({ v, status: 400, code: "bad_request" });
    expect(text).not.toContain(CLIENT_KEY);
  }
  expect(fake.requests.slice(before).filter((r) => r.search.includes("note"))).toEqual([]);
  // A word that merely ends like the key is no key: it passes.
  const other = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags?note=prefix${CLIENT_KEY}`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  expect(other.status).toBe(200);
  await other.text();
});

test("a relay without [oidc] refuses every /me/ and /ollama/ call, 401 in the path's dialect, whatever the credential: nothing reaches the tunnel", async () => {
  const before = fake.requests.length;
  const jwtShaped = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
  for (const path of ["/me/api/tags", "/ollama/api/tags", "/me/v1/models", "/ollama/v1/models", "/me", "/ollama/"])
    for (const h of [{}, { authorization: `Bearer ${CLIENT_KEY}` }, { "x-api-key": CLIENT_KEY }, { authorization: `Bearer ${jwtShaped}` }, { "x-c2l-tunnel": TUNNEL_ID, authorization: `Bearer ${CLIENT_KEY}` }] as Record<string, string>[]) {
      const r = await fetch(`${relay.url}${path}`, { headers: h });
      const body = await r.text();
      expect({ path, h, status: r.status, code: r.headers.get("x-c2l-error-code") }).toEqual({ path, h, status: 401, code: "unauthorized" });
      // OpenAI's shape on /v1/*, Ollama's elsewhere.
      const shape = JSON.parse(body) as { error: unknown };
      expect({ path, openai: typeof shape.error === "object" }).toEqual({ path, openai: path.includes("/v1/") });
    }
  expect(fake.requests.length).toBe(before);
});

test("SIGTERM of a relay alone: /readyz turns 503 not_ready, a new call gets 503 unavailable with Retry-After: 1 in its dialect, the answer in flight finishes", async () => {
  const inflight = await chat(TUNNEL_ID, { authorization: `Bearer ${CLIENT_KEY}` }, true);
  expect(inflight.status).toBe(200);
  const reader = inflight.body!.getReader();
  await reader.read();
  relay.proc.kill("SIGTERM");
  const ready = await until(async () => {
    const r = await fetch(`${relay.url}/readyz`);
    return r.status === 503 ? r : null;
  }, 10_000, "/readyz to turn 503");
  expect(ready.headers.get("x-c2l-error-code")).toBe("not_ready");
  const ollama = await chat(TUNNEL_ID, { authorization: `Bearer ${CLIENT_KEY}` });
  expect([ollama.status, ollama.headers.get("x-c2l-error-code"), ollama.headers.get("retry-after")]).toEqual([503, "unavailable", "1"]);
  expect(typeof ((await ollama.json()) as { error: unknown }).error).toBe("string");
  const openai = await fetch(`${relay.url}/t/${TUNNEL_ID}/v1/models`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  expect([openai.status, openai.headers.get("x-c2l-error-code"), openai.headers.get("retry-after")]).toEqual([503, "unavailable", "1"]);
  expect(((await openai.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
  expect(rest).toContain('"done":true');
  expect(rest).not.toContain('"error"');
  expect(await relay.proc.exited).toBe(0);
});
