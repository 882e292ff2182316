// The usage file's periodic write off the main thread: the same atomic replace with a .bak as
// src/config/atomic-write.ts (temp file, fsync, rename, the directory fsynced), through node:fs/promises, so its
// fsyncs (3–4 ms measured under load, every 5 s) wait on the I/O threads instead of holding up requests.
import { constants } from "node:fs";
import { copyFile, mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { diskFull, resolveLink } from "../config/atomic-write.ts";

/** atomicWriteWithBackup, without blocking the event loop. A full disk rejects with a DiskFullError; `path` is then unchanged. */
export async function atomicWriteWithBackupInBackground(path: string, data: string, mode = 0o600): Promise<void> {
  path = resolveLink(path);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await copyFile(path, path + ".bak").catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  try {
    const f = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await f.writeFile(data, "utf8");
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw diskFull(e, path) ?? e;
  }
  // The rename made durable; not every filesystem allows fsync on a directory, which is fine.
  try {
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {}
}
