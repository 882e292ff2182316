// `reload`: makes the daemon re-read its config file and reports the outcome, with line and column when it is rejected.
import { API_HELP, API_OPTIONS, daemonApi, withDaemon } from "./daemon-api.ts";
import { EXIT_USAGE, parse, type Command } from "./args.ts";
import { issuesOf } from "../client/api-client.ts";
import { writeStderrLine } from "../core/stderr-line.ts";

const command: Command = {
  name: "reload",
  help: `Usage: cloudtolocalllm-tunnel reload [--url URL] [--config FILE]

Asks the running daemon to re-read its config file now. An invalid file is rejected: the daemon keeps
running on its current config and every problem is printed with its line and column.

Options:
${API_HELP}

Exit codes: 0 reloaded, 1 the daemon is not reachable, 2 the file was rejected.`,
  async run(argv) {
    const { values } = parse(argv, API_OPTIONS, false);
    const api = daemonApi(values);
    const { status, body } = await withDaemon(api, (c) => c.reply("POST", "/api/v1/config/reload", { accept: [422] }));
    if (status === 422) {
      writeStderrLine("cloudtolocalllm-tunnel reload: the config file was rejected; the daemon keeps its running configuration.");
      const st = await api.client.call("GET", "/api/v1/status").catch(() => null);
      const file = st?.daemon?.configPath ?? "config";
      for (const i of issuesOf((body as { error?: { details?: unknown } }).error?.details))
        writeStderrLine(`${file}${i.line ? `:${i.line}:${i.column ?? 1}` : ""}: ${i.path ? `${i.path}: ` : ""}${i.message}`);
      return EXIT_USAGE;
    }
    console.log("configuration reloaded");
    return 0;
  },
};
export default command;
