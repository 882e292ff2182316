// `status`: the daemon's state as a table (colours on a terminal) or JSON.
import type { DaemonStatus } from "../core/contracts.ts";
import { API_HELP, API_OPTIONS, daemonApi, withDaemon } from "./daemon-api.ts";
import { parse, type Command } from "./args.ts";
import { renderStatus, terminalWidth, useColour } from "./status-view.ts";
import { redactUrlsDeep } from "../net/redact-url.ts";

const command: Command = {
  name: "status",
  help: `Usage: cloudtolocalllm-tunnel status [--json] [--url URL] [--config FILE]

Asks the running daemon for its state: each upstream (state, quality, models, latency, errors),
the tunnel, sign-in, active alerts and the last config reload.

Options:
  --json              print GET /api/v1/status as JSON
${API_HELP}

Exit codes: 0 ok, 1 the daemon is not reachable (or refuses), 2 a wrong option or a config file it cannot read.`,
  async run(argv) {
    const { values } = parse(argv, { ...API_OPTIONS, json: { type: "boolean" } }, false);
    const api = daemonApi(values);
    const reply = { body: await withDaemon(api, (c) => c.call("GET", "/api/v1/status")) };
    // The daemon redacts URLs already; an older daemon may not, and a terminal or a pasted --json is no place for a secret.
    const body = redactUrlsDeep(reply.body);
    console.log(values.json ? JSON.stringify(body, null, 2) : renderStatus(body, { color: useColour(), width: terminalWidth() }));
    return 0;
  },
};
export default command;
