// The tray's menu and tooltip cases against a real daemon, run for both trays: the `tray` command (over the control API) and the daemon's own (in-process).
import { expect } from "bun:test";
import type { Guarded } from "../helpers/requires.ts";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import dbus from "dbus-next";
import { removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startPrivateBus, startWatcher, trayOnDaemon, until, type PrivateBus, type TrayProc } from "./private-bus.ts";

/** Where the tray runs: its own process following the daemon over HTTP, or inside the daemon. */
export type TrayMode = "command" | "daemon";

export interface TrayFixture {
  bus: PrivateBus;
  watcher: Awaited<ReturnType<typeof startWatcher>>;
  ollama: FakeOllama;
  daemon: DaemonProc;
  /** The `tray` process (command mode only). */
  tray: TrayProc | null;
  client: dbus.MessageBus;
  /** The log of the process that shows the tray (the tray's, or the daemon's). */
  trayLog(): string;
}

const CONFIG = (ollamaUrl: string) =>
  `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "${ollamaUrl}"\n[health]\ninterval = "200ms"\ndown_interval = "200ms"\nfailures_before_down = 1\n[alerts]\nupstream_down_after = "500ms"\nnotifications = false\n`;

/**
 * A private bus with a watcher, a fake Ollama, a daemon and the tray in the given mode; PATH starts with $HOME/bin,
 * where a stand-in xdg-open records what the tray asks the desktop to open.
 */
export async function startTrayFixture(mode: TrayMode): Promise<TrayFixture> {
  const bus = await startPrivateBus();
  const watcher = await startWatcher(bus.address);
  const ollama = await startFakeOllama({ models: ["llama3.2:1b", "qwen2.5:0.5b"], version: "0.6.2" });
  const home = tempHome();
  mkdirSync(join(home, "bin"));
  writeFileSync(join(home, "bin/xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$1" >> "${join(home, "opened.txt")}"\n`, { mode: 0o755 });
  const path = `${join(home, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`;
  const env: Record<string, string> = { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: "agent-token-for-tests-0123456789" };
  // The daemon's own tray needs the bus (and the stand-in tools) in the daemon's environment; the command gets them instead.
  if (mode === "daemon") Object.assign(env, { DBUS_SESSION_BUS_ADDRESS: bus.address, PATH: path });
  const daemon = await startDaemon({ home, config: CONFIG(ollama.url), env, waitFor: ["api"] });
  if (mode === "command") {
    // The tray finds the API from its config: the daemon chose an ephemeral port (trayOnDaemon writes it there).
    const { tray, client } = await trayOnDaemon(daemon, bus, watcher, { PATH: path });
    return { bus, watcher, ollama, daemon, tray, client, trayLog: () => tray.stderr() };
  }
  const client = dbus.sessionBus({ busAddress: bus.address });
  await until(() => watcher.stub.items.length > 0, 15_000, `registration (daemon: ${daemon.stderr()})`);
  return { bus, watcher, ollama, daemon, tray: null, client, trayLog: () => daemon.stderr() };
}

export async function stopTrayFixture(fx: TrayFixture | undefined): Promise<void> {
  if (!fx) return;
  await fx.tray?.stop();
  fx.client.disconnect();
  fx.watcher.stop();
  await fx.daemon.stop();
  await fx.ollama.stop();
  await fx.bus.stop();
  removeHome(fx.daemon.home);
}

type Layout = [number, Record<string, { value: unknown }>, { value: Layout }[]];
function labels(l: Layout, out: { id: number; label: string }[] = []) {
  if (l[1].label) out.push({ id: l[0], label: String(l[1].label.value) });
  for (const c of l[2]) labels(c.value, out);
  return out;
}

/** The cases, declared with the caller's (tool-guarded) describe and test; `fixture` is read when each test runs. */
export function trayCases(title: string, { describe, test }: Pick<Guarded, "describe" | "test">, fixture: () => TrayFixture): void {
  async function item() {
    const fx = fixture();
    const o = await fx.client.getProxyObject(fx.watcher.stub.items[0]!, "/StatusNotifierItem");
    const props = o.getInterface("org.freedesktop.DBus.Properties");
    return { sni: o.getInterface("org.kde.StatusNotifierItem"), get: async (p: string) => ((await props.Get!("org.kde.StatusNotifierItem", p)) as { value: unknown }).value };
  }
  async function menu() {
    const fx = fixture();
    const o = await fx.client.getProxyObject(fx.watcher.stub.items[0]!, "/MenuBar");
    const m = o.getInterface("com.canonical.dbusmenu");
    const [, layout] = (await m.GetLayout!(0, -1, [])) as [number, Layout];
    return { m, items: labels(layout) };
  }

  describe(title, () => {
    test("follows the daemon's /ws: the tooltip lists the upstream with its version and models", async () => {
      const fx = fixture();
      const { get } = await item();
      const tip = await until(async () => {
        const t = (await get("ToolTip")) as [string, unknown, string, string];
        return t[3].includes("local: up") && t[3].includes("v0.6.2") ? t : null;
      }, 15_000, `the live tooltip (tray: ${fx.trayLog()})`);
      expect(tip[3]).toContain("2 models");
      expect(tip[3]).toContain("Tunnel: disabled");
      expect(await get("IconName")).toBe("cloudtolocalllm-tunnel-good");
    }, 30_000);

    test("Reconnect all upstreams reaches the control API with the token", async () => {
      const fx = fixture();
      const { m, items } = await menu();
      const reconnect = items.find((i) => i.label === "Reconnect all upstreams")!;
      await m.Event!(reconnect.id, "clicked", new dbus.Variant("s", ""), 0);
      await until(() => fx.trayLog().includes("menu action done action=reconnect"), 5000, `reconnect done (tray: ${fx.trayLog()})`);
      expect(fx.trayLog()).not.toContain("menu action failed");
    }, 30_000);

    test("Open dashboard opens a one-time sign-in link from the daemon; Open API docs and Open config file open theirs", async () => {
      const fx = fixture();
      const opened = join(fx.daemon.home, "opened.txt");
      const { m, items } = await menu();
      for (const label of ["Open dashboard", "Open API docs", "Open config file"]) {
        const it = items.find((i) => i.label === label)!;
        await m.Event!(it.id, "clicked", new dbus.Variant("s", ""), 0);
      }
      const lines = await until(() => (existsSync(opened) ? readFileSync(opened, "utf8").trim().split("\n") : []).length >= 3 && readFileSync(opened, "utf8").trim().split("\n"), 10_000, `three opens (tray: ${fx.trayLog()})`);
      const api = fx.daemon.urls.api!;
      expect(lines.find((l) => l.startsWith(`${api}/auth?code=`))).toBeDefined();
      expect(lines).toContain(`${api}/swagger`);
      expect(lines).toContain(fx.daemon.configFile); // the file the daemon really uses, from its status
      // the link really signs the browser in, once
      const link = lines.find((l) => l.startsWith(`${api}/auth?code=`))!;
      const res = await fetch(link, { redirect: "manual" });
      expect(res.status).toBeLessThan(400);
      expect(res.headers.get("set-cookie")).toBeTruthy();
    }, 30_000);

    test("a page's Ask for access shows in the menu with its code; clicking Approve lets that browser in", async () => {
      const fx = fixture();
      const api = fx.daemon.urls.api!;
      const asked = await fetch(`${api}/auth/request`, { method: "POST", headers: { origin: api }, redirect: "manual" });
      expect(asked.status).toBe(303);
      const access = asked.headers.get("set-cookie")!.split(";")[0]!;
      const page = await (await fetch(`${api}/auth/wait`, { headers: { cookie: access }, redirect: "manual" })).text();
      const code = /id="access-code">([A-Z0-9-]+)</.exec(page)![1]!;
      const approve = await until(async () => {
        const { m, items } = await menu();
        const it = items.find((i) => i.label === `Approve dashboard access: code ${code}`);
        return it ? { m, id: it.id } : null;
      }, 10_000, `the Approve item (tray: ${fx.trayLog()})`);
      await approve.m.Event!(approve.id, "clicked", new dbus.Variant("s", ""), 0);
      await until(() => fx.trayLog().includes("menu action done action=dashboard.approve"), 5000, `approve done (tray: ${fx.trayLog()})`);
      const inside = await fetch(`${api}/auth/wait`, { headers: { cookie: access }, redirect: "manual" });
      expect(inside.status).toBe(303);
      expect(inside.headers.get("set-cookie")).toContain("c2l_session=");
      // Approved: the item is gone.
      await until(async () => !(await menu()).items.some((i) => i.label.includes(code)), 5000, "the Approve item to go");
    }, 30_000);

    test("an upstream going down turns the icon critical and NeedsAttention via the real alert; recovery turns it back", async () => {
      const fx = fixture();
      const { sni, get } = await item();
      const signals: string[] = [];
      sni.on("NewIcon", () => signals.push("NewIcon"));
      sni.on("NewStatus", (s: string) => signals.push(`NewStatus:${s}`));
      await Bun.sleep(150);
      fx.ollama.setHealthy(false);
      await until(async () => (await get("Status")) === "NeedsAttention", 10_000, "NeedsAttention");
      expect(await get("IconName")).toBe("cloudtolocalllm-tunnel-critical");
      // the daemon's alert (after upstream_down_after) arrives as alert.raised over /ws
      await until(async () => ((await get("ToolTip")) as string[])[3]!.includes("Alert: Upstream local has been down"), 5000, "the alert in the tooltip");
      fx.ollama.setHealthy(true);
      await until(async () => (await get("Status")) === "Active", 10_000, "Active again");
      await until(async () => (await get("IconName")) === "cloudtolocalllm-tunnel-good", 5000, "good icon");
      expect(signals).toContain("NewIcon");
      expect(signals).toContain("NewStatus:NeedsAttention");
      expect(signals).toContain("NewStatus:Active");
      const tipAfter = (await get("ToolTip")) as [string, unknown, string, string];
      expect(tipAfter[3]).toContain("Last alert (cleared): Upstream local is back up");
    }, 30_000);

    test('with the tunnel enabled by a config edit, "Restart tunnel" reaches the daemon and restarts the tunnel', async () => {
      const fx = fixture();
      const dead = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
      const port = dead.port;
      dead.stop(true);
      const text = await Bun.file(fx.daemon.configFile).text();
      await Bun.write(fx.daemon.configFile, text + `[tunnel]\nenabled = true\nrelay_url = "ws://127.0.0.1:${port}/agent"\n`);
      const restart = await until(async () => {
        const { m, items } = await menu();
        const r = items.find((i) => i.label === "Restart tunnel")!;
        const enabled = ((await m.GetProperty!(r.id, "label")) && (await m.GetGroupProperties!([r.id], ["enabled"]))) as [number, Record<string, { value: boolean }>][];
        return enabled[0]![1].enabled === undefined ? { m, id: r.id } : null; // "enabled" is only sent when false
      }, 10_000, "Restart tunnel to become enabled after the reload");
      const before = fx.daemon.stderr().length;
      await restart.m.Event!(restart.id, "clicked", new dbus.Variant("s", ""), 0);
      await until(() => fx.trayLog().includes("menu action done action=tunnel.restart"), 5000, `restart done (tray: ${fx.trayLog()})`);
      expect(fx.trayLog()).not.toContain("menu action failed");
      // the restart stops the supervisor and starts it again: attempt 1 of a fresh connection
      await until(() => /tunnel stopped[\s\S]*attempt=1\b/.test(fx.daemon.stderr().slice(before)), 5000, `the restart in the daemon log:\n${fx.daemon.stderr().slice(before)}`);
    }, 30_000);
  });
}
