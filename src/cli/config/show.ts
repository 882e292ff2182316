// `config show`: prints the effective configuration (the file plus defaults), inline secrets redacted.
import { existsSync } from "node:fs";
import { defaultConfig, parseConfig } from "../../config/load.ts";
import { redactSecrets } from "../../config/redact.ts";
import { renderConfig } from "../../config/render.ts";
import { parse, EXIT_USAGE } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, printIssues, readUserFile, storeFor } from "./common.ts";

const command: Subcommand = {
  name: "config show",
  usage: "show [--json]",
  help: `Usage: cloudtolocalllm-tunnel config show [--json] [--config FILE]

Prints the configuration the daemon would run with: the file's values with every default filled in.
Inline secrets are shown as [redacted]. Without a config file yet, prints the defaults.

Options:
  --json              print JSON instead of TOML
${CONFIG_HELP}`,
  async run(argv) {
    const { values } = parse(argv, { ...CONFIG_OPTION, json: { type: "boolean" } }, false);
    const store = storeFor(values.config);
    let config = defaultConfig();
    if (existsSync(store.file)) {
      const r = parseConfig(readUserFile(store.file), store.file);
      if (!r.ok) {
        printIssues(r.issues);
        return EXIT_USAGE;
      }
      config = r.config;
    }
    const shown = redactSecrets(config).value;
    console.log(values.json ? JSON.stringify(shown, null, 2) : renderConfig(shown, { comments: false }).trimEnd());
    return 0;
  },
};
export default command;
