// GET /api/v1/upstreams[/:name], POST /api/v1/upstreams/:name/check, POST /api/v1/reconnect.
import { Elysia, t } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { UpstreamStatus, errors } from "../../schemas.ts";
import { upstreamList } from "../status/service.ts";
import { access } from "../../security/access.ts";
import { UpstreamName } from "./model.ts";
import { checkUpstream, getUpstream, reconnectAll } from "./service.ts";

const tags = ["upstreams"];

export const upstreamsModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1" }).use(access)
    .get("/upstreams", () => upstreamList(deps.ctx), {
      response: { 200: t.Array(UpstreamStatus) },
      access: "public", detail: { tags, summary: "All upstreams with state, quality, models and metrics" },
    })
    .get("/upstreams/:name", ({ params }) => getUpstream(deps.ctx, params.name), {
      params: UpstreamName,
      response: { 200: UpstreamStatus, ...errors(404) },
      access: "public", detail: { tags, summary: "One upstream" },
    })
    .post("/upstreams/:name/check", ({ params }) => checkUpstream(deps.ctx, params.name), {
      params: UpstreamName,
      response: { 200: UpstreamStatus, ...errors(401, 404, 409, 503) },
      detail: { tags, summary: "Run a health check now and return the result; 409 for a disabled upstream (enabled = false), which gets no call" },
    })
    .post("/reconnect", () => reconnectAll(deps.ctx), {
      response: { 200: t.Array(UpstreamStatus), ...errors(401, 503) },
      detail: { tags, summary: "Drop idle connections and re-check every upstream now" },
    });
