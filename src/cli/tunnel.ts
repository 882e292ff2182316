// `tunnel start|stop|restart`: controls the daemon's tunnel through the API.
import type { TunnelStatus } from "../core/contracts.ts";
import { API_HELP, API_OPTIONS, daemonApi, withDaemon } from "./daemon-api.ts";
import { parse, UsageError, type Command } from "./args.ts";

const ACTIONS = ["start", "stop", "restart"] as const;

export function describeTunnel(t: TunnelStatus): string {
  let s = `tunnel ${t.state}`;
  if (t.relay) s += ` (${t.relay})`;
  if (t.lastError && t.state !== "connected") s += `: ${t.lastError}`;
  return s;
}

const command: Command = {
  name: "tunnel",
  summary: "Start, stop or restart the tunnel to the relay",
  subcommands: [...ACTIONS],
  help: `Usage: cloudtolocalllm-tunnel tunnel start|stop|restart [--url URL] [--config FILE]

Tells the running daemon to connect its tunnel to the relay, disconnect it, or reconnect now.
The tunnel must be enabled in the config ([tunnel] enabled = true); otherwise this fails and says so.

Options:
${API_HELP}

Exit codes: 0 ok, 1 the daemon refused (e.g. tunnel disabled) or is not reachable, 2 usage error.`,
  async run(argv) {
    const { values, positionals } = parse(argv, API_OPTIONS);
    const action = positionals[0];
    if (positionals.length !== 1 || !ACTIONS.includes(action as (typeof ACTIONS)[number]))
      throw new UsageError(`expected one of start, stop, restart${action ? `, not "${positionals.join(" ")}"` : ""}.`);
    const api = daemonApi(values);
    const body = await withDaemon(api, (c) => c.call("POST", `/api/v1/tunnel/${action as (typeof ACTIONS)[number]}`));
    console.log(describeTunnel(body));
    return 0;
  },
};
export default command;
