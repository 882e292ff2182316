// `models`: the merged model list across upstreams, like `ollama list`: where each model is and where it is loaded.
import type { UpstreamStatus } from "../core/contracts.ts";
import { API_HELP, API_OPTIONS, daemonApi, withDaemon } from "./daemon-api.ts";
import { parse, type Command } from "./args.ts";

export interface ModelRow {
  name: string;
  upstreams: string[];
  /** Absent from a daemon older than this command (its /api/v1/models named no loaded upstreams). */
  loaded?: string[];
}

/** The table: NAME, UPSTREAMS (that serve it, by priority), LOADED (those that have it in memory now); then why a list may be short. */
export function renderModels(models: ModelRow[], upstreams: Pick<UpstreamStatus, "name" | "state" | "enabled" | "lastError">[]): string {
  const header = ["NAME", "UPSTREAMS", "LOADED"];
  // "?" where the daemon did not say (an older one, still running after an upgrade): "-" would claim nothing is loaded.
  const rows = models.map((m) => [m.name, m.upstreams.join(", "), !m.loaded ? "?" : m.loaded.length ? m.loaded.join(", ") : "-"]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (models.some((m) => !m.loaded)) out.push("LOADED ?: the daemon does not report loaded models (an older version still running: restart it)");
  if (!rows.length) out.push(upstreams.some((u) => u.enabled && (u.state === "up" || u.state === "degraded")) ? "(no models: pull one, e.g. `ollama pull llama3.2`)" : "(no models: no upstream is up)");
  // Only usable upstreams are asked for their models: say which were left out, so a missing model has its reason.
  for (const u of upstreams) {
    if (!u.enabled) continue;
    const why = u.state === "down" ? "is down" : u.state === "unknown" ? "is not checked yet" : null;
    if (why) out.push(`${u.name} ${why}${u.lastError ? ` (${u.lastError})` : ""}: its models are not listed`);
  }
  return out.join("\n");
}

const command: Command = {
  name: "models",
  help: `Usage: cloudtolocalllm-tunnel models [--json] [--url URL] [--config FILE]

Asks the running daemon for the merged model list of its upstreams (what the broker's /api/tags answers):
each model with the upstreams that serve it and those that have it loaded in memory now (Ollama's /api/ps,
read with each health check). Upstreams that are down are named below the table.

Options:
  --json              print GET /api/v1/models as JSON
${API_HELP}

Exit codes: 0 ok, 1 the daemon is not reachable (or refuses), 2 a wrong option or a config file it cannot read.`,
  async run(argv) {
    const { values } = parse(argv, { ...API_OPTIONS, json: { type: "boolean" } }, false);
    const api = daemonApi(values);
    const [models, upstreams] = await withDaemon(api, (c) => Promise.all([c.call("GET", "/api/v1/models"), c.call("GET", "/api/v1/upstreams")]));
    console.log(values.json ? JSON.stringify(models, null, 2) : renderModels(models, upstreams));
    return 0;
  },
};
export default command;
