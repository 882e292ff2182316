// `npm run build`: compiles src/main.ts into the one binary (dist/cloudtolocalllm-tunnel) with version, commit and date baked in, plus its .sha256.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { STARTUP_JIT_POLICY } from "../src/core/jit-policy.ts";

export const REPO = resolve(import.meta.dir, "..");
export const TARGETS = ["linux-x64", "linux-x64-baseline", "linux-arm64"] as const;
export type Target = (typeof TARGETS)[number];
export const DEFAULT_TARGET: Target = process.arch === "arm64" ? "linux-arm64" : "linux-x64";
export const BINARY_NAME = "cloudtolocalllm-tunnel";

export interface BuildOptions {
  target?: Target;
  /** Default: dist/cloudtolocalllm-tunnel, suffixed with the target when it is not the host's default. */
  outfile?: string;
  /** Default: package.json's version. */
  version?: string;
  quiet?: boolean;
  /** Use packaging/bytecode-order.txt when it exists (default); false when recording a new profile. */
  bytecodeOrder?: boolean;
}

export interface BuildResult {
  outfile: string;
  sha256: string;
  target: Target;
  version: string;
  commit: string;
  buildDate: string;
}

/** Which bytecode an idle daemon and an idle relay run, recorded by scripts/bytecode-order.ts; laid out first, it sits in fewer of the executable's pages. */
export const BYTECODE_ORDER = join(REPO, "packaging", "bytecode-order.txt");

export function defaultOutfile(target: Target = DEFAULT_TARGET): string {
  return join(REPO, "dist", target === DEFAULT_TARGET ? BINARY_NAME : `${BINARY_NAME}-${target}`);
}

function gitCommit(): string {
  // Not a checkout, or no git at all (a machine with only Node.js and npm): the build still works, commit "unknown".
  if (!Bun.which("git")) return "unknown";
  const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: REPO, stderr: "ignore" });
  if (!r.success) return "unknown";
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: REPO, stderr: "ignore" });
  return r.stdout.toString().trim() + (dirty.success && dirty.stdout.toString().trim() ? "-dirty" : "");
}

/** Compiles the binary and writes `<outfile>.sha256` in sha256sum format. Throws with bun's output on failure. */
export async function build(opts: BuildOptions = {}): Promise<BuildResult> {
  const target = opts.target ?? DEFAULT_TARGET;
  if (!TARGETS.includes(target)) throw new Error(`unknown target "${target}" (use ${TARGETS.join(", ")})`);
  const outfile = resolve(opts.outfile ?? defaultOutfile(target));
  const version = opts.version ?? pkg.version;
  const commit = gitCommit();
  // SOURCE_DATE_EPOCH makes the date reproducible when packagers set it.
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const buildDate = (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  mkdirSync(dirname(outfile), { recursive: true });
  const cmd = [
    process.execPath,
    "build",
    "--compile",
    `--target=bun-${target}`,
    // Plain --minify renames identifiers Elysia relies on.
    "--minify-whitespace",
    "--minify-syntax",
    "--sourcemap=none",
    // Start-up: precompiled bytecode (no parsing at launch), and each lazily imported command and module
    // in its own chunk, so `--version` or `config path` never load Elysia, the D-Bus client or prom-client.
    "--bytecode",
    "--format=esm",
    "--splitting",
    // A profile from an older build still applies: functions it does not name are simply laid out after.
    ...(opts.bytecodeOrder !== false && existsSync(BYTECODE_ORDER) ? ["--bytecode-order", BYTECODE_ORDER] : []),
    // Start-up code stays interpreted until the first request (src/core/jit-policy.ts).
    `--compile-jit-policy=${STARTUP_JIT_POLICY}`,
    // A compiled binary would otherwise read .env, bunfig.toml, tsconfig.json and package.json from
    // whatever directory it starts in.
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    "--no-compile-autoload-tsconfig",
    "--no-compile-autoload-package-json",
    "--define",
    `__VERSION__=${JSON.stringify(version)}`,
    "--define",
    `__COMMIT__=${JSON.stringify(commit)}`,
    "--define",
    `__BUILD_DATE__=${JSON.stringify(buildDate)}`,
    join(REPO, "src/main.ts"),
    "--outfile",
    outfile,
  ];
  const proc = Bun.spawnSync(cmd, { cwd: REPO, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  if (!proc.success) {
    throw new Error(`bun build failed for ${target}:\n${proc.stderr.toString()}${proc.stdout.toString()}`);
  }
  const sha256 = createHash("sha256").update(readFileSync(outfile)).digest("hex");
  writeFileSync(`${outfile}.sha256`, `${sha256}  ${basename(outfile)}\n`);
  if (!opts.quiet) console.log(`built ${outfile} (${target}, ${version}, commit ${commit}, ${buildDate})\nsha256 ${sha256}`);
  return { outfile, sha256, target, version, commit, buildDate };
}

if (import.meta.main) {
  const usage = `Usage: bun packaging/build.ts [--target ${TARGETS.join("|")}] [--outfile FILE]`;
  let values;
  try {
    ({ values } = parseArgs({ args: Bun.argv.slice(2), options: { target: { type: "string" }, outfile: { type: "string" }, help: { type: "boolean", short: "h" } } }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (values.target && !TARGETS.includes(values.target as Target)) {
    console.error(`unknown target "${values.target}"\n${usage}`);
    process.exit(2);
  }
  try {
    await build({ target: values.target as Target | undefined, outfile: values.outfile });
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
