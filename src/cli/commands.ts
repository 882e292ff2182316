// The one table of CLI commands; each lives in its own file and is loaded only when called (fast start-up).
import type { CommandEntry } from "./args.ts";

export type { CommandEntry };

export const COMMANDS: CommandEntry[] = [
  { name: "serve", summary: "Run the daemon (the default command)", load: () => import("./serve.ts") },
  { name: "version", summary: "Print version, commit and build date", load: () => import("./version.ts") },
  { name: "install", summary: "Install this binary for the current user: systemd user service (with the tray icon), autostart entry, launcher, icons, man page, completions", load: () => import("./install.ts") },
  { name: "uninstall", summary: "Remove what `install` wrote (the configuration stays)", load: () => import("./uninstall.ts") },
  { name: "status", summary: "Show the daemon, upstreams, tunnel and alerts", load: () => import("./status.ts") },
  { name: "models", summary: "List the models of every upstream, where each is and whether it is loaded (like `ollama list`)", load: () => import("./models.ts") },
  { name: "tunnel", summary: "Start, stop or restart the tunnel to the relay", load: () => import("./tunnel.ts") },
  { name: "reconnect", summary: "Re-check every upstream now (after restarting Ollama, say)", load: () => import("./reconnect.ts") },
  { name: "reload", summary: "Make the daemon re-read its config file (like SIGHUP)", load: () => import("./reload.ts") },
  { name: "config", summary: "Inspect, check, back up, restore, import, export or migrate the config file", load: () => import("./config.ts") },
  { name: "login", summary: "Sign in to the cloud (device code, or --pkce)", load: () => import("./login.ts") },
  { name: "logout", summary: "Sign out and delete the stored tokens", load: () => import("./logout.ts") },
  { name: "whoami", summary: "Show who is signed in", load: () => import("./whoami.ts") },
  { name: "key", summary: "Create, list, show or revoke the broker's API keys", load: () => import("./key.ts") },
  { name: "secret", summary: "Store, show, delete or list secrets in the desktop keyring", load: () => import("./secret.ts") },
  { name: "tray", summary: "Show the status icon and menu in the desktop's panel (StatusNotifierItem)", load: () => import("./tray.ts") },
  { name: "relay", summary: "Run the relay that cloud clients and agents connect to (own config)", load: () => import("./relay.ts") },
  { name: "doctor", summary: "Check the desktop integration, upstreams, relay, systemd unit and config; print fixes", load: () => import("./doctor.ts") },
  { name: "completion", summary: "Print the shell completion script for bash, zsh or fish", load: () => import("./completion.ts") },
  { name: "dashboard", summary: "Open the dashboard in the browser through a one-time sign-in link", load: () => import("./dashboard.ts") },
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}
