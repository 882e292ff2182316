// The daemon's own directories made private at each start: one made by hand, by a copy or by an older release with a
// wider mode (0755) is tightened to 0700, as the files in them are kept 0600 (a new one is created 0700).
import { appConfigDir, appStateDir } from "../config/paths.ts";
import { keepPrivate } from "../config/file-mode.ts";
import { logger } from "../core/log.ts";

const log = logger("daemon");

/**
 * The config directory (the API token, the config and its backups) and the state directory (keys, usage, the secrets
 * file, the sign-in state, logs): each that exists and lets others in is made 0700, and the log says so; one that
 * cannot be (a read-only mount) is said once. One that does not exist yet is created 0700 by its first writer.
 */
export function keepDaemonDirsPrivate(): void {
  for (const [what, dir] of [["config", appConfigDir()], ["state", appStateDir()]] as const) {
    let kept: ReturnType<typeof keepPrivate>;
    try {
      kept = keepPrivate(dir);
    } catch {
      continue;
    }
    if (kept === "tightened") log.warn(`the ${what} directory was open to other users; its mode is now 0700`, { dir });
    else if (typeof kept === "object") log.warn(`the ${what} directory is open to other users and cannot be made 0700`, { dir, reason: kept.cannot });
  }
}
