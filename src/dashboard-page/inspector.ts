// The request inspector view: recent requests from GET /api/v1/requests plus live request.completed events, filtered in the page.
import type { RequestRecord } from "../core/contracts.ts";
import { call } from "./api.ts";
import { $, h, setText } from "./dom.ts";
import * as fmt from "./format.ts";
import { RequestDetail } from "./inspector-detail.ts";

type Rec = RequestRecord;

interface Filters {
  source: string;
  status: string;
  upstream: string;
  text: string;
}

function statusMatches(r: Rec, f: string): boolean {
  if (!f) return true;
  if (f === "error") return r.error !== null || r.status >= 400 || r.status === 0;
  return Math.floor(r.status / 100) === Number(f[0]);
}

/**
 * Rows drawn at once. The ring holds up to 10,000 requests; drawing them all took Chromium over a second and a half per
 * redraw (every keystroke in a filter, every 200 ms under traffic), freezing the page. The filters still search them all.
 */
export const MAX_ROWS = 500;

export class Inspector {
  private records: Rec[] = [];
  private max = 200;
  private loaded = false;
  private selected: string | null = null;
  /** The newest record heard, in the daemon's order (its ring and its events agree): where a catch-up starts. */
  private lastId: string | undefined;
  /** "Clear view" hides what had finished by then, also from later fetches of the daemon's ring (resume, reconnect). */
  private clearedAt = "";
  /** Where Copy as curl points: the broker's address as the daemon reports it. */
  private brokerUrl = "http://127.0.0.1:11435";
  private readonly detail = new RequestDetail(() => this.brokerUrl);
  private readonly body = $<HTMLTableSectionElement>("#requests-body");
  private readonly form = $<HTMLFormElement>("#requests-filters");

  constructor() {
    this.form.addEventListener("input", () => this.render());
    this.form.addEventListener("submit", (e) => e.preventDefault());
    $("#requests-clear").addEventListener("click", () => {
      this.records = [];
      this.clearedAt = new Date().toISOString();
      this.select(null);
      this.render();
    });
    // Requests that finished while paused were not kept: fetch them on resume.
    $<HTMLInputElement>("#requests-pause").addEventListener("change", (e) => {
      if (!(e.target as HTMLInputElement).checked && this.loaded) void this.load();
    });
    $("#request-close").addEventListener("click", () => this.close());
    $("#request-detail").addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
    });
  }

  private filters(): Filters {
    const v = (name: string) => (this.form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value;
    return { source: v("source"), status: v("status"), upstream: v("upstream"), text: v("text").trim().toLowerCase() };
  }

  /**
   * Fetches the daemon's ring (first visit), or after a reconnect or a pause only what finished since the last record
   * heard (`after`: the whole ring again, when that one has left it); live events fill in afterwards.
   */
  async load(): Promise<void> {
    // Before the first load the page holds only the live records since it opened: the first fetch is the whole ring.
    const after = this.loaded ? this.lastId : undefined;
    try {
      // `[dashboard] inspector_size` goes up to 10,000, the route's largest limit (1,000 hid the older rest). Only the
      // gap after a reconnect: a ring of 10,000 with bodies is tens of MB, to send again for each blip.
      const query = after ? { limit: 10_000, after } : { limit: 10_000 };
      const r = await call<{ requests: Rec[]; capacity?: number; brokerUrl?: string | null } | Rec[]>("GET", "/api/v1/requests", { query });
      const all = Array.isArray(r) ? r : r.requests;
      // Live records that came meanwhile are newer than the answer's newest, or in it: either way heard already.
      if ((this.lastId === after || !after) && all[0]) this.lastId = all[0].id;
      const list = all.filter((x) => x.time > this.clearedAt);
      if (!Array.isArray(r) && r.brokerUrl) this.brokerUrl = r.brokerUrl;
      if (!Array.isArray(r) && typeof r.capacity === "number" && r.capacity > 0) this.max = r.capacity;
      // Merge: keep live records that arrived while the request was in flight; newest first, then cut (after a long
      // disconnect the ring is all new: the old records shown before must give way, not the new ones).
      const seen = new Set(list.map((x) => x.id));
      this.records = [...this.records.filter((x) => !seen.has(x.id)), ...list];
      this.records.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
      this.records.length = Math.min(this.records.length, this.max);
      this.loaded = true;
      setText($("#requests-error"), "");
    } catch (e) {
      setText($("#requests-error"), (e as Error).message);
    }
    this.render();
  }

  isLoaded(): boolean {
    return this.loaded;
  }

  add(r: Rec): void {
    if (($("#requests-pause") as HTMLInputElement).checked) return;
    if (this.records.some((x) => x.id === r.id)) return;
    this.records.unshift(r);
    this.lastId = r.id;
    if (this.records.length > this.max) this.records.length = this.max;
    this.renderSoon();
  }

  /** A shown request was resumed after its record came (its upstream finished while the relay was away): mark it. */
  resumed(id: string, mark: NonNullable<Rec["resumed"]>): void {
    const r = this.records.find((x) => x.id === id);
    if (!r) return;
    r.resumed = mark;
    if (this.selected === id) this.detail.show(r);
    this.renderSoon();
  }

  private pending: ReturnType<typeof setTimeout> | undefined;
  /** Under heavy traffic many requests finish per second: redraw the table at most every 200 ms. */
  private renderSoon(): void {
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.render();
    }, 200);
  }

  private render(): void {
    const f = this.filters();
    const upstreams = [...new Set(this.records.map((r) => r.upstream).filter((u): u is string => !!u))].sort();
    const sel = this.form.elements.namedItem("upstream") as HTMLSelectElement;
    const have = [...sel.options].slice(1).map((o) => o.value);
    if (have.join("\n") !== upstreams.join("\n")) {
      const cur = sel.value;
      sel.replaceChildren(h("option", { value: "" }, "All upstreams"), ...upstreams.map((u) => h("option", { value: u }, u)));
      sel.value = upstreams.includes(cur) ? cur : "";
    }
    const shown = this.records.filter(
      (r) =>
        (!f.source || r.source === f.source) &&
        statusMatches(r, f.status) &&
        (!f.upstream || r.upstream === f.upstream) &&
        (!f.text || r.path.toLowerCase().includes(f.text) || (r.model ?? "").toLowerCase().includes(f.text)),
    );
    this.body.replaceChildren(...shown.slice(0, MAX_ROWS).map((r) => this.row(r)));
    setText(
      $("#requests-count"),
      shown.length > MAX_ROWS
        ? `Showing the newest ${MAX_ROWS} of ${shown.length} matching requests (${this.records.length} kept): filter to reach older ones`
        : `Showing ${shown.length} of ${this.records.length} requests`,
    );
    $("#requests-empty").hidden = shown.length > 0;
  }

  private row(r: Rec): HTMLTableRowElement {
    const bad = r.error !== null || r.status >= 400 || r.status === 0;
    const open = h(
      "button",
      { type: "button", class: "link", "aria-label": `Details of ${r.method} ${r.path} at ${fmt.clock(r.time)}` },
      fmt.clock(r.time),
    );
    open.addEventListener("click", () => this.select(r.id));
    return h(
      "tr",
      { "data-request": r.id, class: bad ? "row-error" : "", "aria-selected": this.selected === r.id ? "true" : "false" },
      h("td", {}, open),
      h("td", {}, h("span", { class: `badge src-${r.source}` }, r.source), ...(r.resumed?.count ? [" ", h("span", { class: "badge resumed", title: "resumed after the relay connection was lost" }, "resumed")] : [])),
      h("td", {}, r.method),
      h("td", { class: "path" }, r.path),
      h("td", {}, r.model ?? fmt.DASH),
      h("td", {}, r.upstream ?? fmt.DASH),
      h("td", { class: bad ? "status-bad" : "status-ok" }, r.status === 0 ? "—" : r.status),
      h("td", { class: "num" }, fmt.ms(r.ttfbMs)),
      h("td", { class: "num" }, fmt.ms(r.durationMs)),
      h("td", { class: "num" }, fmt.rate(r.tokensPerSec, "")),
      h("td", { class: "num" }, `${fmt.bytes(r.bytesIn)} / ${fmt.bytes(r.bytesOut)}`),
    );
  }

  /** Closes the details and puts the focus back on the row they came from. */
  private close(): void {
    const id = this.selected;
    this.select(null);
    if (id) this.body.querySelector<HTMLElement>(`tr[data-request="${CSS.escape(id)}"] button`)?.focus();
  }

  private select(id: string | null): void {
    this.selected = id;
    const panel = $("#request-detail");
    const r = id ? this.records.find((x) => x.id === id) : undefined;
    $("#requests-split").classList.toggle("open", !!r);
    if (!r) {
      panel.hidden = true;
      return;
    }
    this.detail.show(r);
    panel.hidden = false;
    for (const tr of this.body.querySelectorAll("tr")) tr.setAttribute("aria-selected", String(tr.dataset.request === id));
    $<HTMLElement>("#request-detail-title").focus();
  }
}
