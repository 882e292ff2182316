// What the daemon's /metrics says about the broker's own refusals, against what the callers got (a real daemon, a
// fake upstream, keys through the control API): each refusal counted by its code; none of them reaches the upstream.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";

setDefaultTimeout(60_000);
let fake: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
  d = await startDaemon({ config: `${TEST_DAEMON_TOML.replace("[proxy]\n", '[proxy]\nrequire_key = "always"\n')}[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`, waitFor: ["api", "broker"] });
});
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

test("c2l_refused_total counts the broker's own refusals by code: a missing key (401), a model off the key's list (403), over its rpm (429)", async () => {
  const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  const made = await fetch(`${d.urls.api}/api/v1/keys`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "script", rpm: 1, models: ["llama*"] }) });
  const { key } = (await made.json()) as { key: string };
  const chat = (auth: string | null, model = "llama3.2:1b") =>
    fetch(`${d.urls.broker}/api/chat`, { method: "POST", headers: auth ? { authorization: `Bearer ${auth}` } : {}, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: false }) });
  // Chat calls only: a health check's reads may fall in the same seconds.
  const calls = () => fake.requests.filter((r) => r.path === "/api/chat").length;
  const before = calls();
  expect((await chat(key)).status).toBe(200);
  expect((await chat(key)).status).toBe(429);
  expect((await chat(key)).status).toBe(429);
  expect((await chat(key, "qwen:0.5b")).status).toBe(403);
  for (let i = 0; i < 3; i++) expect((await chat(null)).status).toBe(401);
  expect(calls() - before).toBe(1);
  const text = await (await fetch(`${d.urls.api}/metrics`)).text();
  const refused = Object.fromEntries([...text.matchAll(/^c2l_refused_total\{code="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  expect(refused).toEqual({ rate_limited: 2, forbidden: 1, unauthorized: 3 });
});
