// Shapes of GET /api/v1/usage: the filter and the rows (UsageRow, shared in core/contracts) with their totals.
import { t } from "elysia";
import { UsageRow } from "../../../core/contracts.ts";

export const UsageQuery = t.Object({
  key: t.Optional(t.String({ description: 'One API key by name ("-" for requests without a key).', examples: ["editor"] })),
  model: t.Optional(t.String({ examples: ["llama3.2:1b"] })),
  since: t.Optional(t.String({ pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description: "First UTC day, YYYY-MM-DD (default: every day kept, about two months).", examples: ["2026-12-01"] })),
});

export const UsageReport = t.Object({
  rows: t.Array(UsageRow, { description: "One per UTC day, key, model and caller class; oldest first." }),
  totals: t.Object({ requests: t.Integer(), errors: t.Integer(), prompt_tokens: t.Integer(), completion_tokens: t.Integer(), queue_ms: t.Number() }),
});
