// One verdict on every surface: a running Ollama killed → status (API and CLI), the tray's tooltip and menu over D-Bus and /metrics say why and what to do.
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import dbus from "dbus-next";
import type { DaemonStatus } from "../../src/core/contracts.ts";
import { requireTools } from "../helpers/requires.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { runCli } from "../api/cli.ts";
import { startPrivateBus, startWatcher, trayOnDaemon, until, type PrivateBus, type TrayProc } from "./private-bus.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["dbus-daemon"]);

const REASON = "connection refused — is Ollama running? `systemctl --user start ollama` or `ollama serve`";

let bus: PrivateBus;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let ollama: FakeOllama;
let daemon: DaemonProc;
let tray: TrayProc;
let client: dbus.MessageBus;
let api: string;
let token: string;

type Layout = [number, Record<string, { value: unknown }>, { value: Layout }[]];
function labels(l: Layout, out: string[] = []): string[] {
  if (l[1].label) out.push(String(l[1].label.value));
  for (const c of l[2]) labels(c.value, out);
  return out;
}

beforeAll(async () => {
  bus = await startPrivateBus();
  watcher = await startWatcher(bus.address);
  ollama = await startFakeOllama({ models: ["llama3.2:1b", "qwen2.5:0.5b"] });
  // Checks only on demand (POST …/check): the test steps through up → degraded → down itself.
  daemon = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\n[health]\ninterval = "60s"\ndown_interval = "60s"\nfailures_before_down = 3\n[alerts]\nnotifications = false\n`,
    waitFor: ["api", "broker"],
  });
  api = daemon.urls.api!;
  token = readFileSync(join(daemon.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  ({ tray, client } = await trayOnDaemon(daemon, bus, watcher));
}, 60_000);

afterAll(async () => {
  await tray?.stop();
  client?.disconnect();
  watcher?.stop();
  await daemon?.stop();
  await ollama?.stop();
  await bus?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

const auth = () => ({ authorization: `Bearer ${token}` });
async function status(): Promise<DaemonStatus> {
  return (await (await fetch(`${api}/api/v1/status`, { headers: auth() })).json()) as DaemonStatus;
}
async function check(): Promise<void> {
  expect((await fetch(`${api}/api/v1/upstreams/local/check`, { method: "POST", headers: auth() })).status).toBe(200);
}
async function metrics(): Promise<string> {
  return await (await fetch(`${api}/metrics`, { headers: auth() })).text();
}
async function tooltip(): Promise<string> {
  const o = await client.getProxyObject(watcher.stub.items[0]!, "/StatusNotifierItem");
  const props = o.getInterface("org.freedesktop.DBus.Properties");
  const t = ((await props.Get!("org.kde.StatusNotifierItem", "ToolTip")) as { value: [string, unknown, string, string] }).value;
  return `${t[2]}\n${t[3]}`;
}
async function menuLabels(): Promise<string[]> {
  const o = await client.getProxyObject(watcher.stub.items[0]!, "/MenuBar");
  const [, layout] = (await o.getInterface("com.canonical.dbusmenu").GetLayout!(0, -1, [])) as [number, Layout];
  return labels(layout);
}

describe("a running Ollama killed", () => {
  test("degraded: never excellent; status, CLI, tray tooltip and menu, /metrics give the reason and the fix", async () => {
    await until(async () => (await tooltip()).includes("local: up · excellent"), 15_000, `the live tooltip (tray: ${tray.stderr()})`);
    await ollama.stop();
    await check();

    const s = await status();
    expect(s.upstreams[0]).toMatchObject({ state: "degraded", lastError: "connection refused" });
    expect(s.quality).not.toBe("excellent");
    expect(s.verdict).toMatchObject({ quality: s.quality, level: "warning", upstream: "local", reason: "connection refused" });
    expect(s.verdict.text).toBe(`local is degraded: ${REASON}`);

    const cli = await runCli(daemon.env, "status", "--url", api);
    expect(cli.out.split("\n")[0]).toEndWith(`quality ${s.quality}`);
    // status fits 80 columns: the verdict's line wraps, its words unchanged.
    expect(cli.out.replace(/\n +/g, " ")).toContain(`health local is degraded: ${REASON}`);
    expect(cli.out).not.toContain("excellent");

    const tip = await until(async () => ((await tooltip()).includes(REASON) ? tooltip() : null), 10_000, `the reason in the tooltip (tray: ${tray.stderr()})`);
    expect(tip).toContain(`local is degraded: ${REASON}`);
    expect(tip).not.toContain("excellent");
    expect(await menuLabels()).toContain(`local is degraded: ${REASON}`);

    const prom = await metrics();
    expect(prom).toContain(`cloudtolocalllm_health_verdict{quality="${s.quality}",level="warning",upstream="local",reason="connection refused",fix="is Ollama running? \`systemctl --user start ollama\` or \`ollama serve\`"} 1`);
    expect(prom).toMatch(/^cloudtolocalllm_quality 2$/m);
  }, 60_000);

  test("down: critical with the same reason, and no stale model count or p95 anywhere", async () => {
    await check();
    await check();
    const s = await status();
    expect(s.upstreams[0]!.state).toBe("down");
    expect(s.verdict).toMatchObject({ quality: "critical", level: "critical", reason: "connection refused" });
    expect(s.verdict.text).toBe(`local is down: ${REASON}`);

    const cli = await runCli(daemon.env, "status", "--url", api);
    expect(cli.out.replace(/\n +/g, " ")).toContain(`health local is down: ${REASON}`);
    expect(cli.out).toMatch(/^local\s+down\s+down\s+-\s+-\s+-\s+-\s/m);

    const tip = await until(async () => ((await tooltip()).includes(`local is down: ${REASON}`) ? tooltip() : null), 10_000, `the down verdict in the tooltip (tray: ${tray.stderr()})`);
    const lines = tip.split("\n");
    expect(lines).toContain("local: down");
    expect(tip).not.toContain("2 models");
    expect(tip).not.toContain("p95");

    const prom = await metrics();
    expect(prom).toContain(`cloudtolocalllm_health_verdict{quality="critical",level="critical",upstream="local",reason="connection refused"`);
    expect(prom).toMatch(/^cloudtolocalllm_quality 1$/m);
  }, 60_000);
});
