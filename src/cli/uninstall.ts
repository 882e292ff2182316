// `uninstall`: stops the user service and removes exactly the files `install` wrote; the configuration stays.
import { PACKAGED_BINARY } from "../desktop/install/assets.ts";
import { uninstall } from "../desktop/install/installer.ts";
import { systemctlRunner } from "../desktop/install/systemctl.ts";
import { CliError, parse, type Command } from "./args.ts";
import { files } from "./file-count.ts";
import { runningBinary } from "./install.ts";

/** What `uninstall` says when `install` wrote nothing in the home: the package's own binary knows it is one. */
export function nothingToUninstall(running: string | null): string {
  if (running === PACKAGED_BINARY)
    return `Nothing to uninstall in your home: ${PACKAGED_BINARY} is a package's. Remove it with the package manager (apt remove cloudtolocalllm-tunnel, or pacman -R cloudtolocalllm-tunnel-bin, or the source package cloudtolocalllm-tunnel); your configuration stays either way.`;
  return "Nothing to uninstall: no install manifest found (was it installed with a package?).";
}

const command: Command = {
  name: "uninstall",
  help: `Usage: cloudtolocalllm-tunnel uninstall

Stops and disables the systemd user units, then removes the files listed in
$XDG_DATA_HOME/cloudtolocalllm/install-manifest.json: the binary in ~/.local/bin, the units, desktop entries and
icons. Your configuration ($XDG_CONFIG_HOME/cloudtolocalllm), tokens and state are kept.
Packages (AUR, .deb) are removed with the package manager instead.`,
  async run(argv) {
    parse(argv, {}, false);
    try {
      const r = await uninstall({ run: systemctlRunner });
      if (r.nothing) {
        console.log(nothingToUninstall(runningBinary()));
        return 0;
      }
      console.log(r.systemd);
      if (r.kept.length) console.log(`Kept ${r.kept.length} file${r.kept.length > 1 ? "s" : ""} you changed since install:\n  ${r.kept.join("\n  ")}`);
      console.log(`Removed ${files(r.removed.length)}. Your configuration was kept.`);
      return 0;
    } catch (e) {
      throw new CliError((e as Error).message);
    }
  },
};
export default command;
