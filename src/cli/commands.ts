// The one table of CLI commands; each lives in its own file and is loaded only when called (fast start-up).
import type { Command } from "./args.ts";

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<{ default: Command }>;
}

export const COMMANDS: CommandEntry[] = [
  { name: "serve", summary: "Run the daemon (the default command)", load: () => import("./serve.ts") },
  { name: "version", summary: "Print version, commit and build date", load: () => import("./version.ts") },
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}
