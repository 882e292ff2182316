// The usage report from ctx.services.gateway's ledger: the rows that match, and their sums.
import type { DaemonContext } from "../../../core/component.ts";
import type { UsageRow } from "../../../core/contracts.ts";
import { HttpError } from "../../../core/http-error.ts";

export function usageReport(ctx: DaemonContext, q: { key?: string; model?: string; since?: string }): { rows: UsageRow[]; totals: Omit<UsageRow, "day" | "key" | "model" | "caller"> } {
  const g = ctx.services.gateway;
  if (!g) throw new HttpError("unavailable", "the gateway is not running, so there is no usage to report");
  // The query's pattern takes any digits; a day that is not in the calendar would match no row and read as "no usage".
  const day = q.since === undefined ? null : new Date(`${q.since}T00:00:00Z`);
  if (day && (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== q.since)) {
    const message = `${q.since} is not a day of the calendar (YYYY-MM-DD)`;
    throw new HttpError("validation_failed", `query.since: ${message}`, [{ path: "query.since", message }]);
  }
  const rows = g.usage(q);
  const totals = { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, queue_ms: 0 };
  for (const r of rows) {
    totals.requests += r.requests;
    totals.errors += r.errors;
    totals.prompt_tokens += r.prompt_tokens;
    totals.completion_tokens += r.completion_tokens;
    totals.queue_ms += r.queue_ms;
  }
  return { rows, totals };
}
