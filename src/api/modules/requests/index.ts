// GET /api/v1/requests: the last requests through the broker and the tunnel, for the dashboard's inspector.
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { errors } from "../../schemas.ts";
import { RequestsList, RequestsQuery } from "./model.ts";
import { listRequests } from "./service.ts";

export const requestsModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/requests" }).get("", ({ query }) => listRequests(deps.ctx, query), {
    query: RequestsQuery,
    response: { 200: RequestsList, ...errors(401, 422, 503) },
    detail: {
      tags: ["requests"],
      summary: "Recent requests (newest first) with filters; bodies only when [dashboard] capture_bodies is on",
      description: "Live additions arrive on /ws as request.completed events.",
    },
  });
