// /me/ and /ollama/ through a real relay process and real daemons: each signed-in user (JWT subject) reaches only its
// own tunnel; a subject with two tunnels chooses by header or query; tokens in the URL and client keys are refused.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { CLIENT_KEY, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { startTestIssuer, type TestIssuer } from "./test-issuer.ts";

const ALICE = "sub-alice";
const BOB = "sub-bob";
/** Tunnel id → its owner, its agent token and the one model its fake upstream serves (which proves where a call went). */
const TUNNELS = {
  "a-home": { subject: ALICE, agent: "agent-token-a-home-0123456789", model: "alice-home:1b" },
  "a-work": { subject: ALICE, agent: "agent-token-a-work-0123456789", model: "alice-work:1b" },
  "b-home": { subject: BOB, agent: "agent-token-b-home-0123456789", model: "bob-home:1b" },
} as const;
type TunnelId = keyof typeof TUNNELS;

let issuer: TestIssuer;
let relay: RelayProc;
const upstreams = new Map<TunnelId, FakeOllama>();
const daemons: DaemonProc[] = [];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  issuer = await startTestIssuer();
  const bound = Object.entries(TUNNELS)
    .map(([id, t]) => `[[tunnels]]\nid = "${id}"\nagent_token_sha256 = "${hashToken(t.agent)}"\nsubject = "${t.subject}"\n`)
    .join("\n");
  // relayToml() brings a static tunnel "alice" with a client key (no subject): the client key case below.
  relay = await startRelayProc(`${relayToml()}\n${bound}\n${issuer.oidcToml}`);
  const ws = `${relay.url.replace(/^http/, "ws")}/agent`;
  await Promise.all(
    (Object.keys(TUNNELS) as TunnelId[]).map(async (id) => {
      const up = await startFakeOllama({ models: [TUNNELS[id].model], tokens: 2 });
      upstreams.set(id, up);
      const d = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: ws }), { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: TUNNELS[id].agent });
      daemons.push(d);
      // The broker lists a model once its upstream was checked.
      await until(async () => JSON.stringify(await (await fetch(`${d.urls.broker}/api/tags`)).json()).includes(TUNNELS[id].model), 15_000, `${id}'s models`);
    }),
  );
  tokens.alice = await issuer.sign(ALICE);
  tokens.bob = await issuer.sign(BOB);
}, 60_000);

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  await relay?.stop();
  await Promise.all([...upstreams.values()].map((u) => u.stop()));
  issuer?.stop();
  cleanup(relay?.dir, ...daemons.map((d) => d.home));
});

const call = (path: string, token: string, headers: Record<string, string> = {}) => fetch(`${relay.url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
const models = async (r: Response) => ((await r.json()) as { models: { name: string }[] }).models.map((m) => m.name);
const tagCalls = () => Object.fromEntries([...upstreams].map(([id, u]) => [id, u.requests.filter((r) => r.path === "/api/tags").length]));

test("two users, two tunnels: each JWT on /me/api/tags and /ollama/api/tags reaches its own tunnel's daemon, never the other's", async () => {
  const before = tagCalls();
  for (const prefix of ["/me", "/ollama"]) {
    const bob = await call(`${prefix}/api/tags`, tokens.bob!);
    expect(bob.status).toBe(200);
    expect(await models(bob)).toEqual([TUNNELS["b-home"].model]);
    const alice = await call(`${prefix}/api/tags`, tokens.alice!, { "x-c2l-tunnel": "a-home" });
    expect(alice.status).toBe(200);
    expect(await models(alice)).toEqual([TUNNELS["a-home"].model]);
  }
  // The 1.x web app's shape: the official ollama client with host = RELAY/ollama, a signed-in user's bearer.
  const chat = await new Ollama({ host: `${relay.url}/ollama`, headers: { Authorization: `Bearer ${tokens.bob}` } }).chat({ model: TUNNELS["b-home"].model, messages: [{ role: "user", content: "hi" }], stream: false });
  expect(chat.model).toBe(TUNNELS["b-home"].model);

  // Naming the other user's tunnel is a 404 that names only the caller's own tunnels; the other daemon sees nothing.
  const cross = await call("/me/api/tags", tokens.alice!, { "x-c2l-tunnel": "b-home" });
  expect(cross.status).toBe(404);
  const msg = ((await cross.json()) as { error: string }).error;
  expect(msg).toContain('no tunnel "b-home"');
  expect(msg).toContain("a-home, a-work");
  const bobCross = await call("/ollama/api/tags?tunnel=a-home", tokens.bob!);
  expect(bobCross.status).toBe(404);
  expect(((await bobCross.json()) as { error: string }).error).not.toContain("a-work");
  // And by id on /t/ID/: a JWT only opens its own subject's tunnels.
  expect((await call("/t/b-home/api/tags", tokens.alice!)).status).toBe(401);
  const after = tagCalls();
  expect(after["b-home"]! - before["b-home"]!).toBe(2);
  expect(after["a-home"]! - before["a-home"]!).toBe(2);
  expect(after["a-work"]).toBe(before["a-work"]);
});

test("/me/ and /ollama/ take every spelling of a route as /t/ID/ and the broker do: /ollama//api/chat and /me/api/chat/ are the chat", async () => {
  const up = upstreams.get("b-home")!;
  const body = JSON.stringify({ model: TUNNELS["b-home"].model, messages: [{ role: "user", content: "hi" }], stream: false });
  for (const path of ["/ollama/api/chat", "/ollama//api/chat", "/me/api/chat/", "/me/api/%63hat"]) {
    const before = up.requests.length;
    const r = await fetch(`${relay.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${tokens.bob}`, "content-type": "application/json" }, body });
    expect({ path, status: r.status, sent: up.requests.slice(before).map((q) => q.path) }).toEqual({ path, status: 200, sent: ["/api/chat"] });
  }
  // A prefix in another case is not the relay's route: its own 404, nothing reaches a daemon.
  const before = up.requests.length;
  expect((await fetch(`${relay.url}/OLLAMA/api/chat`, { method: "POST", headers: { authorization: `Bearer ${tokens.bob}` }, body })).status).toBe(404);
  expect(up.requests.length).toBe(before);
});

test("a subject with two tunnels chooses by X-C2L-Tunnel or ?tunnel=; without a choice a 400 lists its ids in the caller's dialect", async () => {
  expect(await models(await call("/me/api/tags", tokens.alice!, { "x-c2l-tunnel": "a-work" }))).toEqual([TUNNELS["a-work"].model]);
  // The choice is the relay's business: the header does not travel on to the daemon and its upstream.
  expect(upstreams.get("a-work")!.requests.at(-1)!.headers).not.toHaveProperty("x-c2l-tunnel");
  expect(await models(await call("/ollama/api/tags?tunnel=a-work", tokens.alice!))).toEqual([TUNNELS["a-work"].model]);
  expect(await models(await call("/me/api/tags?tunnel=a-home", tokens.alice!))).toEqual([TUNNELS["a-home"].model]);
  // ?tunnel= is the relay's: the daemon's upstream never sees it.
  expect(upstreams.get("a-home")!.requests.at(-1)!.path).toBe("/api/tags");
  // The second tunnel of a subject is reachable by id too (a JWT owns every tunnel bound to its subject).
  expect(await models(await call("/t/a-work/api/tags", tokens.alice!))).toEqual([TUNNELS["a-work"].model]);

  const none = await call("/me/api/tags", tokens.alice!);
  expect(none.status).toBe(400);
  expect(((await none.json()) as { error: string }).error).toMatch(/2 tunnels \(a-home, a-work\).*x-c2l-tunnel.*\?tunnel=ID/);
  const openai = await call("/me/v1/models", tokens.alice!);
  expect(openai.status).toBe(400);
  expect(((await openai.json()) as { error: { message: string; code: string } }).error).toMatchObject({ code: "bad_request", message: expect.stringContaining("a-home, a-work") });
  const both = await call("/me/api/tags?tunnel=a-home", tokens.alice!, { "x-c2l-tunnel": "a-work" });
  expect(both.status).toBe(400);
});

test("the tunnel choice stays at the relay: neither X-C2L-Tunnel nor any ?tunnel= reaches the daemon's upstream; two different ?tunnel= are a 400", async () => {
  const up = upstreams.get("a-home")!;
  const generate = (query: string, headers: Record<string, string> = {}) =>
    fetch(`${relay.url}/me/api/generate${query}`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.alice!}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({ model: TUNNELS["a-home"].model, prompt: "hi", stream: false }),
    });
  // (A generate request goes to the upstream as it came: its query and headers are what the daemon received.)
  for (const [query, headers] of [
    ["?tunnel=a-home", { "x-c2l-tunnel": "a-home" }],
    ["?tunnel=a-home&tunnel=a-home&keep=1", {}],
    ["?%74unnel=a-home&keep=1", {}],
  ] as const) {
    const before = up.requests.length;
    const res = await generate(query, headers);
    expect({ query, status: res.status }).toEqual({ query, status: 200 });
    const seen = up.requests.slice(before).filter((r) => r.path === "/api/generate");
    expect(seen.length).toBe(1);
    expect({ query, search: seen[0]!.search.replace(/^\?keep=1$/, ""), header: seen[0]!.headers["x-c2l-tunnel"] }).toEqual({ query, search: "", header: undefined });
  }
  const split = await generate("?tunnel=a-home&tunnel=a-work");
  expect(split.status).toBe(400);
  expect(((await split.json()) as { error: string }).error).toMatch(/a-home.*a-work/);
});

test("a token in the query string is refused with a clear error, even a valid JWT; so is a client key on /me/", async () => {
  for (const q of ["access_token", "token"]) {
    const r = await fetch(`${relay.url}/me/api/tags?${q}=${tokens.bob}`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toContain(`a token in the URL (?${q}=) is never accepted`);
    // Not even alongside a good header: the call that put it in the URL already leaked it.
    expect((await call(`/ollama/api/tags?${q}=${tokens.bob}`, tokens.bob!)).status).toBe(400);
  }
  const key = await call("/me/api/tags", CLIENT_KEY);
  expect(key.status).toBe(401);
  expect(((await key.json()) as { error: string }).error).toContain("not a client key: with a client key call /t/ID/");
  const none = await fetch(`${relay.url}/me/api/tags`);
  expect(none.status).toBe(401);
  expect(none.headers.get("www-authenticate")).toContain("Bearer");
});

test("a POST to /me/ with neither Content-Length nor Transfer-Encoding is 400 naming it, as on /t/ID/; nothing reaches a daemon", async () => {
  const before = [...upstreams.values()].reduce((n, u) => n + u.requests.length, 0);
  const r = await rawRequest(relay.port, "POST", "/me/api/generate", { headers: { authorization: `Bearer ${tokens.bob}`, "content-type": "application/json" } });
  expect({ status: r.status, code: r.headers["x-c2l-error-code"], connection: r.headers.connection }).toEqual({ status: 400, code: "bad_request", connection: "close" });
  expect(JSON.parse(r.body).error).toContain("has no Content-Length or Transfer-Encoding");
  expect([...upstreams.values()].reduce((n, u) => n + u.requests.length, 0)).toBe(before);
});

test("/me/ refusals (a bad JWT, an ambiguous tunnel, a token in the URL) are counted in requests_total{status}, like every /t/ID refusal", async () => {
  const counts = async () => {
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    const n = (s: string) => Number(new RegExp(`^cloudtolocalllm_relay_requests_total\\{status="${s}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
    return { 400: n("400"), 401: n("401") };
  };
  const before = await counts();
  expect((await call("/me/api/tags", "not-a-jwt")).status).toBe(401);
  expect((await call("/ollama/api/tags", "not-a-jwt")).status).toBe(401);
  expect((await call("/me/api/tags", tokens.alice!)).status).toBe(400);
  expect((await fetch(`${relay.url}/me/api/tags?access_token=x`)).status).toBe(400);
  expect(await counts()).toEqual({ 400: before[400] + 2, 401: before[401] + 2 });
});
