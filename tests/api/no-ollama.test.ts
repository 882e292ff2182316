// A real daemon whose only upstream refuses connections (no Ollama running): status, the `status` CLI and the tray say so;
// then Ollama starts, and the Quick start says what follows: up at `reconnect`, excellent, no alert for the outage.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DaemonStatus } from "../../src/core/contracts.ts";
import { buildView } from "../../tray/state.ts";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { runCli } from "./cli.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

let d: DaemonProc;
let api: string;
let token: string;
let port: number;
let ollama: FakeOllama | undefined;

beforeAll(async () => {
  const dead = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  port = dead.port!;
  dead.stop(true);
  // Default [health] (failures_before_down = 3, interval 10 s): the check made at start must be enough.
  d = await startDaemon({
    config: TEST_DAEMON_TOML + `[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:${port}"\n`,
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

test("the refused upstream is down after the first check (not unknown), the overall quality critical; CLI and tray agree", async () => {
  // Waits for the check made at start to finish, whatever it concluded; no later check runs for 10 s.
  let s = await status();
  const end = Date.now() + 15_000;
  while (s.upstreams[0]!.lastCheck === null && Date.now() < end) {
    await Bun.sleep(50);
    s = await status();
  }
  expect(s.upstreams[0]).toMatchObject({ name: "local", state: "down", quality: "down", lastError: "connection refused" });
  expect(s.quality).toBe("critical");

  const table = await runCli(d.env, "status", "--url", api);
  expect(table.code).toBe(0);
  expect(table.out).toContain("· quality critical");
  expect(table.out).toMatch(/^local\s+down\s+down\s+/m);
  expect(table.out).not.toContain("excellent");

  const json = await runCli(d.env, "status", "--json", "--url", api);
  expect(JSON.parse(json.out).quality).toBe("critical");

  const tray = buildView({ status: s, linking: false, lastAlert: null, compatWarning: null, notifications: true, actionError: null, trayVersion: "3.0.0", apiBase: api });
  expect(tray.state).toBe("critical");
  expect(tray.tooltip.body).not.toContain("excellent");
  // The verdict's reason and fix first, then the upstream without figures from before it was down.
  expect(tray.tooltip.body.split("\n").slice(0, 2)).toEqual(["local is down: connection refused — is Ollama running? `systemctl --user start ollama` or `ollama serve`", "local: down"]);
}, 60_000);

test("Quick start: Ollama started later comes up at `reconnect`, excellent, and the 502s served meanwhile raise no alert", async () => {
  // Apps keep asking while Ollama is away (a chat client retrying, Open WebUI's model list): each gets its 502, more than
  // [alerts] error_rate_min_requests of them, all failed.
  for (let i = 0; i < 6; i++) {
    const chat = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }) });
    expect(chat.status).toBe(502);
    await chat.text();
  }
  // The rate check those failures schedule (a second after them) has run: a down upstream's failures are its outage.
  await Bun.sleep(1500);
  ollama = await startFakeOllama({ port, models: ["llama3.2:1b"] });
  const r = await runCli(d.env, "reconnect", "--url", api);
  expect(r).toMatchObject({ code: 0, out: "local: up\n" });
  const s = await status();
  expect(s.upstreams[0]).toMatchObject({ state: "up", quality: "excellent" });
  expect(s.quality).toBe("excellent");
  const chat = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false }) });
  expect(chat.status).toBe(200);
  await chat.text();
  // The rate check after that request too: still nothing raised, ever (upstream_down_after, 30 s, was not reached).
  await Bun.sleep(1500);
  expect((await status()).alerts).toEqual([]);
  const raised = (await (await fetch(`${api}/api/v1/events?type=alert.raised`)).json()) as unknown[];
  expect(raised).toEqual([]);
  expect((await runCli(d.env, "status", "--url", api)).out).toContain("· quality excellent");
}, 60_000);
