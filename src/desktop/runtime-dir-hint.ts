// A shell without XDG_RUNTIME_DIR (`su - alice`, `sudo -u alice -i`, cron) while the user's systemd manager runs:
// `systemctl --user` then finds no bus ("No medium found") and the fix is the variable, not a desktop session.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runtimeDir } from "../config/paths.ts";

/** The fix when XDG_RUNTIME_DIR is unset but /run/user/UID/bus exists; null otherwise. */
export function runtimeDirHint(uid = process.getuid?.(), base = "/run/user"): string | null {
  if (runtimeDir() || uid === undefined) return null;
  const dir = join(base, String(uid));
  return existsSync(join(dir, "bus")) ? `this shell has no XDG_RUNTIME_DIR (a \`su\` or \`sudo -u\` login sets none) while your user manager runs: \`export XDG_RUNTIME_DIR=${dir}\`, then run it again` : null;
}
