// `config restore ID`: puts a backup back (validated first; the current file is backed up before being replaced).
import { BackupNotFoundError } from "../../config/store.ts";
import { parse, CliError, EXIT_USAGE, UsageError } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, printIssues, storeFor } from "./common.ts";

const command: Subcommand = {
  name: "config restore",
  usage: "restore ID",
  summary: "Put a backup back",
  help: `Usage: cloudtolocalllm-tunnel config restore ID [--config FILE]

Validates backup ID (see \`config backups\`) and, if it is valid, backs up the current config file and
replaces it with the backup. A running daemon applies it by itself.

Options:
${CONFIG_HELP}`,
  async run(argv) {
    const { values, positionals } = parse(argv, CONFIG_OPTION);
    if (positionals.length !== 1) throw new UsageError("expects exactly one backup ID (see `config backups`).");
    const store = storeFor(values.config);
    let r;
    try {
      r = store.restore(positionals[0]!);
    } catch (e) {
      if (e instanceof BackupNotFoundError) throw new CliError(`${e.message}.`);
      throw e;
    }
    if (!r.ok) {
      printIssues(r.issues);
      return EXIT_USAGE;
    }
    console.log(`restored backup ${positionals[0]} into ${store.file}${r.backup ? ` (previous file saved as backup ${r.backup.id})` : ""}`);
    return 0;
  },
};
export default command;
