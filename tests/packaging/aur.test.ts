// Builds the -bin package with the real makepkg, as an unprivileged user, from the release tarball made by the release script.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureRelease, type ReleaseFixture } from "./release-fixture.ts";
import { makepkg, NOBODY, SRC_PKG } from "../../packaging/aur/update.ts";
import { ICON_SIZES, TRAY_STATES } from "../../src/desktop/icons/index.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, test } = requireTools(["makepkg", "pacman", "fakeroot", "bsdtar"]);

let rel: ReleaseFixture;
const work = mkdtempSync(join(tmpdir(), "c2l-makepkg-"));
let pkgFile = "";
let buildLog = "";

beforeAll(async () => {
  rel = await ensureRelease();
  // The filled PKGBUILD from the release, and the tarball where makepkg looks before downloading (no network).
  const aur = join(rel.dir, "aur/cloudtolocalllm-tunnel-bin");
  for (const f of readdirSync(aur)) copyFileSync(join(aur, f), join(work, f));
  copyFileSync(rel.tarball, join(work, rel.tarball.split("/").pop()!));
  if (process.getuid?.() === 0) for (const f of [work, ...readdirSync(work).map((f) => join(work, f))]) chownSync(f, NOBODY, NOBODY);
  // --nodeps: glibc and friends are Arch packages that pacman does not know on Debian. Uncompressed: saves time.
  const r = makepkg(work, ["--nodeps", "--noconfirm", "--noprogressbar"], { PKGEXT: ".pkg.tar" });
  buildLog = r.stdout.toString() + r.stderr.toString();
  pkgFile = readdirSync(work).find((f) => f.endsWith(".pkg.tar")) ?? "";
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("makepkg builds cloudtolocalllm-tunnel-bin as an unprivileged user", () => {
  expect(buildLog).toContain("Validating source");
  expect(buildLog).toContain(`${rel.tarball.split("/").pop()} ... Passed`);
  expect(buildLog).toContain("Finished making: cloudtolocalllm-tunnel-bin");
  const arch = rel.target === "linux-arm64" ? "aarch64" : "x86_64";
  expect(pkgFile).toBe(`cloudtolocalllm-tunnel-bin-${rel.version}-1-${arch}.pkg.tar`);
});

function fileList(pkg: string): string[] {
  const ql = Bun.spawnSync(["pacman", "-Qlpq", pkg], { stdout: "pipe", stderr: "pipe" });
  expect(ql.exitCode).toBe(0);
  return ql.stdout.toString().trim().split("\n").filter((l) => !l.endsWith("/"));
}

test("the package's file list and metadata", () => {
  const files = fileList(join(work, pkgFile));
  const icons = [["apps", "cloudtolocalllm-tunnel"], ...TRAY_STATES.map((s) => ["status", `cloudtolocalllm-tunnel-${s}`])].flatMap(([ctx, n]) => [
    `/usr/share/icons/hicolor/scalable/${ctx}/${n}.svg`,
    ...ICON_SIZES.map((z) => `/usr/share/icons/hicolor/${z}x${z}/${ctx}/${n}.png`),
  ]);
  expect(files.sort()).toEqual(
    [
      "/usr/bin/cloudtolocalllm-tunnel",
      "/usr/lib/systemd/user/cloudtolocalllm-tunnel.service",
      "/usr/lib/systemd/system/cloudtolocalllm-relay.service",
      "/usr/share/applications/cloudtolocalllm-tunnel.desktop",
      "/etc/xdg/autostart/cloudtolocalllm-tunnel-tray.desktop",
      "/usr/share/metainfo/io.github.cloudtolocalllm.Tunnel.metainfo.xml",
      "/usr/share/man/man1/cloudtolocalllm-tunnel.1.gz",
      "/usr/share/bash-completion/completions/cloudtolocalllm-tunnel",
      "/usr/share/zsh/site-functions/_cloudtolocalllm-tunnel",
      "/usr/share/fish/vendor_completions.d/cloudtolocalllm-tunnel.fish",
      "/usr/share/doc/cloudtolocalllm-tunnel/README.md",
      "/usr/share/licenses/cloudtolocalllm-tunnel-bin/LICENSE",
      ...icons,
    ].sort(),
  );
  const qi = Bun.spawnSync(["pacman", "-Qip", join(work, pkgFile)], { stdout: "pipe", stderr: "pipe", env: { LANG: "C" } }).stdout.toString();
  expect(qi).toMatch(/^Provides\s+: cloudtolocalllm-tunnel$/m);
  expect(qi).toMatch(/^Conflicts With\s+: cloudtolocalllm-tunnel$/m);
  expect(qi).toContain("libnotify: desktop notifications for alerts");
  expect(qi).toMatch(/^Install Script\s+: Yes$/m);
});

test("the packaged binary is the release binary, unstripped, and runs --version", () => {
  const root = join(work, "root");
  const x = Bun.spawnSync(["bsdtar", "-xf", join(work, pkgFile), "-C", work, "usr/bin/cloudtolocalllm-tunnel"], { stderr: "pipe" });
  expect(x.exitCode).toBe(0);
  const bin = join(work, "usr/bin/cloudtolocalllm-tunnel");
  // Byte for byte the tarball's binary: strip would have cut off the JavaScript that Bun appends.
  const top = `cloudtolocalllm-tunnel-${rel.version}-${rel.target}`;
  expect(Bun.spawnSync(["tar", "-xzf", rel.tarball, "-C", work, `${top}/cloudtolocalllm-tunnel`]).exitCode).toBe(0);
  expect(Bun.spawnSync(["cmp", bin, join(work, top, "cloudtolocalllm-tunnel")]).exitCode).toBe(0);
  const v = Bun.spawnSync([bin, "--version"], { stdout: "pipe", env: { HOME: root, PATH: "/usr/bin:/bin" } });
  expect(v.exitCode).toBe(0);
  expect(v.stdout.toString()).toMatch(new RegExp(`^cloudtolocalllm-tunnel ${rel.version.replace(/\./g, "\\.")} \\(commit [0-9a-f]+`));
}, 30_000);

test("the from-source PKGBUILD's package() installs the same files (build() needs npm's registry: skipped)", () => {
  const dir = join(work, "from-source");
  mkdirSync(join(dir, "src"), { recursive: true });
  for (const f of readdirSync(SRC_PKG)) if (!f.startsWith(".")) copyFileSync(join(SRC_PKG, f), join(dir, f));
  // What build() leaves in $srcdir: the unpacked release tarball.
  expect(Bun.spawnSync(["tar", "-xzf", rel.tarball, "-C", join(dir, "src")]).exitCode).toBe(0);
  if (process.getuid?.() === 0) Bun.spawnSync(["chown", "-R", `${NOBODY}:${NOBODY}`, dir]);
  const r = makepkg(dir, ["--noextract", "--repackage", "--nodeps", "--noconfirm", "--noprogressbar"], { PKGEXT: ".pkg.tar" });
  const pkg = readdirSync(dir).find((f) => f.endsWith(".pkg.tar"));
  expect(pkg, r.stderr.toString()).toBe(`cloudtolocalllm-tunnel-${rel.version}-1-${rel.target === "linux-arm64" ? "aarch64" : "x86_64"}.pkg.tar`);
  const license = (l: string) => l.replace(/licenses\/cloudtolocalllm-tunnel(-bin)?\//, "licenses/PKG/");
  expect(fileList(join(dir, pkg!)).map(license).sort()).toEqual(fileList(join(work, pkgFile)).map(license).sort());
}, 120_000);

test("the package's install script tells an upgrade to restart the daemon and the relay, and a removal to stop them", () => {
  const script = Bun.spawnSync(["bsdtar", "-xOf", join(work, pkgFile), ".INSTALL"], { stdout: "pipe" }).stdout.toString();
  const say = (fn: string) => Bun.spawnSync(["bash", "-c", `${script}\n${fn}`], { stdout: "pipe" }).stdout.toString();
  expect(say("post_upgrade")).toContain("systemctl --user restart cloudtolocalllm-tunnel");
  expect(say("post_upgrade")).toContain("systemctl try-restart cloudtolocalllm-relay");
  expect(say("pre_remove")).toContain("systemctl --user disable --now cloudtolocalllm-tunnel");
  expect(say("pre_remove")).toContain("systemctl disable --now cloudtolocalllm-relay");
  // The units it names are the ones the package ships.
  for (const unit of new Set([...script.matchAll(/systemctl (?:--user )?[\w-]+(?: --now)? (cloudtolocalllm-[\w-]+)/g)].map((m) => m[1]!)))
    expect(["cloudtolocalllm-tunnel", "cloudtolocalllm-relay", "cloudtolocalllm-tunnel-tray"]).toContain(unit);
});
