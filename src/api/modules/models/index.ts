// GET /api/v1/models.
import { Elysia, t } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { access } from "../../security/access.ts";
import { ModelEntry } from "./model.ts";
import { modelList } from "./service.ts";

export const modelsModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/models" }).use(access).get("", () => modelList(deps.ctx), {
    response: { 200: t.Array(ModelEntry) },
    access: "public", detail: { tags: ["models"], summary: "Models across all upstreams: which upstreams serve each, and where it is loaded" },
  });
