// Shapes of GET /api/v1/requests (the request inspector).
import { t } from "elysia";
import { RequestRecord } from "../../../core/contracts.ts";

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

export const RequestsList = t.Object({
  requests: t.Array(RequestRecord, { description: "Newest first." }),
  capacity: t.Number({ description: "Requests the inspector keeps ([dashboard] inspector_size)." }),
  captureBodies: t.Boolean(),
  bodyCap: t.Number(),
  brokerUrl: t.Optional(t.Union([t.String({ description: "The broker's address on this machine (for Copy as curl)." }), t.Null()])),
});

export const ReplayParams = t.Object({ id: t.String({ maxLength: 100 }) });

export const ReplayResult = t.Object({
  replayOf: t.String({ description: "The id of the request that was sent again." }),
  status: t.Number({ description: "The status the broker answered the replay with." }),
  bytes: t.Number({ description: "Response body bytes (read and dropped; the inspector shows them if capture is on)." }),
});
