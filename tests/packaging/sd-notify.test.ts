// The daemon speaks systemd's notify protocol to a real datagram socket: READY=1, STATUS=, WATCHDOG=1, STOPPING=1.
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { NotifySocket } from "./notify-socket.ts";

const CONFIG = `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[tunnel]\nenabled = false\n`;
const home = tempHome("c2l-sdnotify-");
let daemon: DaemonProc | undefined;
let sock: NotifySocket | undefined;

afterAll(async () => {
  await daemon?.stop("SIGKILL");
  sock?.close();
  removeHome(home);
});

test(
  "READY=1 once the API listens, STATUS= on state changes, watchdog pings, STOPPING=1 on SIGTERM",
  async () => {
    sock = new NotifySocket(join(home, "run", "notify.sock"));
    daemon = await startDaemon({ home, config: CONFIG, env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: "200000" } });
    const ready = await sock.waitFor(/^READY=1$/m);
    expect(ready).toMatch(/^STATUS=.+$/m);
    expect(ready).toContain(`MAINPID=${daemon.proc.pid}`);
    // The API answered before READY was sent (it is started first).
    expect((await fetch(`${daemon.urls.api}/healthz`)).status).toBe(200);
    // Watchdog every WATCHDOG_USEC/2 = 100 ms: several arrive within a second.
    await Bun.sleep(600);
    expect(sock.messages.filter((m) => m === "WATCHDOG=1").length).toBeGreaterThanOrEqual(2);

    // A rejected config changes the status line.
    writeFileSync(daemon.configFile, "[api\nbroken");
    daemon.proc.kill("SIGHUP");
    expect(await sock.waitFor(/^STATUS=.*config rejected/m)).toBeTruthy();

    expect(await daemon.stop("SIGTERM")).toBe(0);
    const stopping = await sock.waitFor(/^STOPPING=1$/m);
    expect(stopping).toBeTruthy();
    // Nothing after STOPPING but the process exit.
    if (process.env.DEBUG_DAEMON) console.log(sock.messages.filter((m) => m !== "WATCHDOG=1"));
    expect(sock.messages.indexOf(stopping)).toBeGreaterThan(sock.messages.indexOf(ready));
  },
  30_000,
);
