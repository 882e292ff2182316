// `config backups`: lists the config backups, oldest first.
import { parse } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, storeFor } from "./common.ts";

const command: Subcommand = {
  name: "config backups",
  usage: "backups [--json]",
  help: `Usage: cloudtolocalllm-tunnel config backups [--json] [--config FILE]

Lists the backups of the config file, oldest first: id, time and size. Put one back with \`config restore ID\`.

Options:
  --json              machine-readable output
${CONFIG_HELP}`,
  async run(argv) {
    const { values } = parse(argv, { ...CONFIG_OPTION, json: { type: "boolean" } }, false);
    const list = storeFor(values.config).list();
    if (values.json) console.log(JSON.stringify(list.map(({ id, time, size }) => ({ id, time, size })), null, 2));
    else if (!list.length) console.log("no backups yet");
    else for (const b of list) console.log(`${b.id}  ${b.time}  ${b.size} bytes`);
    return 0;
  },
};
export default command;
