// `tray`: the desktop tray icon for a daemon that runs elsewhere (a system service, another machine); a local daemon shows its own.
import { configPath } from "../config/paths.ts";
import { parse, type Command } from "./args.ts";

const command: Command = {
  name: "tray",
  help: `Usage: cloudtolocalllm-tunnel tray [--config FILE]

Shows a status icon with a menu in any panel that hosts StatusNotifierItems (KDE Plasma, XFCE,
Waybar, GNOME with the AppIndicator extension), for a daemon that does not show one itself: a
daemon running as a system service, in a container or on another machine. It follows that daemon
over its control API. A daemon running in your desktop session shows the icon itself
([tray] enabled = "auto"); when the daemon this command follows does, the command says so and
exits (code 0). When no panel is running yet, the tray waits and registers as soon as one
appears (and again after a panel restart).

Options:
  -c, --config FILE   config file, used to find the control API and its token
                      (default: $CLOUDTOLOCALLLM_CONFIG or $XDG_CONFIG_HOME/cloudtolocalllm/tunnel.toml)`,
  async run(argv) {
    const { values } = parse(argv, { config: { type: "string", short: "c" } }, false);
    // Loaded here so the other commands never pay for D-Bus.
    const { runTray } = await import("../../tray/main.ts");
    return await runTray({ configFile: configPath(values.config) });
  },
};
export default command;
