// Runs the program in its own user and mount namespace (unshare -rm) after shell set-up there: a full tmpfs, a read-only bind mount; nothing outside it changes.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Capability } from "./requires.ts";
import { BUN, REPO } from "./daemon.ts";

/** Whether this machine lets a test mount a tmpfs in its own user and mount namespace (no effect outside it). */
export const mountNamespace: Capability = {
  name: "a tmpfs in an unprivileged mount namespace (unshare -rm)",
  available: () => probe(),
  fix: "allow unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1",
};

let probed: boolean | undefined;
function probe(): boolean {
  if (probed !== undefined) return probed;
  const dir = mkdtempSync(join(tmpdir(), "c2l-tmpfs-probe-"));
  try {
    probed = Bun.spawnSync(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k probe "$0" && mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', dir], { stdout: "ignore", stderr: "ignore" }).success;
  } catch {
    probed = false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return probed;
}

/** Shell lines for a wrapper: `dir` becomes a tmpfs of `kib` KiB holding what `seed` holds, then filled to the last block. */
export function fullDisk(dir: string, seed: string, kib = 128): string {
  return [`mount -t tmpfs -o size=${kib}k,mode=0700 c2l-full '${dir}' || exit 97`, `cp -a '${seed}'/. '${dir}'/ || exit 98`, `dd if=/dev/zero of='${dir}/.fill' bs=4096 2>/dev/null`].join("\n");
}

/** Shell lines for a wrapper: `dir` becomes read-only (EROFS for every write under it). */
export function readOnly(dir: string): string {
  return `mount --bind '${dir}' '${dir}' && mount -o remount,bind,ro '${dir}' || exit 97`;
}

/**
 * Writes an executable at `path` that runs `bun src/main.ts ARGS...` inside a new user and mount namespace after
 * `setup`; `after` runs there once it exits (e.g. copying files off a tmpfs that goes away with the namespace),
 * and the wrapper exits with the program's code. Without `after`, usable as startDaemon's `binary` (given `serve ...`).
 */
export function namespaceWrapper(path: string, setup: string, after = ""): string {
  const run = `"${BUN}" "${join(REPO, "src/main.ts")}" "$@"`;
  // Without `after` the program replaces the shell, so a signal sent to the wrapper (stop()) reaches it.
  const inner = after ? `${setup}\n${run}\nrc=$?\n${after}\nexit $rc` : `${setup}\nexec ${run}`;
  writeFileSync(path, `#!/bin/sh\nexec unshare -rm sh -c '${inner.replace(/'/g, `'\\''`)}' sh "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Whether a test can lay a directory over /usr/bin in its own user and mount namespace (overlayfs; a package's binary there, nothing outside changes). */
export const overlayNamespace: Capability = {
  name: "an overlay over /usr/bin in an unprivileged mount namespace (unshare -rm, overlayfs)",
  available: () => probeOverlay(),
  fix: "allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1) on Linux 5.11 or later, or run as root",
};

let overlayProbed: boolean | undefined;
function probeOverlay(): boolean {
  if (overlayProbed !== undefined) return overlayProbed;
  const dir = mkdtempSync(join(tmpdir(), "c2l-overlay-probe-"));
  try {
    writeFileSync(join(dir, "c2l-probe"), "");
    overlayProbed = Bun.spawnSync(["unshare", "-rm", "sh", "-c", 'mount -t overlay overlay -o lowerdir="$0":/usr/bin /usr/bin && test -e /usr/bin/c2l-probe', dir], { stdout: "ignore", stderr: "ignore" }).success;
  } catch {
    overlayProbed = false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return overlayProbed;
}
