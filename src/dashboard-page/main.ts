// The dashboard page's entry: tabs, the live feed from /ws, and the four views (overview, requests, gateway, configuration).
import type { DaemonStatus } from "../core/contracts.ts";
import { ApiError, call, whenUnauthorized } from "./api.ts";
import { ConfigView } from "./config-view.ts";
import { GatewayView } from "./gateway-view.ts";
import { $, setText } from "./dom.ts";
import { History, type Point } from "../dashboard/metrics-history.ts";
import { Inspector } from "./inspector.ts";
import { connectLive, type LiveMessage } from "./live.ts";
import { banner, toast } from "./notify.ts";
import { Overview } from "./overview.ts";

const TABS = ["overview", "requests", "gateway", "config"] as const;
type Tab = (typeof TABS)[number];

const metricsHistory = new History();
const overview = new Overview(metricsHistory);
const inspector = new Inspector();
const configView = new ConfigView();
const gatewayView = new GatewayView();

function showTab(tab: Tab, focus = false): void {
  for (const t of TABS) {
    const btn = $(`#tab-${t}`);
    const on = t === tab;
    btn.setAttribute("aria-selected", String(on));
    btn.tabIndex = on ? 0 : -1;
    $(`#panel-${t}`).hidden = !on;
  }
  if (focus) $(`#tab-${tab}`).focus();
  if (location.hash !== `#${tab}`) window.history.replaceState(null, "", `#${tab}`);
  if (tab === "requests" && !inspector.isLoaded()) void inspector.load();
  if (tab === "config" && !configView.isLoaded()) void configView.load();
  if (tab === "gateway") void gatewayView.load();
  if (tab === "overview") overview.redraw();
}

// Tabs follow the WAI-ARIA pattern: arrows move between tabs, Home/End jump.
$("#tabs").addEventListener("keydown", (e) => {
  const i = TABS.findIndex((t) => $(`#tab-${t}`) === document.activeElement);
  if (i < 0) return;
  let next = -1;
  if (e.key === "ArrowRight") next = (i + 1) % TABS.length;
  else if (e.key === "ArrowLeft") next = (i - 1 + TABS.length) % TABS.length;
  else if (e.key === "Home") next = 0;
  else if (e.key === "End") next = TABS.length - 1;
  if (next >= 0) {
    e.preventDefault();
    showTab(TABS[next]!, true);
  }
});
for (const t of TABS) $(`#tab-${t}`).addEventListener("click", () => showTab(t));
const initial = location.hash.slice(1) as Tab;
showTab(TABS.includes(initial) ? initial : "overview");

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
/** Bumped by every event that changes what the status shows. */
let generation = 0;
/** After a state or quality change the overall quality and alerts may change too: fetch the status once (debounced). */
function refreshStatusSoon(): void {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const started = generation;
    try {
      const st = await call<DaemonStatus>("GET", "/api/v1/status");
      // An event that arrived while the request was out is newer than this answer: ask again rather than go back in time.
      if (generation !== started) refreshStatusSoon();
      else {
        overview.render(st);
        gatewayView.setQueue(st.queue);
      }
    } catch {}
  }, 250);
}

const STATE_EVENTS = new Set(["upstream.state", "upstream.quality", "tunnel.state", "alert.raised", "alert.cleared", "config.reloaded"]);

function onMessage(m: LiveMessage): void {
  if (STATE_EVENTS.has(m.type)) generation++;
  switch (m.type) {
    case "snapshot":
      overview.render(m.data);
      gatewayView.setQueue(m.data.queue);
      void loadChartHistory();
      banner("daemon", null);
      showReload(m.data.daemon.lastReload);
      break;
    case "metrics.tick": {
      const d = m.data;
      const time = m.time ? new Date(m.time).getTime() : Date.now();
      overview.tick(time, d.upstreams ?? [], d.tunnel);
      if (d.queue) gatewayView.setQueue(d.queue);
      break;
    }
    case "upstream.state": {
      const d = m.data;
      overview.upstreamChanged(d.name, { state: d.to, ...(d.reason ? { lastError: d.reason } : {}) });
      refreshStatusSoon();
      break;
    }
    case "upstream.quality": {
      const d = m.data;
      overview.upstreamChanged(d.name, { quality: d.to });
      refreshStatusSoon();
      break;
    }
    case "tunnel.state":
      overview.setTunnel(m.data);
      break;
    case "auth.state": {
      const d = m.data;
      overview.setAuth({ state: d.state, subject: d.subject ?? null, expiresAt: d.expiresAt ?? null, reason: d.reason ?? null, refresh: d.refresh ?? null, unstored: d.unstored ?? null });
      break;
    }
    case "alert.raised":
      overview.alertRaised(m.data);
      break;
    case "alert.cleared":
      overview.alertCleared(m.data);
      break;
    case "request.completed":
      inspector.add(m.data);
      break;
    case "request.resumed":
      inspector.resumed(m.data.id, m.data.resumed);
      break;
    case "config.reloaded":
      banner("config", null);
      if (!configView.changedHere()) toast("Configuration reloaded.", "ok");
      refreshStatusSoon();
      configView.reloaded();
      break;
    case "config.rejected": {
      const d = m.data;
      rejected(d.message, d.line, d.column);
      break;
    }
    case "shutdown":
      // Sessions live in the daemon's memory: a restarted daemon never takes this page back; a fresh link is the way in.
      banner("daemon", SHUTDOWN_BANNER, "error");
      break;
  }
}

/** The daemon keeps 15 minutes of samples: the charts start with the recent past instead of an empty window. */
async function loadChartHistory(): Promise<void> {
  try {
    const h = await call<{ upstreams: Record<string, Point[]> }>("GET", "/api/v1/dashboard/history");
    for (const [name, points] of Object.entries(h.upstreams)) metricsHistory.prefill(name, points);
    overview.redraw();
  } catch {}
}

function rejected(message: string, line?: number, column?: number): void {
  const where = line ? ` (line ${line}${column ? `, column ${column}` : ""})` : "";
  banner("config", `The config file was rejected${where}: ${message}. The daemon keeps running on the last good configuration.`);
}

function showReload(r: DaemonStatus["daemon"]["lastReload"]): void {
  if (r && !r.ok && r.error) rejected(r.error.message, r.error.line, r.error.column);
}

/** Whether the session is gone (a 401 also signs the page out, below); a daemon out of reach is not that. */
function sessionEnded(): Promise<boolean> {
  return call("GET", "/api/v1/dashboard/session").then(
    () => false,
    (e) => e instanceof ApiError && e.status === 401,
  );
}

const SHUTDOWN_BANNER =
  "The daemon is shutting down, and this dashboard session ends with it. Once the daemon runs again, run `cloudtolocalllm-tunnel dashboard` (or the tray's Open dashboard) to open it again.";

let everLive = false;
const live = connectLive(onMessage, (state, attempt) => {
  const el = $("#live");
  el.dataset.state = state;
  setText(el, state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Disconnected");
  if (state === "live") {
    banner("daemon", null);
    // After a reconnect, catch up on what was missed while away: requests, and a config reload whose event was lost
    // (the view refreshes only what is not being edited, as for config.reloaded).
    if (everLive) {
      if (inspector.isLoaded()) void inspector.load();
      configView.reloaded();
    }
    everLive = true;
  } else if (state === "offline") {
    overview.away();
    if (attempt < 2) return;
    banner("daemon", "Lost the connection to the daemon; retrying…", "error");
    // A refused upgrade looks like any other close: ask once whether the session is still valid.
    void call("GET", "/api/v1/dashboard/session").catch(() => {});
  }
}, sessionEnded);
// A session that has ended (a daemon restart, sign-out, a rotated token) never comes back: say so once, and stop the feed
// knocking with it every 10 s beside a "retrying…" that cannot succeed.
whenUnauthorized(() => {
  live.close();
  overview.away();
  banner("daemon", null);
  const el = $("#live");
  el.dataset.state = "offline";
  setText(el, "Signed out");
  banner("session", "This dashboard session has ended. Run `cloudtolocalllm-tunnel dashboard` (or the tray's Open dashboard) to open it again, or reload this page to ask for access.", "error");
});
