// `config path`: prints which config file is in use.
import { configPath } from "../../config/paths.ts";
import { parse } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION } from "./common.ts";

const command: Subcommand = {
  name: "config path",
  usage: "path",
  help: `Usage: cloudtolocalllm-tunnel config path [--config FILE]

Prints the path of the config file in use (whether or not it exists yet).

Options:
${CONFIG_HELP}`,
  async run(argv) {
    const { values } = parse(argv, CONFIG_OPTION, false);
    console.log(configPath(values.config));
    return 0;
  },
};
export default command;
