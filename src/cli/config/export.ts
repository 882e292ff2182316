// `config export`: prints the config file for another machine, inline secrets redacted unless asked.
import { existsSync } from "node:fs";
import { parse, CliError } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, storeFor } from "./common.ts";

const command: Subcommand = {
  name: "config export",
  usage: "export [--include-secrets]",
  help: `Usage: cloudtolocalllm-tunnel config export [--include-secrets] [--config FILE]

Prints the config file to stdout. Inline secrets (keys named like token, secret, password or key, and
credentials inside URLs) are replaced by [redacted] unless --include-secrets is given. Secrets kept in the
keyring are referred to by name and never exported.

Options:
  --include-secrets   print inline secrets as they are
${CONFIG_HELP}`,
  async run(argv) {
    const { values } = parse(argv, { ...CONFIG_OPTION, "include-secrets": { type: "boolean" } }, false);
    const store = storeFor(values.config);
    if (!existsSync(store.file)) throw new CliError(`${store.file} does not exist (run the daemon once, or \`config import\`).`);
    try {
      process.stdout.write(store.export({ includeSecrets: values["include-secrets"] }));
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    return 0;
  },
};
export default command;
