// Writes a file so that readers see the old or the new content, never a torn one: temp file in the same directory, fsync, rename.
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** The file a symlink points to (following chains), or `path` itself when it is not a symlink or does not exist. */
export function resolveLink(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch {
    return path;
  }
}

/**
 * Atomically replaces `path` with `data` (mode applies to the new file; default 0600 because
 * most files this program writes hold configuration or tokens). Creates the directory (0700) if needed.
 */
export function atomicWrite(path: string, data: string | Uint8Array, mode = 0o600): void {
  // A symlinked file (dotfile managers) is replaced at its target, so the link stays a link.
  path = resolveLink(path);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, "wx", mode);
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  // Make the rename itself durable; not every filesystem allows fsync on a directory, which is fine.
  try {
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {}
}
