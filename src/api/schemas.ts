// The API's own `t` models (the error body, config issues) and the shared shapes from src/core/contracts.ts it validates with.
import { t } from "elysia";

export { Alert, DaemonStatus, LatencySummary, Quality, ReloadResult, RequestRecord, TunnelStatus, UpstreamMetrics, UpstreamState, UpstreamStatus } from "../core/contracts.ts";

export const ErrorBody = t.Object(
  {
    error: t.Object({
      code: t.String({ description: "Stable machine-readable code, e.g. unauthorized, validation_failed.", examples: ["unauthorized"] }),
      message: t.String({ description: "One sentence saying what is wrong.", examples: ["a valid API token is required"] }),
      details: t.Optional(t.Unknown({ description: "Field issues for validation_failed: [{ path, message, line?, column? }]." })),
    }),
  },
  { description: "Every error the API returns has this shape." },
);

export const ConfigIssue = t.Object({
  path: t.String({ description: "Dotted field path, e.g. upstreams[0].url; empty for a syntax error.", examples: ["upstreams[0].url"] }),
  message: t.String(),
  line: t.Optional(t.Number()),
  column: t.Optional(t.Number()),
});

/** Shared error responses for the OpenAPI document. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));
