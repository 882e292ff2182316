// Shapes of GET /api/v1/requests (the request inspector).
import { t } from "elysia";

const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T) => t.Union([s, t.Null()]);

export const RequestsQuery = t.Object({
  // A pattern, not t.UnionEnum: Elysia fills an absent enum query parameter with its first value.
  source: t.Optional(t.String({ pattern: "^(local|tunnel)$", description: "local (the broker endpoint) or tunnel.", examples: ["tunnel"] })),
  upstream: t.Optional(t.String({ description: "Upstream name." })),
  model: t.Optional(t.String()),
  method: t.Optional(t.String({ examples: ["POST"] })),
  status: t.Optional(
    t.String({ pattern: "^([1-5]xx|error|[1-5][0-9]{2})$", description: '"2xx" … "5xx", "error" (failed or ≥ 400) or an exact code.', examples: ["5xx"] }),
  ),
  path: t.Optional(t.String({ description: "Case-insensitive substring of the path.", examples: ["/api/chat"] })),
  after: t.Optional(t.String({ description: "Only requests newer than the one with this id." })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 10000, default: 200 })),
});

export const InspectedRequest = t.Object(
  {
    id: t.String(),
    time: t.String({ description: "ISO time the request finished." }),
    source: t.UnionEnum(["local", "tunnel"]),
    method: t.String(),
    path: t.String(),
    model: Nullable(t.String()),
    upstream: Nullable(t.String()),
    status: t.Number({ description: "HTTP status; 0 when no response was sent." }),
    ttfbMs: Nullable(t.Number({ description: "Time to first byte / token." })),
    durationMs: t.Number(),
    tokensPerSec: Nullable(t.Number()),
    bytesIn: t.Number(),
    bytesOut: t.Number(),
    error: Nullable(t.String()),
    requestBody: t.Optional(t.String({ description: "Only with [dashboard] capture_bodies, cut to body_cap bytes." })),
    responseBody: t.Optional(t.String()),
    requestBodyTruncated: t.Optional(t.Boolean()),
    responseBodyTruncated: t.Optional(t.Boolean()),
  },
  { additionalProperties: true },
);

export const RequestsList = t.Object({
  requests: t.Array(InspectedRequest, { description: "Newest first." }),
  capacity: t.Number({ description: "Requests the inspector keeps ([dashboard] inspector_size)." }),
  captureBodies: t.Boolean(),
  bodyCap: t.Number(),
});
