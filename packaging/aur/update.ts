// Fills the -bin PKGBUILD's version and per-arch sha256sums from a release's SHA256SUMS and regenerates .SRCINFO.
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runScript, scriptArgs, usageError } from "../script-args.ts";

export const AUR_DIR = resolve(import.meta.dir);
export const BIN_PKG = join(AUR_DIR, "cloudtolocalllm-tunnel-bin");
export const SRC_PKG = join(AUR_DIR, "cloudtolocalllm-tunnel");
const ARCH_TARGET = { x86_64: "linux-x64", aarch64: "linux-arm64" } as const;

/** The uid makepkg runs as when we are root (it refuses root): nobody, so no user has to be created. */
export const NOBODY = 65534;

/** Runs makepkg in `dir`, as nobody through setpriv when running as root. */
export function makepkg(dir: string, args: string[], env: Record<string, string> = {}) {
  const asRoot = process.getuid?.() === 0;
  const cmd = [...(asRoot ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"] : []), "makepkg", ...args];
  return Bun.spawnSync(cmd, {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, LANG: "C.UTF-8", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** `makepkg --printsrcinfo` for the PKGBUILD in `dir` (run on a copy in a temp dir nobody may write to). */
export function printSrcinfo(dir: string): string {
  const tmp = mkdtempSync(join(tmpdir(), "c2l-srcinfo-"));
  try {
    chmodSync(tmp, 0o755);
    for (const f of readdirSync(dir)) if (!f.startsWith(".")) copyFileSync(join(dir, f), join(tmp, f));
    // makepkg insists on a writable build directory even when it only prints.
    if (process.getuid?.() === 0) chownSync(tmp, NOBODY, NOBODY);
    const r = makepkg(tmp, ["--printsrcinfo"]);
    if (!r.success) throw new Error(`makepkg --printsrcinfo failed in ${dir}: ${r.stderr.toString().trim()}`);
    return r.stdout.toString();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** target tarball name → sha256, from a SHA256SUMS file ("<hex>  <name>" lines). */
export function parseSums(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const hit = /^([0-9a-f]{64})\s+\*?(\S+)$/.exec(line.trim());
    if (hit) m.set(hit[2]!, hit[1]!);
  }
  return m;
}

/** The PKGBUILD with pkgver and the sums of the arches present in `sums`; other arches keep their line. */
export function fillPkgbuild(text: string, version: string, sums: Map<string, string>): { text: string; missing: string[] } {
  let out = text.replace(/^pkgver=.*$/m, `pkgver=${version}`).replace(/^pkgrel=.*$/m, "pkgrel=1");
  const missing: string[] = [];
  for (const [arch, target] of Object.entries(ARCH_TARGET)) {
    const sum = sums.get(`cloudtolocalllm-tunnel-${version}-${target}.tar.gz`);
    if (!sum) {
      missing.push(arch);
      continue;
    }
    out = out.replace(new RegExp(`^sha256sums_${arch}=\\(.*\\)$`, "m"), `sha256sums_${arch}=('${sum}')`);
  }
  return { text: out, missing };
}

/** Writes a ready-to-push -bin package (PKGBUILD, .install, .SRCINFO) for `version` into `outDir`. */
export function writeBinPackage(outDir: string, version: string, sumsText: string): { missing: string[] } {
  mkdirSync(outDir, { recursive: true });
  const { text, missing } = fillPkgbuild(readFileSync(join(BIN_PKG, "PKGBUILD"), "utf8"), version, parseSums(sumsText));
  if (resolve(outDir) !== BIN_PKG) for (const f of readdirSync(BIN_PKG)) if (f !== "PKGBUILD" && !f.startsWith(".")) copyFileSync(join(BIN_PKG, f), join(outDir, f));
  writeFileSync(join(outDir, "PKGBUILD"), text);
  writeFileSync(join(outDir, ".SRCINFO"), printSrcinfo(outDir));
  return { missing };
}

if (import.meta.main) {
  const usage = `Usage: bun packaging/aur/update.ts --sums SHA256SUMS --version V [--out DIR]   fill the -bin PKGBUILD (default: in place)
       bun packaging/aur/update.ts --srcinfo                                         regenerate the committed .SRCINFO files`;
  const values = scriptArgs(usage, { sums: { type: "string" }, version: { type: "string" }, out: { type: "string" }, srcinfo: { type: "boolean" } });
  if (!values.srcinfo && !(values.sums && values.version)) usageError("give --srcinfo, or --sums and --version", usage);
  await runScript(() => {
    if (values.srcinfo) {
      for (const dir of [BIN_PKG, SRC_PKG]) writeFileSync(join(dir, ".SRCINFO"), printSrcinfo(dir));
      console.log("regenerated .SRCINFO for cloudtolocalllm-tunnel-bin and cloudtolocalllm-tunnel");
      return;
    }
    const out = values.out ?? BIN_PKG;
    const { missing } = writeBinPackage(out, values.version!, readFileSync(values.sums!, "utf8"));
    console.log(`${join(out, "PKGBUILD")}: ${values.version}${missing.length ? ` (no tarball for ${missing.join(", ")}: sums left as they were)` : ""}`);
  });
}
