// `version`: prints the version, commit and build date (`--json` for tools).
import { API_VERSION, BUILD_DATE, COMMIT, PROTOCOL_VERSION, VERSION } from "../core/build-info.ts";
import { parse, type Command } from "./args.ts";

export function versionInfo() {
  return { version: VERSION, commit: COMMIT, buildDate: BUILD_DATE, protocolVersion: PROTOCOL_VERSION, apiVersion: API_VERSION, bun: Bun.version };
}

const command: Command = {
  name: "version",
  help: `Usage: cloudtolocalllm-tunnel version [--json]

Prints the version, git commit and build date of this binary.

Options:
  --json   machine-readable output (also protocol and API versions)`,
  async run(argv) {
    const { values } = parse(argv, { json: { type: "boolean" } }, false);
    const v = versionInfo();
    if (values.json) console.log(JSON.stringify(v, null, 2));
    else console.log(`cloudtolocalllm-tunnel ${v.version} (commit ${v.commit}, built ${v.buildDate})`);
    return 0;
  },
};
export default command;
