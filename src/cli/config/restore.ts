// `config restore ID`: puts a backup back (validated first; the current file is backed up before being replaced).
import { parse, EXIT_USAGE, UsageError } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, printIssues, storeFor } from "./common.ts";

const command: Subcommand = {
  name: "config restore",
  usage: "restore ID",
  help: `Usage: cloudtolocalllm-tunnel config restore ID [--config FILE]

Validates backup ID (see \`config backups\`) and, if it is valid, backs up the current config file and
replaces it with the backup. A running daemon applies it by itself.

Options:
${CONFIG_HELP}`,
  async run(argv) {
    const { values, positionals } = parse(argv, CONFIG_OPTION);
    if (positionals.length !== 1) throw new UsageError("expects exactly one backup ID (see `config backups`).");
    const store = storeFor(values.config);
    // An unknown id throws BackupNotFoundError: main.ts prints it with its code and exit code (src/core/error-codes.ts).
    const r = store.restore(positionals[0]!);
    if (!r.ok) {
      printIssues(r.issues);
      return EXIT_USAGE;
    }
    console.log(`restored backup ${positionals[0]} into ${store.file}${r.backup ? ` (previous file saved as backup ${r.backup.id})` : ""}`);
    return 0;
  },
};
export default command;
