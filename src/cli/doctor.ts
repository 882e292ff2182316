// `doctor`: checks what the program and its desktop integration need and prints a checklist with a fix for each failure.
import { configPath } from "../config/paths.ts";
import { EXIT_FAILURE, parse, type Command } from "./args.ts";
import { runChecks, type CheckResult } from "./doctor-checks.ts";

const MARK = { ok: "✓", warn: "!", fail: "✗" } as const;
const COLOR = { ok: "\x1b[32m", warn: "\x1b[33m", fail: "\x1b[31m" } as const;

export function formatChecklist(results: CheckResult[], color: boolean): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines: string[] = [];
  for (const r of results) {
    const mark = color ? `${COLOR[r.level]}${MARK[r.level]}\x1b[0m` : MARK[r.level];
    lines.push(`${mark} ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.fix) lines.push(`  ${" ".repeat(width)}  fix: ${r.fix}`);
  }
  const fails = results.filter((r) => r.level === "fail").length;
  const warns = results.filter((r) => r.level === "warn").length;
  lines.push("");
  lines.push(fails ? `${fails} problem${fails > 1 ? "s" : ""} to fix${warns ? `, ${warns} warning${warns > 1 ? "s" : ""}` : ""}.` : warns ? `Everything needed works; ${warns} warning${warns > 1 ? "s" : ""}.` : "Everything works.");
  return lines.join("\n");
}

const command: Command = {
  name: "doctor",
  help: `Usage: cloudtolocalllm-tunnel doctor [--config FILE] [--json]

Checks, and prints a checklist with a fix for each problem:
  the config file (readable), the directories the daemon writes (config, API token, state: this
  user's), the daemon's control API (the daemon answers there, and takes the API token
  the other commands send), the broker's port (free, while the daemon is down), each enabled
  upstream (Ollama reachable), the relay
  (when the tunnel is enabled), the D-Bus session bus, a StatusNotifier host for the tray icon,
  a notification server and notify-send, the systemd user unit (and a home copy left beside a
  package's), and the secret store.
✓ ok   ! warning (works, but something is missing)   ✗ problem (exit code 1)

Options:
  -c, --config FILE   config file (default: $CLOUDTOLOCALLLM_CONFIG or $XDG_CONFIG_HOME/cloudtolocalllm/tunnel.toml)
  --json              print the results as JSON`,
  async run(argv) {
    const { values } = parse(argv, { config: { type: "string", short: "c" }, json: { type: "boolean" } }, false);
    const results = await runChecks({ file: configPath(values.config), env: process.env });
    if (values.json) console.log(JSON.stringify({ ok: !results.some((r) => r.level === "fail"), checks: results }, null, 2));
    else console.log(formatChecklist(results, !!process.stdout.isTTY && !process.env.NO_COLOR));
    return results.some((r) => r.level === "fail") ? EXIT_FAILURE : 0;
  },
};
export default command;
