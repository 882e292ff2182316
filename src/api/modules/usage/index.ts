// GET /api/v1/usage: requests and tokens per UTC day, API key, model and caller class (kept across restarts).
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { errors } from "../../schemas.ts";
import { access } from "../../security/access.ts";
import { UsageQuery, UsageReport } from "./model.ts";
import { usageReport } from "./service.ts";

export const usageModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/usage" }).use(access).get("", ({ query }) => usageReport(deps.ctx, query), {
    query: UsageQuery,
    response: { 200: UsageReport, ...errors(401, 422, 503) },
    detail: { tags: ["keys"], summary: "Usage by day, key, model and caller: requests, errors, prompt and completion tokens" },
  });
