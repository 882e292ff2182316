// A downgrade to bridge-v1 bypasses nothing: a 1.x cloud (a stand-in written from its protocol) meets the same key, model and rate refusals as a v2 relay's caller.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { createKey, type DaemonProc } from "../helpers/daemon.ts";
import { startDaemon } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { startFakeBridge, type FakeBridge } from "./fake-bridge.ts";
import { cleanup, daemonToml, AGENT_TOKEN } from "./helpers.ts";

type Answer = { statusCode: number; headers: Record<string, string>; body: string };
let fake: FakeOllama;
let bridge: FakeBridge;
let d: DaemonProc;
const answers = new Map<string, (a: Answer) => void>();
let n = 0;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b", "other:7b"], loaded: ["m:1b"], tokens: 2 });
  bridge = startFakeBridge({
    onMessage(msg) {
      if (msg.type === "response") answers.get(String(msg.id))?.(msg.data as Answer);
    },
  });
  // Keys required of every caller, so the tunnel's too (under "auto" a tunnel caller needs none, on either protocol).
  const toml = daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${bridge.port}/ws/bridge`, tunnel: 'protocol = "bridge-v1"' }).replace("[proxy]\n", '[proxy]\nrequire_key = "always"\n');
  expect(toml).toContain('require_key = "always"');
  d = await startDaemon({ config: toml, env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN } });
  await d.waitFor(/tunnel: connected to the relay.*protocol=bridge-v1/);
}, 30_000);

afterAll(async () => {
  await d?.stop();
  if (d) cleanup(d.home);
  bridge?.stop();
  await fake?.stop();
});

/** One request as the 1.x cloud sends it: JSON message, the /ollama prefix already stripped, the body a JSON string. */
function ask(path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const id = `req-${++n}`;
  const p = new Promise<Answer>((r) => answers.set(id, r));
  const data = { method: body === undefined ? "GET" : "POST", path, headers: { "content-type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body) };
  bridge.socket().send(JSON.stringify({ type: "request", id, data, timestamp: new Date().toISOString() }));
  return p;
}
const generate = (headers: Record<string, string>, model = "m:1b") => ask("/api/generate", headers, { model, prompt: "hi", stream: false });

test("bridge-v1 requests need a key like any other; a key's model list and requests per minute hold; the cloud's own Authorization is no key", async () => {
  // No key: the 1.x cloud forwards its user's Auth0 bearer token, which is the relay's credential, never a gateway key.
  const none = await generate({ authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln" });
  expect(none.statusCode).toBe(401);
  expect(JSON.parse(none.body).error).toContain("an API key is required for callers through the tunnel");
  expect((await generate({ "x-api-key": "c2l_notakey_000000000000000000000000" })).statusCode).toBe(401);

  const only = createKey(d, "v1-only-m", "--models", "m:1b", "--rpm", "2");
  await until(async () => (await generate({ "x-api-key": only })).statusCode !== 401, 10_000, "the daemon to see the key");
  // That request was the key's first of this minute; the model list holds and the second one of the minute is served.
  expect((await generate({ "x-api-key": only }, "other:7b")).statusCode).toBe(403);
  const served = await generate({ "x-api-key": only });
  expect(served.statusCode).toBe(200);
  expect(JSON.parse(served.body).done).toBe(true);
  // The third of the minute: refused with Retry-After, as on this machine or through a v2 relay.
  const limited = await generate({ "x-api-key": only });
  expect(limited.statusCode).toBe(429);
  expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
  // And the path allowlist: model management stays refused even with a valid key.
  expect((await ask("/api/pull", { "x-api-key": only }, { model: "m:1b" })).statusCode).toBe(403);
  expect(d.proc.exitCode).toBeNull();
}, 40_000);
