// The tray command's ways out, each said in its log in one line as the daemon's and the relay's are: a signal, the session bus going away.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startPrivateBus, startWatcher, trayOnDaemon, type PrivateBus } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon"]);

/** A plain log line (stderr is a pipe here). */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [\w.-]+: \S/;

let bus: PrivateBus;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let daemon: DaemonProc;

beforeAll(async () => {
  bus = await startPrivateBus();
  watcher = await startWatcher(bus.address);
  // The daemon shows no icon itself: the tray command would step aside otherwise.
  daemon = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[tray]\nenabled = "never"\n`, env: { DBUS_SESSION_BUS_ADDRESS: bus.address } });
}, 60_000);

afterAll(async () => {
  watcher?.stop();
  await daemon?.stop();
  await bus?.stop();
  if (daemon) removeHome(daemon.home);
}, 30_000);

for (const signal of ["SIGTERM", "SIGINT"] as const)
  test(`${signal}: the tray says it is stopping and why, then exits 0; every line it wrote is a log line`, async () => {
    const { tray, client } = await trayOnDaemon(daemon, bus, watcher);
    try {
      await tray.waitFor(/tray: tray running/, 10_000);
      tray.proc.kill(signal);
      const code = await Promise.race([tray.proc.exited, Bun.sleep(10_000).then(() => "still running")]);
      expect(code).toBe(0);
      // Before: nothing after "tray running": a tray stopped by systemd or Ctrl-C looked the same as one that died.
      await tray.waitFor(new RegExp(`info tray: stopping reason=${signal}$`, "m"), 5_000);
      expect(tray.stderr().split("\n").filter((l) => l !== "" && !LOG_LINE.test(l))).toEqual([]);
    } finally {
      client.disconnect();
      await tray.stop();
    }
  }, 30_000);
