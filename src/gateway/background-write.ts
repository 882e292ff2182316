// The usage file's periodic write off the main thread: the same atomic replace with a .bak as
// src/config/atomic-write.ts (temp file, fsync, rename, the directory fsynced), through node:fs/promises, so its
// fsyncs (3–4 ms measured under load, every 5 s) wait on the I/O threads instead of holding up requests.
import { constants } from "node:fs";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { resolveLink, sweepStaleTemps, tempPathFor, writeFailure } from "../config/atomic-write.ts";

/** Replaces `path` with `data` through a temp file (fsynced, renamed over it); a failure leaves `path` as it was and no temp file. */
async function replace(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    sweepStaleTemps(path);
    const f = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await f.writeFile(data);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (e) {
    // Its own failure (the same read-only disk) must not hide the write's.
    await rm(tmp, { force: true }).catch(() => {});
    throw writeFailure(e, path) ?? e;
  }
}

/**
 * atomicWriteWithBackup, without blocking the event loop. A full disk rejects with a DiskFullError, another failure
 * the system names with a FileWriteError; `path` is then unchanged, and so is its `.bak` when that write failed.
 */
export async function atomicWriteWithBackupInBackground(path: string, data: string, mode = 0o600): Promise<void> {
  path = resolveLink(path);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw writeFailure(e, path) ?? e;
  });
  const previous = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw writeFailure(e, path) ?? e;
  });
  // The backup replaced whole too (a copy cut short by a full disk would tear the last good one), 0600.
  if (previous) await replace(path + ".bak", previous, 0o600);
  await replace(path, data, mode);
  // The renames made durable; not every filesystem allows fsync on a directory, which is fine.
  try {
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {}
}
