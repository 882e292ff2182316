// An upstream whose probes answer but whose generations never start, through a real daemon: failures_before_down
// first-byte timeouts in a row take it down (its fallback serves at once from then on), and after down_interval it is
// let back on probation, where one more timeout takes it down again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import { apiToken, removeHome, startDaemon, TEST_DAEMON_TOML, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";

let stuck: ReturnType<typeof Bun.serve>;
/** Generations the stuck upstream received (each waits until the broker gives up on it). */
let stuckGenerations = 0;
let good: FakeOllama;
let d: DaemonProc;
let token: string;

beforeAll(async () => {
  stuck = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.12.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:latest", model: "m:latest", size: 1, digest: "x", modified_at: "2026-01-01T00:00:00Z", details: {} }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      stuckGenerations++;
      // A model that never starts answering (a GPU hung, a load that never ends): nothing until the broker hangs up.
      await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve()));
      return new Response(null, { status: 499 });
    },
  });
  good = await startFakeOllama({ models: ["m:latest"], loaded: [] });
  d = await startDaemon({
    config:
      `${TEST_DAEMON_TOML}[health]\ninterval = "60s"\ndown_interval = "4s"\nfailures_before_down = 2\n` +
      `[[upstreams]]\nname = "stuck"\nurl = "http://127.0.0.1:${stuck.port}"\npriority = 1\nfirst_byte_timeout = "1s"\n` +
      `[[upstreams]]\nname = "good"\nurl = "${good.url}"\npriority = 2\n`,
    waitFor: ["api", "broker"],
  });
  token = await apiToken(d);
  await untilUpstreamsUp(d, token, 2);
}, 30_000);

afterAll(async () => {
  await d?.stop();
  stuck?.stop(true);
  await good?.stop();
  if (d) removeHome(d.home);
});

async function state(name: string): Promise<{ state: string; lastError: string | null }> {
  const all = (await (await fetch(`${d.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { name: string; state: string; lastError: string | null }[];
  return all.find((u) => u.name === name)!;
}

const chat = () => new Ollama({ host: d.urls.broker! }).chat({ model: "m", messages: [{ role: "user", content: "hi" }], stream: false });

test("two first-byte timeouts in a row take it down; the next call goes to the fallback first; after down_interval, probation, and one more timeout takes it down again", async () => {
  // Each call waits first_byte_timeout on the stuck one, then fails over to the good one.
  for (let i = 1; i <= 2; i++) {
    expect((await chat()).done).toBe(true);
    expect(stuckGenerations).toBe(i);
  }
  await until(async () => (await state("stuck")).state === "down", 10_000, "stuck to be down");
  expect((await state("stuck")).lastError).toBe('2 requests in a row got no first byte within first_byte_timeout (1s): its probes answer, its generations do not start');
  // Down: tried last, so the good one answers at once and the stuck one gets nothing.
  const before = good.requests.filter((r) => r.path === "/api/chat").length;
  expect((await chat()).done).toBe(true);
  expect(stuckGenerations).toBe(2);
  expect(good.requests.filter((r) => r.path === "/api/chat").length).toBe(before + 1);
  // After down_interval its probes let it back, on probation (degraded: tried first again by its priority)...
  await until(async () => (await state("stuck")).state === "degraded", 15_000, "stuck on probation");
  expect((await state("stuck")).lastError).toContain("on probation after 2 requests in a row got no first byte");
  // ... where a single timeout takes it down again.
  expect((await chat()).done).toBe(true);
  expect(stuckGenerations).toBe(3);
  await until(async () => (await state("stuck")).state === "down", 10_000, "stuck down again");
}, 40_000);
