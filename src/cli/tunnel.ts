// `tunnel start|stop|restart`: controls the daemon's tunnel through the API and waits (bounded) for the outcome.
import type { TunnelStatus } from "../core/contracts.ts";
import { cloudExamples } from "../net/cloud-url.ts";
import { API_HELP, API_OPTIONS, daemonApi, withDaemon } from "./daemon-api.ts";
import { EXIT_FAILURE, didYouMean, parse, UsageError, type Command } from "./args.ts";
import { writeStderrLine } from "../core/stderr-line.ts";

const ACTIONS = ["start", "stop", "restart"] as const;
/** How long start|restart wait for the outcome by default: a handshake that got no answer times out in 10 s. */
export const DEFAULT_WAIT_SEC = 12;
const POLL_MS = 200;

export function describeTunnel(t: TunnelStatus, now = Date.now()): string {
  let s = `tunnel ${t.state}`;
  if (t.relay) s += ` (${t.relay})`;
  if (t.lastError && t.state !== "connected") s += `: ${t.lastError}`;
  if (t.state === "reconnecting" && t.nextRetry) s += ` · retry in ${Math.max(0, Math.round((Date.parse(t.nextRetry) - now) / 1000))} s`;
  const lines = [s];
  if (t.fix && t.state !== "connected") lines.push(`fix: ${t.fix}`);
  if (t.cloudUrl && t.state === "connected") {
    // As ngrok's "Forwarding" line: the address cloud clients use, with uses ready to paste (not after `tunnel stop`:
    // the API keeps the last tunnel id, but nothing answers there until the tunnel is back).
    const ex = cloudExamples(t.cloudUrl);
    lines.push(`cloud URL: ${t.cloudUrl}`, `  curl:            ${ex.curl}`, `  OpenAI base URL: ${ex.openaiBaseUrl}`, `  chat page:       ${ex.chatPage}`);
  }
  return lines.join("\n");
}

/** Where an attempt started by start|restart stands: still going, connected, or failed (a retry pending counts as failed). */
export function tunnelOutcome(t: TunnelStatus): "pending" | "ok" | "failed" {
  if (t.state === "connected") return "ok";
  if (t.state === "connecting" || (t.state === "reconnecting" && !t.nextRetry)) return "pending";
  return "failed";
}

const command: Command = {
  name: "tunnel",
  subcommands: [...ACTIONS],
  help: `Usage: cloudtolocalllm-tunnel tunnel start|stop|restart [--wait SECONDS] [--url URL] [--config FILE]

Tells the running daemon to connect its tunnel to the relay, disconnect it, or reconnect now.
start and restart wait for the outcome: connected (prints the cloud URL clients use) or the reason it
failed, with the fix. The tunnel must be enabled in the config ([tunnel] enabled = true).

Options:
  --wait SECONDS      how long start|restart wait for the outcome (default ${DEFAULT_WAIT_SEC}; 0: do not wait)
${API_HELP}

Exit codes: 0 ok (connected, or stopped), 1 the attempt failed, gave no outcome in time, the daemon refused
(e.g. tunnel disabled) or is not reachable, 2 usage error.`,
  async run(argv) {
    const { values, positionals } = parse(argv, { ...API_OPTIONS, wait: { type: "string" } });
    const action = positionals[0];
    if (positionals.length !== 1 || !ACTIONS.includes(action as (typeof ACTIONS)[number]))
      throw new UsageError(`expected one of start, stop, restart${action ? `, not "${positionals.join(" ")}"${didYouMean(action, ACTIONS)}` : ""}.`);
    const waitSec = values.wait === undefined ? DEFAULT_WAIT_SEC : Number(values.wait);
    if (!Number.isFinite(waitSec) || waitSec < 0) throw new UsageError(`--wait expects a number of seconds, not "${values.wait}".`);
    const api = daemonApi(values);
    let body = await withDaemon(api, (c) => c.call("POST", `/api/v1/tunnel/${action as (typeof ACTIONS)[number]}`));
    if (action === "stop" || waitSec === 0) {
      console.log(describeTunnel(body));
      return 0;
    }
    const deadline = Date.now() + waitSec * 1000;
    while (tunnelOutcome(body) === "pending" && Date.now() < deadline) {
      await Bun.sleep(POLL_MS);
      body = await withDaemon(api, (c) => c.call("GET", "/api/v1/tunnel"));
    }
    const outcome = tunnelOutcome(body);
    if (outcome === "ok") {
      console.log(describeTunnel(body));
      return 0;
    }
    writeStderrLine(outcome === "pending" ? `no outcome within ${waitSec} s: ${describeTunnel(body)}` : describeTunnel(body));
    return EXIT_FAILURE;
  },
};
export default command;
