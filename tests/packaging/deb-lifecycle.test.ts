// The .deb over its life: real dpkg installs, upgrades, removes and purges it in a scratch root, and its maintainer
// scripts restart (upgrade) or stop (remove) the daemon and the relay in a real systemd user manager.
import { expect } from "bun:test";
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTools } from "../helpers/requires.ts";
import { PRIVATE_USER_MANAGER, startUserManager, type UserManager } from "../helpers/user-manager.ts";
import { until } from "../helpers/until.ts";
import { ensureRelease } from "./release-fixture.ts";
import { buildDeb } from "../../packaging/deb/build.ts";

const { afterAll, beforeAll, test } = requireTools(["dpkg-deb", "dpkg"]);

const work = mkdtempSync(join(tmpdir(), "c2l-deb-life-"));
const debs: Record<string, string> = {};
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(async () => {
  const rel = await ensureRelease();
  const src = join(work, "src");
  mkdirSync(src);
  expect(Bun.spawnSync(["tar", "-xzf", rel.tarball, "-C", src]).exitCode).toBe(0);
  const stage = join(src, readdirSync(src)[0]!);
  // Two versions of the same tree: what an upgrade sees (gzip -1: the layout and scripts matter, not the size).
  for (const v of ["3.0.0", "3.0.1"]) debs[v] = await buildDeb({ stage, version: v, arch: rel.target === "linux-arm64" ? "arm64" : "amd64", outDir: join(work, "out"), date: new Date(0), compression: "gzip", level: 1 });
}, 300_000);

const PKG = "cloudtolocalllm-tunnel";
const AUTOSTART = "etc/xdg/autostart/cloudtolocalllm-tunnel-tray.desktop";

test("dpkg installs, upgrades, removes and purges it: modes, the admin's conffile edit kept, nothing in a home touched", () => {
  const root = join(work, "root");
  mkdirSync(join(root, "var/lib/dpkg/updates"), { recursive: true });
  mkdirSync(join(root, "var/lib/dpkg/info"), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  // Scripts run without chroot with DPKG_ROOT set, which must keep them off this machine's services.
  const dpkg = (...args: string[]) => {
    const r = Bun.spawnSync(["dpkg", `--root=${root}`, "--force-script-chrootless", "--force-depends", "--log=/dev/null", ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };
  const status = () => Bun.spawnSync(["dpkg-query", `--root=${root}`, "-W", "-f=${db:Status-Abbrev}${Version}", PKG], { stdout: "pipe", stderr: "pipe" }).stdout.toString().trim();
  const mode = (p: string) => statSync(join(root, p)).mode & 0o7777;

  expect(dpkg("-i", debs["3.0.0"]!).code).toBe(0);
  expect(status()).toBe("ii 3.0.0-1");
  expect(mode(`usr/bin/${PKG}`)).toBe(0o755);
  for (const p of [`usr/lib/systemd/user/${PKG}.service`, "usr/lib/systemd/system/cloudtolocalllm-relay.service", AUTOSTART, `usr/share/applications/${PKG}.desktop`, `usr/share/man/man1/${PKG}.1.gz`]) expect(mode(p)).toBe(0o644);
  const exec = readFileSync(join(root, `usr/lib/systemd/user/${PKG}.service`), "utf8");
  expect(exec).toContain(`ExecStart=/usr/bin/${PKG} serve`);

  // A user's data (inside the scratch root: the package must never reach it) and an admin's edit of the conffile.
  const home = join(root, "home/ada");
  const userFiles: Record<string, string> = {
    ".config/cloudtolocalllm/tunnel.toml": "# mine\n",
    ".config/cloudtolocalllm/api-token": "c2l_token\n",
    ".config/systemd/user/default.target.wants/cloudtolocalllm-tunnel.service": "link\n",
    ".local/state/cloudtolocalllm/usage.json": "{}\n",
  };
  for (const [p, c] of Object.entries(userFiles)) {
    mkdirSync(join(home, p, ".."), { recursive: true });
    writeFileSync(join(home, p), c);
  }
  appendFileSync(join(root, AUTOSTART), "Hidden=true\n");

  const up = dpkg("-i", debs["3.0.1"]!);
  expect(up.code).toBe(0);
  expect(up.out).not.toContain("Configuration file");
  expect(status()).toBe("ii 3.0.1-1");
  expect(readFileSync(join(root, AUTOSTART), "utf8")).toEndWith("Hidden=true\n");

  expect(dpkg("-r", PKG).code).toBe(0);
  expect(status()).toBe("rc 3.0.1-1");
  expect(existsSync(join(root, `usr/bin/${PKG}`))).toBe(false);
  expect(existsSync(join(root, `usr/lib/systemd/user/${PKG}.service`))).toBe(false);
  // remove keeps the conffile (with the edit); purge deletes it.
  expect(readFileSync(join(root, AUTOSTART), "utf8")).toEndWith("Hidden=true\n");
  expect(dpkg("-P", PKG).code).toBe(0);
  expect(status()).toBe("");
  expect(existsSync(join(root, AUTOSTART))).toBe(false);
  for (const [p, c] of Object.entries(userFiles)) expect(readFileSync(join(home, p), "utf8")).toBe(c);
}, 60_000);

// The scripts as dpkg runs them on a systemd machine, against a real user manager. A stand-in systemctl (first on PATH)
// answers for the machine: it lists one running user manager and sends every call to the test's manager, so
// deb-systemd-invoke's "every user" and the system manager (the relay) both land there.
const life = requireTools(["dpkg-deb", "dpkg", "deb-systemd-invoke", "systemctl", "unshare", "mount", PRIVATE_USER_MANAGER]);
let manager: UserManager;
const shim = join(work, "shim");
const fakeBin = join(work, "bin", PKG);
const unitDir = () => join(manager.env.XDG_CONFIG_HOME!, "systemd/user");

life.beforeAll(async () => {
  manager = await startUserManager();
  mkdirSync(shim);
  writeFileSync(
    join(shim, "systemctl"),
    `#!/bin/bash
a=()
while [ $# -gt 0 ]; do
  case "$1" in --system|--user) ;; --machine) shift ;; *) a+=("$1") ;; esac
  shift
done
for x in "\${a[@]}"; do case "$x" in 'user@*'|'user@*.service') echo "user@4242.service loaded active running User Manager for UID 4242"; exit 0 ;; esac; done
exec /usr/bin/systemctl --user "\${a[@]}"
`,
  );
  chmodSync(join(shim, "systemctl"), 0o755);
  // "The binary": which version runs shows in the process's command line.
  mkdirSync(join(work, "bin"));
  installFake("1001");
  mkdirSync(unitDir(), { recursive: true });
  for (const unit of [`${PKG}.service`, "cloudtolocalllm-relay.service"]) writeFileSync(join(unitDir(), unit), `[Service]\nExecStart=${fakeBin}\n[Install]\nWantedBy=default.target\n`);
  expect(manager.systemctl("daemon-reload").code).toBe(0);
}, 60_000);
life.afterAll(async () => {
  manager?.systemctl("stop", `${PKG}.service`, "cloudtolocalllm-relay.service");
  await manager?.stop();
}, 30_000);

/** Replaces the fake binary the way dpkg does (a new file renamed over the old one). */
function installFake(tag: string): void {
  writeFileSync(`${fakeBin}.new`, `#!/bin/sh\nexec sleep ${tag}\n`);
  chmodSync(`${fakeBin}.new`, 0o755);
  renameSync(`${fakeBin}.new`, fakeBin);
}

/** Runs one maintainer script from the .deb with dpkg's arguments, in a mount namespace that looks booted with systemd. */
function script(name: "postinst" | "prerm" | "postrm", args: string[], opts: { policy?: number; env?: Record<string, string> } = {}): void {
  const file = join(work, name);
  writeFileSync(file, Bun.spawnSync(["sh", "-c", `dpkg-deb --ctrl-tarfile '${debs["3.0.1"]}' | tar -xO ./${name}`]).stdout);
  // policy-rc.d: 0 lets deb-systemd-invoke act, 101 is what image builds and containers install to forbid it.
  const policy = join(work, "policy-rc.d");
  writeFileSync(policy, `#!/bin/sh\nexit ${opts.policy ?? 0}\n`);
  chmodSync(policy, 0o755);
  // Both only inside the namespace: a tmpfs over /run/systemd (with system/ in it) and one over /usr/sbin (with the policy).
  const setup = `mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && mount -t tmpfs tmpfs /usr/sbin && cp '${policy}' /usr/sbin/policy-rc.d`;
  const r = Bun.spawnSync(["unshare", "-m", "--propagation", "private", "sh", "-c", `${setup} && exec sh '${file}' "$@"`, "sh", ...args], {
    env: { ...manager.env, PATH: `${shim}:${manager.env.PATH}`, ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect({ code: r.exitCode, err: r.stderr.toString() }).toEqual({ code: 0, err: "" });
}

const show = (unit: string, prop: string) => manager.systemctl("show", unit, "-p", prop, "--value").out;
const running = (unit: string) => {
  const pid = Number(show(unit, "MainPID"));
  return pid ? readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim() : "stopped";
};
const UNITS = [`${PKG}.service`, "cloudtolocalllm-relay.service"];
const states = () => UNITS.map(running);
/** What each unit runs once a restart has exec'd the binary (the shell script execs sleep). */
const settled = (expected: string[]) => until(() => (JSON.stringify(states()) === JSON.stringify(expected) ? true : null), 10_000, `units running ${expected.join(", ")} (now: ${states().join(", ")})`).catch(() => expect(states()).toEqual(expected));

life.test("an upgrade restarts the running daemon and relay onto the new binary; a first install restarts nothing", async () => {
  installFake("1001");
  for (const u of UNITS) expect(manager.systemctl("start", u).code).toBe(0);
  await settled(["sleep 1001", "sleep 1001"]);
  const pids = UNITS.map((u) => show(u, "MainPID"));

  // dpkg unpacks the new version, then runs postinst configure with the version it replaced.
  installFake("1002");
  script("postinst", ["configure", ""]);
  expect(UNITS.map((u) => show(u, "MainPID"))).toEqual(pids);
  script("postinst", ["configure", "3.0.0-1"]);
  await settled(["sleep 1002", "sleep 1002"]);
  const upgraded = UNITS.map((u) => show(u, "MainPID"));

  // Where policy-rc.d forbids it (containers, image builds) or dpkg works on another root, nothing is restarted.
  installFake("1003");
  script("postinst", ["configure", "3.0.1-1"], { policy: 101 });
  script("postinst", ["configure", "3.0.1-1"], { env: { DPKG_ROOT: "/srv/image" } });
  expect(UNITS.map((u) => show(u, "MainPID"))).toEqual(upgraded);
}, 60_000);

life.test("an upgrade starts no unit that is neither running nor enabled; one the user enabled comes back up", async () => {
  for (const u of UNITS) manager.systemctl("stop", u);
  script("postinst", ["configure", "3.0.0-1"]);
  expect(states()).toEqual(["stopped", "stopped"]);
  expect(manager.systemctl("enable", `${PKG}.service`).code).toBe(0);
  try {
    script("postinst", ["configure", "3.0.0-1"]);
    await settled(["sleep 1003", "stopped"]);
  } finally {
    manager.systemctl("disable", `${PKG}.service`);
  }
}, 60_000);

life.test("an upgrade from a version with a separate tray stops its tray unit still running (its file gone with the old package), so the daemon's own icon is the only one", async () => {
  const TRAY = `${PKG}-tray.service`;
  writeFileSync(join(unitDir(), TRAY), `[Service]\nExecStart=${fakeBin}\n`);
  expect(manager.systemctl("daemon-reload").code).toBe(0);
  expect(manager.systemctl("start", TRAY).code).toBe(0);
  await until(() => (running(TRAY) !== "stopped" ? true : null), 10_000, "the old tray running");
  // dpkg removes the files the new version does not ship; the old tray keeps running from memory.
  rmSync(join(unitDir(), TRAY));
  try {
    script("postinst", ["configure", "3.0.0-1"]);
    await until(() => (show(TRAY, "ActiveState") === "inactive" ? true : null), 10_000, `the leftover tray stopped (now ${show(TRAY, "ActiveState")})`);
  } finally {
    manager.systemctl("stop", TRAY);
  }
}, 60_000);

life.test("removal stops the daemon and the relay before their binary goes; an upgrade's prerm stops nothing", async () => {
  for (const u of UNITS) manager.systemctl("start", u);
  await settled(["sleep 1003", "sleep 1003"]);
  script("prerm", ["upgrade", "3.0.2-1"]);
  expect(states()).toEqual(["sleep 1003", "sleep 1003"]);
  script("prerm", ["remove"]);
  expect(states()).toEqual(["stopped", "stopped"]);
  expect(UNITS.map((u) => show(u, "ActiveState"))).toEqual(["inactive", "inactive"]);
  script("postrm", ["remove"]);
  script("postrm", ["purge"]);
}, 60_000);
