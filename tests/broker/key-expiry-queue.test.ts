// Through a real daemon: a key that expires while calls of its wait in the broker's queue has them refused when it
// expires, in each caller's dialect, not when their turn comes (which a long call holding the one slot would delay).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { apiToken, createKey, removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";

let fake: FakeOllama;
let d: DaemonProc;
let token: string;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b"], tokens: 3 });
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML.replace("[proxy]\n", "[proxy]\nrequire_key = \"always\"\n")}[health]\ninterval = "60s"\n[[upstreams]]\nname = "one"\nurl = "${fake.url}"\nmax_parallel = 1\n`,
    waitFor: ["api", "broker"],
  });
  token = await apiToken(d);
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

test("a key that expires while its calls wait in the queue: they are refused when it expires, in each caller's dialect, while its running call still runs", async () => {
  const key = createKey(d, "short", "--expires", "90m");
  // The CLI's shortest expiry is a minute: the key's record is moved to expire a few seconds from now (the daemon
  // watches the keys file and reads the change).
  const file = join(d.home, ".local/state/cloudtolocalllm/keys.json");
  const expiresAt = new Date(Date.now() + 4000).toISOString();
  const keys = JSON.parse(readFileSync(file, "utf8")) as { keys: { name: string; expires_at: string | null }[] };
  keys.keys.find((k) => k.name === "short")!.expires_at = expiresAt;
  writeFileSync(file, JSON.stringify(keys));
  await until(async () => {
    const r = (await (await fetch(`${d.urls.api}/api/v1/keys`, { headers: { authorization: `Bearer ${token}` } })).json()) as { name: string; expires_at: string | null }[];
    return r.some((k) => k.name === "short" && k.expires_at === expiresAt);
  }, 5000, "the daemon to read the key's new expiry");

  // The key's running call streams for a minute (a token a second), holding the one slot.
  fake.options.tokens = 60;
  fake.options.tokenDelayMs = 1000;
  const stopRunning = new AbortController();
  const running = fetch(`${d.urls.broker}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: "m:1b", prompt: "running", stream: true }), signal: stopRunning.signal })
    .then((r) => r.text())
    .catch((e: Error) => e);
  try {
    await until(() => fake.concurrency.now === 1, 5000, "the key's call to run");
    let settled = 0;
    const waiting = fetch(`${d.urls.broker}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: "m:1b", prompt: "waiting", stream: false }) }).finally(() => settled++);
    const anthropic = new Anthropic({ baseURL: d.urls.broker, apiKey: key, maxRetries: 0 });
    const messages = anthropic.messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "anthropic-waiting" }] }).catch((e) => e).finally(() => settled++);
    await until(async () => ((await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } }).queue?.waiting === 2, 5000, "both calls to wait");
    // Before: both waited for the running call's slot (a minute) and were refused only when it was given back.
    await until(() => settled === 2, 20_000, "the waiting calls to be refused as the key expires");
    expect(fake.concurrency.now).toBe(1);
    const message = `the API key "short" expired at ${expiresAt} while its request waited in the queue`;
    const w = await waiting;
    expect([w.status, ((await w.json()) as { error: string }).error]).toEqual([401, message]);
    const m = await messages;
    expect(m).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(m.error).toEqual({ type: "error", error: { type: "authentication_error", message } });
  } finally {
    stopRunning.abort();
  }
  await running;
  await until(() => fake.concurrency.now === 0, 5000, "the running call to be let go");
  const asked = JSON.stringify(fake.requests.map((x) => x.json));
  expect([asked.includes('"waiting"'), asked.includes("anthropic-waiting")]).toEqual([false, false]);
}, 60_000);
