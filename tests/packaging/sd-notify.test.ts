// The daemon speaks systemd's notify protocol to a real datagram socket: READY=1, STATUS=, WATCHDOG=1, STOPPING=1.
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { NotifySocket } from "./notify-socket.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

const home = tempHome("c2l-sdnotify-");
let daemon: DaemonProc | undefined;
let sock: NotifySocket | undefined;
let ollama: FakeOllama | undefined;

afterAll(async () => {
  await daemon?.stop("SIGKILL");
  await ollama?.stop();
  sock?.close();
  removeHome(home);
});

test(
  "READY=1 once the API listens, STATUS= on upstream and config events, watchdog pings, STOPPING=1 on SIGTERM",
  async () => {
    ollama = await startFakeOllama();
    const config = [
      `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[tunnel]\nenabled = false`,
      `[health]\ninterval = "200ms"\ndown_interval = "200ms"\ntimeout = "500ms"\nfailures_before_down = 1`,
      `[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\n`,
    ].join("\n");
    sock = new NotifySocket(join(home, "run", "notify.sock"));
    daemon = await startDaemon({ home, config, env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: "200000" } });
    const ready = await sock.waitFor(/^READY=1$/m);
    expect(ready).toMatch(/^STATUS=.+$/m);
    expect(ready).toContain(`MAINPID=${daemon.proc.pid}`);
    // The API answered before READY was sent (it is started first).
    expect((await fetch(`${daemon.urls.api}/healthz`)).status).toBe(200);
    // Watchdog every WATCHDOG_USEC/2 = 100 ms: several arrive within a second.
    await Bun.sleep(600);
    expect(sock.messages.filter((m) => m === "WATCHDOG=1").length).toBeGreaterThanOrEqual(2);

    // Upstream state changes reach the status line.
    await sock.waitFor(/^STATUS=1\/1 upstreams up \(\w+\), tunnel disabled$/m);
    let mark = sock.messages.length;
    ollama.setHealthy(false);
    // ... with the verdict's reason, as status and the tray give it.
    await sock.waitFor(/^STATUS=0\/1 upstreams up, local is down: \/api\/\w+ answered 503 — upstream "local" answers, but with server errors: see its own log, tunnel disabled$/m, mark);

    // A rejected config changes the status line.
    mark = sock.messages.length;
    writeFileSync(daemon.configFile, "[api\nbroken");
    daemon.proc.kill("SIGHUP");
    expect(await sock.waitFor(/^STATUS=.*config rejected/m, mark)).toBeTruthy();

    mark = sock.messages.length;
    expect(await daemon.stop("SIGTERM")).toBe(0);
    const stopping = await sock.waitFor(/^STOPPING=1$/m, mark);
    expect(stopping).toBeTruthy();
    // Nothing after STOPPING but the process exit.
    if (process.env.DEBUG_DAEMON) console.log(sock.messages.filter((m) => m !== "WATCHDOG=1"));
    expect(sock.messages.indexOf(stopping)).toBeGreaterThan(sock.messages.indexOf(ready));
  },
  30_000,
);
