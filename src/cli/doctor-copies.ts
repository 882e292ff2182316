// doctor's check for two installed copies: a package's /usr/bin binary and the plain binary an earlier `install` put in the home.
import { existsSync } from "node:fs";
import { PACKAGED_BINARY } from "../desktop/install/assets.ts";
import { readManifest, xdgInstallPaths } from "../desktop/install/installer.ts";
import type { CheckResult } from "./doctor-result.ts";

/**
 * null unless both are there. The home copy's unit ($XDG_DATA_HOME/systemd/user) comes before the package's in the user
 * manager's search path and ~/.local/bin before /usr/bin on PATH: `systemctl --user enable --now` after installing the
 * package, and every restart of its upgrades, run the old home binary. The package's `install` removes the home copy.
 */
export function checkInstalledCopies(packaged = PACKAGED_BINARY, manifest = xdgInstallPaths().manifest): CheckResult | null {
  if (!existsSync(packaged)) return null;
  let home: string | undefined;
  try {
    home = readManifest(manifest)?.binary;
  } catch {
    // An unreadable manifest: `uninstall` names it; here it does not say there is a copy.
  }
  if (!home || !existsSync(home)) return null;
  return {
    name: "Installed copies",
    level: "warn",
    detail: `two: the package's ${packaged} and ${home}, which an earlier \`install\` put in your home; its unit and its directory on PATH come first, so the service runs ${home}, not the package's`,
    fix: `\`${packaged} install\` removes the home copy (as \`uninstall\` does; the configuration stays) and restarts the service on the package's binary`,
  };
}
