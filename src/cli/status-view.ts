// Renders a DaemonStatus as the `status` command's table, with colours on a terminal.
import type { DaemonStatus, LatencySummary, VerdictLevel } from "../core/contracts.ts";
import { signInTrouble } from "../core/sign-in-text.ts";
import { serving } from "../core/verdict.ts";

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
type Colour = keyof typeof CODES;

const TONE: Record<string, Colour> = {
  up: "green",
  excellent: "green",
  good: "green",
  connected: "green",
  ok: "green",
  degraded: "yellow",
  poor: "yellow",
  connecting: "yellow",
  reconnecting: "yellow",
  unknown: "dim",
  stopped: "dim",
  disabled: "dim",
  down: "red",
  critical: "red",
  failed: "red",
  auth_failed: "red",
  login_required: "red",
  warning: "yellow",
  checking: "dim",
};

const VERDICT_TONE: Record<VerdictLevel, Colour | undefined> = { ok: undefined, checking: "dim", warning: "yellow", critical: "red" };

function duration(sec: number): string {
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  if (d) return `${d}d${h}h`;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  return m ? `${m}m${String(sec % 60).padStart(2, "0")}s` : `${sec}s`;
}

const ms = (v: number | null | undefined) => (v === null || v === undefined ? "-" : v >= 1000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`);
const pct = (l: LatencySummary) => [ms(l.p50), ms(l.p95), ms(l.p99)];
const NO_FIGURES = ["-", "-", "-"];

export function renderStatus(s: DaemonStatus, opts: { color: boolean; now?: Date }): string {
  const paint = (text: string, colour?: Colour) => (opts.color && colour ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text);
  const tone = (word: string) => paint(word, TONE[word]);
  const now = opts.now ?? new Date();
  const ago = (iso: string | null) => (iso ? `${duration(Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000)))} ago` : "never");
  const out: string[] = [];
  const d = s.daemon;
  out.push(`${paint("cloudtolocalllm-tunnel", "bold")} ${d.version} (${d.commit}) · pid ${d.pid} · up ${duration(d.uptimeSec)} · quality ${tone(s.quality)}`);
  const reload = d.lastReload;
  const reloadText = !reload
    ? ""
    : reload.ok
      ? ` · reloaded ${ago(reload.at)}`
      : ` · ${paint("last reload rejected", "red")}: ${reload.error?.line ? `line ${reload.error.line}:${reload.error.column ?? 1}: ` : ""}${reload.error?.message ?? ""}`;
  out.push(`config ${d.configPath}${reloadText}`);
  // The verdict's problem, reason and fix (src/core/verdict.ts), as the tray and the dashboard show it.
  const v = s.verdict;
  if (v && v.level !== "ok") out.push(`health ${paint(v.text, VERDICT_TONE[v.level])}`);
  out.push("");

  const header = ["UPSTREAM", "STATE", "QUALITY", "MODELS", "P50", "P95", "P99", "ERRORS", "TOK/S", "CHECKED", "LAST ERROR"];
  const rows = s.upstreams.map((u) => [
    u.enabled ? u.name : `${u.name} (off)`,
    u.state,
    // Not checked yet (or disabled): no verdict to show; the daemon's "critical" for it only feeds the overall one.
    u.state === "unknown" ? "-" : u.quality,
    // A down upstream's model count and latencies are from before it went down: not shown as if current.
    serving(u) ? String(u.models.length) : "-",
    ...(serving(u) ? pct(u.metrics.latencyMs) : NO_FIGURES),
    `${(u.metrics.errorRate * 100).toFixed(1)}%`,
    u.metrics.tokensPerSec === null ? "-" : u.metrics.tokensPerSec.toFixed(1),
    ago(u.lastCheck),
    u.lastError ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], colourize: boolean) =>
    cells
      .map((c, i) => {
        const padded = i === cells.length - 1 ? c : c.padEnd(widths[i]!);
        return colourize && (i === 1 || i === 2) ? padded.replace(c, tone(c)) : padded;
      })
      .join("  ")
      .trimEnd();
  out.push(paint(line(header, false), "bold"));
  if (!rows.length) out.push(paint("(no upstreams configured)", "dim"));
  for (const r of rows) out.push(line(r, true));
  out.push("");

  const t = s.tunnel;
  let tunnel = `tunnel ${tone(t.state)}`;
  if (t.relay) tunnel += ` ${t.relay}`;
  if (t.since) tunnel += ` since ${ago(t.since)}`;
  if (t.state === "connected") tunnel += ` · ${t.activeStreams} active stream${t.activeStreams === 1 ? "" : "s"}`;
  if (t.nextRetry) tunnel += ` · retry ${t.nextRetry}`;
  if (t.lastError && t.state !== "connected") tunnel += ` · ${paint(t.lastError, "red")}`;
  out.push(tunnel);
  out.push(signInLine(s.auth, paint, tone));
  if (s.alerts.length) {
    out.push("");
    out.push(paint(`${s.alerts.length} active alert${s.alerts.length === 1 ? "" : "s"}:`, "bold"));
    for (const a of s.alerts) out.push(`  ${paint(a.severity, a.severity === "critical" ? "red" : "yellow")}  ${a.message} (${ago(a.raisedAt)})`);
  }
  for (const w of s.warnings) out.push(`${paint("warning", "yellow")}: ${w}`);
  return out.join("\n");
}

/** The sign-in line: state and account, and while refreshes fail the last error, the attempt and the next retry. */
function signInLine(a: DaemonStatus["auth"], paint: (text: string, colour?: Colour) => string, tone: (word: string) => string): string {
  const trouble = signInTrouble(a);
  return `sign-in ${tone(a.state)}${a.subject ? ` as ${a.subject}` : ""}${trouble ? ` · ${paint(trouble, a.refresh?.tokenExpired || a.state === "login_required" ? "red" : "yellow")}` : ""}`;
}

/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColour(stream: { isTTY?: boolean } = process.stdout): boolean {
  return !!stream.isTTY && !process.env.NO_COLOR;
}
