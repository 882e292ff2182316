// Crash isolation for the one desktop process: the daemon runs with its unit's settings under a systemd user manager
// (systemd-run --user); killed, systemd restarts it and the tray icon is back with the panel. A config error is not a crash:
// the unit is left failed instead of restarted (README, Install).
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, homeEnv, removeHome, tempHome } from "../helpers/daemon.ts";
import { USER_MANAGER, serviceProperties, startUserManager, type UserManager } from "../helpers/user-manager.ts";
import { startPrivateBus, startWatcher, until, type PrivateBus } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon", "systemctl", "systemd-run", "unshare", USER_MANAGER]);

const UNIT = `c2l-tray-restart-${process.pid}.service`;
let manager: UserManager;
let bus: PrivateBus;
let watcher: Awaited<ReturnType<typeof startWatcher>>;
let home: string;

beforeAll(async () => {
  manager = await startUserManager();
  bus = await startPrivateBus();
  watcher = await startWatcher(bus.address);
  home = tempHome("c2l-sdrestart-");
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[alerts]\nnotifications = false\n`);
}, 60_000);

afterAll(async () => {
  manager?.systemctl("stop", UNIT);
  manager?.systemctl("reset-failed", UNIT);
  watcher?.stop();
  await bus?.stop();
  await manager?.stop();
  if (home) removeHome(home);
}, 60_000);

const mainPid = () => Number(manager.systemctl("show", UNIT, "-p", "MainPID", "--value").out);
const itemOf = (pid: number) => `org.kde.StatusNotifierItem-${pid}-1`;
/** The child processes of `pid` (every thread's children, from /proc). */
const childrenOf = (pid: number) =>
  readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean));

test("the unit runs one process that shows the icon; killed, systemd restarts it and the icon is back", async () => {
  // The daemon's unit as shipped (Type=notify, watchdog, Restart=on-failure, hardening), its ExecStart pointed at this checkout.
  const env = { ...homeEnv(home), DBUS_SESSION_BUS_ADDRESS: bus.address };
  const setenv = Object.entries(env).map(([k, v]) => `--setenv=${k}=${v}`);
  // Asynchronously: systemd-run waits for READY=1, and the watcher that the daemon registers with lives in this process.
  const run = Bun.spawn(
    ["systemd-run", "--user", `--unit=${UNIT}`, "--collect", ...serviceProperties(join(REPO, "systemd/cloudtolocalllm-tunnel.service")), ...setenv, BUN, join(REPO, "src/main.ts"), "serve"],
    { env: manager.env, stdout: "pipe", stderr: "pipe" },
  );
  expect({ code: await run.exited, err: await new Response(run.stderr).text() }).toEqual({ code: 0, err: expect.stringContaining(`Running as unit: ${UNIT}`) });

  const first = await until(() => mainPid() || null, 20_000, "the unit's main process");
  await until(() => watcher.stub.items.includes(itemOf(first)), 20_000, `the daemon's icon (journal: ${manager.systemctl("status", UNIT).out})`);
  expect(manager.systemctl("show", UNIT, "-p", "ActiveState", "--value").out).toBe("active");
  // One process in the unit: the daemon itself shows the tray, it starts no tray process beside it.
  expect(childrenOf(first)).toEqual([]);
  expect(manager.systemctl("show", UNIT, "-p", "NRestarts", "--value").out).toBe("0");

  // A crash: systemd restarts it after RestartSec and the new process registers its icon again.
  process.kill(first, "SIGKILL");
  const second = await until(() => {
    const p = mainPid();
    return p && p !== first ? p : null;
  }, 20_000, "systemd's restart");
  await until(() => watcher.stub.items.includes(itemOf(second)), 20_000, `the icon back (status: ${manager.systemctl("status", UNIT).out})`);
  expect(Number(manager.systemctl("show", UNIT, "-p", "NRestarts", "--value").out)).toBe(1);
}, 90_000);

test("a config error is not restarted: `serve` exits 2 and systemd leaves the unit failed", async () => {
  const unit = `c2l-config-error-${process.pid}.service`;
  const bad = tempHome("c2l-sdconfig-");
  mkdirSync(join(bad, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(bad, ".config/cloudtolocalllm/tunnel.toml"), `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[helth]\n`);
  const setenv = Object.entries(homeEnv(bad)).map(([k, v]) => `--setenv=${k}=${v}`);
  try {
    // Without --collect: a failed unit stays loaded, so its state can be read.
    const run = Bun.spawn(["systemd-run", "--user", `--unit=${unit}`, ...serviceProperties(join(REPO, "systemd/cloudtolocalllm-tunnel.service")), ...setenv, BUN, join(REPO, "src/main.ts"), "serve"], {
      env: manager.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    // systemd-run waits for READY=1, which a daemon that cannot read its config never sends.
    expect(await run.exited).not.toBe(0);
    // Past RestartSec (2 s) and then some: a restart would have been made by now.
    await Bun.sleep(4000);
    const props = manager.systemctl("show", unit, "-p", "ActiveState", "-p", "Result", "-p", "ExecMainStatus", "-p", "NRestarts").out;
    expect(Object.fromEntries(props.split("\n").map((l) => l.split("=", 2) as [string, string]))).toEqual({ ActiveState: "failed", Result: "exit-code", ExecMainStatus: "2", NRestarts: "0" });
  } finally {
    manager.systemctl("stop", unit);
    manager.systemctl("reset-failed", unit);
    removeHome(bad);
  }
}, 60_000);
