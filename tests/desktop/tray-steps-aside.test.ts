// A leftover `tray` (an old autostart entry or unit) for a daemon that shows its own icon on this desktop steps aside: exit 0, one icon.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { join } from "node:path";
import dbus from "dbus-next";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { spawnTray, startPrivateBus, startWatcher, until, type PrivateBus } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon"]);

let bus: PrivateBus;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let daemon: DaemonProc;
let client: dbus.MessageBus;

beforeAll(async () => {
  bus = await startPrivateBus();
  watcher = await startWatcher(bus.address);
  daemon = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n`, env: { DBUS_SESSION_BUS_ADDRESS: bus.address } });
  client = dbus.sessionBus({ busAddress: bus.address });
  await until(() => watcher.stub.items.length > 0, 15_000, `the daemon's own registration (daemon: ${daemon.stderr()})`);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  watcher?.stop();
  await daemon?.stop();
  await bus?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

test("the tray command following a daemon that shows its own icon here exits 0 with a message; the daemon's icon stays the only one", async () => {
  const trayConfig = join(daemon.home, "tray.toml");
  await Bun.write(trayConfig, `[api]\nlisten = "${daemon.urls.api!.replace("http://", "")}"\n`);
  const tray = spawnTray(trayConfig, { ...daemon.env, DBUS_SESSION_BUS_ADDRESS: bus.address });
  const code = await Promise.race([tray.proc.exited, Bun.sleep(15_000).then(() => "still running")]);
  if (code === "still running") await tray.stop();
  expect(code).toBe(0);
  // The line may still be in the pipe when the exit is seen.
  const line = await tray.waitFor(/the daemon shows its own tray icon on this desktop; this tray exits/, 5000);
  expect(line).toContain(`daemon_pid=${daemon.proc.pid}`);
  const d = (await client.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus")).getInterface("org.freedesktop.DBus");
  const items = ((await d.ListNames!()) as string[]).filter((n) => n.startsWith("org.kde.StatusNotifierItem-"));
  expect(items).toEqual([`org.kde.StatusNotifierItem-${daemon.proc.pid}-1`]);
  // Nor did the panel ever get a second icon, even for a moment: before, the command registered its item with the
  // watcher first and stepped aside once the daemon's status came (a second icon flashed in the panel).
  expect(watcher.stub.items).toEqual([`org.kde.StatusNotifierItem-${daemon.proc.pid}-1`]);
}, 30_000);

test("a name that only looks like the daemon's item (owned by another process) does not make the command step aside", async () => {
  const { daemonItemOnBus } = await import("../../tray/daemon-shows-tray.ts");
  const squatter = dbus.sessionBus({ busAddress: bus.address });
  try {
    // This test process claims the item name of a daemon with another pid (its own is checked by the bus).
    const fakePid = daemon.proc.pid + 100_000;
    await squatter.requestName(`org.kde.StatusNotifierItem-${fakePid}-1`, 0);
    expect(await daemonItemOnBus(client, fakePid)).toBeNull();
    expect(await daemonItemOnBus(client, daemon.proc.pid)).toBe(`org.kde.StatusNotifierItem-${daemon.proc.pid}-1`);
  } finally {
    squatter.disconnect();
  }
}, 30_000);
