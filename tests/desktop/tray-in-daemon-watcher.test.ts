// The daemon's own tray and the panel: it waits quietly for a watcher, registers when one appears and again after each
// panel restart; [tray] enabled = "never" takes it off the bus; without a session bus the daemon says so once and runs on.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import dbus from "dbus-next";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startPrivateBus, startWatcher, until, type PrivateBus } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon"]);

const CONFIG = `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[alerts]\nnotifications = false\n`;

let bus: PrivateBus;
let daemon: DaemonProc;
let client: dbus.MessageBus;

beforeAll(async () => {
  bus = await startPrivateBus();
  daemon = await startDaemon({ config: CONFIG, env: { DBUS_SESSION_BUS_ADDRESS: bus.address } });
  client = dbus.sessionBus({ busAddress: bus.address });
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await daemon?.stop();
  await bus?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

async function names(): Promise<string[]> {
  const d = (await client.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus")).getInterface("org.freedesktop.DBus");
  return (await d.ListNames!()) as string[];
}

test("no watcher at start: one quiet line; a watcher started later gets the daemon's item, and again after each panel restart", async () => {
  const item = `org.kde.StatusNotifierItem-${daemon.proc.pid}-1`;
  await until(async () => (await names()).includes(item), 10_000, `the item on the bus (daemon: ${daemon.stderr()})`);
  await daemon.waitFor(/no StatusNotifierWatcher on the session bus yet/, 5000);
  let w = await startWatcher(bus.address);
  await until(() => w.stub.items.includes(item), 5000, "registration with a watcher started after the daemon");
  for (let i = 0; i < 2; i++) {
    w.stop();
    await Bun.sleep(100);
    w = await startWatcher(bus.address);
    await until(() => w.stub.items.includes(item), 5000, `re-registration ${i + 1} after the watcher restarted`);
  }
  w.stop();
  // The log line follows the watcher's answer: wait for it rather than race the pipe.
  await until(() => daemon.count(/registered with the StatusNotifierWatcher/) === 3, 5000, `three registrations logged (daemon: ${daemon.stderr()})`);
  expect(daemon.count(/no StatusNotifierWatcher/)).toBe(1);
}, 30_000);

test('[tray] enabled = "never" takes the icon off the bus on reload; "auto" brings it back', async () => {
  const w = await startWatcher(bus.address);
  const mine = (n: string) => n.startsWith(`org.kde.StatusNotifierItem-${daemon.proc.pid}-`);
  await Bun.write(daemon.configFile, CONFIG + `[tray]\nenabled = "never"\n`);
  await until(async () => !(await names()).some(mine), 10_000, `the item to leave the bus (daemon: ${daemon.stderr()})`);
  await Bun.write(daemon.configFile, CONFIG + `[tray]\nenabled = "auto"\n`);
  await until(() => w.stub.items.some(mine), 10_000, "the item back and registered");
  w.stop();
}, 30_000);

test("without a session bus the daemon runs on with one info line and no tray", async () => {
  const d = await startDaemon({ config: CONFIG, env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${bus.dir}/no-such-bus` } });
  try {
    const lines = d.stderr().split("\n").filter((l) => /tray/.test(l));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^\S+ info tray: no tray icon: the session bus socket .*no-such-bus does not exist/);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
}, 30_000);
