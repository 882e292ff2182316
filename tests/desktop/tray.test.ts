// The tray process on a private session bus: registration, every SNI property, the menu, clicks reaching the API, live updates.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import dbus from "dbus-next";
import { homeEnv, removeHome, tempHome } from "../helpers/daemon.ts";
import { spawnTray, startPrivateBus, startWatcher, until, type PrivateBus, type TrayProc } from "./private-bus.ts";
import { daemonStatus, startFakeDaemon, upstream, type FakeDaemon } from "./fake-daemon.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, describe, test } = requireTools(["dbus-daemon", "gdbus"]);

const TOKEN = "tray-test-token-0123456789";

let bus: PrivateBus;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let fake: FakeDaemon;
let home: string;
let configFile: string;
let tray: TrayProc;
let client: dbus.MessageBus;
let itemName = "";

type Layout = [number, Record<string, { value: unknown }>, { value: Layout }[]];
function flatten(l: Layout, out: { id: number; props: Record<string, unknown> }[] = []) {
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(l[1])) props[k] = v.value;
  out.push({ id: l[0], props });
  for (const c of l[2]) flatten(c.value, out);
  return out;
}

async function menuItems() {
  const obj = await client.getProxyObject(itemName, "/MenuBar");
  const menu = obj.getInterface("com.canonical.dbusmenu");
  const [revision, layout] = (await menu.GetLayout!(0, -1, [])) as [number, Layout];
  return { revision, items: flatten(layout), menu };
}

beforeAll(async () => {
  bus = await startPrivateBus();
  watcher = await startWatcher(bus.address);
  home = tempHome("c2l-tray-");
  fake = startFakeDaemon(TOKEN, daemonStatus());
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(home, ".config/cloudtolocalllm/api-token"), TOKEN + "\n", { mode: 0o600 });
  configFile = join(home, ".config/cloudtolocalllm/tunnel.toml");
  writeFileSync(configFile, `# my settings\n[api]\nlisten = "${fake.url.slice(7)}"\n\n[alerts]\n# keep me\nnotifications = true # inline\n`);
  fake.status.daemon.configPath = configFile;
  tray = spawnTray(configFile, { ...homeEnv(home), DBUS_SESSION_BUS_ADDRESS: bus.address });
  client = dbus.sessionBus({ busAddress: bus.address });
  await until(() => watcher.stub.items.length > 0, 15_000, `registration (tray stderr: ${tray.stderr()})`);
  itemName = watcher.stub.items[0]!;
  await until(() => fake.sockets() > 0, 10_000, "the tray's /ws connection");
}, 60_000);

afterAll(async () => {
  await tray?.stop();
  client?.disconnect();
  watcher?.stop();
  fake?.stop();
  await bus?.stop();
  removeHome(home);
}, 30_000);

describe("tray on a private session bus", () => {
  test("registers with the StatusNotifierWatcher under org.kde.StatusNotifierItem-PID-N", () => {
    expect(itemName).toBe(`org.kde.StatusNotifierItem-${tray.proc.pid}-1`);
    expect(watcher.stub.registrations.length).toBe(1);
  }, 30_000);

  test("every StatusNotifierItem property reads with its spec signature", async () => {
    await until(async () => {
      const o = await client.getProxyObject(itemName, "/StatusNotifierItem");
      const v = await o.getInterface("org.freedesktop.DBus.Properties").Get!("org.kde.StatusNotifierItem", "IconName");
      return (v as { value: string }).value === "cloudtolocalllm-tunnel-good";
    }, 10_000, "the good icon");
    const obj = await client.getProxyObject(itemName, "/StatusNotifierItem");
    const all = (await obj.getInterface("org.freedesktop.DBus.Properties").GetAll!("org.kde.StatusNotifierItem")) as Record<string, { signature: string; value: unknown }>;
    const sig = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.signature]));
    expect(sig).toEqual({
      Category: "s", Id: "s", Title: "s", Status: "s", WindowId: "i", IconThemePath: "s", Menu: "o", ItemIsMenu: "b",
      IconName: "s", IconPixmap: "a(iiay)", OverlayIconName: "s", OverlayIconPixmap: "a(iiay)", AttentionIconName: "s",
      AttentionIconPixmap: "a(iiay)", AttentionMovieName: "s", ToolTip: "(sa(iiay)ss)",
    });
    expect(all.Category!.value).toBe("ApplicationStatus");
    expect(all.Id!.value).toBe("cloudtolocalllm-tunnel");
    expect(all.Status!.value).toBe("Active");
    expect(all.Menu!.value).toBe("/MenuBar");
    expect(all.AttentionIconName!.value).toBe("cloudtolocalllm-tunnel-critical");
    const pix = all.IconPixmap!.value as [number, number, Buffer][];
    expect(pix.map(([w, h]) => `${w}x${h}`)).toEqual(["16x16", "22x22", "24x24", "32x32", "48x48"]);
    for (const [w, h, data] of pix) expect(data.length).toBe(w * h * 4);
    // the private icon theme holds the themed icon the host looks up first
    expect(readFileSync(join(all.IconThemePath!.value as string, "cloudtolocalllm-tunnel-good.png")).subarray(1, 4).toString()).toBe("PNG");
    const [tipIcon, , tipTitle, tipBody] = all.ToolTip!.value as [string, unknown[], string, string];
    expect(tipIcon).toBe("cloudtolocalllm-tunnel-good");
    expect(tipTitle).toContain("All good");
    expect(tipBody).toContain("local: up · excellent · v0.6.2 · 2 models · p95 120 ms");
    expect(tipBody).toContain("Tunnel: connected · relay.example.com");

    // a second, independent client: gdbus
    const g = Bun.spawnSync(["gdbus", "call", "--address", bus.address, "--dest", itemName, "--object-path", "/StatusNotifierItem",
      "--method", "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierItem", "Title"]);
    expect(g.stdout.toString()).toContain("CloudToLocalLLM tunnel: All good");
    const intro = Bun.spawnSync(["gdbus", "introspect", "--address", bus.address, "--dest", itemName, "--object-path", "/StatusNotifierItem"]).stdout.toString();
    for (const m of ["Activate(", "SecondaryActivate(", "ContextMenu(", "Scroll(", "NewTitle", "NewIcon", "NewAttentionIcon", "NewOverlayIcon", "NewToolTip", "NewStatus"])
      expect(intro).toContain(m);
  }, 30_000);

  test("GetLayout returns the whole menu; properties and groups answer", async () => {
    const { items, menu } = await menuItems();
    const labels = items.map((i) => i.props.label).filter(Boolean);
    for (const l of ["Tunnel", "Start tunnel", "Stop tunnel", "Restart tunnel", "Reconnect all upstreams", "Open dashboard", "Open API docs", "Open config file", "Notifications", "Start daemon", "About", "Quit tray"])
      expect(labels).toContain(l);
    expect(items.find((i) => i.props.label === "Start daemon")!.props.visible).toBe(false);
    expect(items.find((i) => i.props.label === "Notifications")!.props["toggle-type"]).toBe("checkmark");
    expect(items.some((i) => i.props.type === "separator")).toBe(true);
    const quit = items.find((i) => i.props.label === "Quit tray")!;
    expect(((await menu.GetProperty!(quit.id, "label")) as { value: string }).value).toBe("Quit tray");
    const group = (await menu.GetGroupProperties!([quit.id], ["label"])) as [number, Record<string, { value: string }>][];
    expect(group).toEqual([[quit.id, { label: expect.objectContaining({ value: "Quit tray" }) }]]);
    expect(await menu.AboutToShow!(0)).toBe(false);
    const props = (await (await client.getProxyObject(itemName, "/MenuBar")).getInterface("org.freedesktop.DBus.Properties").GetAll!("com.canonical.dbusmenu")) as Record<string, { value: unknown }>;
    expect(props.Version!.value).toBe(3);
    expect(props.TextDirection!.value).toBe("ltr");
  }, 30_000);

  test('Event "clicked" on "Restart tunnel" reaches the daemon API with the token', async () => {
    const { items, menu } = await menuItems();
    const restart = items.find((i) => i.props.label === "Restart tunnel")!;
    const before = fake.calls.length;
    await menu.Event!(restart.id, "clicked", new dbus.Variant("s", ""), 0);
    const call = await until(() => fake.calls.slice(before).find((c) => c.path === "/api/v1/tunnel/restart"), 5000, "POST /api/v1/tunnel/restart");
    expect(call).toEqual({ method: "POST", path: "/api/v1/tunnel/restart", auth: `Bearer ${TOKEN}` });
    // EventGroup too, and unknown ids come back as errors
    const reconnect = items.find((i) => i.props.label === "Reconnect all upstreams")!;
    const missing = await menu.EventGroup!([[reconnect.id, "clicked", new dbus.Variant("s", ""), 0], [9999, "clicked", new dbus.Variant("s", ""), 0]]);
    expect(missing).toEqual([9999]);
    await until(() => fake.calls.some((c) => c.path === "/api/v1/reconnect" && c.method === "POST"), 5000, "POST /api/v1/reconnect");
  }, 30_000);

  test("daemon status changes produce NewIcon, NewToolTip, NewStatus and LayoutUpdated", async () => {
    const obj = await client.getProxyObject(itemName, "/StatusNotifierItem");
    const sni = obj.getInterface("org.kde.StatusNotifierItem");
    const { revision, menu } = await menuItems();
    const seen: string[] = [];
    const statuses: string[] = [];
    const layouts: number[] = [];
    sni.on("NewIcon", () => seen.push("NewIcon"));
    sni.on("NewToolTip", () => seen.push("NewToolTip"));
    sni.on("NewStatus", (s: string) => statuses.push(s));
    menu.on("LayoutUpdated", (rev: number) => layouts.push(rev));
    await Bun.sleep(200); // let the match rules reach the bus

    fake.status = daemonStatus({ upstreams: [upstream("local", { state: "down", quality: "down" }), upstream("backup")], quality: "good" });
    fake.status.daemon.configPath = configFile;
    fake.push({ type: "upstream.state", data: { name: "local", from: "up", to: "down" } });
    const alert = { id: "upstream_down:local", rule: "upstream_down", severity: "critical", subject: "local", message: "Upstream local is down", raisedAt: new Date().toISOString() };
    fake.push({ type: "alert.raised", data: alert });
    await until(() => seen.includes("NewIcon") && seen.includes("NewToolTip") && statuses.length > 0 && layouts.length > 0, 5000, `signals (got ${seen} ${statuses} ${layouts})`);
    expect(statuses).toContain("NeedsAttention");
    expect(Math.max(...layouts)).toBeGreaterThan(revision);
    const icon = (await obj.getInterface("org.freedesktop.DBus.Properties").Get!("org.kde.StatusNotifierItem", "IconName")) as { value: string };
    expect(icon.value).toBe("cloudtolocalllm-tunnel-critical");
    const { items } = await menuItems();
    expect(items.map((i) => i.props.label)).toContain("Alert: Upstream local is down");

    // recovery
    seen.length = 0;
    fake.status = daemonStatus();
    fake.status.daemon.configPath = configFile;
    fake.push({ type: "alert.cleared", data: { ...alert, clearedAt: new Date().toISOString(), message: "Upstream local is back up" } });
    fake.push({ type: "upstream.state", data: { name: "local", from: "down", to: "up" } });
    await until(() => statuses.at(-1) === "Active" && seen.includes("NewIcon"), 5000, "back to Active");
  }, 30_000);

  test("the Notifications check item is saved in the config file, comments kept", async () => {
    const { items, menu } = await menuItems();
    const n = items.find((i) => i.props.label === "Notifications")!;
    expect(n.props["toggle-state"]).toBe(1);
    await menu.Event!(n.id, "clicked", new dbus.Variant("s", ""), 0);
    await until(() => readFileSync(configFile, "utf8").includes("notifications = false"), 5000, "the config file to change");
    const text = readFileSync(configFile, "utf8");
    expect(text).toContain("# keep me\nnotifications = false # inline");
    expect(text).toContain("# my settings");
    await until(async () => (await menuItems()).items.find((i) => i.id === n.id)!.props["toggle-state"] === 0, 5000, "toggle-state 0");
  }, 30_000);

  test("two quick clicks on Notifications (one EventGroup) turn it off and on again: the file and the check mark agree", async () => {
    const { items, menu } = await menuItems();
    const n = items.find((i) => i.props.label === "Notifications")!;
    const before = n.props["toggle-state"];
    const click = [n.id, "clicked", new dbus.Variant("s", ""), 0];
    await menu.EventGroup!([click, click]);
    await Bun.sleep(1000);
    const saved = /^notifications = (true|false)/m.exec(readFileSync(configFile, "utf8"))![1];
    const shown = (await menuItems()).items.find((i) => i.id === n.id)!.props["toggle-state"];
    expect({ saved, shown }).toEqual({ saved: before === 1 ? "true" : "false", shown: before });
  }, 30_000);

  test("stopping and restarting the watcher (a panel restart) leads to re-registration", async () => {
    watcher.stop();
    await Bun.sleep(100);
    watcher = await startWatcher(bus.address);
    await until(() => watcher.stub.items.includes(itemName), 5000, "re-registration with the new watcher");
    expect(watcher.stub.registrations.length).toBe(1);
  }, 30_000);

  test("when the daemon goes away the icon goes offline and Start daemon appears; it follows the daemon back", async () => {
    const obj = await client.getProxyObject(itemName, "/StatusNotifierItem");
    const props = obj.getInterface("org.freedesktop.DBus.Properties");
    fake.dropClients();
    await until(async () => ((await props.Get!("org.kde.StatusNotifierItem", "IconName")) as { value: string }).value === "cloudtolocalllm-tunnel-offline", 5000, "offline icon");
    const start = (await menuItems()).items.find((i) => i.props.label === "Start daemon")!;
    expect(start.props.visible).toBeUndefined(); // visible is the default, so not sent
    // the fake accepts the reconnection: the tray comes back by itself (backoff)
    await until(() => fake.sockets() > 0, 10_000, "reconnection");
    await until(async () => ((await props.Get!("org.kde.StatusNotifierItem", "IconName")) as { value: string }).value === "cloudtolocalllm-tunnel-good", 5000, "good icon again");
  }, 30_000);

  test("a daemon that refuses the token is not shown as 'not running' (and Start daemon stays hidden)", async () => {
    const tokenFile = join(home, ".config/cloudtolocalllm/api-token");
    writeFileSync(tokenFile, "a-wrong-token-0123456789\n", { mode: 0o600 });
    fake.dropClients();
    const problem = await until(async () => (await menuItems()).items.find((i) => String(i.props.label).startsWith("Cannot follow the daemon")), 10_000, "the problem line");
    expect(problem.props.label).toBe("Cannot follow the daemon: the daemon runs but refused the tray: missing or wrong API token");
    const { items } = await menuItems();
    expect(items.find((i) => i.props.label === "Start daemon")!.props.visible).toBe(false);
    writeFileSync(tokenFile, TOKEN + "\n", { mode: 0o600 });
    await until(() => fake.sockets() > 0, 15_000, "reconnection with the right token");
  }, 30_000);

  test("an incompatible daemon version shows a warning item", async () => {
    fake.status = daemonStatus();
    fake.status.daemon.version = "9.0.0";
    fake.dropClients();
    await until(async () => (await menuItems()).items.some((i) => String(i.props.label).startsWith("⚠ daemon version 9.0.0 is not compatible")), 10_000, "the warning item");
  }, 30_000);
});
