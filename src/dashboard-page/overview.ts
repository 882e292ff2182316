// The overview: one card per upstream, the tunnel with its controls, overall quality, active alerts and the live charts.
import type { Alert, DaemonStatus, MetricsTick, TunnelStatus, UpstreamMetrics, UpstreamStatus, Verdict } from "../core/contracts.ts";
import { signInTrouble } from "../core/sign-in-text.ts";
import { capacityText, loadedText } from "../core/upstream-load.ts";
import { serving } from "../core/verdict.ts";
import { cloudExamples } from "../net/cloud-url.ts";
import { api, ApiError, call } from "./api.ts";
import { LineChart } from "./chart.ts";
import { $, h, setAttr, setClass, setHidden, setText } from "./dom.ts";
import * as fmt from "./format.ts";
import type { History } from "../dashboard/metrics-history.ts";
import { toast } from "./notify.ts";

function stat(label: string, field: string): HTMLElement {
  return h("div", { class: "stat" }, h("dt", {}, label), h("dd", { "data-f": field }, fmt.DASH));
}

class UpstreamCard {
  readonly el: HTMLElement;
  private readonly f: Record<string, HTMLElement> = {};
  private readonly modelList: HTMLUListElement;
  private readonly modelSummary: HTMLElement;
  private readonly stateBadge: HTMLElement;
  private readonly qualityBadge: HTMLElement;

  constructor(readonly name: string) {
    const titleId = `up-${name}-title`;
    this.stateBadge = h("span", { class: "badge", "data-f": "state" });
    this.qualityBadge = h("span", { class: "badge", "data-f": "quality" });
    this.modelList = h("ul", { class: "models" });
    this.modelSummary = h("summary", {}, "Models");
    const check = h("button", { type: "button", class: "secondary", "aria-label": `Check upstream ${name} now` }, "Check now");
    check.addEventListener("click", async () => {
      check.disabled = true;
      try {
        await api.call("POST", "/api/v1/upstreams/:name/check", { params: { name } });
        toast(`Checked ${name}.`, "ok");
      } catch (e) {
        toast((e as Error).message, "error");
      } finally {
        check.disabled = false;
      }
    });
    this.el = h(
      "article",
      { class: "card upstream", "data-upstream": name, "aria-labelledby": titleId },
      h("header", { class: "card-head" }, h("h3", { id: titleId }, name), this.stateBadge, this.qualityBadge),
      h("p", { class: "muted", "data-f": "where" }),
      h(
        "dl",
        { class: "stats" },
        stat("Version", "version"),
        stat("Models", "modelCount"),
        stat("Loaded", "loaded"),
        stat("Slots", "slots"),
        stat("Latency p50", "p50"),
        stat("Latency p95", "p95"),
        stat("Error rate", "errorRate"),
        stat("Tokens/s", "tps"),
        stat("Requests/s", "rps"),
        stat("Last check", "lastCheck"),
      ),
      h("p", { class: "error-text", "data-f": "lastError", role: "note" }),
      h("details", { class: "model-details" }, this.modelSummary, this.modelList),
      h("div", { class: "actions" }, check),
    );
    for (const el of this.el.querySelectorAll<HTMLElement>("[data-f]")) this.f[el.dataset.f!] = el;
  }

  update(u: UpstreamStatus): void {
    setText(this.stateBadge, u.enabled ? u.state : "disabled");
    setClass(this.stateBadge, "state-", u.enabled ? u.state : "disabled");
    setAttr(this.stateBadge, "aria-label", `state: ${u.enabled ? u.state : "disabled"}`);
    setText(this.qualityBadge, u.quality);
    setClass(this.qualityBadge, "q-", u.quality);
    setAttr(this.qualityBadge, "aria-label", `quality: ${u.quality}`);
    setAttr(this.el, "data-state", u.state);
    setText(this.f.where!, `${u.kind} · ${u.url} · priority ${u.priority}`);
    setText(this.f.version!, u.version ?? fmt.DASH);
    // A down upstream's model count and latencies are from before it went down: not shown as current.
    this.live = serving(u);
    setText(this.f.modelCount!, this.live ? String(u.models.length) : fmt.DASH);
    // What the server reports of itself (loaded models, its slots and queue): what the router prefers upstreams by.
    setText(this.f.loaded!, (this.live && loadedText(u)) || fmt.DASH);
    setText(this.f.slots!, (this.live && capacityText(u)) || fmt.DASH);
    setText(this.f.lastCheck!, u.lastCheck ? fmt.clock(u.lastCheck) : fmt.DASH);
    setText(this.f.lastError!, u.lastError && u.state !== "up" ? `Last error: ${u.lastError}` : "");
    setHidden(this.f.lastError!, !(u.lastError && u.state !== "up"));
    setText(this.modelSummary, this.live ? `Models (${u.models.length})` : "Models (last known)");
    const names = u.models.join("\n");
    if (this.modelList.dataset.names !== names) {
      this.modelList.dataset.names = names;
      this.modelList.replaceChildren(...u.models.map((m) => h("li", {}, m)));
    }
    this.metrics(u.metrics);
  }

  private live = true;

  metrics(m: UpstreamMetrics): void {
    setText(this.f.p50!, this.live ? fmt.ms(m.latencyMs.p50) : fmt.DASH);
    setText(this.f.p95!, this.live ? fmt.ms(m.latencyMs.p95) : fmt.DASH);
    setText(this.f.errorRate!, fmt.pct(m.errorRate));
    setText(this.f.tps!, fmt.rate(m.tokensPerSec, ""));
    setText(this.f.rps!, fmt.rate(m.requestsPerSec, ""));
  }
}

class UpstreamCharts {
  readonly el: HTMLElement;
  /** Within the overview's margin of the viewport, as its IntersectionObserver last said. */
  onScreen = false;
  /** The overview's redraw request this row last answered; one behind has samples it has not drawn. */
  drawn = 0;
  private readonly latency: LineChart;
  private readonly rps: LineChart;
  private readonly tps: LineChart;

  constructor(readonly name: string) {
    this.latency = new LineChart(`${name} latency`, "ms", ["p50", "p95"]);
    this.rps = new LineChart(`${name} requests per second`, "req/s", ["rps"]);
    this.tps = new LineChart(`${name} tokens per second`, "tok/s", ["tps"]);
    const fig = (title: string, chart: LineChart, legend: [string, string][]) =>
      h(
        "figure",
        { class: "chart-box" },
        h("figcaption", {}, title, " ", ...legend.map(([cls, label]) => h("span", { class: `legend ${cls}` }, label))),
        chart.el,
      );
    this.el = h(
      "section",
      { class: "chart-row", "data-charts": name, "aria-label": `Charts for ${name}` },
      h("h3", {}, name),
      h(
        "div",
        { class: "chart-grid" },
        fig("Latency (ms)", this.latency, [
          ["p50", "p50"],
          ["p95", "p95"],
        ]),
        fig("Requests/s", this.rps, [["rps", "req/s"]]),
        fig("Tokens/s", this.tps, [["tps", "tok/s"]]),
      ),
    );
  }

  draw(history: History, now: number): void {
    const pts = history.get(this.name);
    this.latency.update(
      [
        { label: "p50", cls: "p50", values: pts.map((p) => ({ t: p.t, v: p.p50 })) },
        { label: "p95", cls: "p95", values: pts.map((p) => ({ t: p.t, v: p.p95 })) },
      ],
      now,
    );
    this.rps.update([{ label: "requests/s", cls: "rps", values: pts.map((p) => ({ t: p.t, v: p.rps })) }], now);
    this.tps.update([{ label: "tokens/s", cls: "tps", values: pts.map((p) => ({ t: p.t, v: p.tps })) }], now);
  }
}

const TUNNEL_ACTIONS = ["start", "stop", "restart"] as const;

export class Overview {
  private readonly cards = new Map<string, UpstreamCard>();
  private readonly charts = new Map<string, UpstreamCharts>();
  private status: DaemonStatus | null = null;
  /** Buttons whose request is out: they stay disabled until it is answered, whatever the state says. */
  private readonly busy = new Set<(typeof TUNNEL_ACTIONS)[number]>();
  /** Bumped by every redraw request (a tick, a snapshot, new history), with the time the charts' window ends at. */
  private wanted = 0;
  private wantedAt = 0;
  private frame = 0;
  /**
   * Which chart rows are on screen, or within a margin of it so one scrolled to is ready: only those are redrawn. With
   * 200 upstreams, redrawing the 600 charts every tick kept the page's main thread busy most of the time, nearly all of
   * it off screen. A row scrolled to catches up at once from the history, which records every tick, drawn or not.
   */
  private readonly visibility = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        const c = this.charts.get((e.target as HTMLElement).dataset.charts ?? "");
        if (c) c.onScreen = e.isIntersecting;
      }
      this.scheduleDraw();
    },
    { rootMargin: "100px 0px" },
  );

  constructor(private readonly history: History) {
    for (const action of TUNNEL_ACTIONS) {
      const b = $<HTMLButtonElement>(`#tunnel-${action}`);
      b.addEventListener("click", () => this.tunnelAction(action, b));
    }
    $<HTMLButtonElement>("#tunnel-cloud-copy").addEventListener("click", () => void this.copyCloudUrl());
  }

  private async copyCloudUrl(): Promise<void> {
    const url = this.status?.tunnel.cloudUrl;
    if (!url) return;
    try {
      await navigator.clipboard.writeText(url);
      toast("Cloud URL copied", "ok");
    } catch {
      toast(`Copy it by hand: ${url}`, "info");
    }
  }

  private async tunnelAction(action: (typeof TUNNEL_ACTIONS)[number], button: HTMLButtonElement): Promise<void> {
    const msg = $("#tunnel-msg");
    this.busy.add(action);
    button.disabled = true;
    msg.className = "msg";
    setText(msg, `${action[0]!.toUpperCase()}${action.slice(1)}ing the tunnel…`);
    try {
      // The new state arrives as tunnel.state events; the answer itself may already be older than those.
      await call("POST", `/api/v1/tunnel/${action}`);
      setText(msg, `Tunnel ${action} requested.`);
      msg.classList.add("msg-ok");
    } catch (e) {
      const err = e as ApiError;
      setText(msg, err.message);
      msg.classList.add("msg-error");
    } finally {
      this.busy.delete(action);
      this.syncTunnelButtons();
    }
  }

  /** Start does nothing on a connected tunnel: it is disabled then (Restart is the way to reconnect). */
  private syncTunnelButtons(state = this.status?.tunnel.state): void {
    const connected = state === "connected";
    const start = $<HTMLButtonElement>("#tunnel-start");
    start.disabled = this.busy.has("start") || connected;
    start.title = connected ? "The tunnel is connected; use Restart to reconnect." : "";
    for (const a of ["stop", "restart"] as const) $<HTMLButtonElement>(`#tunnel-${a}`).disabled = this.busy.has(a);
  }

  render(st: DaemonStatus): void {
    this.status = st;
    const grid = $("#upstreams");
    const chartsBox = $("#charts");
    const names = new Set(st.upstreams.map((u) => u.name));
    for (const [name, card] of this.cards) {
      if (!names.has(name)) {
        card.el.remove();
        this.cards.delete(name);
        const c = this.charts.get(name);
        if (c) {
          this.visibility.unobserve(c.el);
          c.el.remove();
        }
        this.charts.delete(name);
      }
    }
    this.history.retain(names);
    st.upstreams.forEach((u, i) => {
      let card = this.cards.get(u.name);
      if (!card) {
        card = new UpstreamCard(u.name);
        this.cards.set(u.name, card);
        const c = new UpstreamCharts(u.name);
        this.charts.set(u.name, c);
        this.visibility.observe(c.el);
      }
      // Keep the daemon's order (it is the config order) without re-creating nodes.
      if (grid.children[i] !== card.el) grid.insertBefore(card.el, grid.children[i] ?? null);
      const chart = this.charts.get(u.name)!;
      if (chartsBox.children[i] !== chart.el) chartsBox.insertBefore(chart.el, chartsBox.children[i] ?? null);
      card.update(u);
    });
    $("#no-upstreams").hidden = st.upstreams.length > 0;
    this.setQuality(st.quality);
    this.setVerdict(st.verdict);
    this.setTunnel(st.tunnel);
    this.setAuth(st.auth);
    this.setAlerts(st.alerts);
    setText($("#daemon-version"), `v${st.daemon.version}`);
    $("#daemon-version").title = `commit ${st.daemon.commit}, built ${st.daemon.buildDate}, pid ${st.daemon.pid}`;
    setText($("#daemon-uptime"), `up ${fmt.duration(st.daemon.uptimeSec)}`);
    this.drawCharts(Date.now());
  }

  current(): DaemonStatus | null {
    return this.status;
  }

  upstreamChanged(name: string, patch: Partial<UpstreamStatus>): void {
    const u = this.status?.upstreams.find((x) => x.name === name);
    if (!u) return;
    Object.assign(u, patch);
    this.cards.get(name)?.update(u);
  }

  tick(time: number, upstreams: MetricsTick["upstreams"], tunnel?: Partial<TunnelStatus>): void {
    for (const { name, metrics, loaded, capacity } of upstreams) {
      this.history.add(name, time, metrics);
      const u = this.status?.upstreams.find((x) => x.name === name);
      if (!u) continue;
      u.metrics = metrics;
      // The load it reports (slots busy, models loaded) changes between state events: the whole card follows.
      if (loaded !== undefined) u.loaded = loaded;
      if (capacity !== undefined) u.capacity = capacity;
      this.cards.get(name)?.update(u);
    }
    this.drawCharts(time);
    if (this.status) {
      // The tick carries the tunnel's live counters; re-rendering also moves "since" and "next retry" along.
      if (tunnel) Object.assign(this.status.tunnel, tunnel);
      this.setTunnel(this.status.tunnel);
      this.status.daemon.uptimeSec = (Date.now() - new Date(this.status.daemon.startedAt).getTime()) / 1000;
      setText($("#daemon-uptime"), `up ${fmt.duration(this.status.daemon.uptimeSec)}`);
    }
  }

  private drawCharts(now: number): void {
    this.wanted++;
    this.wantedAt = now;
    this.scheduleDraw();
  }

  /**
   * At most one redraw a frame, of the rows on screen that are behind; none while the page is in the background (no
   * frames then) or the overview tab is hidden (its rows are not on screen: switching back redraws).
   */
  private scheduleDraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if ($("#panel-overview").hidden) return;
      for (const c of this.charts.values()) {
        if (!c.onScreen || c.drawn === this.wanted) continue;
        c.draw(this.history, this.wantedAt);
        c.drawn = this.wanted;
      }
    });
  }

  redraw(): void {
    this.drawCharts(Date.now());
  }

  setQuality(q: string): void {
    if (this.status) this.status.quality = q as DaemonStatus["quality"];
    const el = $("#overall-quality");
    setText(el, q);
    setClass(el, "q-", q);
    el.setAttribute("aria-label", `overall quality: ${q}`);
  }

  /** The feed is lost: the last quality the page heard may be long gone (a daemon stopped), so it shows none; the next snapshot puts it back. */
  away(): void {
    const el = $("#overall-quality");
    setText(el, "—");
    setClass(el, "q-", "unknown");
    el.setAttribute("aria-label", "overall quality: unknown while disconnected");
  }

  /** The daemon's one verdict (src/core/verdict.ts): its problem, reason and fix, as status and the tray show them. */
  setVerdict(v: Verdict | undefined): void {
    const el = $("#health-verdict");
    const shown = !!v && (v.level === "warning" || v.level === "critical");
    el.hidden = !shown;
    setText(el, shown ? v!.text : "");
    el.className = `banner ${v?.level === "critical" ? "banner-error" : "banner-warn"}`;
    el.dataset.level = v?.level ?? "";
  }

  setTunnel(t: TunnelStatus): void {
    if (this.status) this.status.tunnel = t;
    const badge = $("#tunnel-state");
    setText(badge, t.state.replace("_", " "));
    setClass(badge, "t-", t.state);
    $("#tunnel-card").dataset.state = t.state;
    setText($("#tunnel-relay"), t.relay ?? fmt.DASH);
    setText($("#tunnel-protocol"), t.protocol);
    setText($("#tunnel-since"), t.since ? `${fmt.clock(t.since)} (${fmt.relative(t.since)})` : fmt.DASH);
    setText($("#tunnel-retry"), t.nextRetry ? `${fmt.clock(t.nextRetry)} (${fmt.relative(t.nextRetry)}, attempt ${t.attempt})` : fmt.DASH);
    setText($("#tunnel-streams"), String(t.activeStreams));
    setText($("#tunnel-id"), t.tunnelId ?? fmt.DASH);
    // The daemon keeps the last error after a reconnect (for `status`); once connected it is history, not a problem.
    const err = $("#tunnel-error");
    const shownError = t.state === "connected" ? null : t.lastError;
    setText(err, shownError ? `Last error: ${shownError}` : "");
    err.hidden = !shownError;
    // The fix that fits this setup, and where cloud clients reach this machine with ready-to-paste uses.
    const fix = $("#tunnel-fix");
    setText(fix, t.fix && t.state !== "connected" ? `Fix: ${t.fix}` : "");
    fix.hidden = !(t.fix && t.state !== "connected");
    $("#tunnel-cloud").hidden = !t.cloudUrl;
    if (t.cloudUrl) {
      const ex = cloudExamples(t.cloudUrl);
      setText($("#tunnel-cloud-url"), t.cloudUrl);
      setText($("#tunnel-cloud-example"), `${ex.curl}\n\n# OpenAI clients: base URL ${ex.openaiBaseUrl}\n${ex.python}\n\n# In a browser (a phone too): ${ex.chatPage}`);
    }
    setText($("#tunnel-since-label"), t.state === "connected" ? "Connected since" : "Since");
    this.syncTunnelButtons(t.state);
  }

  /** The account the tunnel signs in with; while refreshes fail, the error, the attempt and the next retry. */
  setAuth(a: DaemonStatus["auth"]): void {
    if (this.status) this.status.auth = a;
    setText($("#auth-state"), `${a.state.replace("_", " ")}${a.subject ? ` as ${a.subject}` : ""}`);
    const trouble = signInTrouble(a, (iso) => `${fmt.clock(iso)} (${fmt.relative(iso)})`);
    const err = $("#auth-error");
    setText(err, trouble ? `Sign-in: ${trouble}` : "");
    err.hidden = !trouble;
  }

  setAlerts(alerts: Alert[]): void {
    if (this.status) this.status.alerts = alerts;
    const list = $("#alerts-list");
    const active = alerts.filter((a) => !a.clearedAt);
    list.replaceChildren(
      ...active.map((a) =>
        h(
          "li",
          { class: `alert alert-${a.severity}`, "data-alert": a.id },
          h("strong", {}, a.severity === "critical" ? "Critical" : "Warning"),
          " ",
          a.message,
          " ",
          h("span", { class: "muted" }, `since ${fmt.clock(a.raisedAt)}`),
        ),
      ),
    );
    $("#no-alerts").hidden = active.length > 0;
    setText($("#alerts-count"), String(active.length));
  }

  alertRaised(a: Alert): void {
    const rest = (this.status?.alerts ?? []).filter((x) => x.id !== a.id);
    this.setAlerts([...rest, a]);
  }

  alertCleared(a: Alert): void {
    this.setAlerts((this.status?.alerts ?? []).filter((x) => x.id !== a.id));
  }
}
