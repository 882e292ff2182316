// Pure mapping from what the tray knows about the daemon to the icon, status, tooltip and menu it shows (no I/O here).
import type { Alert, DaemonStatus, UpstreamStatus } from "../src/core/contracts.ts";
import { signInTrouble } from "../src/core/sign-in-text.ts";
import { iconName, type TrayState } from "../src/desktop/icons/shapes.ts";
import { serving, verdict } from "../src/core/verdict.ts";
import { cloudExamples } from "../src/net/cloud-url.ts";

export const TITLE = "CloudToLocalLLM tunnel";
/** Menu keys of the "Approve dashboard access" items: this prefix and the code. */
export const APPROVE_PREFIX = "dashboard.approve.";

/** Everything the view depends on; the tray rebuilds the view from it after every change. */
export interface TrayInput {
  /** null while the daemon is not reachable. */
  status: DaemonStatus | null;
  /** Set while (re)connecting to the daemon after it was reachable, or during the first attempt. */
  linking: boolean;
  /** Most recent alert raised (or cleared) as seen by the tray, for the tooltip. */
  lastAlert: Alert | null;
  /** The daemon's version does not fit the tray's: shown as a warning item. */
  compatWarning: string | null;
  notifications: boolean;
  /** The daemon answers but refused the tray (token), so it is not "not running". */
  linkProblem?: string | null;
  /** A failed menu action, shown until the next one. */
  actionError: string | null;
  trayVersion: string;
  apiBase: string;
  /** The user code of a sign-in started from the menu, shown in its label until it expires. */
  signInCode?: string | null;
  /** The log file of a daemon started without systemd ("Start daemon"), named while the daemon is not running. */
  daemonLog?: string | null;
  /** The last item's label: "Quit tray" for the `tray` command; the daemon's own tray only hides its icon. */
  quitLabel?: string;
  /** Dashboard access requests waiting for approval: each gets an "Approve" item. */
  accessRequests?: { code: string; expiresAt: string }[];
}

export type SniStatus = "Passive" | "Active" | "NeedsAttention";

/** One menu entry; `key` is stable across rebuilds (the D-Bus menu ids follow it), `action` is what a click does. */
export interface MenuItem {
  key: string;
  label?: string;
  type?: "separator";
  enabled?: boolean;
  visible?: boolean;
  toggle?: { type: "checkmark"; state: boolean };
  icon?: string;
  action?: MenuAction;
  children?: MenuItem[];
}

export type MenuAction =
  | "tunnel.start"
  | "tunnel.stop"
  | "tunnel.restart"
  | "tunnel.copy-url"
  | "reconnect"
  | "open.dashboard"
  | "open.docs"
  | "open.config"
  | "notifications.toggle"
  | "auth.login"
  | "auth.logout"
  | "dashboard.approve"
  | "daemon.start"
  | "open.log"
  | "quit";

export interface TrayView {
  state: TrayState;
  status: SniStatus;
  iconName: string;
  title: string;
  tooltip: { title: string; body: string };
  menu: MenuItem[];
}

const ALL_QUIET = new Set(["connected", "disabled", "stopped"]);

function enabledUpstreams(s: DaemonStatus): UpstreamStatus[] {
  return s.upstreams.filter((u) => u.enabled);
}

/** The one word for the tray's overall state. */
export function trayState(input: Pick<TrayInput, "status" | "linking" | "linkProblem">): TrayState {
  const s = input.status;
  if (!s) return input.linking ? "connecting" : input.linkProblem ? "critical" : "offline";
  const ups = enabledUpstreams(s);
  const t = s.tunnel.state;
  const allDown = ups.length > 0 && ups.every((u) => u.state === "down");
  // Before the first health checks answer, the overall verdict is critical (nothing has served yet): that is
  // "connecting", not a problem. An overall "down" means the broker itself is not running.
  const checking = ups.length > 0 && ups.every((u) => u.state === "unknown");
  const nothingServes = s.quality === "down" || (s.quality === "critical" && !checking);
  // Sign-in required is critical by itself: with [alerts] off, or the tunnel not on the account's token, no alert or tunnel state says it.
  const signInRequired = s.auth.state === "login_required";
  if (allDown || nothingServes || t === "auth_failed" || t === "failed" || signInRequired || s.alerts.some((a) => a.severity === "critical")) return "critical";
  if (t === "connecting" || t === "reconnecting" || checking) return "connecting";
  // An unchecked upstream's quality (critical: never answered) is no verdict on it yet; its first check gives one.
  if (ups.some((u) => u.state === "down" || u.state === "degraded" || (u.state === "up" && (u.quality === "poor" || u.quality === "critical"))) || s.quality === "poor")
    return "degraded";
  if (s.alerts.length > 0 || !ALL_QUIET.has(t) || healthOf(s).level === "warning") return "degraded";
  return "good";
}

const SUMMARY: Record<TrayState, string> = {
  good: "All good",
  degraded: "Degraded",
  connecting: "Connecting",
  critical: "Needs attention",
  offline: "Daemon not running",
};

function ms(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "–";
  return v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

/**
 * The daemon's one verdict (src/core/verdict.ts), computed from the upstreams as the tray holds them: events patch
 * their states between status reads, and the verdict line follows at once. An overall "down" means no broker runs.
 */
export function healthOf(s: DaemonStatus) {
  return verdict(s.upstreams, s.quality !== "down");
}

export function upstreamLine(u: UpstreamStatus): string {
  const parts = [`${u.name}: ${u.enabled ? u.state : "disabled"}`];
  // Quality, model count and latency only for an upstream that answers: for one that is down or not checked yet they
  // would be figures from before (the state, and the verdict line, say what is wrong).
  if (serving(u)) {
    parts.push(u.quality);
    if (u.version) parts.push(`v${u.version}`);
    parts.push(`${u.models.length} model${u.models.length === 1 ? "" : "s"}`);
    parts.push(`p95 ${ms(u.metrics.latencyMs.p95)}`);
  }
  return parts.join(" · ");
}

function relayHost(relay: string | null): string {
  if (!relay) return "no relay";
  try {
    return new URL(relay).host;
  } catch {
    return relay;
  }
}

/** A time ahead as the tooltip says it ("in 4 s"); `now` is injectable for tests. */
function inTime(iso: string, now = Date.now()): string {
  const sec = Math.round((Date.parse(iso) - now) / 1000);
  return sec <= 0 ? "now" : sec < 60 ? `in ${sec} s` : `in ${Math.round(sec / 60)} min`;
}

export function tunnelLine(s: DaemonStatus, now = Date.now()): string {
  const t = s.tunnel;
  if (t.state === "disabled") return "Tunnel: disabled";
  const extra = t.state === "reconnecting" && t.nextRetry ? ` (retry ${inTime(t.nextRetry, now)})` : t.lastError && t.state !== "connected" ? ` (${t.lastError})` : "";
  return `Tunnel: ${t.state.replace("_", " ")} · ${relayHost(t.relay)}${extra}`;
}

/** The tunnel's further lines: the fix for its error, and the URL cloud clients use (as ngrok's "Forwarding"). */
export function tunnelDetailLines(s: DaemonStatus): string[] {
  const t = s.tunnel;
  if (t.state === "disabled") return [];
  const out: string[] = [];
  if (t.fix && t.state !== "connected") out.push(`Fix: ${t.fix}`);
  if (t.cloudUrl) out.push(`Cloud URL: ${t.cloudUrl}`, `Chat page: ${cloudExamples(t.cloudUrl).chatPage}`);
  return out;
}

/** The sign-in's trouble (refreshes failing, token expired, sign-in required), or nothing when all is well. */
export function signInLine(s: DaemonStatus): string | null {
  // Relative, as the tunnel's retry: a clock time sliced from the ISO string would be UTC, not the user's.
  const trouble = signInTrouble(s.auth, (iso) => inTime(iso));
  return trouble ? `Sign-in: ${trouble}` : null;
}

function alertLine(a: Alert): string {
  return `${a.clearedAt ? "Last alert (cleared)" : "Alert"}: ${a.message}`;
}

function escapeMarkup(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function buildView(input: TrayInput): TrayView {
  const state = trayState(input);
  const s = input.status;
  const attention = state === "critical" || (s?.alerts.length ?? 0) > 0 || input.compatWarning !== null;
  const status: SniStatus = attention ? "NeedsAttention" : "Active";

  const lines: string[] = [];
  if (!s) {
    lines.push(input.linking ? "Connecting to the daemon…" : input.linkProblem ? `Cannot follow the daemon: ${input.linkProblem}` : "The daemon is not running.");
    if (!input.linking && input.daemonLog) lines.push(`Daemon log: ${input.daemonLog}`);
  } else {
    // The problem with its reason and fix first: what the user needs before the details.
    const v = healthOf(s);
    if (v.level === "warning" || v.level === "critical") lines.push(v.text);
    for (const u of s.upstreams) lines.push(upstreamLine(u));
    if (s.upstreams.length === 0) lines.push("No upstreams configured");
    lines.push(tunnelLine(s));
    lines.push(...tunnelDetailLines(s));
    const signIn = signInLine(s);
    if (signIn) lines.push(signIn);
    for (const a of s.alerts) lines.push(alertLine(a));
  }
  const last = input.lastAlert && !s?.alerts.some((a) => a.id === input.lastAlert!.id) ? input.lastAlert : null;
  if (last) lines.push(alertLine(last));
  if (input.compatWarning) lines.push(`Warning: ${input.compatWarning}`);

  return {
    state,
    status,
    iconName: iconName(state),
    title: `${TITLE}: ${SUMMARY[state]}`,
    // Hosts render the body as markup (KDE: a subset of HTML), so error texts are escaped.
    tooltip: { title: `${TITLE} — ${SUMMARY[state]}`, body: escapeMarkup(lines.join("\n")) },
    menu: buildMenu(input, state, lines),
  };
}

function buildMenu(input: TrayInput, state: TrayState, lines: string[]): MenuItem[] {
  const s = input.status;
  const running = s !== null;
  const t = s?.tunnel.state;
  const tunnelUsable = running && t !== "disabled";
  const items: MenuItem[] = [{ key: "status.summary", label: `${TITLE}: ${SUMMARY[state]}`, enabled: false }];
  lines.forEach((l, i) => items.push({ key: `status.line.${i}`, label: l, enabled: false }));
  if (input.compatWarning) items.push({ key: "warning.compat", label: `⚠ ${input.compatWarning}`, enabled: false, icon: "dialog-warning" });
  if (input.actionError) items.push({ key: "warning.action", label: `⚠ ${input.actionError}`, enabled: false, icon: "dialog-error" });
  // A browser asked for the dashboard: approve it here if its page shows the same code (the key carries the code).
  const waiting = (input.accessRequests ?? []).filter((a) => Date.parse(a.expiresAt) > Date.now());
  for (const a of waiting) items.push({ key: `${APPROVE_PREFIX}${a.code}`, label: `Approve dashboard access: code ${a.code}`, action: "dashboard.approve", icon: "dialog-password" });
  items.push({ key: "sep.1", type: "separator" });
  items.push({
    key: "tunnel",
    label: "Tunnel",
    enabled: tunnelUsable,
    children: [
      { key: "tunnel.start", label: "Start tunnel", action: "tunnel.start", enabled: tunnelUsable && (t === "stopped" || t === "failed" || t === "auth_failed") },
      { key: "tunnel.stop", label: "Stop tunnel", action: "tunnel.stop", enabled: tunnelUsable && t !== "stopped" },
      { key: "tunnel.restart", label: "Restart tunnel", action: "tunnel.restart", enabled: tunnelUsable },
    ],
  });
  // The address to give cloud clients, one click from the clipboard; hidden until the relay named the tunnel.
  items.push({ key: "tunnel.copy-url", label: "Copy cloud URL", action: "tunnel.copy-url", visible: tunnelUsable && !!s?.tunnel.cloudUrl });
  items.push({ key: "reconnect", label: "Reconnect all upstreams", action: "reconnect", enabled: running });
  // Sign-in items only when [auth] is configured (the daemon reports "disabled" otherwise).
  const auth = s?.auth.state;
  const code = input.signInCode ? ` (code ${input.signInCode})` : "";
  items.push({ key: "auth.login", label: `Sign in…${code}`, action: "auth.login", visible: auth === "signed_out" || auth === "login_required" });
  items.push({ key: "auth.logout", label: `Sign out${s?.auth.subject ? ` (${s.auth.subject})` : ""}`, action: "auth.logout", visible: auth === "signed_in" });
  items.push({ key: "sep.2", type: "separator" });
  items.push({ key: "open.dashboard", label: "Open dashboard", action: "open.dashboard", enabled: running });
  items.push({ key: "open.docs", label: "Open API docs", action: "open.docs", enabled: running });
  items.push({ key: "open.config", label: "Open config file", action: "open.config" });
  items.push({ key: "sep.3", type: "separator" });
  items.push({ key: "notifications", label: "Notifications", action: "notifications.toggle", toggle: { type: "checkmark", state: input.notifications } });
  items.push({ key: "daemon.start", label: "Start daemon", action: "daemon.start", visible: !running && !input.linkProblem });
  items.push({ key: "open.log", label: "Open daemon log", action: "open.log", visible: !!input.daemonLog });
  const about: MenuItem[] = [{ key: "about.tray", label: `Tray ${input.trayVersion}`, enabled: false }];
  if (s) {
    about.push({ key: "about.daemon", label: `Daemon ${s.daemon.version} (${s.daemon.commit}, ${s.daemon.buildDate})`, enabled: false });
    about.push({ key: "about.api", label: `API ${input.apiBase}`, enabled: false });
  }
  items.push({ key: "about", label: "About", children: about });
  items.push({ key: "sep.4", type: "separator" });
  items.push({ key: "quit", label: input.quitLabel ?? "Quit tray", action: "quit" });
  return items;
}
