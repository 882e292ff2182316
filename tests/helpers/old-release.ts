// An earlier commit's source tree, unpacked beside the repository's node_modules, to run as the "old" peer in compatibility tests.
import { chmodSync, existsSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO } from "./daemon.ts";
import type { Capability } from "./requires.ts";

/** The last commit before the session's frame scheduler and measured windows (issue 28): the previous protocol peer. */
export const BEFORE_SCHEDULING = "f6e506c";

/** Whether this checkout has `commit` (a shallow clone or a source tarball does not). */
export function commitPresent(commit: string): Capability {
  return {
    name: `commit ${commit} in the repository's history`,
    available: () => Bun.spawnSync(["git", "-C", REPO, "cat-file", "-e", `${commit}^{commit}`], { stdout: "ignore", stderr: "ignore" }).success,
    fix: "a full clone (git fetch --unshallow)",
  };
}

export interface OldRelease {
  dir: string;
  /** Its src/main.ts, for `bun MAIN relay …`. */
  main: string;
  /** An executable that runs its `src/main.ts` with bun, for startDaemon({ binary }). */
  binary: string;
}

/** Unpacks `commit`'s tree into a temporary directory (git archive), with node_modules linked from this checkout. */
export function oldRelease(commit: string): OldRelease {
  const dir = mkdtempSync(join(tmpdir(), `c2l-old-${commit}-`));
  const tar = Bun.spawnSync(["sh", "-c", `git -C "${REPO}" archive --format=tar ${commit} | tar -x -C "${dir}"`], { stdout: "pipe", stderr: "pipe" });
  if (!tar.success) throw new Error(`git archive ${commit}: ${tar.stderr.toString()}`);
  if (existsSync(join(REPO, "node_modules"))) symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  const binary = join(dir, "run-old.sh");
  writeFileSync(binary, `#!/bin/sh\nexec "${BUN}" "${join(dir, "src/main.ts")}" "$@"\n`);
  chmodSync(binary, 0o755);
  return { dir, main: join(dir, "src/main.ts"), binary };
}
