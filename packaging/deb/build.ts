// Builds the .deb with dpkg-deb from a release tarball's tree: FHS layout, DEP-5 copyright, changelog, man page, completions, scripts.
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { runScript, scriptArgs, usageError } from "../script-args.ts";
import { gzipSync } from "node:zlib";
import type { Target } from "../build.ts";
import { POSTINST, POSTRM, PRERM } from "./maintainer-scripts.ts";

export const PACKAGE = "cloudtolocalllm-tunnel";
const MAINTAINER = "CloudToLocalLLM contributors <cloudtolocalllm@users.noreply.github.com>";
const HOMEPAGE = "https://github.com/cloudtolocalllm/cloudtolocalllm-tunnel";

export function debArch(target: Target): string | null {
  // The baseline x64 build is for old CPUs and ships as a tarball only: one amd64 .deb per version.
  return target === "linux-x64" ? "amd64" : target === "linux-arm64" ? "arm64" : null;
}

/** gzip -9n equivalent: no name and no timestamp in the header, as Debian policy wants for reproducibility. */
function gz(data: string | Uint8Array): Uint8Array {
  const out = gzipSync(data, { level: 9 });
  out.fill(0, 4, 8); // MTIME
  out[9] = 3; // OS = Unix
  return out;
}

function duSize(dir: string): number {
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    bytes += e.isDirectory() ? duSize(p) : Math.ceil(statSync(p).size / 1024) * 1024;
  }
  return bytes;
}

function copyright(license: string): string {
  const body = license
    .trim()
    .split("\n")
    .slice(2) // "MIT License" heading and its blank line
    .map((l) => (l.trim() ? ` ${l}` : " ."))
    .join("\n");
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${PACKAGE}
Upstream-Contact: ${MAINTAINER}
Source: ${HOMEPAGE}

Files: *
Copyright: 2024-2026 CloudToLocalLLM contributors
License: Expat

License: Expat
${body}
`;
}

function changelog(version: string, date: Date): string {
  return `${PACKAGE} (${version}-1) unstable; urgency=medium

  * New upstream release ${version}, built from the release tarball.

 -- ${MAINTAINER}  ${date.toUTCString().replace("GMT", "+0000")}
`;
}

// Lintian tags that follow from what a Bun-compiled binary is, each with the reason.
const OVERRIDES = `# Stripping deletes the JavaScript program that Bun appends to the executable.
${PACKAGE}: unstripped-binary-or-object [usr/bin/${PACKAGE}]
# The Bun runtime is linked by Bun's own build, libraries included; a compiled program cannot use the system's copies.
${PACKAGE}: embedded-library libjpeg [usr/bin/${PACKAGE}]
${PACKAGE}: hardening-no-pie [usr/bin/${PACKAGE}]
${PACKAGE}: hardening-no-relro [usr/bin/${PACKAGE}]
${PACKAGE}: hardening-no-bindnow [usr/bin/${PACKAGE}]
# Strings of the embedded Bun runtime and JavaScript libraries, not ours to fix.
${PACKAGE}: spelling-error-in-binary * [usr/bin/${PACKAGE}]
# Built from the project's own release tarball, not uploaded to the Debian archive.
${PACKAGE}: initial-upload-closes-no-bugs *
# The relay relies on systemd's sandboxing (DynamicUser, ProtectSystem): there is no init.d equivalent.
${PACKAGE}: package-supports-alternative-init-but-no-init.d-script *
`;

const DEB_COMPLETION_DIRS: Record<string, string> = {
  bash: "usr/share/bash-completion/completions",
  zsh: "usr/share/zsh/vendor-completions",
  fish: "usr/share/fish/vendor_completions.d",
};

export interface DebOptions {
  /** An unpacked release tarball (see packaging/release.ts TARBALL_DIR). */
  stage: string;
  version: string;
  arch: string;
  outDir: string;
  date: Date;
  /** dpkg-deb's compression (lintian accepts only these two); xz -6 for releases, tests use gzip -1 for speed. */
  compression?: "xz" | "gzip";
  level?: number;
}

/** Lays out the package tree from the tarball tree and runs dpkg-deb; returns the .deb's path. */
export async function buildDeb(opts: DebOptions): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "c2l-deb-"));
  try {
    const s = (p: string) => join(opts.stage, p);
    const put = (dest: string, content: string | Uint8Array, mode = 0o644) => {
      const p = join(root, dest);
      mkdirSync(join(p, ".."), { recursive: true, mode: 0o755 });
      writeFileSync(p, content, { mode });
      chmodSync(p, mode);
    };
    put(`usr/bin/${PACKAGE}`, readFileSync(s(PACKAGE)), 0o755);
    for (const f of readdirSync(s("systemd"))) {
      put(`usr/lib/systemd/${f.includes("relay") ? "system" : "user"}/${f}`, readFileSync(s(`systemd/${f}`)));
    }
    for (const f of readdirSync(s("desktop"))) {
      const dest = f.endsWith(".metainfo.xml") ? `usr/share/metainfo/${f}` : f.endsWith("-tray.desktop") ? `etc/xdg/autostart/${f}` : `usr/share/applications/${f}`;
      put(dest, readFileSync(s(`desktop/${f}`)));
    }
    mkdirSync(join(root, "usr/share/icons"), { recursive: true, mode: 0o755 });
    cpSync(s("icons/hicolor"), join(root, "usr/share/icons/hicolor"), { recursive: true });
    put(`usr/share/man/man1/${PACKAGE}.1.gz`, gz(readFileSync(s(`man/${PACKAGE}.1`))));
    // Debian's places for completions: bash-completion's directory, zsh's vendor-completions (on zsh's default fpath), fish's vendor dir.
    for (const [shell, dir] of Object.entries(DEB_COMPLETION_DIRS)) for (const f of readdirSync(s(`completions/${shell}`))) put(`${dir}/${f}`, readFileSync(s(`completions/${shell}/${f}`)));
    put(`usr/share/doc/${PACKAGE}/copyright`, copyright(readFileSync(s("LICENSE"), "utf8")));
    put(`usr/share/doc/${PACKAGE}/changelog.Debian.gz`, gz(changelog(opts.version, opts.date)));
    put(`usr/share/lintian/overrides/${PACKAGE}`, OVERRIDES);

    const installedKb = Math.ceil(duSize(root) / 1024);
    put(
      "DEBIAN/control",
      `Package: ${PACKAGE}
Version: ${opts.version}-1
Architecture: ${opts.arch}
Maintainer: ${MAINTAINER}
Installed-Size: ${installedKb}
Depends: libc6 (>= 2.27)
Recommends: libnotify-bin, systemd
Suggests: ollama
Section: net
Priority: optional
Homepage: ${HOMEPAGE}
Description: broker, tray and cloud tunnel for a local LLM (Ollama)
 One program that lets every application on a Linux desktop, and a cloud web
 application, reach the user's local language model:
  - an Ollama-compatible broker on 127.0.0.1:11435 in front of several
    upstreams, with health checks, failover, routing by model and streaming;
  - a control API and dashboard on 127.0.0.1:8765;
  - a tray icon with alerts and desktop notifications;
  - an outbound tunnel to a self-hostable relay (also included).
 .
 The daemon runs as a systemd user service; enable it per user with
 "systemctl --user enable --now cloudtolocalllm-tunnel".
`,
    );
    const md5 = Bun.spawnSync(["sh", "-c", "find usr etc -type f | LC_ALL=C sort | xargs md5sum"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    if (!md5.success) throw new Error(`md5sum failed: ${md5.stderr.toString().trim()}`);
    put("DEBIAN/md5sums", md5.stdout.toString());
    put("DEBIAN/conffiles", "/etc/xdg/autostart/cloudtolocalllm-tunnel-tray.desktop\n");
    put("DEBIAN/postinst", POSTINST, 0o755);
    put("DEBIAN/prerm", PRERM, 0o755);
    put("DEBIAN/postrm", POSTRM, 0o755);
    // Directories 0755 regardless of the umask the build runs under.
    const fixDirs = (d: string) => {
      chmodSync(d, 0o755);
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) fixDirs(join(d, e.name));
    };
    fixDirs(root);

    mkdirSync(opts.outDir, { recursive: true });
    const out = join(resolve(opts.outDir), `${PACKAGE}_${opts.version}-1_${opts.arch}.deb`);
    const env = { ...process.env, SOURCE_DATE_EPOCH: String(Math.floor(opts.date.getTime() / 1000)) };
    const r = Bun.spawnSync(["dpkg-deb", "--root-owner-group", `-Z${opts.compression ?? "xz"}`, `-z${opts.level ?? 6}`, "--build", root, out], { stdout: "pipe", stderr: "pipe", env });
    if (!r.success) throw new Error(`dpkg-deb failed: ${r.stderr.toString().trim()}`);
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const usage = "Usage: bun packaging/deb/build.ts --tarball FILE [--out DIR] [--compression xz|gzip] [--level N]   (a release tarball from packaging/release.ts)";
  const values = scriptArgs(usage, { tarball: { type: "string" }, out: { type: "string" }, compression: { type: "string" }, level: { type: "string" } });
  if (!values.tarball) usageError("--tarball is required", usage);
  const m = /^cloudtolocalllm-tunnel-(.+)-(linux-x64|linux-x64-baseline|linux-arm64)\.tar\.gz$/.exec(basename(values.tarball));
  const arch = m && debArch(m[2] as Target);
  if (!m || !arch) usageError(`${values.tarball}: expected cloudtolocalllm-tunnel-VERSION-(linux-x64|linux-arm64).tar.gz`, usage);
  const tmp = mkdtempSync(join(tmpdir(), "c2l-debsrc-"));
  await runScript(async () => {
    try {
      const x = Bun.spawnSync(["tar", "-xzf", resolve(values.tarball!), "-C", tmp], { stderr: "pipe" });
      if (!x.success) throw new Error(`cannot unpack ${values.tarball}: ${x.stderr.toString().trim()}`);
      const epoch = process.env.SOURCE_DATE_EPOCH;
      const deb = await buildDeb({
        stage: join(tmp, readdirSync(tmp)[0]!),
        version: m![1]!,
        arch: arch!,
        outDir: values.out ?? ".",
        compression: values.compression === "gzip" ? "gzip" : "xz",
        level: values.level ? Number(values.level) : undefined,
        date: epoch ? new Date(Number(epoch) * 1000) : new Date(),
      });
      console.log(deb);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}
