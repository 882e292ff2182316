// `install` run from a package's /usr/bin: removes the copy an earlier plain-binary `install` left in the home, then enables the package's unit.
import { enableService, uninstall, type InstallPaths, type UninstallReport } from "./installer.ts";
import type { Runner } from "./systemctl.ts";

export interface PackagedInstallReport {
  /** What was removed of the home copy (null: there was none). */
  homeCopy: UninstallReport | null;
  systemd: string;
}

/**
 * The home copy would keep the package from ever running: its unit in $XDG_DATA_HOME/systemd/user comes before
 * /usr/lib/systemd/user in the user manager's search path (so `systemctl --user enable --now` and every restart of the
 * package's upgrades run the old ~/.local/bin binary), and ~/.local/bin comes before /usr/bin on PATH. Removing it is
 * `uninstall` (what it wrote, nothing else; a file changed since stays and is named), then the package's unit is
 * enabled and restarted onto the package's binary.
 */
export async function installPackaged(opts: { run: Runner; enable: boolean; paths?: InstallPaths }): Promise<PackagedInstallReport> {
  const home = await uninstall({ run: opts.run, paths: opts.paths });
  const systemd = await enableService(opts.run, opts.enable, !home.nothing);
  return { homeCopy: home.nothing ? null : home, systemd };
}
