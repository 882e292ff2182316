// The usage report from ctx.services.gateway's ledger: the rows that match, and their sums.
import type { DaemonContext } from "../../../core/component.ts";
import type { UsageRow } from "../../../core/contracts.ts";
import { HttpError } from "../../../core/http-error.ts";
import { compareUsageRows } from "../../../gateway/usage-ledger.ts";
import { decodeCursor, encodeCursor, pageOf } from "../../paging.ts";

type Totals = Omit<UsageRow, "day" | "key" | "model" | "caller">;

export function usageReport(ctx: DaemonContext, q: { key?: string; model?: string; since?: string; limit?: number; after?: string }): { rows: UsageRow[]; totals: Totals; next: string | null } {
  const g = ctx.services.gateway;
  if (!g) throw new HttpError("unavailable", "the gateway is not running, so there is no usage to report");
  // The query's pattern takes any digits; a day that is not in the calendar would match no row and read as "no usage".
  const day = q.since === undefined ? null : new Date(`${q.since}T00:00:00Z`);
  if (day && (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== q.since)) {
    const message = `${q.since} is not a day of the calendar (YYYY-MM-DD)`;
    throw new HttpError("validation_failed", `query.since: ${message}`, [{ path: "query.since", message }]);
  }
  const cursor = q.after === undefined ? null : decodeCursor(q.after, 4);
  const rows = g.usage({ key: q.key, model: q.model, since: q.since });
  const totals = { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, queue_ms: 0 };
  for (const r of rows) {
    totals.requests += r.requests;
    totals.errors += r.errors;
    totals.prompt_tokens += r.prompt_tokens;
    totals.completion_tokens += r.completion_tokens;
    totals.queue_ms += r.queue_ms;
  }
  // The totals stay those of every matching row: a page of a chart's data must not shrink its sums.
  const at = cursor && { day: cursor[0]!, key: cursor[1]!, model: cursor[2]!, caller: cursor[3]! };
  const page = pageOf(rows, at ? (r) => compareUsageRows(r, at) > 0 : null, q.limit);
  const last = page.items.at(-1);
  return { rows: page.items, totals, next: page.more && last ? encodeCursor([last.day, last.key, last.model, last.caller]) : null };
}
