// Writes a file so that readers see the old or the new content, never a torn one: temp file in the same directory, fsync, rename.
import { chmodSync, closeSync, copyFileSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/**
 * The file a symlink points to (following chains), or `path` itself when it is not a symlink or does not exist. A
 * dangling link (its target deleted, as a dotfiles checkout may) is followed too: written through, it stays a link.
 */
export function resolveLink(path: string): string {
  for (let hops = 0; hops < 40; hops++) {
    try {
      if (!lstatSync(path).isSymbolicLink()) return path;
    } catch {
      return path;
    }
    try {
      return realpathSync(path);
    } catch {
      path = resolve(dirname(path), readlinkSync(path));
    }
  }
  return path;
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

/** Why a write failed when the disk is not full: the system's code in words a person can act on. */
const CANNOT: Record<string, string> = {
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  EPERM: "the operation is not permitted (an immutable file or directory?)",
  EISDIR: "a directory stands in its place",
  ENOTDIR: "a file stands where one of its directories should be",
  EEXIST: "a file stands where one of its directories should be",
  ELOOP: "its path has a symlink loop",
  EIO: "an input/output error (a failing disk?)",
};

/** A write that failed for another reason than a full disk (read-only file system, permissions, a directory in the way); `file` was left as it was. */
export class FileWriteError extends Error {
  override name = "FileWriteError";
  /** Its stable code (src/core/error-codes.ts). */
  readonly code = "write_failed";
  constructor(
    readonly file: string,
    /** The system's code: EROFS, EACCES, ... */
    readonly errno: string,
  ) {
    super(`cannot write ${file}: ${CANNOT[errno] ?? errno} (${errno}); the file was left as it was`);
  }
}

/** `e` as the DiskFullError or FileWriteError naming `file`, or undefined for an error that is neither. */
export function writeFailure(e: unknown, file: string): DiskFullError | FileWriteError | undefined {
  if (e instanceof FileWriteError) return e;
  const full = diskFull(e, file);
  if (full) return full;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code && code in CANNOT ? new FileWriteError(file, code) : undefined;
}

/** A temp file of ours: `.<name>.<pid>.<time and random, base 36>.tmp` (tempPathFor). */
const TEMP_RE = /^\..+\.(\d+)\.[0-9a-z]{9,16}\.tmp$/;

/** A new temp file's name beside `path`: the pid in it lets a later process tell a stale one from one in use. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
}

/** Whether a process with this pid runs (EPERM: it does, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const swept = new Set<string>();
/**
 * Removes the temp files in `path`'s directory that a process killed in the middle of a write (SIGKILL, power loss)
 * left behind, once per directory and process: without this each such kill leaves one for good (in the backups
 * directory under a name never written again). A temp file is stale when the process named in it is gone, or is this
 * one (a reused pid) and the file is older than this process.
 */
export function sweepStaleTemps(path: string): void {
  const dir = dirname(path);
  if (swept.has(dir)) return;
  swept.add(dir);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const f of entries) {
    const m = TEMP_RE.exec(f);
    if (!m) continue;
    const pid = Number(m[1]);
    try {
      if (pid === process.pid ? statSync(join(dir, f)).mtimeMs >= performance.timeOrigin : processAlive(pid)) continue;
      rmSync(join(dir, f), { force: true });
    } catch {}
  }
}

/** Removes a temp file after a failed write; a failure here (the same read-only disk) must not hide the write's own error. */
function removeQuietly(tmp: string): void {
  try {
    rmSync(tmp, { force: true });
  } catch {}
}

/**
 * Atomically replaces `path` with `data` (mode applies to the new file; default 0600 because
 * most files this program writes hold configuration or tokens). Creates the directory (0700) if needed.
 * A full disk throws a DiskFullError naming `path`, another failure the system names (read-only, permissions, a
 * directory in the way) a FileWriteError; `path` is then unchanged.
 */
export function atomicWrite(path: string, data: string | Uint8Array, mode = 0o600): void {
  // A symlinked file (dotfile managers) is replaced at its target, so the link stays a link.
  path = resolveLink(path);
  const dir = dirname(path);
  const tmp = tempPathFor(path);
  let fd: number | null = null;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    sweepStaleTemps(path);
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
    removeQuietly(tmp);
    // Named after the file being replaced, not the temp file: that is the one the caller knows.
    throw writeFailure(e, path) ?? e;
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

/** The file's current bytes, or null when there is none (what atomicWriteWithBackup keeps as `.bak`). */
export function previousVersion(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw writeFailure(e, path) ?? e;
  }
}

/**
 * atomicWrite, keeping the file's previous version beside it as `<path>.bak` (state files a person may want to undo).
 * The backup is replaced atomically too, mode 0600: a copy cut short (a full disk) would otherwise tear the last good
 * backup, and a copy would keep a mode someone loosened on the file.
 */
export function atomicWriteWithBackup(path: string, data: string | Uint8Array, mode = 0o600): void {
  const previous = previousVersion(path);
  if (previous) atomicWrite(path + ".bak", previous, 0o600);
  atomicWrite(path, data, mode);
}

/**
 * Puts a copy of the file `from` at `to` without reading it into memory (a file too large to hold: a log redirected
 * into the config), atomically like atomicWrite. `link` shares the file's bytes instead of copying them, for a file
 * about to be replaced by a rename (the copy is then its only name); across file systems it is copied all the same.
 */
export function atomicCopy(from: string, to: string, opts: { link?: boolean } = {}): void {
  // A symlinked file is copied from its target: a hard link to the link itself would follow the file it names, which
  // the write after this replaces.
  from = resolveLink(from);
  const tmp = tempPathFor(to);
  try {
    mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
    sweepStaleTemps(to);
    try {
      if (!opts.link) throw new Error("copy");
      linkSync(from, tmp);
    } catch {
      copyFileSync(from, tmp);
      chmodSync(tmp, 0o600);
      const fd = openSync(tmp, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(tmp, to);
  } catch (e) {
    removeQuietly(tmp);
    throw writeFailure(e, to) ?? e;
  }
}
