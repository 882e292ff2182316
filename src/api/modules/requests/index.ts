// GET /api/v1/requests: the last requests through the broker and the tunnel, for the dashboard's inspector; and a replay of one.
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { errors } from "../../schemas.ts";
import { ReplayParams, ReplayResult, RequestsList, RequestsQuery } from "./model.ts";
import { replayRequest } from "./replay.ts";
import { listRequests } from "./service.ts";

export const requestsModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/requests" })
    .get("", ({ query }) => listRequests(deps.ctx, query), {
      query: RequestsQuery,
      response: { 200: RequestsList, ...errors(401, 422, 503) },
      detail: {
        tags: ["requests"],
        summary: "Recent requests (newest first) with filters; headers redacted; bodies only when [dashboard] capture_bodies is on",
        description: "Live additions arrive on /ws as request.completed events.",
      },
    })
    .post("/:id/replay", ({ params }) => replayRequest(deps.ctx, params.id), {
      params: ReplayParams,
      response: { 200: ReplayResult, ...errors(401, 403, 404, 409, 503) },
      detail: {
        tags: ["requests"],
        summary: "Send an inspected request again through the broker (needs its body captured whole)",
        description:
          "The same method, path, headers (credentials were never kept, so none are sent) and body, as a caller on this machine without a key, marked with `x-c2l-replay-of: ID`. The new request appears in the inspector as any other. With the dashboard cookie it needs the x-csrf-token header, as every change does.",
      },
    });
