// The desktop parts inside the compiled binary: our own D-Bus client (src/desktop/dbus/) for the tray and node-notifier's notify-send backend.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import dbus from "dbus-next";
import { ensureBinary } from "../helpers/binary.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { spawnTray, startNotifications, startPrivateBus, startWatcher, until, type NotificationsStub, type PrivateBus, type TrayProc } from "./private-bus.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, describe, test } = requireTools(["dbus-daemon", "notify-send"]);

let bin: string;
let bus: PrivateBus;
let notifications: { stub: NotificationsStub; stop(): void };
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let daemon: DaemonProc;
let tray: TrayProc | null = null;

beforeAll(async () => {
  bin = await ensureBinary();
  bus = await startPrivateBus();
  notifications = await startNotifications(bus.address);
  watcher = await startWatcher(bus.address);
  const dead = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = dead.port;
  dead.stop(true);
  daemon = await startDaemon({
    binary: bin,
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "gone"\nurl = "http://127.0.0.1:${port}"\n[health]\ninterval = "200ms"\ndown_interval = "200ms"\nfailures_before_down = 1\n[alerts]\nupstream_down_after = "300ms"\n[tray]\nenabled = "never"\n`,
    // On the bus for its notifications; its icon is left to the `tray` command below (as for a daemon run elsewhere).
    env: { DBUS_SESSION_BUS_ADDRESS: bus.address },
    waitFor: ["api"],
  });
}, 120_000);

afterAll(async () => {
  await tray?.stop();
  await daemon?.stop();
  watcher?.stop();
  notifications?.stop();
  await bus?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

describe("compiled binary", () => {
  test("the daemon sends the alert through node-notifier → notify-send", async () => {
    const n = await until(() => notifications.stub.received[0], 10_000, `a notification (daemon: ${daemon.stderr()})`);
    expect(n).toMatchObject({ appName: "CloudToLocalLLM tunnel", summary: "Upstream down" });
    expect(n.body).toContain("Upstream gone has been down");
  }, 30_000);

  test("the tray runs from the binary, registers and follows the daemon; its memory is measured", async () => {
    const trayConfig = join(daemon.home, "tray.toml");
    await Bun.write(trayConfig, `[api]\nlisten = "${daemon.urls.api!.replace("http://", "")}"\n`);
    tray = spawnTray(trayConfig, { ...daemon.env, DBUS_SESSION_BUS_ADDRESS: bus.address }, bin);
    const err = () => tray!.stderr();
    const name = await until(() => watcher.stub.items[0], 15_000, `registration (tray: ${err()})`);
    const client = dbus.sessionBus({ busAddress: bus.address });
    try {
      const props = (await client.getProxyObject(name, "/StatusNotifierItem")).getInterface("org.freedesktop.DBus.Properties");
      // the only upstream is down and alerted: critical
      await until(async () => ((await props.Get!("org.kde.StatusNotifierItem", "IconName")) as { value: string }).value === "cloudtolocalllm-tunnel-critical", 10_000, `critical icon (tray: ${err()})`);
    } finally {
      client.disconnect();
    }
    const status = readFileSync(`/proc/${tray.proc.pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
    const pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${tray.proc.pid}/smaps_rollup`, "utf8"))![1]);
    console.log(`compiled tray RSS: total ${kb("VmRSS")} kB, anonymous ${kb("RssAnon")} kB, file-backed ${kb("RssFile")} kB; PSS ${pss} kB (binary pages shared with the daemon)`);
    expect(kb("RssAnon")).toBeLessThanOrEqual(35 * 1024);
  }, 30_000);

  test("the compiled daemon shows the tray itself: our D-Bus client from the binary, registered, following its state", async () => {
    const own = await startDaemon({
      binary: bin,
      config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "gone"\nurl = "http://127.0.0.1:9"\n[health]\ninterval = "200ms"\ndown_interval = "200ms"\nfailures_before_down = 1\n[alerts]\nnotifications = false\n`,
      env: { DBUS_SESSION_BUS_ADDRESS: bus.address },
      waitFor: ["api"],
    });
    const client = dbus.sessionBus({ busAddress: bus.address });
    try {
      const name = `org.kde.StatusNotifierItem-${own.proc.pid}-1`;
      await until(() => watcher.stub.items.includes(name), 15_000, `the daemon's own registration (daemon: ${own.stderr()})`);
      const props = (await client.getProxyObject(name, "/StatusNotifierItem")).getInterface("org.freedesktop.DBus.Properties");
      await until(async () => ((await props.Get!("org.kde.StatusNotifierItem", "IconName")) as { value: string }).value === "cloudtolocalllm-tunnel-critical", 10_000, `critical icon (daemon: ${own.stderr()})`);
      const status = readFileSync(`/proc/${own.proc.pid}/status`, "utf8");
      console.log(`compiled daemon with its own tray: RSS ${/VmRSS:\s+(\d+)/.exec(status)![1]} kB (one process)`);
    } finally {
      client.disconnect();
      await own.stop();
      removeHome(own.home);
    }
  }, 120_000);
});
