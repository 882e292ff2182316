// A relay credential in the URL's query, through a real relay and daemon: refused at the relay (400 in the caller's
// dialect, naming the parameter, never the value) on /t/ID/ as on /me/, in any spelling, with or without a header;
// the call reaches neither the agent nor the upstream (whose own log prints the query), and no log holds the secret.
import { afterAll, beforeAll, expect, test } from "bun:test";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { CLIENT_KEY, TUNNEL_ID, AGENT_TOKEN, ADMIN_TOKEN, relayToml } from "../tunnel/helpers.ts";
import { startTunnelRig, type TunnelRig } from "../tunnel/tunnel-rig.ts";
import { startTestIssuer, type TestIssuer } from "./test-issuer.ts";

const SUBJECT = "sub-url-alice";
let issuer: TestIssuer;
let rig: TunnelRig;
let jwt: string;

beforeAll(async () => {
  issuer = await startTestIssuer();
  // The tests' tunnel, owned by a signed-in user too: /me/ reaches it with a JWT.
  const toml = relayToml().replace(`id = "${TUNNEL_ID}"\n`, `id = "${TUNNEL_ID}"\nsubject = "${SUBJECT}"\n`) + `\n${issuer.oidcToml}`;
  rig = await startTunnelRig({ relayToml: toml });
  jwt = await issuer.sign(SUBJECT);
}, 40_000);
afterAll(async () => {
  await rig?.stop();
  issuer?.stop();
});

const pct = (s: string) => [...s].map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
const chat = JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false });
const bearer = (t: string) => ({ authorization: `Bearer ${t}`, "content-type": "application/json" });
const secrets = () => [CLIENT_KEY, AGENT_TOKEN, ADMIN_TOKEN, jwt];
/** Whether any request the upstream got held one of the secrets (its query or headers, raw or decoded). */
const upstreamSaw = () => rig.fake.requests.some((r) => secrets().some((s) => (r.search + decodeURIComponent(r.search) + JSON.stringify(r.headers)).includes(s)));

test("a relay key or token in the URL's query is 400 at the relay on /t/ID/ and /me/, in every spelling and dialect, with or without a header; nothing reaches the upstream or a log", async () => {
  const before = rig.fake.requests.length;
  const t = `/t/${TUNNEL_ID}`;
  const calls: [string, string, RequestInit, string][] = [
    // Beside the header that authenticates it (before, the call ran, and the key reached the upstream's log).
    ["/t/ access_token", `${t}/api/tags?access_token=${CLIENT_KEY}`, { headers: bearer(CLIENT_KEY) }, "?access_token="],
    ["/t/ key in another name", `${t}/api/chat?key=${CLIENT_KEY}`, { method: "POST", headers: bearer(CLIENT_KEY), body: chat }, "?key=…"],
    ["/t/ escaped", `${t}/api/tags?api_key=${pct(CLIENT_KEY)}`, { headers: bearer(CLIENT_KEY) }, "?api_key=…"],
    ["/t/ escaped twice", `${t}/api/tags?api_key=${encodeURIComponent(pct(CLIENT_KEY))}`, { headers: bearer(CLIENT_KEY) }, "?api_key=…"],
    ["/t/ Bearer in a value", `${t}/api/tags?auth=Bearer%20${CLIENT_KEY}`, { headers: bearer(CLIENT_KEY) }, "?auth=…"],
    ["/t/ the key as a name", `${t}/api/tags?${CLIENT_KEY}`, { headers: bearer(CLIENT_KEY) }, "as a parameter's name"],
    ["/t/ the agent token", `${t}/api/tags?t=${AGENT_TOKEN}`, { headers: bearer(CLIENT_KEY) }, "?t=…"],
    ["/t/ the admin token", `${t}/api/tags?a=${ADMIN_TOKEN}`, { headers: bearer(CLIENT_KEY) }, "?a=…"],
    ["/t/ a JWT", `${t}/api/tags?state=${jwt}`, { headers: bearer(jwt) }, "?state=…"],
    // Alone, no header.
    ["/t/ alone", `${t}/api/tags?key=${CLIENT_KEY}`, {}, "?key=…"],
    // /me/ refused ?access_token= by name; any other name holding the key or the JWT went on to the agent.
    ["/me/ another name", `/me/api/tags?x=${CLIENT_KEY}`, { headers: bearer(jwt) }, "?x=…"],
    ["/me/ the JWT", `/me/api/tags?id=${pct(jwt)}`, { headers: bearer(jwt) }, "?id=…"],
    ["/ollama/ access_token", `/ollama/api/tags?access_token=${jwt}`, { headers: bearer(jwt) }, "?access_token="],
  ];
  for (const [what, path, init, where] of calls) {
    const r = await fetch(`${rig.relay.url}${path}`, init);
    const text = await r.text();
    expect({ what, status: r.status, code: r.headers.get("x-c2l-error-code") }).toEqual({ what, status: 400, code: "bad_request" });
    // Ollama's shape ({"error": "…"}), naming the parameter and never the value.
    expect({ what, names: (JSON.parse(text) as { error: string }).error.includes(where) }).toEqual({ what, names: true });
    for (const s of secrets()) expect(text).not.toContain(s);
  }

  // The official clients, each in its dialect: a query on every call (openai's defaultQuery), a key in it.
  const openai = new OpenAI({ baseURL: `${rig.relay.url}${t}/v1`, apiKey: CLIENT_KEY, defaultQuery: { api_key: CLIENT_KEY }, maxRetries: 0 });
  const o = await openai.chat.completions.create({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }).then(() => null, (e: unknown) => e);
  expect(o).toBeInstanceOf(OpenAI.BadRequestError);
  expect((o as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("?api_key=…");
  const anthropic = new Anthropic({ baseURL: `${rig.relay.url}${t}`, apiKey: CLIENT_KEY, defaultQuery: { token: CLIENT_KEY }, maxRetries: 0 });
  const a = await anthropic.messages.create({ model: "llama3.2:1b", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }).then(() => null, (e: unknown) => e);
  expect(a).toBeInstanceOf(Anthropic.BadRequestError);
  expect((a as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });

  // None reached the upstream; the same calls without the query are served.
  expect(rig.fake.requests.length).toBe(before);
  expect(upstreamSaw()).toBe(false);
  expect((await fetch(`${rig.relay.url}${t}/api/tags?stream=true`, { headers: bearer(CLIENT_KEY) })).status).toBe(200);
  expect((await fetch(`${rig.relay.url}/me/api/tags`, { headers: bearer(jwt) })).status).toBe(200);
  expect(upstreamSaw()).toBe(false);
  // No log holds a secret: the relay's, nor the daemon's (its request log, the broker's lines).
  const logs = rig.relay.stdout() + rig.relay.stderr() + rig.daemon.stdout() + rig.daemon.stderr();
  for (const s of secrets()) expect(logs).not.toContain(s);
}, 30_000);
