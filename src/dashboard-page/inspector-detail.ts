// The inspector's detail panel beside the table: fields, timings, redacted headers, bodies, and Replay / Copy as curl.
import type { RequestRecord } from "../core/contracts.ts";
import { api } from "./api.ts";
import { bodyComplete, curlCommand } from "./curl.ts";
import { $, h, setText } from "./dom.ts";
import * as fmt from "./format.ts";

type Rec = RequestRecord;

const field = (k: string, v: string) => [h("dt", {}, k), h("dd", {}, v)];

function headerTable(title: string, id: string, headers: Record<string, string> | undefined): HTMLElement[] {
  const rows = Object.entries(headers ?? {});
  if (rows.length === 0) return [h("h4", {}, title), h("p", { class: "muted" }, "Not recorded.")];
  return [
    h("h4", { id: `${id}-title` }, title),
    h(
      "table",
      { class: "headers", id, "aria-labelledby": `${id}-title` },
      h("tbody", {}, ...rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: v === "[redacted]" ? "redacted" : "" }, v)))),
    ),
  ];
}

/** Why Replay is off for this record, or null (the daemon checks the same and says so with 409). */
function replayBlocked(r: Rec): string | null {
  if (bodyComplete(r)) return null;
  return r.requestBody === undefined
    ? "Replay needs the request body: turn on [dashboard] capture_bodies (Configuration tab)."
    : "Replay needs the whole body: raise [dashboard] body_cap above the request's size.";
}

export class RequestDetail {
  private current: Rec | null = null;

  constructor(private readonly brokerUrl: () => string) {
    $("#request-replay").addEventListener("click", () => void this.replay());
    $("#request-copy-curl").addEventListener("click", () => void this.copyCurl());
  }

  show(r: Rec): void {
    this.current = r;
    $("#request-fields").replaceChildren(
      ...field("Id", r.id),
      ...field("Time", new Date(r.time).toLocaleString()),
      ...field("Source", r.caller && r.caller !== r.source ? `${r.source} (${r.caller})` : r.source),
      ...field("Request", `${r.method} ${r.path}`),
      ...field("Model", r.model ?? fmt.DASH),
      ...field("Upstream", r.upstream ?? fmt.DASH),
      ...field("Key", r.key ?? fmt.DASH),
      ...field("Status", r.status ? String(r.status) : fmt.DASH),
      ...field("Bytes in / out", `${fmt.bytes(r.bytesIn)} / ${fmt.bytes(r.bytesOut)}`),
      ...field("Error", r.error ?? "none"),
      ...(r.resumed?.count ? field("Resumed", `${r.resumed.count}× after the relay connection was lost (${fmt.bytes(r.resumed.replayedBytes)} sent again)`) : []),
    );
    const tokens = r.completionTokens ?? null;
    const gen = r.ttfbMs !== null ? r.durationMs - r.ttfbMs : null;
    $("#request-timings").replaceChildren(
      ...field("Queue", fmt.ms(r.queueMs ?? 0)),
      ...field("Time to first token", fmt.ms(r.ttfbMs)),
      ...field("Generation", fmt.ms(gen)),
      ...field("Duration", fmt.ms(r.durationMs)),
      ...field("Tokens/s", fmt.rate(r.tokensPerSec, "")),
      ...field("Tokens (prompt / answer)", `${r.promptTokens ?? fmt.DASH} / ${tokens ?? fmt.DASH}${r.tokensEstimated ? " (estimated)" : ""}`),
    );
    $("#request-headers").replaceChildren(
      ...headerTable("Request headers", "request-headers-req", r.requestHeaders),
      ...headerTable("Response headers", "request-headers-res", r.responseHeaders),
    );
    const hasBodies = r.requestBody !== undefined || r.responseBody !== undefined;
    $("#request-bodies").replaceChildren(
      ...(hasBodies
        ? [
            h("h4", {}, "Request body", r.requestBodyTruncated ? " (truncated)" : ""),
            h("pre", { tabindex: 0 }, r.requestBody ?? ""),
            h("h4", {}, "Response body", r.responseBodyTruncated ? " (truncated)" : ""),
            h("pre", { tabindex: 0 }, r.responseBody ?? ""),
          ]
        : [h("p", { class: "muted" }, "Bodies are not kept (privacy). Turn on [dashboard] capture_bodies to keep them, up to body_cap bytes.")]),
    );
    const blocked = replayBlocked(r);
    const replay = $<HTMLButtonElement>("#request-replay");
    replay.disabled = blocked !== null;
    replay.title = blocked ?? "Send this request again through the broker";
    setText($("#request-replay-why"), blocked ?? "");
    $("#request-curl").hidden = true;
    setText($("#request-action-msg"), "");
  }

  private async replay(): Promise<void> {
    const r = this.current;
    if (!r) return;
    const msg = $("#request-action-msg");
    setText(msg, "Replaying…");
    try {
      // As long as the generation it repeats takes: no time limit (0).
      const res = await api.call("POST", "/api/v1/requests/:id/replay", { params: { id: r.id }, timeoutMs: 0 });
      setText(msg, `Replayed: the broker answered ${res.status}. The new request is at the top of the list.`);
    } catch (e) {
      setText(msg, `Replay failed: ${(e as Error).message}`);
    }
  }

  /** Shows the command (so it can be read and selected) and puts it on the clipboard when the browser allows. */
  private async copyCurl(): Promise<void> {
    const r = this.current;
    if (!r) return;
    const text = curlCommand(r, this.brokerUrl());
    const pre = $("#request-curl");
    setText(pre, text);
    pre.hidden = false;
    try {
      await navigator.clipboard.writeText(text);
      setText($("#request-action-msg"), "Copied the curl command (set C2L_KEY to your key first, if the broker needs one).");
    } catch {
      setText($("#request-action-msg"), "The browser did not allow copying: select the command below.");
    }
  }
}
