// The Gateway tab: the broker's queue, its API keys (create shows the key once; revoke) and usage by key and model (charts and table).
import type { KeyInfo, QueueStatus, UsageRow } from "../core/contracts.ts";
import { api, ApiError } from "./api.ts";
import { $, h, setText } from "./dom.ts";
import { USAGE_DAYS, UsageCharts } from "./usage-charts.ts";

const limit = (n: number) => (n === 0 ? "–" : n.toLocaleString("en-US"));

export class GatewayView {
  private loaded = false;
  private readonly charts = new UsageCharts();

  constructor() {
    $("#key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.create();
    });
    $("#usage-refresh").addEventListener("click", () => void this.shown(this.loadUsage()));
  }

  isLoaded(): boolean {
    return this.loaded;
  }

  async load(): Promise<void> {
    this.loaded = true;
    await this.shown(Promise.all([this.loadKeys(), this.loadUsage()]));
  }

  /** A failed read (the daemon gone, a proxy dropping the call) is said in the page, not only in the console; a good one clears it. */
  private async shown(work: Promise<unknown>): Promise<void> {
    try {
      await work;
      setText($("#gateway-error"), "");
    } catch (e) {
      setText($("#gateway-error"), (e as Error).message);
    }
  }

  /** The queue line, from each status the page gets (snapshot and refreshes). */
  setQueue(q: QueueStatus | undefined): void {
    const text = q
      ? `${q.waiting} waiting now; ${q.queued.toLocaleString("en-US")} waited since start (${q.queued ? Math.round(q.waitedMs / q.queued) : 0} ms on average); refused: ${q.refusedFull} queue full, ${q.timedOut} timed out.`
      : "No queue: the broker is not running.";
    setText($("#gw-queue"), text);
  }

  private async loadKeys(): Promise<void> {
    const keys = await api.call("GET", "/api/v1/keys");
    this.renderKeys(keys);
  }

  private renderKeys(keys: KeyInfo[]): void {
    const body = $("#keys-body");
    body.replaceChildren(
      ...keys.map((k) =>
        h(
          "tr",
          { "data-key": k.name },
          h("th", { scope: "row" }, k.name),
          h("td", {}, h("code", {}, `${k.prefix}…`)),
          h("td", {}, k.models.length ? k.models.join(", ") : "all"),
          h("td", {}, limit(k.rpm)),
          h("td", {}, limit(k.tokens_per_day)),
          h("td", {}, limit(k.max_parallel)),
          h("td", {}, k.allow_model_management ? "yes" : "no"),
          h("td", {}, k.expires_at ? new Date(k.expires_at).toLocaleString() : "never"),
          h("td", {}, h("button", { type: "button", class: "secondary", "aria-label": `Revoke key ${k.name}`, onclick: () => void this.revoke(k.name) }, "Revoke")),
        ),
      ),
    );
    $("#keys-empty").hidden = keys.length > 0;
  }

  private async create(): Promise<void> {
    const form = $<HTMLFormElement>("#key-form");
    const data = new FormData(form);
    const num = (k: string) => Number(data.get(k) || 0);
    const models = String(data.get("models") ?? "")
      .split(",")
      .map((m) => m.trim())
      .filter(Boolean);
    const expires = String(data.get("expires") ?? "").trim();
    const status = $("#key-status");
    try {
      const made = await api.call("POST", "/api/v1/keys", {
        json: { name: String(data.get("name") ?? "").trim(), models, rpm: num("rpm"), tokens_per_day: num("tokens_per_day"), max_parallel: num("max_parallel"), allow_model_management: data.get("allow_model_management") === "on", ...(expires ? { expires } : {}) },
      }); // typed from the route's 201 reply: the record and the key itself
      setText($("#key-created-value"), made.key);
      $("#key-created").hidden = false;
      setText(status, `Created key "${made.name}".`);
      form.reset();
      await this.shown(this.loadKeys());
    } catch (e) {
      $("#key-created").hidden = true;
      const err = e as ApiError;
      setText(status, err.issues?.length ? err.issues.map((i) => `${i.path}: ${i.message}`).join("; ") : err.message);
    }
  }

  private async revoke(name: string): Promise<void> {
    try {
      await api.call("DELETE", "/api/v1/keys/:name", { params: { name } });
      setText($("#key-status"), `Revoked key "${name}"; its callers get 401 from now on.`);
      $("#key-created").hidden = true;
    } catch (e) {
      setText($("#key-status"), (e as Error).message);
    }
    await this.shown(this.loadKeys());
  }

  async loadUsage(): Promise<void> {
    const since = new Date(Date.now() - (USAGE_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
    const r = await api.call("GET", "/api/v1/usage", { query: { since } });
    this.renderUsage(r.rows, r.totals);
  }

  private renderUsage(rows: UsageRow[], totals: { requests: number; errors: number; prompt_tokens: number; completion_tokens: number; queue_ms: number }): void {
    const n = (x: number) => x.toLocaleString("en-US");
    this.charts.show(rows);
    $("#usage-body").replaceChildren(
      ...[...rows].reverse().map((r) =>
        h("tr", {}, h("td", {}, r.day), h("td", {}, r.key), h("td", {}, r.model), h("td", {}, r.caller), h("td", {}, n(r.requests)), h("td", {}, n(r.errors)), h("td", {}, n(r.prompt_tokens)), h("td", {}, n(r.completion_tokens)), h("td", {}, (r.queue_ms / 1000).toFixed(1))),
      ),
    );
    setText($("#usage-totals"), `Total: ${n(totals.requests)} requests, ${n(totals.errors)} errors, ${n(totals.prompt_tokens)} prompt and ${n(totals.completion_tokens)} completion tokens.`);
  }
}
