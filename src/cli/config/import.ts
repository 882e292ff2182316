// `config import FILE`: validates FILE and makes it the config file (the current one is backed up first).
import { parse, EXIT_USAGE, UsageError } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, printIssues, readStdinText, readUserFile, storeFor } from "./common.ts";

const command: Subcommand = {
  name: "config import",
  usage: "import FILE",
  help: `Usage: cloudtolocalllm-tunnel config import FILE [--config FILE]

Validates FILE and, only if it is valid, backs up the current config file and replaces it atomically
(mode 0600). Use "-" to read from stdin. A running daemon applies it by itself.

Options:
${CONFIG_HELP}`,
  async run(argv) {
    const { values, positionals } = parse(argv, CONFIG_OPTION);
    if (positionals.length !== 1) throw new UsageError("expects exactly one FILE to import.");
    const src = positionals[0]!;
    if (/(^|\/)(tunnel_config|connection_config)\.json$/.test(src)) throw new UsageError(`${src} is a 1.x/2.x config: convert it with \`cloudtolocalllm-tunnel config migrate ${src}\`.`);
    const text = src === "-" ? await readStdinText() : readUserFile(src);
    const store = storeFor(values.config);
    // Report problems against the file the user gave, not the destination.
    const r = store.write(text);
    if (!r.ok) {
      printIssues(r.issues.map((i) => ({ ...i, file: src === "-" ? "stdin" : src })));
      return EXIT_USAGE;
    }
    console.log(`imported ${src === "-" ? "stdin" : src} into ${store.file}${r.backup ? ` (previous file saved as backup ${r.backup.id})` : ""}`);
    return 0;
  },
};
export default command;
