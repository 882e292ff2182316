// The committed release script: tarball layout, SHA256SUMS, the size table, the filled AUR PKGBUILD; the built binary's version.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureRelease, type ReleaseFixture } from "./release-fixture.ts";
import { ICON_SIZES, TRAY_STATES } from "../../src/desktop/icons/index.ts";
import { homeEnv, REPO, removeHome, tempHome } from "../helpers/daemon.ts";
import { BIN_PKG, printSrcinfo, SRC_PKG } from "../../packaging/aur/update.ts";
import { requireTools } from "../helpers/requires.ts";
import { overlayNamespace } from "../helpers/mount-namespace.ts";

let rel: ReleaseFixture;
beforeAll(async () => {
  rel = await ensureRelease();
}, 300_000);

const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");

describe("release", () => {
  test("the tarball holds the binary, units, desktop files, icons, metainfo, man page, completions, license and README", () => {
    const top = `cloudtolocalllm-tunnel-${rel.version}-${rel.target}`;
    const r = Bun.spawnSync(["tar", "-tvzf", rel.tarball]);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.toString().trim().split("\n");
    const files = lines.filter((l) => !l.startsWith("d")).map((l) => l.split(/\s+/).pop()!.slice(top.length + 1));
    const icons = [["apps", "cloudtolocalllm-tunnel"], ...TRAY_STATES.map((s) => ["status", `cloudtolocalllm-tunnel-${s}`])].flatMap(([ctx, n]) => [
      `icons/hicolor/scalable/${ctx}/${n}.svg`,
      ...ICON_SIZES.map((z) => `icons/hicolor/${z}x${z}/${ctx}/${n}.png`),
    ]);
    expect(files.sort()).toEqual(
      [
        "cloudtolocalllm-tunnel",
        "LICENSE",
        "README.md",
        "systemd/cloudtolocalllm-tunnel.service",
        "systemd/cloudtolocalllm-relay.service",
        "desktop/cloudtolocalllm-tunnel.desktop",
        "desktop/cloudtolocalllm-tunnel-tray.desktop",
        "desktop/io.github.cloudtolocalllm.Tunnel.metainfo.xml",
        "man/cloudtolocalllm-tunnel.1",
        "completions/bash/cloudtolocalllm-tunnel",
        "completions/zsh/_cloudtolocalllm-tunnel",
        "completions/fish/cloudtolocalllm-tunnel.fish",
        ...icons,
      ].sort(),
    );
    // Reproducible ownership, executable binary.
    expect(lines.every((l) => l.includes(" 0/0 "))).toBe(true);
    expect(lines.find((l) => l.endsWith(`${top}/cloudtolocalllm-tunnel`))).toMatch(/^-rwxr-xr-x/);
  });

  test("SHA256SUMS lists every artifact with its real sum", () => {
    const sums = readFileSync(join(rel.dir, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(sums).toEqual([`${sha(rel.tarball)}  ${rel.tarball.split("/").pop()}`]);
    // sha256sum itself agrees with the file's format.
    const check = Bun.spawnSync(["sha256sum", "--check", "--strict", "SHA256SUMS"], { cwd: rel.dir });
    expect(check.stdout.toString()).toContain(": OK");
    expect(check.exitCode).toBe(0);
  });

  test("the size table names each artifact with the binary's and the artifact's size", () => {
    const table = readFileSync(join(rel.dir, "release.md"), "utf8");
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    expect(table).toContain("| target | kind | file | binary | artifact | took |");
    expect(table).toContain(`| ${rel.target} | tarball | \`${rel.tarball.split("/").pop()}\` | ${mb(statSync(rel.binary).size)} | ${mb(statSync(rel.tarball).size)} | `);
  });

  requireTools(["makepkg"]).test("the AUR -bin PKGBUILD is filled with the tarball's sum, its .SRCINFO by makepkg; the committed ones are in sync", () => {
    const dir = join(rel.dir, "aur/cloudtolocalllm-tunnel-bin");
    const arch = rel.target === "linux-arm64" ? "aarch64" : "x86_64";
    expect(readFileSync(join(dir, "PKGBUILD"), "utf8")).toContain(`sha256sums_${arch}=('${sha(rel.tarball)}')`);
    expect(readFileSync(join(dir, ".SRCINFO"), "utf8")).toContain(`\tsha256sums_${arch} = ${sha(rel.tarball)}\n`);
    for (const d of [BIN_PKG, SRC_PKG]) expect(readFileSync(join(d, ".SRCINFO"), "utf8")).toBe(printSrcinfo(d));
  }, 60_000);
});

describe("the compiled binary", () => {
  const home = tempHome("c2l-binary-");
  afterAll(() => removeHome(home));
  const run = (...args: string[]) => {
    const r = Bun.spawnSync([rel.binary, ...args], { env: homeEnv(home), cwd: home, stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  test("version --json reports version, commit, build date, protocol and API versions", () => {
    const r = run("version", "--json");
    expect(r.code).toBe(0);
    const v = JSON.parse(r.out);
    expect(v.version).toBe(rel.version);
    expect(v.commit).toMatch(/^[0-9a-f]{7,40}(-dirty)?$/);
    expect(Number.isNaN(Date.parse(v.buildDate))).toBe(false);
    expect(Number.isInteger(v.protocolVersion)).toBe(true);
    expect(typeof v.apiVersion).toBe("string");
    expect(run("--version").out).toContain(`cloudtolocalllm-tunnel ${rel.version} (commit ${v.commit}`);
  }, 30_000);

  test("install --no-enable works from the compiled binary (embedded units, entries, icons; generated man page and completions)", () => {
    const r = run("install", "--no-enable");
    expect(r.code).toBe(0);
    const bin = join(home, ".local/bin/cloudtolocalllm-tunnel");
    expect(sha(bin)).toBe(sha(rel.binary));
    expect(readFileSync(join(home, ".local/share/systemd/user/cloudtolocalllm-tunnel.service"), "utf8")).toBe(
      readFileSync(join(REPO, "systemd/cloudtolocalllm-tunnel.service"), "utf8").replace("/usr/bin/cloudtolocalllm-tunnel", bin),
    );
    expect(statSync(join(home, ".local/share/icons/hicolor/256x256/apps/cloudtolocalllm-tunnel.png")).size).toBeGreaterThan(100);
    // Generated from the command table inside the binary: the same man page and completions as the tarball's.
    const top = join(home, `cloudtolocalllm-tunnel-${rel.version}-${rel.target}`);
    const untar = Bun.spawnSync(["tar", "-xzf", rel.tarball, "-C", home]);
    expect(untar.exitCode).toBe(0);
    expect(readFileSync(join(home, ".local/share/bash-completion/completions/cloudtolocalllm-tunnel"), "utf8")).toBe(readFileSync(join(top, "completions/bash/cloudtolocalllm-tunnel"), "utf8"));
    expect(readFileSync(join(home, ".local/share/fish/vendor_completions.d/cloudtolocalllm-tunnel.fish"), "utf8")).toBe(run("completion", "fish").out);
    expect(readFileSync(join(home, ".local/share/man/man1/cloudtolocalllm-tunnel.1"), "utf8")).toContain(".SS completion");
    expect(statSync(join(home, ".local/share/metainfo/io.github.cloudtolocalllm.Tunnel.metainfo.xml")).size).toBeGreaterThan(100);
    expect(run("uninstall").code).toBe(0);
  }, 60_000);
});

// From the tarball first, then the .deb or the AUR package: the home copy's unit (in $XDG_DATA_HOME/systemd/user) comes
// before the package's and ~/.local/bin before /usr/bin, so the service would go on running the old binary.
requireTools(["unshare", "mount", overlayNamespace]).test("run from /usr/bin (a package's), install removes the copy an earlier install put in the home, whose unit and binary came first", () => {
  const h = tempHome("c2l-binary-pkg-");
  try {
    const env = homeEnv(h);
    const first = Bun.spawnSync([rel.binary, "install", "--no-enable"], { env, cwd: h, stdout: "pipe", stderr: "pipe" });
    expect(first.exitCode).toBe(0);
    const written = /\((\d+) files written/.exec(first.stdout.toString())?.[1];
    expect(existsSync(join(h, ".local/share/systemd/user/cloudtolocalllm-tunnel.service"))).toBe(true);
    // The same binary as the package's /usr/bin/cloudtolocalllm-tunnel, in a mount namespace of the test's own.
    const pkgBin = join(h, "pkg-bin");
    mkdirSync(pkgBin);
    writeFileSync(join(pkgBin, "cloudtolocalllm-tunnel"), "");
    const asPackaged = (...args: string[]) => {
      const script = 'mount -t overlay overlay -o lowerdir="$0":/usr/bin /usr/bin && mount --bind "$1" /usr/bin/cloudtolocalllm-tunnel && shift && exec /usr/bin/cloudtolocalllm-tunnel "$@"';
      return Bun.spawnSync(["unshare", "-rm", "sh", "-c", script, pkgBin, rel.binary, ...args], { env, cwd: h, stdout: "pipe", stderr: "pipe" });
    };
    // What `systemctl --user enable --now` alone (the README's start) would leave running: doctor names it.
    const copies = () => (JSON.parse(asPackaged("doctor", "--json").stdout.toString()) as { checks: { name: string; fix?: string }[] }).checks.find((c) => c.name === "Installed copies");
    expect(copies()?.fix).toStartWith("`/usr/bin/cloudtolocalllm-tunnel install` removes the home copy");
    // The desktop's "don't start at login" in the autostart entry: a choice the package's entry (same name) must keep.
    const entry = join(h, ".config/autostart/cloudtolocalllm-tunnel-tray.desktop");
    writeFileSync(entry, readFileSync(entry, "utf8") + "Hidden=true\n");
    const r = asPackaged("install", "--no-enable");
    const out = r.stdout.toString() + r.stderr.toString();
    expect(r.exitCode, out).toBe(0);
    expect(out).toContain("/usr/bin/cloudtolocalllm-tunnel was installed by a package");
    expect(out).toContain(`Removed the copy an earlier \`install\` put in your home (${Number(written) - 1} files): its unit and ${join(h, ".local/bin")}/cloudtolocalllm-tunnel came before the package's.`);
    expect(out).toContain(`Kept 1 file you changed since:\n  ${entry}\n`);
    expect(readFileSync(entry, "utf8")).toEndWith("Hidden=true\n");
    for (const f of [".local/bin/cloudtolocalllm-tunnel", ".local/share/systemd/user/cloudtolocalllm-tunnel.service", ".local/share/cloudtolocalllm/install-manifest.json"])
      expect(existsSync(join(h, f))).toBe(false);
    expect(copies()).toBeUndefined();
  } finally {
    removeHome(h);
  }
}, 60_000);
