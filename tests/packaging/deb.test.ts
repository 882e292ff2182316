// Builds the .deb from the release tarball with the committed builder; dpkg-deb accepts it and lintian reports nothing.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureRelease, type ReleaseFixture } from "./release-fixture.ts";
import { BUN, REPO } from "../helpers/daemon.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, test } = requireTools(["dpkg-deb"]);

let rel: ReleaseFixture;
let deb = "";
const work = mkdtempSync(join(tmpdir(), "c2l-deb-test-"));

beforeAll(async () => {
  rel = await ensureRelease();
  // gzip -1 instead of the release's xz -6: same tree and metadata, a fraction of the time.
  const r = Bun.spawnSync([BUN, "packaging/deb/build.ts", "--tarball", rel.tarball, "--out", work, "--compression", "gzip", "--level", "1"], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`deb build failed: ${r.stderr.toString()}`);
  deb = r.stdout.toString().trim();
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const arch = () => (rel.target === "linux-arm64" ? "arm64" : "amd64");

test("the .deb has the control fields, scripts and files a Debian package needs", () => {
  expect(deb).toBe(join(work, `cloudtolocalllm-tunnel_${rel.version}-1_${arch()}.deb`));
  const info = Bun.spawnSync(["dpkg-deb", "--info", deb]).stdout.toString();
  for (const f of ["Package: cloudtolocalllm-tunnel", `Version: ${rel.version}-1`, `Architecture: ${arch()}`, "Depends: libc6", "Recommends: libnotify-bin, systemd"]) expect(info).toContain(f);
  // The binary links only libc (ldd): the user service needs systemd itself, not libsystemd0 (sd_notify is written to the socket).
  expect(info).not.toContain("libsystemd0");
  const contents = Bun.spawnSync(["dpkg-deb", "--contents", deb]).stdout.toString();
  for (const f of [
    "./usr/bin/cloudtolocalllm-tunnel",
    "./usr/lib/systemd/user/cloudtolocalllm-tunnel.service",
    "./usr/lib/systemd/system/cloudtolocalllm-relay.service",
    "./etc/xdg/autostart/cloudtolocalllm-tunnel-tray.desktop",
    "./usr/share/applications/cloudtolocalllm-tunnel.desktop",
    "./usr/share/icons/hicolor/48x48/status/cloudtolocalllm-tunnel-degraded.png",
    "./usr/share/metainfo/io.github.cloudtolocalllm.Tunnel.metainfo.xml",
    "./usr/share/man/man1/cloudtolocalllm-tunnel.1.gz",
    "./usr/share/bash-completion/completions/cloudtolocalllm-tunnel",
    "./usr/share/zsh/vendor-completions/_cloudtolocalllm-tunnel",
    "./usr/share/fish/vendor_completions.d/cloudtolocalllm-tunnel.fish",
    "./usr/share/doc/cloudtolocalllm-tunnel/copyright",
    "./usr/share/doc/cloudtolocalllm-tunnel/changelog.Debian.gz",
  ])
    expect(contents).toContain(f);
  // One process per desktop: the daemon shows the tray itself, so no tray unit (an upgrade removes the old one).
  expect(contents).not.toContain("cloudtolocalllm-tunnel-tray.service");
  expect(contents).toMatch(/^-rwxr-xr-x root\/root .* \.\/usr\/bin\/cloudtolocalllm-tunnel$/m);
  // The postinst enables nothing for anyone and starts nothing new: it restarts what runs (deb-lifecycle.test.ts).
  const postinst = Bun.spawnSync(["dpkg-deb", "--ctrl-tarfile", deb]).success && Bun.spawnSync(["sh", "-c", `dpkg-deb --ctrl-tarfile '${deb}' | tar -xO ./postinst`]).stdout.toString();
  expect(postinst).toContain("daemon-reload");
  expect(postinst).not.toMatch(/--global|enable|\bstart\b/);
  const control = Bun.spawnSync(["dpkg-deb", "--ctrl-tarfile", deb], { stdout: "pipe" });
  expect(Bun.spawnSync(["tar", "-t"], { stdin: control.stdout, stdout: "pipe" }).stdout.toString().split("\n")).toEqual(expect.arrayContaining(["./postinst", "./prerm", "./postrm"]));
});

requireTools(["dpkg-deb", "lintian"]).test("lintian reports no errors and no warnings", () => {
  const r = Bun.spawnSync(["lintian", "--no-cfg", "--fail-on", "error,warning", deb], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" } });
  const out = r.stdout.toString();
  expect(out).not.toMatch(/^[EW]: /m);
  expect(r.exitCode).toBe(0);
}, 300_000);
