// Requests waiting in the broker's queue when a reload changes the upstreams, through a real daemon (SIGHUP, as
// `systemctl reload` sends): they are routed by the new table, never sent to an upstream the reload removed; one whose
// model no upstream of the new config has gets a clear error in its caller's dialect.
import { afterAll, afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { apiToken, removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { holdingUpstream, type HoldingUpstream } from "../helpers/holding-upstream.ts";
import { until } from "../helpers/until.ts";

let d: DaemonProc | null = null;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
  d = null;
  for (const c of cleanups.splice(0)) await c();
});
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const upstream = (name: string, url: string, extra = "") => `[[upstreams]]\nname = "${name}"\nurl = "${url}"\n${extra}`;

function holding(): HoldingUpstream {
  const h = holdingUpstream();
  cleanups.push(() => h.stop());
  return h;
}

/** Requests waiting in the daemon's queue now. */
async function waiting(token: string): Promise<number> {
  const st = (await (await fetch(`${d!.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } };
  return st.queue?.waiting ?? 0;
}

/** Writes the config and waits until the daemon applied it. */
async function reload(text: string): Promise<void> {
  const before = d!.count(/configuration reloaded/);
  writeFileSync(d!.configFile, text);
  d!.proc.kill("SIGHUP");
  await until(() => d!.count(/configuration reloaded/) > before, 10_000, "the reload");
}

test("a reload that replaces the upstream: the two requests waiting for it go to the new one, none to the removed one (ollama client)", async () => {
  const a = holding();
  const b = holding();
  d = await startDaemon({ config: TEST_DAEMON_TOML + upstream("a", a.url, "max_parallel = 1\n"), waitFor: ["api", "broker"] });
  const token = await apiToken(d);
  const ollama = new Ollama({ host: d.urls.broker! });
  const gen = async () => {
    let text = "";
    for await (const part of await ollama.generate({ model: "m", prompt: "hi", stream: true })) text += part.response;
    return text;
  };
  const runs = [gen(), gen(), gen()];
  await until(async () => a.open === 1 && (await waiting(token)) === 2, 10_000, "one request on a, two waiting");
  await reload(TEST_DAEMON_TOML + upstream("b", b.url, "max_parallel = 1\n"));
  // Routed by the new table: one of the two starts on b at once (its slot is free); before, both waited for a's.
  await until(() => b.open === 1, 10_000, "a waiting request to start on b");
  expect(await waiting(token)).toBe(1);
  b.releaseAll();
  // The first on b ended (it counts down before its answer ends), and the queue gave b's slot to the other.
  await until(async () => (await waiting(token)) === 0 && b.open === 1, 10_000, "the other waiting request to start on b");
  // The request already running on a finishes there; nothing else reaches a.
  a.releaseAll();
  b.releaseAll();
  expect(await Promise.all(runs)).toEqual(["x", "x", "x"]);
  expect(a.open).toBe(0);
}, 30_000);

test("a reload that leaves no upstream with the model: the requests waiting go to the new upstream, whose 404 naming it each caller's client raises", async () => {
  const a = holding();
  const other: FakeOllama = await startFakeOllama({ models: ["other:1b"] });
  cleanups.push(() => other.stop());
  d = await startDaemon({ config: TEST_DAEMON_TOML + upstream("a", a.url, "max_parallel = 1\n"), waitFor: ["api", "broker"] });
  const token = await apiToken(d);
  const running = fetch(`${d.urls.broker}/api/generate`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "hi" }) });
  await until(() => a.open === 1, 10_000, "one request on a");
  const ollama = new Ollama({ host: d.urls.broker! });
  const openai = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "ollama", maxRetries: 0 });
  const viaOllama = ollama.chat({ model: "m", messages: [{ role: "user", content: "hi" }], stream: false }).then(
    () => null,
    (e: { status_code?: number; error?: string }) => ({ status: e.status_code, error: e.error }),
  );
  const viaOpenai = openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] }).then(
    () => null,
    (e: { status?: number; code?: string; message?: string }) => ({ status: e.status, code: e.code, message: e.message }),
  );
  await until(async () => (await waiting(token)) === 2, 10_000, "two requests waiting");
  await reload(TEST_DAEMON_TOML + upstream("other", other.url));
  expect(await viaOllama).toEqual({ status: 404, error: expect.stringContaining('model "m" not found') });
  expect(await viaOpenai).toMatchObject({ status: 404, code: "model_not_found", message: expect.stringContaining('model "m" not found') });
  // Both were sent to the new upstream (a request without a key list goes to the upstreams when none lists its model).
  expect(other.requests.filter((r) => r.path === "/api/chat" || r.path === "/v1/chat/completions").length).toBe(2);
  a.releaseAll();
  expect((await running).status).toBe(200);
}, 30_000);

test("a reload that disables the only upstream: the requests waiting get 502 `no upstream is enabled` in their caller's dialect, and never reach it", async () => {
  const a = holding();
  d = await startDaemon({ config: TEST_DAEMON_TOML + upstream("a", a.url, "max_parallel = 1\n"), waitFor: ["api", "broker"] });
  const token = await apiToken(d);
  const running = fetch(`${d.urls.broker}/api/generate`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "hi" }) });
  await until(() => a.open === 1, 10_000, "one request on a");
  const post = (path: string, body: unknown) => fetch(`${d!.urls.broker}${path}`, { method: "POST", body: JSON.stringify(body) });
  const waitingOllama = post("/api/generate", { model: "m", prompt: "hi", stream: false });
  const waitingOpenai = post("/v1/completions", { model: "m", prompt: "hi" });
  await until(async () => (await waiting(token)) === 2, 10_000, "two requests waiting");
  await reload(TEST_DAEMON_TOML + upstream("a", a.url, "max_parallel = 1\nenabled = false\n"));
  const [o, v] = await Promise.all([waitingOllama, waitingOpenai]);
  expect({ status: o.status, body: await o.json() }).toEqual({ status: 502, body: { error: "no upstream is enabled in the broker's configuration" } });
  expect({ status: v.status, body: await v.json() }).toMatchObject({ status: 502, body: { error: { message: "no upstream is enabled in the broker's configuration" } } });
  // The one running finishes where it started.
  expect(a.open).toBe(1);
  a.releaseAll();
  expect((await running).status).toBe(200);
}, 30_000);
