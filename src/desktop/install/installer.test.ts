// install/uninstall against a temp tree with a recording systemctl runner: calls, idempotence, manifest, rewrites.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { install, uninstall, type InstallPaths } from "./installer.ts";
import { assets, rewriteDesktopEntry, rewriteUnit } from "./assets.ts";
import type { Runner } from "./systemctl.ts";

let root: string;
let paths: InstallPaths;
let src: string;
let calls: string[];

function recorder(fail?: string): Runner {
  return async (args) => {
    calls.push(args.join(" "));
    if (fail && args.join(" ").startsWith(fail)) return { code: 1, stdout: "", stderr: "Unit cloudtolocalllm-tunnel.service not found.\n" };
    return { code: 0, stdout: "", stderr: "" };
  };
}
const noManager: Runner = async (args) => {
  calls.push(args.join(" "));
  return { code: 1, stdout: "", stderr: "Failed to connect to bus: No medium found\n" };
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "c2l-installer-"));
  paths = {
    binDir: join(root, "bin"),
    userUnitDir: join(root, "data/systemd/user"),
    applicationsDir: join(root, "data/applications"),
    autostartDir: join(root, "config/autostart"),
    iconsDir: join(root, "data/icons"),
    manDir: join(root, "data/man/man1"),
    metainfoDir: join(root, "data/metainfo"),
    bashCompletionDir: join(root, "data/bash-completion/completions"),
    zshCompletionDir: join(root, "data/zsh/site-functions"),
    fishCompletionDir: join(root, "data/fish/vendor_completions.d"),
    manifest: join(root, "data/cloudtolocalllm/install-manifest.json"),
  };
  src = join(root, "downloaded");
  writeFileSync(src, "#!/bin/sh\necho v1\n");
  chmodSync(src, 0o755);
  calls = [];
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("installer", () => {
  test("first install enables and restarts, a repeat only starts, an upgrade restarts again", async () => {
    const r1 = await install({ source: src, enable: true, run: recorder(), paths });
    expect(calls).toEqual(["show-environment", "daemon-reload", "enable cloudtolocalllm-tunnel.service", "restart cloudtolocalllm-tunnel.service"]);
    expect(r1.unchanged).toEqual([]);
    expect(readFileSync(join(paths.binDir, "cloudtolocalllm-tunnel"), "utf8")).toContain("v1");

    calls = [];
    const r2 = await install({ source: src, enable: true, run: recorder(), paths });
    expect(r2.written).toEqual([]);
    expect(r2.unchanged.length).toBe(r1.written.length);
    expect(calls).toEqual(["show-environment", "daemon-reload", "enable cloudtolocalllm-tunnel.service", "start cloudtolocalllm-tunnel.service"]);

    writeFileSync(src, "#!/bin/sh\necho v2\n");
    calls = [];
    const r3 = await install({ source: src, enable: false, run: recorder(), paths });
    expect(r3.written).toEqual([join(paths.binDir, "cloudtolocalllm-tunnel")]);
    expect(calls).toEqual(["show-environment", "daemon-reload", "try-restart cloudtolocalllm-tunnel.service"]);
  }, 30_000);

  test("the unit and the desktop entries point at the installed binary", async () => {
    await install({ source: src, enable: false, run: noManager, paths });
    const bin = join(paths.binDir, "cloudtolocalllm-tunnel");
    const unit = readFileSync(join(paths.userUnitDir, "cloudtolocalllm-tunnel.service"), "utf8");
    expect(unit).toContain(`ExecStart=${bin} serve`);
    expect(unit).not.toContain("/usr/bin/cloudtolocalllm-tunnel");
    // The autostart entry starts the daemon (which shows the tray) when systemd does not: one process.
    const autostart = readFileSync(join(paths.autostartDir, "cloudtolocalllm-tunnel-tray.desktop"), "utf8");
    expect(autostart).toContain(`exec ${bin} serve"`);
    expect(autostart).not.toContain(`${bin} tray`);
    expect(autostart).toContain(`TryExec=${bin}\n`);
    expect(autostart).toContain("Icon=cloudtolocalllm-tunnel\n");
    expect(existsSync(join(paths.userUnitDir, "cloudtolocalllm-tunnel-tray.service"))).toBe(false);
    expect(readFileSync(join(paths.applicationsDir, "cloudtolocalllm-tunnel.desktop"), "utf8")).toContain(`Exec=${bin} dashboard\n`);
    expect(existsSync(join(paths.iconsDir, "hicolor/48x48/status/cloudtolocalllm-tunnel-critical.png"))).toBe(true);
  }, 30_000);

  test("an upgrade over an install that had the tray's own unit stops and disables it while its file exists, then removes it", async () => {
    // What an earlier version left: the tray unit installed and listed in the manifest.
    const trayUnit = join(paths.userUnitDir, "cloudtolocalllm-tunnel-tray.service");
    await install({ source: src, enable: false, run: noManager, paths });
    writeFileSync(trayUnit, "[Service]\nExecStart=/bin/true\n");
    const m = JSON.parse(readFileSync(paths.manifest, "utf8"));
    writeFileSync(paths.manifest, JSON.stringify({ ...m, files: [...m.files, trayUnit], units: ["cloudtolocalllm-tunnel.service", "cloudtolocalllm-tunnel-tray.service"] }));
    calls = [];
    let existedAtDisable = false;
    const out: string[] = [];
    const r = await install({
      source: src,
      enable: true,
      run: async (args) => {
        if (args[0] === "disable") existedAtDisable = existsSync(trayUnit);
        return recorder()(args);
      },
      paths,
      out: (l) => out.push(l),
    });
    expect(calls).toEqual(["show-environment", "disable --now cloudtolocalllm-tunnel-tray.service", "show-environment", "daemon-reload", "enable cloudtolocalllm-tunnel.service", "start cloudtolocalllm-tunnel.service"]);
    expect(existedAtDisable).toBe(true);
    expect(r.removed).toEqual([trayUnit]);
    expect(existsSync(trayUnit)).toBe(false);
    expect(out[0]).toContain("retired cloudtolocalllm-tunnel-tray.service");
    expect(JSON.parse(readFileSync(paths.manifest, "utf8")).units).toEqual(["cloudtolocalllm-tunnel.service"]);
  }, 30_000);

  test("without a user manager the files are written and the systemd step is skipped with a reason", async () => {
    const r = await install({ source: src, enable: true, run: noManager, paths });
    expect(calls).toEqual(["show-environment"]);
    expect(r.systemd).toContain("skipped, no systemd user manager is reachable (Failed to connect to bus");
    expect(existsSync(join(paths.userUnitDir, "cloudtolocalllm-tunnel.service"))).toBe(true);
  }, 30_000);

  test("a service that fails to start points at the daemon's own words in the journal", async () => {
    const failing: Runner = async (args) => (args[0] === "restart" ? { code: 1, stdout: "", stderr: "Job for cloudtolocalllm-tunnel.service failed because the control process exited with error code.\nSee \"systemctl --user status cloudtolocalllm-tunnel.service\" for details.\n" } : { code: 0, stdout: "", stderr: "" });
    await expect(install({ source: src, enable: true, run: failing, paths })).rejects.toThrow(
      "systemctl --user restart cloudtolocalllm-tunnel.service failed: Job for cloudtolocalllm-tunnel.service failed because the control process exited with error code; the daemon says why in `journalctl --user -u cloudtolocalllm-tunnel.service -e`",
    );
  }, 30_000);

  test("a failing systemctl step is one clear error", async () => {
    await expect(install({ source: src, enable: true, run: recorder("enable"), paths })).rejects.toThrow(
      "systemctl --user enable cloudtolocalllm-tunnel.service failed: Unit cloudtolocalllm-tunnel.service not found.",
    );
  }, 30_000);

  test("uninstall disables the units, removes exactly the manifest's files and the dirs it created", async () => {
    // A directory that existed before install must survive, with foreign content in it.
    const foreign = join(paths.applicationsDir, "other-app.desktop");
    await Bun.write(foreign, "[Desktop Entry]\n");
    await install({ source: src, enable: true, run: recorder(), paths });
    calls = [];
    const r = await uninstall({ run: recorder(), paths });
    expect(calls).toEqual(["show-environment", "disable --now cloudtolocalllm-tunnel.service", "daemon-reload"]);
    expect(r.removed.length).toBe(1 + assets({ relay: false }).length);
    expect(existsSync(foreign)).toBe(true);
    for (const d of ["bin", "config", "data/icons", "data/cloudtolocalllm"]) expect(existsSync(join(root, d))).toBe(false);
    expect((await uninstall({ run: recorder(), paths })).nothing).toBe(true);
  }, 30_000);

  test("uninstall of a masked unit says it was masked and left off, not stopped and disabled", async () => {
    await install({ source: src, enable: true, run: recorder(), paths });
    // What systemctl says when `disable` meets a masked unit (systemd's install-change "is masked, ignoring").
    const masked: Runner = async (args) =>
      args[0] === "disable" ? { code: 0, stdout: "", stderr: "Unit cloudtolocalllm-tunnel.service is masked, ignoring.\n" } : { code: 0, stdout: "", stderr: "" };
    const r = await uninstall({ run: masked, paths });
    expect(r.systemd).toBe(
      "systemd: cloudtolocalllm-tunnel.service is masked, so it was left off as it was; its unit file and enablement links were removed, the mask stays (`systemctl --user unmask cloudtolocalllm-tunnel.service` clears it).",
    );
    expect(r.systemd).not.toContain("stopped and disabled");
  }, 30_000);

  test("the metainfo, the man page and the completions go to the XDG data dirs, and uninstall removes them", async () => {
    const generated = [
      { kind: "man" as const, name: "cloudtolocalllm-tunnel.1", content: ".TH X 1\n" },
      { kind: "completion-bash" as const, name: "cloudtolocalllm-tunnel", content: "complete -F f x\n" },
      { kind: "completion-zsh" as const, name: "_cloudtolocalllm-tunnel", content: "#compdef x\n" },
      { kind: "completion-fish" as const, name: "cloudtolocalllm-tunnel.fish", content: "complete -c x\n" },
    ];
    const r = await install({ source: src, enable: false, run: noManager, paths, generated });
    const files = [
      join(paths.metainfoDir, "io.github.cloudtolocalllm.Tunnel.metainfo.xml"),
      join(paths.manDir, "cloudtolocalllm-tunnel.1"),
      join(paths.bashCompletionDir, "cloudtolocalllm-tunnel"),
      join(paths.zshCompletionDir, "_cloudtolocalllm-tunnel"),
      join(paths.fishCompletionDir, "cloudtolocalllm-tunnel.fish"),
    ];
    for (const f of files) expect(r.written).toContain(f);
    expect(readFileSync(join(paths.manDir, "cloudtolocalllm-tunnel.1"), "utf8")).toBe(".TH X 1\n");
    expect(readFileSync(files[0]!, "utf8")).toContain("<component");
    await uninstall({ run: noManager, paths });
    for (const f of files) expect(existsSync(f)).toBe(false);
    for (const d of ["data/man", "data/metainfo", "data/bash-completion", "data/zsh", "data/fish"]) expect(existsSync(join(root, d))).toBe(false);
  }, 30_000);

  test("a unit the user made before install (or `systemctl --user edit --full`'s copy) is kept and named, and uninstall leaves it", async () => {
    const unit = join(paths.userUnitDir, "cloudtolocalllm-tunnel.service");
    await Bun.write(unit, "[Service]\nExecStart=/opt/mine serve\nEnvironment=FOO=1\n");
    const r = await install({ source: src, enable: true, run: recorder(), paths });
    expect(r.kept).toEqual([unit]);
    expect(r.written).not.toContain(unit);
    expect(readFileSync(unit, "utf8")).toContain("Environment=FOO=1");
    const u = await uninstall({ run: recorder(), paths });
    expect(u.removed).not.toContain(unit);
    expect(readFileSync(unit, "utf8")).toContain("Environment=FOO=1");
  }, 30_000);

  test("a file changed since install (the desktop turned autostart off) survives a reinstall and uninstall; unchanged ones are updated", async () => {
    const man = (v: string) => [{ kind: "man" as const, name: "cloudtolocalllm-tunnel.1", content: `.TH X 1 ${v}\n` }];
    await install({ source: src, enable: true, run: recorder(), paths, generated: man("v1") });
    const entry = join(paths.autostartDir, "cloudtolocalllm-tunnel-tray.desktop");
    // What GNOME's "Startup Applications" and KDE's autostart settings do to the user's copy.
    await Bun.write(entry, readFileSync(entry, "utf8") + "X-GNOME-Autostart-enabled=false\nHidden=true\n");
    writeFileSync(src, "#!/bin/sh\necho v2\n");
    const r = await install({ source: src, enable: true, run: recorder(), paths, generated: man("v2") });
    expect(r.kept).toEqual([entry]);
    expect(readFileSync(entry, "utf8")).toEndWith("Hidden=true\n");
    expect(readFileSync(join(paths.manDir, "cloudtolocalllm-tunnel.1"), "utf8")).toBe(".TH X 1 v2\n");
    expect(readFileSync(join(paths.binDir, "cloudtolocalllm-tunnel"), "utf8")).toContain("v2");
    // Still the user's on the next run, and uninstall keeps it while removing the rest.
    expect((await install({ source: src, enable: true, run: recorder(), paths, generated: man("v2") })).kept).toEqual([entry]);
    const u = await uninstall({ run: recorder(), paths });
    expect(u.kept).toEqual([entry]);
    expect(readFileSync(entry, "utf8")).toEndWith("Hidden=true\n");
    expect(existsSync(join(paths.manDir, "cloudtolocalllm-tunnel.1"))).toBe(false);
    expect(existsSync(join(paths.binDir, "cloudtolocalllm-tunnel"))).toBe(false);
  }, 30_000);

  test("a file it cannot write (a file where ~/.local/share/systemd should be) is one sentence, and uninstall removes what was written", async () => {
    await install({ source: src, enable: false, run: noManager, paths });
    writeFileSync(src, "#!/bin/sh\necho v2\n");
    rmSync(join(root, "data/systemd"), { recursive: true });
    writeFileSync(join(root, "data/systemd"), "not a directory\n");
    const unit = join(paths.userUnitDir, "cloudtolocalllm-tunnel.service");
    await expect(install({ source: src, enable: true, run: recorder(), paths })).rejects.toThrow(
      `cannot write ${unit} (at ${paths.userUnitDir}): a file stands where a directory must be (ENOTDIR); fix that and run install again, or run uninstall to remove what was written`,
    );
    expect(readFileSync(join(paths.binDir, "cloudtolocalllm-tunnel"), "utf8")).toContain("v2");
    // The earlier install's files and the new binary are all still listed: uninstall leaves nothing of either behind.
    const u = await uninstall({ run: noManager, paths });
    expect(u.nothing).toBe(false);
    for (const d of ["bin", "config/autostart", "data/icons", "data/applications", "data/cloudtolocalllm"]) expect(existsSync(join(root, d))).toBe(false);
  }, 30_000);

  test("a first install that fails part way leaves a manifest, so uninstall removes the binary it copied", async () => {
    await Bun.write(join(root, "data/systemd"), "not a directory\n");
    await expect(install({ source: src, enable: true, run: recorder(), paths })).rejects.toThrow("(ENOTDIR)");
    expect(existsSync(join(paths.binDir, "cloudtolocalllm-tunnel"))).toBe(true);
    const u = await uninstall({ run: noManager, paths });
    expect(u.removed).toContain(join(paths.binDir, "cloudtolocalllm-tunnel"));
    expect(existsSync(join(root, "bin"))).toBe(false);
  }, 30_000);

  test("a user manager that looks elsewhere for units (XDG_DATA_HOME only in this shell) is named before any systemctl step", async () => {
    const elsewhere: Runner = async (args) => {
      calls.push(args.join(" "));
      return { code: 0, stdout: args[0] === "show-environment" ? `HOME=${root}/home\nXDG_DATA_HOME=${root}/session-data\n` : "", stderr: "" };
    };
    await expect(install({ source: src, enable: true, run: elsewhere, paths })).rejects.toThrow(
      `systemd's user manager reads units from ${root}/session-data/systemd/user, not ${paths.userUnitDir} where the unit was written (XDG_DATA_HOME or HOME here is not your session's)`,
    );
    expect(calls).toEqual(["show-environment"]);
    // The same directory (spelled with a trailing slash, or by HOME alone): no complaint.
    const same: Runner = async (args) => ({ code: 0, stdout: args[0] === "show-environment" ? `HOME=/nowhere\nXDG_DATA_HOME=${root}/data/\n` : "", stderr: "" });
    expect((await install({ source: src, enable: true, run: same, paths })).systemd).toContain("enabled and");
    const byHome: Runner = async (args) => ({ code: 0, stdout: args[0] === "show-environment" ? `HOME=${root}\nXDG_DATA_HOME=relative\n` : "", stderr: "" });
    expect((await install({ source: src, enable: true, run: byHome, paths: { ...paths, userUnitDir: join(root, ".local/share/systemd/user") } })).systemd).toContain("enabled and");
  }, 30_000);

  test("a path with a space is quoted where units and desktop entries need it; quotes, $, % and newlines are refused", () => {
    expect(rewriteUnit("ExecStart=/usr/bin/cloudtolocalllm-tunnel serve", "/home/a b/bin/x")).toBe('ExecStart="/home/a b/bin/x" serve');
    expect(rewriteDesktopEntry('Exec=cloudtolocalllm-tunnel dashboard\nTryExec=cloudtolocalllm-tunnel\nExec=sh -c "a || exec cloudtolocalllm-tunnel serve"', "/home/ü b/x")).toBe(
      `Exec="/home/ü b/x" dashboard\nTryExec=/home/ü b/x\nExec=sh -c "a || exec '/home/ü b/x' serve"`,
    );
    for (const bad of ["/home/a'b/x", '/home/a"b/x', "/home/a\\b/x", "/home/$USER/x", "/home/100%/x", "/home/a\nb/x"]) expect(() => rewriteUnit("ExecStart=/usr/bin/cloudtolocalllm-tunnel", bad)).toThrow("cannot hold");
    expect(rewriteDesktopEntry("Exec=cloudtolocalllm-tunnel dashboard\nIcon=cloudtolocalllm-tunnel\nName=cloudtolocalllm-tunnel x", "/o/c")).toBe(
      "Exec=/o/c dashboard\nIcon=cloudtolocalllm-tunnel\nName=cloudtolocalllm-tunnel x",
    );
  }, 30_000);
});
