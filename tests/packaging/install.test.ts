// `install` / `uninstall` round trip in a temporary HOME without a systemd user manager: exactly the expected files.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { BUN, homeEnv, REPO, removeHome, tempHome } from "../helpers/daemon.ts";
import { ICON_SIZES, TRAY_STATES } from "../../src/desktop/icons/index.ts";
import { verifyUnit } from "./systemd-verify.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { mountNamespace, namespaceWrapper } from "../helpers/mount-namespace.ts";

const home = tempHome("c2l-install-");
afterAll(() => removeHome(home));
// No session bus and an empty runtime dir: `systemctl --user` cannot reach a manager, as in a container or over SSH.
const env = { ...homeEnv(home), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" };

function tree(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? tree(p, base) : [relative(base, p)];
  });
}
function cli(...args: string[]) {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...args], { env, cwd: home, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

const EXPECTED = [
  ".local/bin/cloudtolocalllm-tunnel",
  ".local/share/systemd/user/cloudtolocalllm-tunnel.service",
  ".config/autostart/cloudtolocalllm-tunnel-tray.desktop",
  ".local/share/applications/cloudtolocalllm-tunnel.desktop",
  ".local/share/cloudtolocalllm/install-manifest.json",
  // What the README lists besides: the metainfo, the man page and the completions for bash, zsh and fish.
  ".local/share/metainfo/io.github.cloudtolocalllm.Tunnel.metainfo.xml",
  ".local/share/man/man1/cloudtolocalllm-tunnel.1",
  ".local/share/bash-completion/completions/cloudtolocalllm-tunnel",
  ".local/share/zsh/site-functions/_cloudtolocalllm-tunnel",
  ".local/share/fish/vendor_completions.d/cloudtolocalllm-tunnel.fish",
  ...[["apps", "cloudtolocalllm-tunnel"], ...TRAY_STATES.map((s) => ["status", `cloudtolocalllm-tunnel-${s}`])].flatMap(([ctx, name]) => [
    `.local/share/icons/hicolor/scalable/${ctx}/${name}.svg`,
    ...ICON_SIZES.map((n) => `.local/share/icons/hicolor/${n}x${n}/${ctx}/${name}.png`),
  ]),
];

requireTools(["systemctl", "systemd-analyze", "man"]).test("install writes exactly the expected files, is idempotent, and uninstall restores the HOME it found", () => {
  // What the user had before: a config, and another app's launcher in a directory install also writes to.
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), "# mine\n");
  mkdirSync(join(home, ".local/share/applications"), { recursive: true });
  writeFileSync(join(home, ".local/share/applications/other.desktop"), "[Desktop Entry]\n");
  const download = join(home, "Downloads/cloudtolocalllm-tunnel");
  mkdirSync(join(home, "Downloads"));
  writeFileSync(download, "#!/bin/sh\necho downloaded\n");
  chmodSync(download, 0o755);
  const beforeWithDownload = tree(home).sort();

  const first = cli("install", "--binary", download);
  expect(first.code).toBe(0);
  expect(first.out).toContain("systemd: skipped, no systemd user manager is reachable");
  expect(tree(home).sort()).toEqual([...beforeWithDownload, ...EXPECTED].sort());
  expect(statSync(join(home, ".local/bin/cloudtolocalllm-tunnel")).mode & 0o777).toBe(0o755);

  // The installed unit is valid and points at the installed binary (verify checks that ExecStart exists).
  const unit = join(home, ".local/share/systemd/user/cloudtolocalllm-tunnel.service");
  expect(readFileSync(unit, "utf8")).toContain(`ExecStart=${join(home, ".local/bin/cloudtolocalllm-tunnel")} serve`);
  expect(verifyUnit(unit, true, join(home, "run"))).toEqual({ code: 0, output: "" });
  // The man page and the completions are the real ones, generated from the command table.
  expect(readFileSync(join(home, ".local/share/man/man1/cloudtolocalllm-tunnel.1"), "utf8")).toMatch(/^\.TH CLOUDTOLOCALLLM\\-TUNNEL 1 /);
  expect(readFileSync(join(home, ".local/share/bash-completion/completions/cloudtolocalllm-tunnel"), "utf8")).toContain("complete -F _cloudtolocalllm_tunnel cloudtolocalllm-tunnel");
  // man finds it through ~/.local/bin on PATH (man-db maps bin/ to ../share/man), as it would after a real install.
  const m = Bun.spawnSync(["man", "-w", "cloudtolocalllm-tunnel"], { env: { ...env, PATH: `${join(home, ".local/bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, MANPATH: "" }, stdout: "pipe", stderr: "pipe" });
  expect(m.stdout.toString().trim()).toBe(join(home, ".local/share/man/man1/cloudtolocalllm-tunnel.1"));

  const again = cli("install", "--binary", download);
  expect(again.code).toBe(0);
  expect(again.out).toContain(`(0 files written, ${EXPECTED.length - 1} unchanged)`);
  expect(tree(home).sort()).toEqual([...beforeWithDownload, ...EXPECTED].sort());
  // The upgrade: a new binary, everything else as it was.
  writeFileSync(download, "#!/bin/sh\necho downloaded, newer\n");
  const upgrade = cli("install", "--binary", download);
  expect(upgrade.code).toBe(0);
  expect(upgrade.out).toContain(`(1 file written, ${EXPECTED.length - 2} unchanged)`);

  const un = cli("uninstall");
  expect(un.code).toBe(0);
  expect(un.out).toContain(`Removed ${EXPECTED.length - 1} files. Your configuration was kept.`);
  expect(tree(home).sort()).toEqual(beforeWithDownload);
  expect(readFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), "utf8")).toBe("# mine\n");
  expect(cli("uninstall").out).toContain("Nothing to uninstall");
}, 60_000);

test("--binary naming the tarball's directory or a non-executable file (the tarball, its .sha256) is a usage error; nothing is written", () => {
  const h = tempHome("c2l-install-arg-");
  try {
    const run = (...args: string[]) => {
      const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...args], { env: { ...homeEnv(h), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }, cwd: h, stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode, err: r.stderr.toString() };
    };
    const dir = join(h, "cloudtolocalllm-tunnel-3.0.0-linux-x64");
    mkdirSync(dir);
    const tarball = join(h, "cloudtolocalllm-tunnel-3.0.0-linux-x64.tar.gz");
    writeFileSync(tarball, "\x1f\x8b");
    expect(run("install", "--binary", dir)).toEqual({ code: 2, err: `cloudtolocalllm-tunnel install: --binary: ${dir} is a directory; name the program itself (cloudtolocalllm-tunnel inside it). [usage]\n` });
    expect(run("install", "--binary", tarball)).toEqual({
      code: 2,
      err: `cloudtolocalllm-tunnel install: --binary: ${tarball} is not executable; name the program itself (the cloudtolocalllm-tunnel file unpacked from the tarball). [usage]\n`,
    });
    expect(readdirSync(join(h, ".local"))).not.toContain("bin");
  } finally {
    removeHome(h);
  }
}, 60_000);

requireTools(["desktop-file-validate"]).test("the desktop entries as install writes them (Exec and TryExec at the installed binary) are valid", () => {
  const h = tempHome("c2l-install-entries-");
  try {
    const bin = join(h, "downloaded");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "install", "--no-enable", "--binary", bin], { env: { ...homeEnv(h), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }, cwd: h, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    for (const f of [".config/autostart/cloudtolocalllm-tunnel-tray.desktop", ".local/share/applications/cloudtolocalllm-tunnel.desktop"]) {
      expect(readFileSync(join(h, f), "utf8")).toContain(`TryExec=${join(h, ".local/bin/cloudtolocalllm-tunnel")}`);
      const v = Bun.spawnSync(["desktop-file-validate", join(h, f)], { stdout: "pipe", stderr: "pipe" });
      expect({ f, code: v.exitCode, out: v.stdout.toString() + v.stderr.toString() }).toEqual({ f, code: 0, out: "" });
    }
  } finally {
    removeHome(h);
  }
}, 60_000);

// A home with a space and letters beyond ASCII ("/home/José Müller"): install used to refuse it ("install from a path without them").
requireTools(["systemd-analyze", "desktop-file-validate", "gio"]).test("in a HOME with a space and non-ASCII letters, install writes a unit systemd accepts and entries GLib launches", async () => {
  const h = join(tempHome("c2l-install-space-"), "José Müller");
  try {
    for (const d of [".config", ".local/state", ".local/share", "run"]) mkdirSync(join(h, d), { recursive: true });
    // The "binary": records how it was called, as the desktop would launch it.
    const bin = join(h, "downloaded");
    writeFileSync(bin, `#!/bin/sh\necho "$@" >> '${h}/called'\n`);
    chmodSync(bin, 0o755);
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "install", "--no-enable", "--binary", bin], { env: { ...homeEnv(h), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }, cwd: h, stdout: "pipe", stderr: "pipe" });
    expect({ code: r.exitCode, err: r.stderr.toString() }).toEqual({ code: 0, err: "" });
    const unit = join(h, ".local/share/systemd/user/cloudtolocalllm-tunnel.service");
    expect(readFileSync(unit, "utf8")).toContain(`ExecStart="${join(h, ".local/bin/cloudtolocalllm-tunnel")}" serve`);
    expect(verifyUnit(unit, true, join(h, "run"))).toEqual({ code: 0, output: "" });
    // The autostart entry (no systemd user manager here: its guard falls through to `serve`), then the launcher.
    for (const f of [".config/autostart/cloudtolocalllm-tunnel-tray.desktop", ".local/share/applications/cloudtolocalllm-tunnel.desktop"]) {
      const v = Bun.spawnSync(["desktop-file-validate", join(h, f)], { stdout: "pipe", stderr: "pipe" });
      expect({ f, code: v.exitCode, out: v.stdout.toString() + v.stderr.toString() }).toEqual({ f, code: 0, out: "" });
      expect(Bun.spawnSync(["gio", "launch", join(h, f)], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: h, XDG_RUNTIME_DIR: join(h, "run") } }).exitCode).toBe(0);
    }
    const called = () => (existsSync(join(h, "called")) ? readFileSync(join(h, "called"), "utf8") : "");
    await until(() => called().split("\n").length === 3, 10_000, "both entries ran the binary");
    expect(called().split("\n").sort()).toEqual(["", "dashboard", "serve"]);
  } finally {
    removeHome(join(h, ".."));
  }
}, 60_000);

// `su - alice` or `sudo -u alice -i`: no XDG_RUNTIME_DIR, so `systemctl --user` finds no bus though alice's manager runs.
requireTools(["systemctl", "unshare", "mount", mountNamespace]).test("install in a shell without XDG_RUNTIME_DIR while /run/user/UID/bus exists says to export it", () => {
  const h = tempHome("c2l-install-nort-");
  try {
    const bin = join(h, "downloaded");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    // In the namespace this process is uid 0: its /run/user/0/bus stands for a running manager's (nothing answers on it).
    const wrapper = namespaceWrapper(join(h, "in-ns"), "mount -t tmpfs c2l-run /run/user 2>/dev/null || { mkdir -p /run/user && mount -t tmpfs c2l-run /run/user; } || exit 97\nmkdir /run/user/0 && touch /run/user/0/bus || exit 98");
    const { XDG_RUNTIME_DIR: _none, ...env } = homeEnv(h);
    const r = Bun.spawnSync([wrapper, "install", "--no-enable", "--binary", bin], { env: { ...env, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }, cwd: h, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("this shell has no XDG_RUNTIME_DIR (a `su` or `sudo -u` login sets none) while your user manager runs: `export XDG_RUNTIME_DIR=/run/user/0`, then run it again");
  } finally {
    removeHome(h);
  }
}, 60_000);

test("install from source without --binary is a usage error (exit 2)", () => {
  const r = cli("install");
  expect(r.code).toBe(2);
  expect(r.out).toContain("install copies the compiled binary");
}, 60_000);

test("install keeps a unit the user made and names it; uninstall leaves it (through the CLI)", () => {
  const h = tempHome("c2l-install-own-");
  try {
    const run = (...args: string[]) => {
      const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...args], { env: { ...homeEnv(h), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }, cwd: h, stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
    };
    // Where the user's own units go (`systemctl --user edit --full` puts its copy there): it wins over install's.
    const unit = join(h, ".config/systemd/user/cloudtolocalllm-tunnel.service");
    mkdirSync(join(unit, ".."), { recursive: true });
    writeFileSync(unit, "[Service]\nExecStart=/opt/mine serve\n");
    const bin = join(h, "downloaded");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    const r = run("install", "--no-enable", "--binary", bin);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Kept 1 file you changed or made yourself (delete one and run install again for the shipped version):\n  ${unit}\n`);
    // The README's promise: install says when ~/.local/bin is not on PATH (it is not in this environment's).
    // With the line that does it: a newcomer told only "add it" has to look up how.
    expect(r.out).toContain(`Note: ${join(h, ".local/bin")} is not in your PATH; add it to run \`cloudtolocalllm-tunnel\` by name: \`export PATH="${join(h, ".local/bin")}:$PATH"\` in ~/.profile, then log in again`);
    // Where man finds the page by itself (~/.local/share/man beside ~/.local/bin), nothing to say about MANPATH.
    expect(r.out).not.toContain("MANPATH");
    expect(run("uninstall").code).toBe(0);
    expect(readFileSync(unit, "utf8")).toBe("[Service]\nExecStart=/opt/mine serve\n");
  } finally {
    removeHome(h);
  }
}, 60_000);

requireTools(["man"]).test("with XDG_DATA_HOME moved, install says how man finds the page, and man does with that MANPATH", () => {
  const h = tempHome("c2l-install-data-");
  try {
    const env = { ...homeEnv(h), XDG_DATA_HOME: join(h, "data"), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" };
    const bin = join(h, "downloaded");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "install", "--no-enable", "--binary", bin], { env, cwd: h, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain(`man: add ${join(h, "data/man")} to MANPATH (\`export MANPATH=${join(h, "data/man")}:\`) for \`man cloudtolocalllm-tunnel\`.`);
    const m = Bun.spawnSync(["man", "-w", "cloudtolocalllm-tunnel"], { env: { ...env, PATH: `${join(h, ".local/bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, MANPATH: `${join(h, "data/man")}:` }, stdout: "pipe", stderr: "pipe" });
    expect(m.stdout.toString().trim()).toBe(join(h, "data/man/man1/cloudtolocalllm-tunnel.1"));
  } finally {
    removeHome(h);
  }
}, 60_000);

// As another user (root ignores permissions): a read-only ~/.config stops install with one sentence and exit 1.
requireTools(["setpriv"]).test("with a read-only ~/.config, install exits 1 naming the file, and uninstall removes what it had written", () => {
  const h = tempHome("c2l-install-ro-");
  try {
    const as = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const bin = join(h, "downloaded");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    if (as.length) Bun.spawnSync(["chown", "-R", "65534:65534", h]);
    chmodSync(join(h, ".config"), 0o555);
    const run = (...args: string[]) => {
      const r = Bun.spawnSync([...as, BUN, join(REPO, "src/main.ts"), ...args], { env: { ...homeEnv(h), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }, cwd: h, stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
    };
    const r = run("install", "--no-enable", "--binary", bin);
    expect({ code: r.code, err: r.err }).toEqual({
      code: 1,
      err: `cloudtolocalllm-tunnel install: cannot write ${join(h, ".config/autostart/cloudtolocalllm-tunnel-tray.desktop")} (at ${join(h, ".config/autostart")}): permission denied (EACCES); fix that and run install again, or run uninstall to remove what was written\n`,
    });
    const u = run("uninstall");
    expect(u.code).toBe(0);
    // The binary, the unit and the launcher (under ~/.local), written before the autostart entry.
    expect(u.out).toContain("Removed 3 files.");
    expect(readdirSync(join(h, ".local"))).not.toContain("bin");
  } finally {
    chmodSync(join(h, ".config"), 0o755);
    removeHome(h);
  }
}, 60_000);
