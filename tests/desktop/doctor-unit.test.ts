// `doctor` with a real systemd user manager whose unit failed: the line says how (exit code, start limit), and its fix,
// run as written once the cause is gone, starts the unit again, where a plain `start` is refused.
import { expect } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ownPortsToml } from "../helpers/own-ports.ts";
import { requireTools } from "../helpers/requires.ts";
import { PRIVATE_USER_MANAGER, startUserManager, type UserManager } from "../helpers/user-manager.ts";
import { BUN, REPO } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, test } = requireTools(["systemctl", "unshare", PRIVATE_USER_MANAGER]);

const UNIT = "cloudtolocalllm-tunnel.service";
let manager: UserManager;
beforeAll(async () => {
  manager = await startUserManager();
  // doctor also asks the daemon its config names: at ports of its own, where nothing listens, not at the defaults
  // (127.0.0.1:8765), where the user's own daemon (`npm start`) may be running.
  const dir = join(manager.env.XDG_CONFIG_HOME!, "cloudtolocalllm");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tunnel.toml"), ownPortsToml());
}, 60_000);
afterAll(async () => {
  manager?.systemctl("stop", UNIT);
  await manager?.stop();
}, 30_000);

/** A unit of the daemon's name whose ExecStart is `cmd` (a stand-in: what fails is systemd's to report, not the daemon's). */
function unit(cmd: string, service = "", unitSection = "") {
  const dir = join(manager.env.XDG_CONFIG_HOME!, "systemd/user");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, UNIT), `[Unit]\n${unitSection}[Service]\nExecStart=/bin/sh -c '${cmd}'\nRestartPreventExitStatus=2\n${service}[Install]\nWantedBy=default.target\n`);
  expect(manager.systemctl("daemon-reload").code).toBe(0);
}

function systemdLine() {
  const p = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "doctor", "--json"], { env: manager.env, stdout: "pipe", stderr: "pipe" });
  return (JSON.parse(p.stdout.toString()).checks as { name: string; detail: string; fix?: string }[]).find((c) => c.name === "systemd user unit")!;
}

test("a unit that exited with code 2, then one systemd gave up restarting: doctor says how, and its fix starts it again where a plain start is refused", async () => {
  unit("exit 2");
  manager.systemctl("enable", UNIT);
  manager.systemctl("start", UNIT);
  await until(() => manager.systemctl("is-failed", UNIT).code === 0, 10_000, "the unit to fail");
  // Before: "is enabled but not running (load=loaded file=enabled active=failed)".
  expect(systemdLine().detail).toBe(`${UNIT} failed: the daemon exited with code 2 (an invalid config file or argument; systemd does not restart it)`);

  // It fails until a file appears: the cause goes away without touching the unit (a daemon-reload would reset the limit).
  const fixed = join(manager.env.HOME!, "fixed");
  unit(`test -f ${fixed} && exec sleep 60; exit 1`, "Restart=on-failure\nRestartSec=10ms\n", "StartLimitBurst=3\nStartLimitIntervalSec=60s\n");
  manager.systemctl("reset-failed", UNIT);
  manager.systemctl("start", UNIT);
  // systemd restarts it until the burst is spent, then leaves it failed.
  await until(() => manager.systemctl("show", UNIT, "-p", "NRestarts", "--value").out === "3" && manager.systemctl("is-failed", UNIT).code === 0, 10_000, "systemd to give up");
  expect(systemdLine().detail).toBe(`${UNIT} failed: the daemon exited with code 1 (a failure its log names)`);
  // The cause goes away; the old fix (a plain start) is refused: the start limit is spent.
  writeFileSync(fixed, "");
  expect(manager.systemctl("start", UNIT).code).not.toBe(0);
  const line = systemdLine();
  // The fix as written starts it.
  const commands = /then `(.*)`$/.exec(line.fix!)![1]!;
  expect(Bun.spawnSync(["sh", "-c", commands], { env: manager.env }).exitCode).toBe(0);
  expect(manager.systemctl("is-active", UNIT).out).toBe("active");
}, 60_000);
