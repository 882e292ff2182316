// Shapes of GET /api/v1/usage: the filter and the rows (UsageRow, shared in core/contracts) with their totals.
import { t } from "elysia";
import { UsageRow } from "../../../core/contracts.ts";
import { PAGE_MAX } from "../../paging.ts";

export const UsageQuery = t.Object({
  key: t.Optional(t.String({ description: 'One API key by name ("-" for requests without a key).', examples: ["editor"] })),
  model: t.Optional(t.String({ examples: ["llama3.2:1b"] })),
  since: t.Optional(t.String({ pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description: "First UTC day, YYYY-MM-DD (default: every day kept, about two months).", examples: ["2026-12-01"] })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: PAGE_MAX, description: "Rows in one page (default: every row that matches)." })),
  after: t.Optional(t.String({ maxLength: 4096, description: "Only rows after this cursor: the `next` of the page before." })),
});

export const UsageReport = t.Object({
  rows: t.Array(UsageRow, { description: "One per UTC day, key, model and caller class; oldest first." }),
  totals: t.Object(
    { requests: t.Integer(), errors: t.Integer(), prompt_tokens: t.Integer(), completion_tokens: t.Integer(), queue_ms: t.Number() },
    { description: "Sums over every row that matches the filter, on every page." },
  ),
  next: t.Union([t.String(), t.Null()], { description: "The cursor of the next page (pass it as `after`); null on the last page." }),
});
