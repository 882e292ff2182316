// `bun run release`: binaries for every target, a tarball each (binary, units, desktop files, icons, man page, shell completions, docs), .debs, SHA256SUMS.
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, createReadStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { BINARY_NAME, build, REPO, TARGETS, type Target } from "./build.ts";
import { assets, type AssetKind } from "../src/desktop/install/assets.ts";
import { generatedAssets } from "../src/cli/generated-assets.ts";
import { COMMANDS } from "../src/cli/commands.ts";
import { runScript, scriptArgs, usageError } from "./script-args.ts";
import { buildDeb, debArch } from "./deb/build.ts";
import { writeBinPackage } from "./aur/update.ts";

/** Where each kind of asset goes inside a tarball (the AUR PKGBUILD and the .deb builder read this layout). */
export const TARBALL_DIR: Record<AssetKind, string> = {
  "user-unit": "systemd",
  "system-unit": "systemd",
  application: "desktop",
  autostart: "desktop",
  metainfo: "desktop",
  icon: "icons",
  man: "man",
  "completion-bash": "completions/bash",
  "completion-zsh": "completions/zsh",
  "completion-fish": "completions/fish",
};

export function tarballName(version: string, target: Target): string {
  return `${BINARY_NAME}-${version}-${target}`;
}

export async function sha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** SOURCE_DATE_EPOCH when packagers set it (reproducible tarballs), else now. */
export function releaseDate(): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch ? new Date(Number(epoch) * 1000) : new Date();
}

/** Writes the tarball's tree under `dir` (binary copied from `binary`). */
export async function stageTarball(dir: string, binary: string, version: string, date: Date): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(binary, join(dir, BINARY_NAME));
  chmodSync(join(dir, BINARY_NAME), 0o755);
  for (const f of ["LICENSE", "README.md"]) copyFileSync(join(REPO, f), join(dir, f));
  for (const a of [...assets(), ...(await generatedAssets(COMMANDS, version, date))]) {
    const dest = join(dir, TARBALL_DIR[a.kind], a.name);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, a.content, { mode: 0o644 });
  }
}

/** A reproducible .tar.gz of `dir` (sorted, root-owned, fixed mtime, no gzip timestamp). */
export function tarDir(dir: string, outfile: string, date: Date, level = 6): void {
  const r = Bun.spawnSync(
    ["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", `--mtime=@${Math.floor(date.getTime() / 1000)}`, "-I", `gzip -n -${level}`, "-C", dirname(dir), "-cf", outfile, basename(dir)],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (!r.success) throw new Error(`tar failed for ${outfile}: ${r.stderr.toString().trim()}`);
}

export interface ReleaseOptions {
  targets: Target[];
  outDir: string;
  /** target → an already built binary to use instead of building (tests reuse dist/). */
  prebuilt?: Partial<Record<Target, string>>;
  deb?: boolean;
  /** Also write the -bin PKGBUILD with these sums and its .SRCINFO to <outDir>/aur/ (needs makepkg). */
  aur?: boolean;
  results?: string;
  version?: string;
  /** gzip level of the tarballs (and gzip instead of xz for the .debs when below 6): tests trade size for time. */
  level?: number;
}

export interface Artifact {
  target: Target;
  file: string;
  kind: "tarball" | "deb";
  bytes: number;
  binaryBytes: number;
  /** Wall time to make it (for a tarball: building the binary included). */
  seconds: number;
}

export async function release(opts: ReleaseOptions): Promise<Artifact[]> {
  const version = opts.version ?? pkg.version;
  const date = releaseDate();
  const outDir = resolve(opts.outDir);
  mkdirSync(outDir, { recursive: true });
  const work = join(outDir, ".work");
  const artifacts: Artifact[] = [];
  try {
    for (const target of opts.targets) {
      let t0 = performance.now();
      let binary = opts.prebuilt?.[target];
      if (!binary) {
        binary = join(work, "bin", target, BINARY_NAME);
        await build({ target, outfile: binary, version });
      }
      const binaryBytes = statSync(binary).size;
      const name = tarballName(version, target);
      const stage = join(work, "stage", name);
      await stageTarball(stage, binary, version, date);
      const tarball = join(outDir, `${name}.tar.gz`);
      tarDir(stage, tarball, date, opts.level ?? 6);
      artifacts.push({ target, file: tarball, kind: "tarball", bytes: statSync(tarball).size, binaryBytes, seconds: (performance.now() - t0) / 1000 });
      t0 = performance.now();
      console.log(`${basename(tarball)}  ${(statSync(tarball).size / 1e6).toFixed(1)} MB`);
      const arch = debArch(target);
      if (opts.deb !== false && arch) {
        const fast = (opts.level ?? 6) < 6;
        const deb = await buildDeb({ stage, version, arch, outDir, date, compression: fast ? "gzip" : "xz", level: opts.level ?? 6 });
        artifacts.push({ target, file: deb, kind: "deb", bytes: statSync(deb).size, binaryBytes, seconds: (performance.now() - t0) / 1000 });
        console.log(`${basename(deb)}  ${(statSync(deb).size / 1e6).toFixed(1)} MB`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const sums = [];
  for (const a of artifacts) sums.push(`${await sha256(a.file)}  ${basename(a.file)}`);
  writeFileSync(join(outDir, "SHA256SUMS"), sums.join("\n") + "\n");
  if (opts.aur) {
    const dir = join(outDir, "aur", "cloudtolocalllm-tunnel-bin");
    const { missing } = writeBinPackage(dir, version, sums.join("\n"));
    console.log(`${dir}/PKGBUILD ready for the AUR${missing.length ? ` (no tarball for ${missing.join(", ")})` : ""}`);
  }
  const table = sizeTable(version, artifacts);
  console.log("\n" + table);
  if (opts.results) {
    mkdirSync(dirname(opts.results), { recursive: true });
    writeFileSync(opts.results, table);
  }
  return artifacts;
}

export function sizeTable(version: string, artifacts: Artifact[]): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const rows = artifacts.map((a) => `| ${a.target} | ${a.kind} | \`${basename(a.file)}\` | ${mb(a.binaryBytes)} | ${mb(a.bytes)} | ${a.seconds.toFixed(0)} s |`);
  return [
    `Release artifacts of cloudtolocalllm-tunnel ${version} (\`bun run release\`, ${process.arch} host, ${navigator.hardwareConcurrency} cores; a tarball's time includes building its binary, a .deb's is packing it alone):`,
    "",
    "| target | kind | file | binary | artifact | took |",
    "|---|---|---|---:|---:|---:|",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  const usage = `Usage: bun packaging/release.ts [--targets ${TARGETS.join(",")}] [--out DIR] [--binary TARGET=FILE]... [--no-deb] [--no-aur] [--results FILE] [--level 1-9]`;
  const values = scriptArgs(usage, {
    targets: { type: "string" },
    out: { type: "string" },
    binary: { type: "string", multiple: true },
    "no-deb": { type: "boolean" },
    "no-aur": { type: "boolean" },
    results: { type: "string" },
    level: { type: "string" },
  });
  const targets = (values.targets?.split(",") ?? [...TARGETS]) as Target[];
  const prebuilt: Partial<Record<Target, string>> = {};
  for (const b of values.binary ?? []) {
    const [t, f] = b.split("=", 2) as [Target, string | undefined];
    if (!f || !existsSync(f)) usageError(`--binary ${b}: expected TARGET=FILE with an existing file`, usage);
    prebuilt[t] = resolve(f);
  }
  for (const t of [...targets, ...Object.keys(prebuilt)]) if (!TARGETS.includes(t as Target)) usageError(`unknown target "${t}"`, usage);
  await runScript(async () => {
    await release({
      targets,
      outDir: values.out ?? join(REPO, "dist", "release"),
      prebuilt,
      deb: !values["no-deb"] && Bun.which("dpkg-deb") !== null,
      aur: !values["no-aur"] && Bun.which("makepkg") !== null,
      results: values.results ?? join(REPO, "bench", "results", "release.md"),
      level: values.level ? Number(values.level) : undefined,
    });
  });
}
