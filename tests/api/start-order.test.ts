// The README's start order through a real daemon: daemon first, a 502 while Ollama is absent, Ollama, `reconnect`: up, not critical, no false alert.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DaemonStatus } from "../../src/core/contracts.ts";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { runCli } from "./cli.ts";

let d: DaemonProc;
let ollama: FakeOllama | null = null;
let port: number;
let api: string;
let token: string;

beforeAll(async () => {
  const dead = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  port = dead.port!;
  dead.stop(true);
  // Only `reconnect` checks again (intervals of a minute). The guards that would hide the bug are at their strictest:
  // one request is enough to judge quality and the error rate; a low quality alerts after 1 s.
  d = await startDaemon({
    config:
      TEST_DAEMON_TOML +
      `[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:${port}"\n` +
      `[health]\ninterval = "60s"\ndown_interval = "60s"\n[quality]\nmin_requests = 1\n` +
      `[alerts]\nnotifications = false\nquality_after = "1s"\nerror_rate_min_requests = 1\nupstream_down_after = "10m"\n`,
    waitFor: ["api", "broker"],
  });
  api = d.urls.api!;
  token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
}, 60_000);
afterAll(async () => {
  await d?.stop();
  await ollama?.stop();
  if (d) removeHome(d.home);
});

async function status(): Promise<DaemonStatus> {
  const r = await fetch(`${api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } });
  expect(r.status).toBe(200);
  return (await r.json()) as DaemonStatus;
}

test("a 502 served while Ollama was absent is not its quality once it is up: not critical, no alert", async () => {
  await until(async () => (await status()).upstreams[0]!.state === "down", 15_000, "the check at start to find nothing");
  const r = await fetch(`${d.urls.broker}/api/generate`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }) });
  expect(r.status).toBe(502);
  // Let the daemon's rules see that request (the error-rate check runs a second after a request).
  await Bun.sleep(1500);

  ollama = await startFakeOllama({ port });
  const rc = await runCli(d.env, "reconnect", "--url", api);
  expect(rc.code).toBe(0);
  const s = await status();
  expect(s.upstreams[0]).toMatchObject({ state: "up", quality: "excellent" });
  expect(s.upstreams[0]!.metrics.errorRate).toBe(0);
  // The failure is still counted since start, only not against the upstream's quality.
  expect(s.upstreams[0]!.metrics.totalErrors).toBe(1);
  expect(s.quality).toBe("excellent");
  expect(s.verdict.level).toBe("ok");

  // Past quality_after and the error-rate re-check: nothing was raised (before: a critical quality alert).
  await Bun.sleep(2500);
  const later = await status();
  expect(later.upstreams[0]!.quality).toBe("excellent");
  expect(later.alerts).toEqual([]);
  expect(d.stderr()).not.toContain("alert raised");
  const table = await runCli(d.env, "status", "--url", api);
  expect(table.out).toMatch(/^local\s+up\s+excellent\s/m);
  expect(table.out).not.toContain("100.0%");
  expect(table.out).not.toContain("critical");
}, 60_000);
