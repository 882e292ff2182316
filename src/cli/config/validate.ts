// `config validate [FILE]`: checks a config file and prints every problem with line and column (exit 2 when invalid).
import { parseConfig } from "../../config/load.ts";
import { openWithoutKeys } from "../../gateway/component.ts";
import { KeyStore } from "../../gateway/key-store.ts";
import { parse, EXIT_USAGE, UsageError } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, printIssues, readUserFile, storeFor } from "./common.ts";

const command: Subcommand = {
  name: "config validate",
  usage: "validate [FILE]",
  help: `Usage: cloudtolocalllm-tunnel config validate [FILE] [--config FILE]

Checks FILE (default: the config file in use) with the same rules the daemon applies on start and on reload:
TOML syntax, unknown keys (with a suggestion), types, ports, durations, URLs and the rules between fields,
and a broker listening beyond loopback that needs a key while this machine's keys file has none usable.
Prints "FILE: valid" and exits 0, or prints each problem as FILE:LINE:COLUMN: field: message and exits 2.

Options:
${CONFIG_HELP}`,
  async run(argv) {
    const { values, positionals } = parse(argv, CONFIG_OPTION);
    if (positionals.length > 1) throw new UsageError("expects at most one FILE.");
    const file = positionals[0] ?? storeFor(values.config).file;
    const r = parseConfig(readUserFile(file), file);
    if (!r.ok) {
      printIssues(r.issues);
      return EXIT_USAGE;
    }
    // Refused at start and at reload with this machine's keys (gateway/component.ts): a file older builds ran before
    // require_key existed passes every other rule, and the daemon would not start after an upgrade.
    const refusal = openWithoutKeys(r.config, new KeyStore());
    if (refusal) {
      printIssues([{ file, path: "proxy.require_key", message: refusal }]);
      return EXIT_USAGE;
    }
    console.log(`${file}: valid`);
    return 0;
  },
};
export default command;
