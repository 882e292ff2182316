// docs/broker.md, Routing: "Disabled upstreams are never tried." Attacked with a real daemon whose disabled upstream (a
// paid service, a box being retired) holds a model the enabled one lacks: no route sends it a prompt, a listing, a
// management call or a pass-through, neither by the model's name, an alias of it, nor as failover when the enabled one fails.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { apiToken, BUN, REPO, TEST_DAEMON_TOML, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

let on: FakeOllama;
let off: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  on = await startFakeOllama({ models: ["llama3.2:1b"] });
  off = await startFakeOllama({ models: ["llama3.2:1b", "paid:1b"] });
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[[upstreams]]
name = "on"
url = "${on.url}"
[[upstreams]]
name = "off"
url = "${off.url}"
enabled = false
[[aliases]]
name = "gpt-4o"
model = "paid:1b"
`,
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await on?.stop();
  await off?.stop();
  if (d) removeHome(d.home);
});

/** Everything the disabled upstream was asked, health probes (its version, model lists) included. */
const asked = () => off.requests.map((r) => `${r.method} ${r.path}`);

test("a disabled upstream gets no health check: not at start, not on POST /upstreams/NAME/check (409 naming enabled = false), reconnect or the dashboard's check, and doctor names it without probing it", async () => {
  const token = await apiToken(d);
  // The enabled one was checked meanwhile (a health check ran), the disabled one never.
  await until(() => on.requests.some((r) => r.path === "/api/version"), 10_000, "the enabled upstream's health check");
  expect(asked()).toEqual([]);
  const auth = { authorization: `Bearer ${token}` };
  const check = await fetch(`${d.urls.api}/api/v1/upstreams/off/check`, { method: "POST", headers: auth });
  expect(check.status).toBe(409);
  expect(((await check.json()) as { error: { message: string } }).error.message).toContain("enabled = false");
  expect((await fetch(`${d.urls.api}/api/v1/upstreams/on/check`, { method: "POST", headers: auth })).status).toBe(200);
  // Run beside this process's fake upstreams (a synchronous spawn would leave them unable to answer).
  const cli = async (...args: string[]) => {
    const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), ...args], { env: d.env, stdout: "pipe", stderr: "pipe" });
    const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    return { exitCode: p.exitCode, out };
  };
  const reconnect = await cli("reconnect");
  expect(reconnect.exitCode).toBe(0);
  expect(reconnect.out).toContain("off: disabled, not checked");
  const doctor = await cli("doctor", "--json");
  const lines = (JSON.parse(doctor.out) as { checks: { name: string; level: string; detail: string }[] }).checks;
  expect(lines.find((c) => c.name === 'Upstream "off"')).toMatchObject({ level: "ok", detail: "disabled (enabled = false): not checked" });
  expect(lines.find((c) => c.name === 'Upstream "on"')?.level).toBe("ok");
  expect(asked()).toEqual([]);
}, 30_000);

test("a disabled upstream gets no call of any kind: its model by name or alias, listings, show, management, pass-through, and no failover when the enabled one fails", async () => {
  const json = { "content-type": "application/json" };
  const chat = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: false });
  const calls: [string, string, RequestInit?][] = [
    ["its model", "/api/chat", { method: "POST", headers: json, body: chat("paid:1b") }],
    ["an alias of it", "/v1/chat/completions", { method: "POST", headers: json, body: chat("gpt-4o") }],
    ["Anthropic", "/v1/messages", { method: "POST", headers: { ...json, "anthropic-version": "2023-06-01" }, body: JSON.stringify({ model: "paid:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }) }],
    ["Responses", "/v1/responses", { method: "POST", headers: json, body: JSON.stringify({ model: "paid:1b", input: "hi" }) }],
    ["embed", "/api/embed", { method: "POST", headers: json, body: JSON.stringify({ model: "paid:1b", input: "x" }) }],
    ["show", "/api/show", { method: "POST", headers: json, body: JSON.stringify({ model: "paid:1b" }) }],
    ["delete", "/api/delete", { method: "DELETE", headers: json, body: JSON.stringify({ model: "paid:1b" }) }],
    ["pull", "/api/pull", { method: "POST", headers: json, body: JSON.stringify({ model: "paid:1b", stream: false }) }],
    ["pass-through", "/api/whatever", { method: "POST", headers: json, body: "{}" }],
    ["tags", "/api/tags"],
    ["ps", "/api/ps"],
    ["v1 models", "/v1/models"],
    ["v1 model", "/v1/models/paid:1b"],
  ];
  const listed: Record<string, boolean> = {};
  for (const [what, path, init] of calls) {
    const r = await fetch(`${d.urls.broker}${path}`, init);
    const text = await r.text();
    if (path === "/api/tags" || path === "/api/ps" || path === "/v1/models") listed[what] = text.includes("paid:1b");
  }
  expect(asked()).toEqual([]);
  // Its models are nobody's to list.
  expect(listed).toEqual({ tags: false, ps: false, "v1 models": false });
  // The enabled upstream failing is no reason to try the disabled one.
  on.options.failWith503 = true;
  try {
    const r = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", headers: json, body: chat("llama3.2:1b") });
    await r.text();
    expect(r.status).toBeGreaterThanOrEqual(500);
  } finally {
    on.options.failWith503 = false;
  }
  expect(asked()).toEqual([]);
  // The enabled one served what it has meanwhile (the calls above did reach a broker that routes).
  expect(on.requests.some((q) => q.method === "POST" && q.path === "/api/chat")).toBe(true);
}, 30_000);
