// An earlier commit's source tree beside this one's node_modules, so a benchmark can run it side by side with today's (--before).
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface BeforeTree {
  commit: string;
  dir: string;
  /** The tree's src/main.ts (for its CLI). */
  main: string;
  /** An executable that runs that tree's binary entry with its arguments (startDaemon's `binary`). */
  serve: string;
  remove(): void;
}

/** Extracts `commit`'s src/ (and the files Bun reads beside it) from the repository at `root` into a temporary directory. */
export function beforeTree(root: string, commit: string): BeforeTree {
  const dir = mkdtempSync(join(tmpdir(), "c2l-bench-before-"));
  const archive = Bun.spawnSync(["git", "-C", root, "archive", "--format=tar", commit, "src", "package.json", "tsconfig.json", "bunfig.toml"], { stdout: "pipe", stderr: "pipe" });
  if (archive.exitCode !== 0) throw new Error(`git archive ${commit} failed: ${archive.stderr}`);
  const untar = Bun.spawnSync(["tar", "-x", "-C", dir], { stdin: archive.stdout, stderr: "pipe" });
  if (untar.exitCode !== 0) throw new Error(`untar failed: ${untar.stderr}`);
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  const serve = join(dir, "serve.sh");
  writeFileSync(serve, `#!/bin/sh\nexec "${process.execPath}" "${join(dir, "src/main.ts")}" "$@"\n`);
  chmodSync(serve, 0o755);
  return { commit, dir, main: join(dir, "src/main.ts"), serve, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The value of `--before COMMIT` in argv, else `fallback`. */
export function beforeArg(fallback: string | null): string | null {
  const i = process.argv.indexOf("--before");
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
