// `tray`: runs the desktop tray icon (a separate process from the daemon; either can restart without the other).
import { configPath } from "../config/paths.ts";
import { parse, type Command } from "./args.ts";

const command: Command = {
  name: "tray",
  summary: "Show the status icon and menu in the desktop's panel (StatusNotifierItem)",
  help: `Usage: cloudtolocalllm-tunnel tray [--config FILE]

Shows a status icon with a menu in any panel that hosts StatusNotifierItems (KDE Plasma, XFCE,
Waybar, GNOME with the AppIndicator extension). It follows the daemon over its control API, so
the daemon and the tray can each stop or restart without the other. When no panel is running yet,
the tray waits and registers as soon as one appears (and again after a panel restart).

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
