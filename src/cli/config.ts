// `config`: the config file's subcommands (path, show, validate, export, import, backup, backups, restore, migrate), one file each under config/.
import { parse, UsageError, type Command, type Subcommand } from "./args.ts";

export type { Subcommand };

const SUBCOMMANDS: Record<string, () => Promise<{ default: Subcommand }>> = {
  path: () => import("./config/path.ts"),
  show: () => import("./config/show.ts"),
  validate: () => import("./config/validate.ts"),
  export: () => import("./config/export.ts"),
  import: () => import("./config/import.ts"),
  backup: () => import("./config/backup.ts"),
  backups: () => import("./config/backups.ts"),
  restore: () => import("./config/restore.ts"),
  migrate: () => import("./config/migrate.ts"),
};

export const SUBCOMMAND_SUMMARIES: [string, string][] = [
  ["path", "Print the config file's path"],
  ["show [--json]", "Print the effective configuration (defaults filled in, secrets redacted)"],
  ["validate [FILE]", "Check a config file; every problem with line and column (exit 2 when invalid)"],
  ["export [--include-secrets]", "Print the config file for another machine (inline secrets redacted unless asked)"],
  ["import FILE", "Validate FILE and make it the config (the current file is backed up first)"],
  ["backup", "Save a copy of the config file in the backups directory"],
  ["backups [--json]", "List the backups, oldest first"],
  ["restore ID", "Put a backup back (validated; the current file is backed up first)"],
  ["migrate [FILE]", "Convert the 1.x/2.x app's ~/.cloudtolocalllm config (old files are left untouched)"],
];

const width = Math.max(...SUBCOMMAND_SUMMARIES.map(([u]) => u.length));

const command: Command = {
  name: "config",
  subcommands: Object.keys(SUBCOMMANDS),
  help: `Usage: cloudtolocalllm-tunnel config SUBCOMMAND [--config FILE] [OPTIONS]

Works on the config file: $CLOUDTOLOCALLLM_CONFIG or $XDG_CONFIG_HOME/cloudtolocalllm/tunnel.toml unless --config is given.
Every write validates first, backs up the current file to $XDG_STATE_HOME/cloudtolocalllm/backups/ and replaces it atomically (mode 0600).
A running daemon picks up the change by itself.

Subcommands:
${SUBCOMMAND_SUMMARIES.map(([u, s]) => `  ${u.padEnd(width)}  ${s}`).join("\n")}

Run \`cloudtolocalllm-tunnel config SUBCOMMAND --help\` for a subcommand's options.
Exit codes: 0 ok, 1 runtime failure, 2 usage error or invalid configuration.`,
  async helpFor(argv) {
    const sub = argv.find((a) => !a.startsWith("-"));
    const load = sub ? SUBCOMMANDS[sub] : undefined;
    return load ? (await load()).default.help : command.help;
  },
  async run(argv) {
    const sub = argv[0];
    if (!sub || sub.startsWith("-")) {
      parse(argv, {}, false);
      throw new UsageError("missing subcommand (path, show, validate, export, import, backup, backups, restore or migrate).");
    }
    const load = SUBCOMMANDS[sub];
    if (!load) {
      const { suggest } = await import("../config/suggest.ts");
      const hint = suggest(sub, Object.keys(SUBCOMMANDS));
      throw new UsageError(`unknown subcommand "${sub}"${hint ? ` (did you mean "${hint}"?)` : ""}. Run \`cloudtolocalllm-tunnel config --help\` for the list.`);
    }
    return (await load()).default.run(argv.slice(1));
  },
};
export default command;
