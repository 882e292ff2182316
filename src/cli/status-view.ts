// Renders a DaemonStatus as the `status` command's table, with colours on a terminal.
import type { DaemonStatus, LatencySummary, VerdictLevel } from "../core/contracts.ts";
import { reloadIssueText } from "../core/reload-issue-text.ts";
import { signInTrouble } from "../core/sign-in-text.ts";
import { capacityText, loadedText } from "../core/upstream-load.ts";
import { serving } from "../core/verdict.ts";
import { cloudExamples } from "../net/cloud-url.ts";

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

/** Index of the free-text LAST ERROR cell in a row: shown under the row, never as a column. */
const LAST_ERROR = 12;
/** Columns left out, in this order, while the table is wider than the terminal (every figure stays in --json). */
const DROP_ORDER = ["SLOTS", "LOADED", "P99", "TOK/S", "P50", "CHECKED", "MODELS"];

/** Names are cut to this many characters before any figure is left out. */
const NAME_MIN = 16;

/** The column indexes to show within `width`; widths[0] (the name) is narrowed first to NAME_MIN, and further if it must. */
function fitColumns(header: string[], widths: number[], width: number): number[] {
  let shown = header.map((_, i) => i).filter((i) => i !== LAST_ERROR);
  const total = () => shown.reduce((n, i) => n + widths[i]!, 0) + 2 * (shown.length - 1);
  if (total() > width) widths[0] = Math.min(widths[0]!, Math.max(NAME_MIN, widths[0]! - (total() - width)));
  for (const name of DROP_ORDER) {
    if (total() <= width) break;
    shown = shown.filter((i) => header[i] !== name);
  }
  if (total() > width) widths[0] = Math.max(header[0]!.length, widths[0]! - (total() - width));
  return shown;
}

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const visible = (text: string) => text.replace(/\x1b\[\d+m/g, "").length;

/**
 * One line as lines of at most `width` visible characters, continued indented: broken between its " · " parts, a part
 * longer than a line between words, and a word longer than a line (a long path) anywhere.
 */
export function wrapLine(text: string, width: number, indent = "  "): string[] {
  if (visible(text) <= width) return [text];
  const out: string[] = [];
  let cur = "";
  const room = () => width - (out.length ? indent.length : 0);
  const fits = (t: string) => visible(t.trimEnd()) <= room();
  const flush = () => {
    if (cur.trim()) out.push((out.length ? indent : "") + cur.trimEnd());
    cur = "";
  };
  // Each part after the first starts with its " · ", which then leads the continuation line ("  · quality good").
  for (const raw of text.split(/(?= · )/)) {
    if (fits(cur + raw)) {
      cur += raw;
      continue;
    }
    flush();
    // A part that starts a line drops the space before its "·"; a line's own indent stays.
    const part = raw.startsWith(" · ") ? raw.slice(1) : raw;
    if (fits(part)) {
      cur = part;
      continue;
    }
    for (const word of part.split(/(?<= )/)) {
      if (fits(cur + word)) {
        cur += word;
        continue;
      }
      flush();
      let rest = word;
      while (!fits(rest)) {
        // Colour codes count as zero width and are never cut.
        let n = 0;
        let cut = 0;
        while (cut < rest.length && n < room()) {
          const esc = /^\x1b\[\d+m/.exec(rest.slice(cut));
          if (esc) cut += esc[0].length;
          else (cut++, n++);
        }
        cur = rest.slice(0, cut);
        flush();
        rest = rest.slice(cut);
      }
      cur = rest;
    }
  }
  flush();
  return out;
}

export function renderStatus(s: DaemonStatus, opts: { color: boolean; now?: Date; width?: number }): string {
  // 80 columns unless the terminal says otherwise (status.ts passes its width).
  const width = opts.width ?? 80;
  const paint = (text: string, colour?: Colour) => (opts.color && colour ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text);
  const tone = (word: string) => paint(word, TONE[word]);
  const now = opts.now ?? new Date();
  const ago = (iso: string | null) => (iso ? `${duration(Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000)))} ago` : "never");
  // A time ahead ("retry in 4 s"), as ago() says one behind: an ISO stamp makes the reader do the arithmetic.
  const until = (iso: string) => {
    const sec = Math.round((Date.parse(iso) - now.getTime()) / 1000);
    return sec <= 0 ? "now" : `in ${sec < 60 ? `${sec} s` : duration(sec)}`;
  };
  const out: string[] = [];
  const d = s.daemon;
  // A short commit, as git shows it: the line fits 80 columns with a 7-digit pid.
  out.push(`${paint("cloudtolocalllm-tunnel", "bold")} ${d.version} (${d.commit.replace(/^([0-9a-f]{7})[0-9a-f]+/, "$1")}) · pid ${d.pid} · up ${duration(d.uptimeSec)} · quality ${tone(s.quality)}`);
  const reload = d.lastReload;
  const reloadText = !reload
    ? ""
    : reload.ok
      ? ` · reloaded ${ago(reload.at)}`
      : ` · ${paint("last reload rejected", "red")}: ${reload.error?.line ? `line ${reload.error.line}:${reload.error.column ?? 1}: ` : ""}${reload.error ? reloadIssueText(reload.error) : ""}`;
  out.push(`config ${d.configPath}${reloadText}`);
  // The verdict's problem, reason and fix (src/core/verdict.ts), as the tray and the dashboard show it.
  const v = s.verdict;
  if (v && v.level !== "ok") out.push(`health ${paint(v.text, VERDICT_TONE[v.level])}`);
  out.push("");

  const header = ["UPSTREAM", "STATE", "QUALITY", "MODELS", "LOADED", "SLOTS", "P50", "P95", "P99", "ERRORS", "TOK/S", "CHECKED", "LAST ERROR"];
  const rows = s.upstreams.map((u) => [
    u.enabled ? u.name : `${u.name} (off)`,
    u.state,
    // Not checked yet (or disabled): no verdict to show; the daemon's "critical" for it only feeds the overall one.
    u.state === "unknown" ? "-" : u.quality,
    // A down upstream's model count and latencies are from before it went down: not shown as if current.
    serving(u) ? String(u.models.length) : "-",
    // What the server reports of itself (its kind: docs/broker.md), the figures the router prefers loaded and free upstreams by.
    (serving(u) && loadedText(u)) || "-",
    (serving(u) && capacityText(u)) || "-",
    ...(serving(u) ? pct(u.metrics.latencyMs) : NO_FIGURES),
    `${(u.metrics.errorRate * 100).toFixed(1)}%`,
    u.metrics.tokensPerSec === null ? "-" : u.metrics.tokensPerSec.toFixed(1),
    ago(u.lastCheck),
    u.lastError ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const shown = fitColumns(header, widths, width);
  const line = (cells: string[], colourize: boolean) =>
    shown
      .map((i, k) => {
        const c = i === 0 ? clip(cells[i]!, widths[0]!) : cells[i]!;
        const padded = k === shown.length - 1 ? c : c.padEnd(widths[i]!);
        return colourize && (i === 1 || i === 2) ? padded.replace(c, tone(c)) : padded;
      })
      .join("  ")
      .trimEnd();
  out.push(paint(line(header, false), "bold"));
  if (!rows.length) out.push(paint("(no upstreams configured)", "dim"));
  for (const r of rows) {
    out.push(line(r, true));
    // Free text has no column width: the last error goes under its row (wrapped below), not off the right edge.
    if (r[LAST_ERROR]) out.push(`  ${paint("last error:", "dim")} ${r[LAST_ERROR]}`);
  }
  out.push("");

  const t = s.tunnel;
  let tunnel = `tunnel ${tone(t.state)}`;
  if (t.relay) tunnel += ` ${t.relay}`;
  if (t.since) tunnel += ` since ${ago(t.since)}`;
  if (t.state === "connected") tunnel += ` · ${t.activeStreams} active stream${t.activeStreams === 1 ? "" : "s"}`;
  if (t.nextRetry) tunnel += ` · retry ${until(t.nextRetry)}${t.attempt ? ` (attempt ${t.attempt})` : ""}`;
  if (t.lastError && t.state !== "connected") tunnel += ` · ${paint(t.lastError, "red")}`;
  out.push(tunnel);
  if (t.fix && t.state !== "connected") out.push(`  fix: ${t.fix}`);
  // Where cloud clients reach this machine, as ngrok prints its "Forwarding" line; only while it does (a stopped or
  // reconnecting tunnel's URL answers tunnel_offline).
  if (t.cloudUrl && t.state === "connected") {
    const ex = cloudExamples(t.cloudUrl);
    out.push(`  cloud URL ${paint(t.cloudUrl, "bold")} · OpenAI base URL ${ex.openaiBaseUrl} · chat page ${ex.chatPage}`);
  }
  out.push(signInLine(s.auth, paint, tone, until));
  if (s.alerts.length) {
    out.push("");
    out.push(paint(`${s.alerts.length} active alert${s.alerts.length === 1 ? "" : "s"}:`, "bold"));
    for (const a of s.alerts) out.push(`  ${paint(a.severity, a.severity === "critical" ? "red" : "yellow")}  ${a.message} (${ago(a.raisedAt)})`);
  }
  for (const w of s.warnings) out.push(`${paint("warning", "yellow")}: ${w}`);
  return out.flatMap((l) => wrapLine(l, width, l.startsWith("  ") ? "    " : "  ")).join("\n");
}

/** The terminal's width, or 80 columns when the output is not a terminal (a pipe, a file). */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return stream.isTTY && stream.columns && stream.columns > 20 ? stream.columns : 80;
}

/** The sign-in line: state and account, and while refreshes fail the last error, the attempt and the next retry. */
function signInLine(a: DaemonStatus["auth"], paint: (text: string, colour?: Colour) => string, tone: (word: string) => string, until: (iso: string) => string): string {
  const trouble = signInTrouble(a, until);
  return `sign-in ${tone(a.state)}${a.subject ? ` as ${a.subject}` : ""}${trouble ? ` · ${paint(trouble, a.refresh?.tokenExpired || a.state === "login_required" ? "red" : "yellow")}` : ""}`;
}

/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColour(stream: { isTTY?: boolean } = process.stdout): boolean {
  return !!stream.isTTY && !process.env.NO_COLOR;
}
