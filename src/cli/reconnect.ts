// `reconnect`: asks the daemon to drop idle upstream connections and re-check every upstream now.
import type { UpstreamStatus } from "../core/contracts.ts";
import { API_HELP, API_OPTIONS, daemonApi, withDaemon } from "./daemon-api.ts";
import { parse, type Command } from "./args.ts";

const command: Command = {
  name: "reconnect",
  help: `Usage: cloudtolocalllm-tunnel reconnect [--url URL] [--config FILE]

Makes the running daemon drop its idle connections to the upstreams and check each one again now,
instead of waiting for the next health check. Prints each upstream's state afterwards.

Options:
${API_HELP}`,
  async run(argv) {
    const { values } = parse(argv, API_OPTIONS, false);
    const api = daemonApi(values);
    const body = await withDaemon(api, (c) => c.call("POST", "/api/v1/reconnect"));
    for (const u of body) console.log(u.enabled ? `${u.name}: ${u.state}${u.lastError && u.state !== "up" ? ` (${u.lastError})` : ""}` : `${u.name}: disabled, not checked`);
    return 0;
  },
};
export default command;
