// The log file of a daemon started without systemd (the tray's "Start daemon"): opened for appending, kept to a bounded size.
import { closeSync, mkdirSync, openSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { daemonLogFile } from "../config/paths.ts";
import { keepPrivate } from "../config/file-mode.ts";

/** Past this size at a start the file moves to daemon.log.1 (replacing the older one): at most twice this on disk. */
export const DAEMON_LOG_MAX_BYTES = 5 * 1024 * 1024;

/** Opens the log for a new daemon's stdout and stderr; the caller closes the descriptor once the child has it. */
export function openDaemonLog(file = daemonLogFile(), maxBytes = DAEMON_LOG_MAX_BYTES): { file: string; fd: number } {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // The log holds what the daemon logged: a file left readable by others (made by hand, by a copy, by an older release)
  // is made 0600 at each start, not only a new one (openSync's mode applies only on creation), and so is the older one.
  for (const f of [file, file + ".1"]) {
    try {
      keepPrivate(f);
    } catch {
      // No such file yet: it is created private.
    }
  }
  try {
    if (statSync(file).size > maxBytes) renameSync(file, file + ".1");
  } catch {
    // No file yet: nothing to bound.
  }
  return { file, fd: openSync(file, "a", 0o600) };
}

export function closeDaemonLog(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}
