// Every place the daemon writes, each with its path: the advice when a read-only home (or a directory of another user)
// stops a write names them all, so that moving one (--config) does not just stop the daemon at the next (the API token).
import { dirname, resolve } from "node:path";
import { appStateDir } from "../config/paths.ts";
import { listenRecordFile } from "../api/listen-record.ts";

/** Write failures where the place, not the file, is the problem: a read-only file system, a directory this user cannot write. */
export const PLACE_FAILURES = new Set(["EROFS", "EACCES", "EPERM"]);

/** The paths the daemon running on `file` writes, in words: the config file, the API token, its state; its listen record (optional). */
export function writePlaces(file: string, tokenFile: string): string {
  return [
    `the config file ${resolve(file)}`,
    `the API token ${resolve(tokenFile)} ([api] token_file)`,
    `its state under ${appStateDir()} (usage counts, backups, secrets, sign-in; XDG_STATE_HOME)`,
  ].join(", ") + ` (and, when it can, where its API listens, in ${dirname(listenRecordFile(file))})`;
}

/** One clause for a place the daemon cannot write: every path it needs, and how to point them all elsewhere. */
export function readOnlyAdvice(file: string, tokenFile: string): string {
  return `the daemon writes ${writePlaces(file, tokenFile)}: each must be writable; on a read-only home, set XDG_CONFIG_HOME and XDG_STATE_HOME to writable directories (or pass --config FILE and set [api] token_file in it)`;
}

/** The system's code of a failed write: FileWriteError and DiskFullError carry it as `errno`, the system's own errors as `code`. */
export function errnoOf(e: unknown): string {
  const errno = (e as { errno?: unknown } | undefined)?.errno;
  return typeof errno === "string" ? errno : String((e as NodeJS.ErrnoException | undefined)?.code ?? "");
}
