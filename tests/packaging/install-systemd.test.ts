// `install` with a real systemd user manager: the compiled daemon runs as one process from ~/.local/bin, a reinstall of
// a new binary restarts it onto that binary, an unchanged one leaves it running, and uninstall stops it.
import { expect } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { requireTools } from "../helpers/requires.ts";
import { PRIVATE_USER_MANAGER, startUserManager, type UserManager } from "../helpers/user-manager.ts";
import { ensureBinary } from "../helpers/binary.ts";
import { until } from "../helpers/until.ts";
import { commitPresent, oldRelease } from "../helpers/old-release.ts";

const { afterAll, beforeAll, test } = requireTools(["systemctl", "unshare", PRIVATE_USER_MANAGER]);

const UNIT = "cloudtolocalllm-tunnel.service";
let manager: UserManager;
let bin: string;

beforeAll(async () => {
  bin = await ensureBinary();
  manager = await startUserManager();
}, 300_000);
afterAll(async () => {
  manager?.systemctl("stop", UNIT);
  await manager?.stop();
}, 30_000);

test("install runs the daemon under systemd as one process; a new binary is restarted onto, an unchanged one is not; uninstall stops it", async () => {
  const home = manager.env.HOME!;
  // The daemon reads the manager's environment: its config there, on ports of its own (never the host's 8765/11435).
  mkdirSync(join(manager.env.XDG_CONFIG_HOME!, "cloudtolocalllm"), { recursive: true });
  writeFileSync(join(manager.env.XDG_CONFIG_HOME!, "cloudtolocalllm/tunnel.toml"), `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[alerts]\nnotifications = false\n[tray]\nenabled = "never"\n`);
  // Two "versions": wrappers that exec the compiled binary and mark the process with which one started it.
  const version = (v: string) => {
    const f = join(home, `download-${v}`);
    writeFileSync(f, `#!/bin/sh\nC2L_TEST_VERSION=${v} exec ${bin} "$@"\n`);
    chmodSync(f, 0o755);
    return f;
  };
  const run = (...args: string[]) => {
    const r = Bun.spawnSync([bin, ...args], { env: { ...manager.env, PATH: `${join(home, ".local/bin")}:${manager.env.PATH}` }, stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };
  const show = (p: string) => manager.systemctl("show", UNIT, "-p", p, "--value").out;
  const runningVersion = () => {
    const pid = Number(show("MainPID"));
    if (!pid) return null;
    return /(?:^|\0)C2L_TEST_VERSION=(\w+)/.exec(readFileSync(`/proc/${pid}/environ`, "utf8"))?.[1] ?? "?";
  };
  const childrenOf = (pid: number) => readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean));

  const first = run("install", "--binary", version("v1"));
  expect(first.code, first.out).toBe(0);
  expect(first.out).toContain(`systemd: ${UNIT} enabled and (re)started`);
  // Type=notify: systemctl returned once the daemon said READY=1.
  expect(show("ActiveState")).toBe("active");
  expect(show("UnitFileState")).toBe("enabled");
  expect(show("FragmentPath")).toBe(join(manager.env.XDG_DATA_HOME!, "systemd/user", UNIT));
  expect(runningVersion()).toBe("v1");
  const pid1 = Number(show("MainPID"));
  expect(readFileSync(`/proc/${pid1}/cmdline`, "utf8").split("\0")).toEqual([bin, "serve", ""]);
  expect(childrenOf(pid1)).toEqual([]);

  // The same binary again: nothing restarted.
  const again = run("install", "--binary", version("v1"));
  expect(again.out).toContain("(0 files written,");
  expect(Number(show("MainPID"))).toBe(pid1);

  // An upgrade: the new binary runs once install returns.
  const up = run("install", "--binary", version("v2"));
  expect(up.code, up.out).toBe(0);
  expect(up.out).toContain("(1 file written,");
  await until(() => runningVersion() === "v2" || null, 20_000, `the restarted daemon (status: ${manager.systemctl("status", UNIT).out})`);
  expect(Number(show("MainPID"))).not.toBe(pid1);

  const un = run("uninstall");
  expect(un.code, un.out).toBe(0);
  expect(show("ActiveState")).toBe("inactive");
  expect(existsSync(join(home, ".local/bin/cloudtolocalllm-tunnel"))).toBe(false);
  expect(existsSync(join(manager.env.XDG_CONFIG_HOME!, "cloudtolocalllm/tunnel.toml"))).toBe(true);
}, 120_000);

// README: `systemctl --user mask cloudtolocalllm-tunnel` keeps the daemon from running at all. mask puts a /dev/null link in
// ~/.config/systemd/user, so it works only while the unit is elsewhere (systemd.unit(5): a home's "packages" go to
// $XDG_DATA_HOME/systemd/user); with install's unit in ~/.config it was refused ("already exists").
test("a plain install is turned off the README's way: mask works, the autostart entry then starts nothing, and install again leaves it off", () => {
  const { HOME: home, XDG_CONFIG_HOME: config } = manager.env;
  const env = { ...manager.env, PATH: `${join(home!, ".local/bin")}:${manager.env.PATH}` };
  const run = (...args: string[]) => {
    const r = Bun.spawnSync([bin, ...args], { env, stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };
  const state = () => manager.systemctl("show", UNIT, "-p", "ActiveState", "--value").out;
  mkdirSync(join(config!, "cloudtolocalllm"), { recursive: true });
  writeFileSync(join(config!, "cloudtolocalllm/tunnel.toml"), `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[alerts]\nnotifications = false\n[tray]\nenabled = "never"\n`);
  try {
    const first = run("install", "--binary", bin);
    expect(first.code, first.out).toBe(0);
    expect(state()).toBe("active");
    const mask = manager.systemctl("mask", UNIT);
    expect(mask.code, mask.out).toBe(0);
    manager.systemctl("stop", UNIT);
    // The next login: the autostart entry install wrote (were it to run the daemon bare, the timeout would end it).
    const entry = readFileSync(join(config!, "autostart/cloudtolocalllm-tunnel-tray.desktop"), "utf8");
    const script = /^Exec=sh -c "(.*)"$/m.exec(entry)![1]!;
    const login = Bun.spawnSync(["/bin/sh", "-c", script], { env, stdout: "pipe", stderr: "pipe", timeout: 20_000 });
    expect(login.exitCode).toBe(0);
    expect(state()).toBe("inactive");
    // install again (the upgrade command) keeps the user's choice, and says how to undo it.
    const again = run("install", "--binary", bin);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`systemd: ${UNIT} is masked, so it was not enabled or started; \`systemctl --user unmask ${UNIT}\` turns it back on.`);
    expect(state()).toBe("inactive");
    expect(manager.systemctl("unmask", UNIT).code).toBe(0);
    expect(manager.systemctl("is-enabled", UNIT).out).toBe("enabled");
    // uninstall while masked: `disable` ignores a masked unit, so its enablement link would be left pointing at nothing.
    expect(manager.systemctl("mask", UNIT).code).toBe(0);
    const un = run("uninstall");
    expect(un.code, un.out).toBe(0);
    expect(un.out).toContain(`systemd: ${UNIT} is masked, so it was left off as it was;`);
    expect(un.out).not.toContain("stopped and disabled");
    const wants = join(config!, "systemd/user/default.target.wants");
    expect(existsSync(wants) ? readdirSync(wants) : []).not.toContain(UNIT);
  } finally {
    manager.systemctl("unmask", UNIT);
    manager.systemctl("stop", UNIT);
    run("uninstall");
  }
}, 120_000);

/** The last commit whose install wrote the unit to ~/.config/systemd/user. */
const BEFORE_UNIT_MOVE = "ae80b9f6";

requireTools(["git", commitPresent(BEFORE_UNIT_MOVE)]).test("install over one that put the unit in ~/.config moves it to the data home, enabled and running still, and mask then works", () => {
  const { HOME: home, XDG_CONFIG_HOME: config, XDG_DATA_HOME: data } = manager.env;
  const env = { ...manager.env, PATH: `${join(home!, ".local/bin")}:${manager.env.PATH}` };
  const old = oldRelease(BEFORE_UNIT_MOVE);
  const run = (program: string, ...args: string[]) => {
    const r = Bun.spawnSync([program, ...args], { env, stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };
  const show = (p: string) => manager.systemctl("show", UNIT, "-p", p, "--value").out;
  const oldUnit = join(config!, "systemd/user", UNIT);
  const link = join(config!, "systemd/user/default.target.wants", UNIT);
  mkdirSync(join(config!, "cloudtolocalllm"), { recursive: true });
  writeFileSync(join(config!, "cloudtolocalllm/tunnel.toml"), `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[alerts]\nnotifications = false\n[tray]\nenabled = "never"\n`);
  try {
    const before = run(old.binary, "install", "--binary", bin);
    expect(before.code, before.out).toBe(0);
    expect(show("FragmentPath")).toBe(oldUnit);
    expect(readlinkSync(link)).toBe(oldUnit);

    const up = run(bin, "install", "--binary", bin);
    expect(up.code, up.out).toBe(0);
    expect(show("FragmentPath")).toBe(join(data!, "systemd/user", UNIT));
    expect(existsSync(oldUnit)).toBe(false);
    expect(readlinkSync(link)).toBe(join(data!, "systemd/user", UNIT));
    expect([show("UnitFileState"), show("ActiveState")]).toEqual(["enabled", "active"]);
    const mask = manager.systemctl("mask", UNIT);
    expect(mask.code, mask.out).toBe(0);
    expect(manager.systemctl("unmask", UNIT).code).toBe(0);

    expect(run(bin, "uninstall").code).toBe(0);
    // (existsSync would call a link to a removed file gone.)
    expect(existsSync(dirname(link)) ? readdirSync(dirname(link)) : []).not.toContain(UNIT);
    expect(show("ActiveState")).toBe("inactive");
  } finally {
    manager.systemctl("unmask", UNIT);
    manager.systemctl("stop", UNIT);
    run(bin, "uninstall");
    rmSync(old.dir, { recursive: true, force: true });
  }
}, 120_000);

test("the autostart entry with a real user manager: a masked unit runs nothing, a disabled one starts through systemd", async () => {
  const { HOME: home, XDG_DATA_HOME: data, XDG_CONFIG_HOME: config } = manager.env;
  // Where a package's unit is found in a user's lookup paths (so `mask` can put its /dev/null link in ~/.config).
  mkdirSync(join(data!, "systemd/user"), { recursive: true });
  writeFileSync(join(data!, "systemd/user", UNIT), "[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=default.target\n");
  // The daemon run bare (outside systemd) leaves a mark.
  const fakeBin = join(home!, "fake-bin");
  mkdirSync(fakeBin, { recursive: true });
  const marker = join(home!, "bare-daemon");
  writeFileSync(join(fakeBin, "cloudtolocalllm-tunnel"), `#!/bin/sh\necho "$*" > ${marker}\n`);
  chmodSync(join(fakeBin, "cloudtolocalllm-tunnel"), 0o755);
  const entry = readFileSync(join(import.meta.dir, "../../packaging/desktop/cloudtolocalllm-tunnel-tray.desktop"), "utf8");
  const script = /^Exec=sh -c "(.*)"$/m.exec(entry)![1]!;
  const login = () => Bun.spawnSync(["/bin/sh", "-c", script], { env: { ...manager.env, PATH: `${fakeBin}:${manager.env.PATH}` } }).exitCode;
  try {
    expect(manager.systemctl("daemon-reload").code).toBe(0);
    expect(manager.systemctl("mask", UNIT).code).toBe(0);
    expect(existsSync(join(config!, "systemd/user", UNIT))).toBe(true);
    expect(login()).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(manager.systemctl("show", UNIT, "-p", "ActiveState", "--value").out).toBe("inactive");

    expect(manager.systemctl("unmask", UNIT).code).toBe(0);
    expect(login()).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(manager.systemctl("show", UNIT, "-p", "ActiveState", "--value").out).toBe("active");
  } finally {
    manager.systemctl("stop", UNIT);
    manager.systemctl("unmask", UNIT);
    // It stands where install writes its unit: the tests after this one install there.
    rmSync(join(data!, "systemd/user", UNIT), { force: true });
    manager.systemctl("daemon-reload");
  }
}, 60_000);

test("XDG_DATA_HOME set only in this shell: install says the manager reads units elsewhere (not a bare \"unit not found\")", () => {
  const env = { ...manager.env, XDG_DATA_HOME: join(manager.env.HOME!, "shell-only-data") };
  const r = Bun.spawnSync([bin, "install", "--binary", "/bin/true"], { env, stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(1);
  expect(r.stderr.toString()).toBe(
    `cloudtolocalllm-tunnel install: systemd's user manager reads units from ${join(manager.env.XDG_DATA_HOME!, "systemd/user")}, not ${join(env.XDG_DATA_HOME, "systemd/user")} where the unit was written (XDG_DATA_HOME or HOME here is not your session's); run install again with your session's value, or start the daemon with \`cloudtolocalllm-tunnel serve\`\n`,
  );
  expect(Bun.spawnSync([bin, "uninstall"], { env }).exitCode).toBe(0);
}, 60_000);

test("a daemon that cannot start (its port taken, as by `npm start`): install exits 1 and points at the journal", () => {
  const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const config = join(manager.env.XDG_CONFIG_HOME!, "cloudtolocalllm/tunnel.toml");
  const before = readFileSync(config, "utf8");
  try {
    writeFileSync(config, `[api]\nlisten = "127.0.0.1:${taken.port}"\n[proxy]\nlisten = "127.0.0.1:0"\n[tray]\nenabled = "never"\n`);
    const r = Bun.spawnSync([bin, "install", "--binary", bin], { env: manager.env, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(1);
    // systemd's own words between the two vary with its version.
    expect(r.stderr.toString()).toStartWith("cloudtolocalllm-tunnel install: systemctl --user restart cloudtolocalllm-tunnel.service failed: Job for cloudtolocalllm-tunnel.service failed");
    expect(r.stderr.toString()).toEndWith("; the daemon says why in `journalctl --user -u cloudtolocalllm-tunnel.service -e`\n");
  } finally {
    taken.stop(true);
    manager.systemctl("stop", UNIT);
    Bun.spawnSync([bin, "uninstall"], { env: manager.env });
    writeFileSync(config, before);
  }
}, 60_000);

// README, "Upgrading and removing": an Arch package's removal takes the unit file and touches no service; the
// `systemctl --user disable --now` it names afterwards must still remove the link enabling left in the home. A unit of
// its own name (systemd's behaviour, not the daemon's, is what the README promises here).
test("after a package's unit file is gone, the README's `systemctl --user disable --now` removes the enablement link, running or not", async () => {
  const unitDir = join(manager.env.XDG_DATA_HOME!, "systemd/user");
  const wants = join(manager.env.XDG_CONFIG_HOME!, "systemd/user/default.target.wants");
  mkdirSync(unitDir, { recursive: true });
  for (const running of [true, false]) {
    const name = `c2l-removed-${running ? "running" : "stopped"}.service`;
    writeFileSync(join(unitDir, name), "[Service]\nExecStart=/bin/sleep 600\n[Install]\nWantedBy=default.target\n");
    manager.systemctl("daemon-reload");
    expect(manager.systemctl("enable", "--now", name).code).toBe(0);
    expect(existsSync(join(wants, name))).toBe(true);
    if (!running) manager.systemctl("stop", name);
    rmSync(join(unitDir, name));
    const r = manager.systemctl("disable", "--now", name);
    expect(existsSync(join(wants, name))).toBe(false);
    // Stopped, the unit is no longer loaded: systemctl says so (exit 5) after removing the link, as the README warns.
    expect(r.code, r.out).toBe(running ? 0 : 5);
    if (!running) expect(r.out).toContain("not loaded");
    await until(() => manager.systemctl("is-active", name).out === "inactive", 10_000, `${name} stopped`);
  }
}, 60_000);
