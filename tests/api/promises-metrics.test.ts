// The daemon's /metrics against what happened, through a real daemon and a fake upstream: the health verdict's series
// keeps its labels while the problem stays the same, so a Prometheus alert rule on it does not flap with every request.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

setDefaultTimeout(60_000);
let fake: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 1 });
  d = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`, waitFor: ["api", "broker"] });
});
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

const verdictLine = async () => (await (await fetch(`${d.urls.api}/metrics`)).text()).split("\n").find((l) => l.startsWith("cloudtolocalllm_health_verdict{"));
const failing = () => fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false }) });

test("an upstream failing requests while up: the verdict's series has the same labels after more failures (the figures stay in status)", async () => {
  fake.options.failWith503 = true;
  for (let i = 0; i < 6; i++) expect((await failing()).status).toBe(503);
  // Quality is re-evaluated within a second of traffic.
  const first = await until(async () => {
    const l = await verdictLine();
    return l?.includes('level="critical"') ? l : null;
  }, 10_000, "the critical verdict in /metrics");
  expect(first).toContain('upstream="local"');
  for (let i = 0; i < 4; i++) expect((await failing()).status).toBe(503);
  const token = (await Bun.file(`${d.home}/.config/cloudtolocalllm/api-token`).text()).trim();
  // The status's own words still carry the figures: 10 of 10 now.
  await until(async () => {
    const s = (await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { verdict: { reason: string } };
    return s.verdict.reason.includes("10 of 10 requests failed") || null;
  }, 10_000, "status to say 10 of 10 requests failed");
  expect(await verdictLine()).toBe(first);
  expect(first).not.toMatch(/\d+ of \d+/);
});

test("an upstream's own words in its health failure (llama.cpp's /health status, 1 MB of it) are cut short: status, the log line and /metrics stay small", async () => {
  const huge = "overloaded ".repeat(100_000);
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: huge }) });
  let d2: DaemonProc | undefined;
  try {
    d2 = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "big"\nkind = "llamacpp"\nurl = "http://127.0.0.1:${server.port}"\n`, waitFor: ["api", "broker"] });
    const line = await d2.waitFor(/upstream state changed upstream=big/, 10_000);
    const token = (await Bun.file(`${d2.home}/.config/cloudtolocalllm/api-token`).text()).trim();
    const s = (await (await fetch(`${d2.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { upstreams: { lastError: string }[] };
    const metrics = await (await fetch(`${d2.urls.api}/metrics`)).text();
    expect(s.upstreams[0]!.lastError).toStartWith('/health says "overloaded overloaded');
    expect({ lastError: s.upstreams[0]!.lastError.length < 1000, log: line.length < 1000, metrics: metrics.length < 100_000 }).toEqual({ lastError: true, log: true, metrics: true });
  } finally {
    await d2?.stop();
    server.stop(true);
    if (d2) removeHome(d2.home);
  }
});
