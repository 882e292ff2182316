// Writes a file so that readers see the old or the new content, never a torn one: temp file in the same directory, fsync, rename.
import { closeSync, copyFileSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** The file a symlink points to (following chains), or `path` itself when it is not a symlink or does not exist. */
export function resolveLink(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch {
    return path;
  }
}

const FULL: Record<string, string> = { ENOSPC: "no space left on the disk", EDQUOT: "the disk quota is used up" };

/** A write that failed because the disk (or the user's quota) is full; `file` is the one that could not be written, and was left as it was. */
export class DiskFullError extends Error {
  override name = "DiskFullError";
  /** Its stable code (src/core/error-codes.ts; config sits below core, so the literal is checked by a test). */
  readonly code = "disk_full";
  constructor(
    readonly file: string,
    /** The system's code: ENOSPC or EDQUOT. */
    readonly errno: string,
  ) {
    super(`cannot write ${file}: ${FULL[errno] ?? errno} (${errno}); the file was left as it was, free some space and try again`);
  }
}

/** `e` as a DiskFullError naming `file` when it is ENOSPC or EDQUOT; undefined for any other error. */
export function diskFull(e: unknown, file: string): DiskFullError | undefined {
  if (e instanceof DiskFullError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code && code in FULL ? new DiskFullError(file, code) : undefined;
}

/**
 * Atomically replaces `path` with `data` (mode applies to the new file; default 0600 because
 * most files this program writes hold configuration or tokens). Creates the directory (0700) if needed.
 * A full disk throws a DiskFullError naming `path`; `path` is then unchanged.
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
    // Named after the file being replaced, not the temp file: that is the one the caller knows.
    throw diskFull(e, path) ?? e;
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

/** atomicWrite, keeping the file's previous version beside it as `<path>.bak` (state files a person may want to undo). */
export function atomicWriteWithBackup(path: string, data: string | Uint8Array, mode = 0o600): void {
  if (existsSync(path)) copyFileSync(path, path + ".bak");
  atomicWrite(path, data, mode);
}
