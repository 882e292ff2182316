// The tray with a real daemon connected to a real relay: the tooltip shows the cloud URL, "Copy cloud URL" puts it on the clipboard, and a refused token shows its fix.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import dbus from "dbus-next";
import { removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { TUNNEL_ID, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { startPrivateBus, startWatcher, trayOnDaemon, until, type PrivateBus, type TrayProc } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon"]);

let bus: PrivateBus;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let ollama: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let tray: TrayProc;
let client: dbus.MessageBus;
let copied: string;

type Layout = [number, Record<string, { value: unknown }>, { value: Layout }[]];
function labels(l: Layout, out: { id: number; label: string; visible: boolean }[] = []) {
  if (l[1].label) out.push({ id: l[0], label: String(l[1].label.value), visible: l[1].visible?.value !== false });
  for (const c of l[2]) labels(c.value, out);
  return out;
}

beforeAll(async () => {
  bus = await startPrivateBus();
  watcher = await startWatcher(bus.address);
  ollama = await startFakeOllama({ models: ["llama3.2:1b"] });
  relay = await startRelayProc(relayToml());
  daemon = await startAgentDaemon(daemonToml({ upstream: ollama.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  // A stand-in wl-copy that records what the tray puts on the clipboard.
  copied = join(daemon.home, "clipboard.txt");
  mkdirSync(join(daemon.home, "bin"));
  writeFileSync(join(daemon.home, "bin/wl-copy"), `#!/bin/sh\ncat > "${copied}"\n`, { mode: 0o755 });
  ({ tray, client } = await trayOnDaemon(daemon, bus, watcher, { PATH: `${join(daemon.home, "bin")}:${daemon.env.PATH}`, WAYLAND_DISPLAY: "wayland-test" }));
}, 60_000);

afterAll(async () => {
  await tray?.stop();
  client?.disconnect();
  watcher?.stop();
  await daemon?.stop();
  await relay?.stop();
  await ollama?.stop();
  await bus?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

test("the tooltip shows the cloud URL; the menu's Copy cloud URL puts it on the clipboard", async () => {
  const cloud = `${relay.url}/t/${TUNNEL_ID}/`;
  const o = await client.getProxyObject(watcher.stub.items[0]!, "/StatusNotifierItem");
  const props = o.getInterface("org.freedesktop.DBus.Properties");
  const tip = await until(async () => {
    const t = ((await props.Get!("org.kde.StatusNotifierItem", "ToolTip")) as { value: [string, unknown, string, string] }).value;
    return t[3].includes("Cloud URL") ? t[3] : null;
  }, 15_000, `the cloud URL in the tooltip (tray: ${tray.stderr()})`);
  expect(tip).toContain(`Cloud URL: ${cloud}`);
  expect(tip).toContain(`Chat page: ${relay.url}/chat`);

  const m = (await client.getProxyObject(watcher.stub.items[0]!, "/MenuBar")).getInterface("com.canonical.dbusmenu");
  const [, layout] = (await m.GetLayout!(0, -1, [])) as [number, Layout];
  const copy = labels(layout).find((i) => i.label === "Copy cloud URL");
  expect(copy?.visible).toBe(true);
  await m.Event!(copy!.id, "clicked", new dbus.Variant("s", ""), 0);
  await until(() => existsSync(copied) && readFileSync(copied, "utf8").length > 0, 5_000, `the clipboard (tray: ${tray.stderr()})`);
  expect(readFileSync(copied, "utf8")).toBe(cloud);
}, 30_000);

test("a relay that refuses the agent token: the tooltip says so with the fix that fits the setup", async () => {
  // The relay comes back on the same address expecting another agent token: the daemon's token is refused.
  const port = new URL(relay.url).port;
  const refusing = relayToml({ listen: `127.0.0.1:${port}` }).replace(/agent_token_sha256 = "[0-9a-f]+"/, `agent_token_sha256 = "${"0".repeat(64)}"`);
  await relay.stop();
  relay = await startRelayProc(refusing);
  const o = await client.getProxyObject(watcher.stub.items[0]!, "/StatusNotifierItem");
  const props = o.getInterface("org.freedesktop.DBus.Properties");
  const tip = await until(async () => {
    const t = ((await props.Get!("org.kde.StatusNotifierItem", "ToolTip")) as { value: [string, unknown, string, string] }).value;
    return /Fix:/.test(t[3]) ? t[3] : null;
  }, 20_000, `the fix in the tooltip (tray: ${tray.stderr()})`);
  expect(tip).toMatch(/refused the agent token \(401\)/);
  expect(tip).toContain("Fix: store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`");
}, 40_000);
