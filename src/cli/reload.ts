// `reload`: makes the daemon re-read its config file and reports the outcome, with line and column when it is rejected.
import { API_HELP, API_OPTIONS, apiCall, apiTarget } from "./api-client.ts";
import { EXIT_USAGE, parse, type Command } from "./args.ts";

interface Issue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

const command: Command = {
  name: "reload",
  summary: "Make the daemon re-read its config file (like SIGHUP)",
  help: `Usage: cloudtolocalllm-tunnel reload [--url URL] [--config FILE]

Asks the running daemon to re-read its config file now. An invalid file is rejected: the daemon keeps
running on its current config and every problem is printed with its line and column.

Options:
${API_HELP}

Exit codes: 0 reloaded, 1 the daemon is not reachable, 2 the file was rejected.`,
  async run(argv) {
    const { values } = parse(argv, API_OPTIONS, false);
    const target = apiTarget(values);
    const { status, body } = await apiCall(target, "POST", "/api/v1/config/reload", [422]);
    if (status === 422) {
      console.error("cloudtolocalllm-tunnel reload: the config file was rejected; the daemon keeps its running configuration.");
      const { body: st } = await apiCall(target, "GET", "/api/v1/status").catch(() => ({ body: null as any }));
      const file = st?.daemon?.configPath ?? "config";
      for (const i of (body.error?.details ?? []) as Issue[])
        console.error(`${file}${i.line ? `:${i.line}:${i.column ?? 1}` : ""}: ${i.path ? `${i.path}: ` : ""}${i.message}`);
      return EXIT_USAGE;
    }
    console.log("configuration reloaded");
    return 0;
  },
};
export default command;
