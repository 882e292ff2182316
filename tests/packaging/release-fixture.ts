// Runs the committed release script once for the host's target (reusing ensureBinary's binary) and shares the result.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary } from "../helpers/binary.ts";
import { BUN, REPO } from "../helpers/daemon.ts";
import { DEFAULT_TARGET } from "../../packaging/build.ts";
import pkg from "../../package.json" with { type: "json" };

export interface ReleaseFixture {
  dir: string;
  target: string;
  version: string;
  tarball: string;
  binary: string;
  /** The release script's stdout, or null when reused from an earlier run with the same inputs. */
  output: string | null;
}

// Inputs of a tarball besides the binary: a change to any of them rebuilds it.
const INPUTS = ["systemd", "packaging/desktop", "packaging/release.ts", "src/cli", "packaging/aur", "src/desktop/install", "src/desktop/icons", "LICENSE", "README.md"];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let n = st.mtimeMs;
  for (const e of readdirSync(path)) n = Math.max(n, newest(join(path, e)));
  return n;
}

let pending: Promise<ReleaseFixture> | null = null;

export function ensureRelease(): Promise<ReleaseFixture> {
  return (pending ??= (async () => {
    const binary = await ensureBinary();
    const dir = join(REPO, "dist", "test-release");
    const version = pkg.version;
    const tarball = join(dir, `cloudtolocalllm-tunnel-${version}-${DEFAULT_TARGET}.tar.gz`);
    // The release script writes the AUR files only when makepkg is there: a run without it must not be reused with it.
    const stamp = `${readFileSync(`${binary}.sha256`, "utf8").trim()} ${Math.max(...INPUTS.map((p) => newest(join(REPO, p))))} makepkg=${Bun.which("makepkg") !== null}`;
    const stampFile = join(dir, ".inputs");
    if (existsSync(tarball) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) {
      return { dir, target: DEFAULT_TARGET, version, tarball, binary, output: null };
    }
    rmSync(dir, { recursive: true, force: true });
    // gzip -1 and no .deb: the packaging tests build the .deb themselves; the layout is what matters here.
    const args = ["packaging/release.ts", "--targets", DEFAULT_TARGET, "--binary", `${DEFAULT_TARGET}=${binary}`, "--out", dir, "--no-deb", "--level", "1", "--results", join(dir, "release.md")];
    const r = Bun.spawnSync([BUN, ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
    if (!r.success) throw new Error(`release script failed (${r.exitCode}):\n${r.stderr.toString()}${r.stdout.toString()}`);
    writeFileSync(stampFile, stamp);
    return { dir, target: DEFAULT_TARGET, version, tarball, binary, output: r.stdout.toString() };
  })().catch((e) => {
    pending = null;
    throw e;
  }));
}
