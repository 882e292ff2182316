// `config backup`: saves a copy of the config file in the backups directory.
import { existsSync } from "node:fs";
import { parse, CliError } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, storeFor } from "./common.ts";

const command: Subcommand = {
  name: "config backup",
  usage: "backup",
  help: `Usage: cloudtolocalllm-tunnel config backup [--config FILE]

Copies the config file to $XDG_STATE_HOME/cloudtolocalllm/backups/ under a timestamped id (the last 20 are
kept) and prints the id. Every write by the program makes such a backup by itself.

Options:
${CONFIG_HELP}`,
  async run(argv) {
    const { values } = parse(argv, CONFIG_OPTION, false);
    const store = storeFor(values.config);
    if (!existsSync(store.file)) throw new CliError(`${store.file} does not exist, so there is nothing to back up.`);
    const b = store.backup();
    console.log(`${b.id}  ${b.file}`);
    return 0;
  },
};
export default command;
